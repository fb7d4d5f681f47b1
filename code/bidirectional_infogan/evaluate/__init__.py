"""Everything that judges or shows a trained model: scores (evaluation), the label-free health, figures and
grids, exported models, and evaluate_model.py's command line (cli, inputs, scoring, figure_modes)."""
