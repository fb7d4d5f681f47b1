"""G's categorical grid from a checkpoint with batch norm in training mode (batch statistics), as G draws
during training.

    python scripts/training_mode_grid.py RUN_DIR OUT.png [--iteration N] [--variable K] [--seed S] [--overwrite]

Early in a run the batch-norm moving averages (decay 0.999) still lag far behind the weights, so G in inference
mode (the figures of training and of evaluate_model.py --generate) draws near-flat images for the first few
thousand iterations. This draws the same grid as those figures (10 rows; z and the continuous values fixed per
row, value k of categorical variable K in column k), with the statistics of the grid's own 10 x n codes instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--iteration", type=int, help="the checkpoint (default: the newest)")
    parser.add_argument("--variable", type=int, default=1, help="categorical variable, from 1 (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of z and the continuous values (default 0)")
    parser.add_argument("--scale", type=int, default=2, help="pixel repetition of the PNG (default 2)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    args = parser.parse_args(argv)
    if args.out.exists() and not args.overwrite:
        print(f"training_mode_grid.py: error: {args.out} exists (--overwrite replaces it)", file=sys.stderr)
        return 2
    if not (args.run_dir / "config.json").is_file():
        print(f"training_mode_grid.py: error: {args.run_dir} is not a run folder (no config.json)", file=sys.stderr)
        return 2

    import tensorflow as tf

    from bidirectional_infogan import latent
    from bidirectional_infogan import visualization as vis
    from bidirectional_infogan.checkpoints import CheckpointError, load_trained_model

    try:
        model, iteration, _ = load_trained_model(args.run_dir, args.iteration)
    except CheckpointError as err:
        print(f"training_mode_grid.py: error: {err}", file=sys.stderr)
        return 2
    dims = model.cfg.categorical_dims
    if not 1 <= args.variable <= len(dims):
        print(f"training_mode_grid.py: error: --variable must be in 1..{len(dims)}", file=sys.stderr)
        return 2
    codes = latent.categorical_grid_latent(model.cfg, np.random.default_rng(args.seed), args.variable - 1)
    images = model.generator(tf.constant(codes, tf.float32), training=True).numpy()
    grid = vis.image_grid(images, len(codes) // dims[args.variable - 1], dims[args.variable - 1])
    vis.save_png(args.out, grid, scale=args.scale)
    print(f"{args.out}: iteration {iteration}, categorical variable {args.variable}, G in training mode")
    return 0


if __name__ == "__main__":
    sys.exit(main())
