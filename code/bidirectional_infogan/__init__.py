"""Bidirectional-InfoGAN (Hinz & Wermter, ESANN 2018) on TensorFlow 2 / Keras 3.

Modules: config (run settings), latent (the latent code), networks (G, E, D), losses, data (loaders),
training (the step, the loop, checkpoints), run_folder (the files a run writes), visualization (grids and
PNGs), evaluation (metrics on a trained encoder).
"""
