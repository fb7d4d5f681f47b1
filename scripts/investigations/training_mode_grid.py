"""G's categorical grid from a checkpoint with batch norm in training mode (batch statistics), as G draws
during training.

    python scripts/investigations/training_mode_grid.py RUN_DIR OUT.png [--iteration N] [--variable K] [--seed S] [--scale F]
                                         [--overwrite]

Early in a run the batch-norm moving averages (decay 0.999) still lag far behind the weights, so G in inference
mode (the figures of training and of evaluate_model.py --generate) draws near-flat images for the first few
thousand iterations. This draws the same grid as those figures (figures.generated_grids: 10 rows, z and the
continuous values fixed per row, value k of categorical variable K in column k), with G normalising by the
statistics of the grid's own codes instead of the moving averages.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from bidirectional_infogan.runs.errors import USER_ERRORS
from bidirectional_infogan.util.arguments import OneLineErrorParser, positive_int, seed_int


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog="training_mode_grid.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the run folder of a training run")
    parser.add_argument("out", type=Path, metavar="OUT.png", help="the PNG to write")
    parser.add_argument("--iteration", type=positive_int, help="the checkpoint (default: the newest)")
    parser.add_argument("--variable", type=positive_int, default=1, help="categorical variable, from 1 (default 1)")
    parser.add_argument("--seed", type=seed_int, default=0, help="seed of z and the continuous values (default 0)")
    parser.add_argument("--scale", type=positive_int, default=2, help="pixel repetition of the PNG (default 2)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT.png if it exists")
    return parser


def fail(message: str) -> int:
    print(f"training_mode_grid.py: error: {message}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.out.exists() and not args.overwrite:
        return fail(f"{args.out} exists (--overwrite replaces it)")
    if not (args.run_dir / "config.json").is_file():
        return fail(f"{args.run_dir} is not a run folder (no config.json)")

    import tensorflow as tf

    from bidirectional_infogan.evaluate import figures
    from bidirectional_infogan.evaluate import visualization as vis
    from bidirectional_infogan.runs.checkpoints import CheckpointError, load_trained_model

    try:
        model, iteration, _ = load_trained_model(args.run_dir, args.iteration)
    except USER_ERRORS + (CheckpointError,) as err:
        return fail(str(err))
    n_variables = len(model.cfg.categorical_dims)
    if args.variable > n_variables:
        return fail(f"--variable must be in 1..{n_variables}")

    def generate_in_training_mode(codes):
        return model.generator(tf.constant(codes, tf.float32), training=True).numpy()

    categorical, _ = figures.generated_grids(model.cfg, generate_in_training_mode, np.random.default_rng(args.seed))
    vis.save_png(args.out, categorical[args.variable - 1], scale=args.scale)
    print(f"{args.out}: iteration {iteration}, categorical variable {args.variable}, G in training mode")
    return 0


if __name__ == "__main__":
    sys.exit(main())
