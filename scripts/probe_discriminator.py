"""How quickly can a D tell a checkpoint's generated pairs from real ones? G and E stay frozen; only D trains.

    python scripts/probe_discriminator.py RUN_DIR [--iteration N] [--d new|run] [--d_batch_statistics separate|joint]
                                          [--init original|he] [--steps 150] [--seed 1]

Each step draws a batch of training images and codes as training does, computes G(z, c) and E(x) in training
mode, and updates D alone on D's loss (Adam with the run's lr_d and beta1_d). `--d new` starts from a freshly
initialised D (`--init` chooses its initialisation), `--d run` continues the checkpoint's own D and optimiser.
`--d_batch_statistics separate` calls D once on the real pairs and once on the generated ones (the original's
step), `joint` once on both. Prints the mean D(real) and 1 - D(fake) every 25 steps: values near 0.5 mean that D
cannot tell them apart. Nothing is written.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--iteration", type=int, help="the checkpoint (default: the newest)")
    parser.add_argument("--d", choices=("new", "run"), default="new", help="a new D or the run's own (default new)")
    parser.add_argument("--d_batch_statistics", choices=("separate", "joint"), default="separate")
    parser.add_argument("--init", choices=("original", "he"), default="original", help="of a new D")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1, help="of the new D's weights and of the batches")
    args = parser.parse_args(argv)
    if not (args.run_dir / "config.json").is_file():
        print(f"probe_discriminator.py: error: {args.run_dir} is not a run folder (no config.json)", file=sys.stderr)
        return 2

    import keras
    import tensorflow as tf

    from bidirectional_infogan import datasets, latent, losses
    from bidirectional_infogan.checkpoints import CheckpointError, load_trained_model
    from bidirectional_infogan.data.common import DataError, as_float
    from bidirectional_infogan.model import discriminate
    from bidirectional_infogan.networks import build_discriminator

    try:
        model, iteration, run = load_trained_model(args.run_dir, args.iteration)
        data = datasets.DATASETS[run.model.dataset].load_training_data(run.data, run.train.validation_size)
    except (CheckpointError, DataError) as err:
        print(f"probe_discriminator.py: error: {err}", file=sys.stderr)
        return 2
    tf.config.experimental.enable_op_determinism()
    if args.d == "run":
        discriminator, optimizer = model.discriminator, model.d_optimizer
    else:
        keras.utils.set_random_seed(args.seed)
        discriminator = build_discriminator(dataclasses.replace(model.cfg, initialisation=args.init), seed=args.seed)
        optimizer = keras.optimizers.Adam(run.train.lr_d, beta_1=run.train.beta1_d)

    def step(images, z, c):
        with tf.GradientTape() as tape:
            code = tf.concat([z, c], axis=1)
            fake_images = model.generator(code, training=True)
            real_code = model.encoder(images, training=True)
            d_real, d_fake = discriminate(discriminator, (images, real_code), (fake_images, code),
                                          args.d_batch_statistics)
            loss = losses.discriminator_loss(d_real, d_fake)
        gradients = tape.gradient(loss, discriminator.trainable_variables)
        optimizer.apply_gradients(zip(gradients, discriminator.trainable_variables))
        return tf.reduce_mean(d_real), tf.reduce_mean(1.0 - d_fake)

    step = tf.function(step, autograph=False)
    rng = np.random.default_rng(args.seed)
    batch = run.train.batch_size
    print(f"{args.run_dir} iteration {iteration}: {args.d} D, {args.d_batch_statistics} batch statistics"
          + (f", --init {args.init}" if args.d == "new" else ""))
    for s in range(1, args.steps + 1):
        images = as_float(data.train_images[rng.integers(0, len(data.train_images), batch)])
        z, c = latent.sample_latent(model.cfg, rng, batch)
        real, fake = step(tf.constant(images), tf.constant(z, tf.float32), tf.constant(c, tf.float32))
        if s == 1 or s % 25 == 0 or s == args.steps:
            print(f"step {s:4d}: D(real) {float(real):.3f}, 1 - D(fake) {float(fake):.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
