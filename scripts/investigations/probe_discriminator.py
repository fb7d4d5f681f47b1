"""How quickly can a D tell a checkpoint's generated pairs from real ones? G and E stay frozen; only D trains.

    python scripts/investigations/probe_discriminator.py RUN_DIR [--iteration N] [--d new|run] [--d_batch_statistics separate|joint]
                                          [--init original|he] [--steps 150] [--seed 1]

Each step draws a batch of training images (uniformly, with replacement) and codes, computes G(z, c) and E(x) in
training mode, and updates D alone on D's loss with Adam (the run's lr_d, beta1_d and epsilon, no decay). `--d new`
starts from a freshly initialised D (`--init` chooses its initialisation), `--d run` continues the checkpoint's
own D and optimiser. `--d_batch_statistics separate` calls D once on the real pairs and once on the generated
ones (the original's step), `joint` once on both (model.discriminate). Prints the mean D(real) and 1 - D(fake) at
step 1, every 25 steps and at the last: values near 0.5 mean that D cannot tell them apart. Nothing is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from bidirectional_infogan.runs.errors import USER_ERRORS
from bidirectional_infogan.util.arguments import OneLineErrorParser, positive_int, seed_int
from bidirectional_infogan.model.config import D_BATCH_STATISTICS, INITIALISATIONS


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog="probe_discriminator.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the run folder of a training run")
    parser.add_argument("--iteration", type=positive_int, help="the checkpoint (default: the newest)")
    parser.add_argument("--d", choices=("new", "run"), default="new", help="a new D or the run's own (default new)")
    parser.add_argument("--d_batch_statistics", choices=D_BATCH_STATISTICS, default="separate",
                        help="how D sees the two kinds of pair (default separate, the original)")
    parser.add_argument("--init", choices=INITIALISATIONS, default="original",
                        help="initialisation of a new D (default original)")
    parser.add_argument("--steps", type=positive_int, default=150, help="steps of D (default 150)")
    parser.add_argument("--seed", type=seed_int, default=1, help="of the new D's weights and of the batches (default 1)")
    return parser


def train_d_alone(model, discriminator, optimizer, train_images, batch_size: int, steps: int,
                  batch_statistics: str, rng: np.random.Generator):
    """Update `discriminator` alone against the frozen G and E of `model`; yields (step, mean D(real),
    mean 1 - D(fake)) of every step, from the forward pass before that step's update."""
    import tensorflow as tf

    from bidirectional_infogan.model import latent, losses
    from bidirectional_infogan.data.common import as_float
    from bidirectional_infogan.model.gan import discriminate

    def step(images, z, c):
        with tf.GradientTape() as tape:
            code = tf.concat([z, c], axis=1)
            fake_images = model.generator(code, training=True)
            real_code = model.encoder(images, training=True)
            d_real, d_fake = discriminate(discriminator, (images, real_code), (fake_images, code), batch_statistics)
            loss = losses.discriminator_loss(d_real, d_fake)
        gradients = tape.gradient(loss, discriminator.trainable_variables)
        optimizer.apply_gradients(zip(gradients, discriminator.trainable_variables))
        return tf.reduce_mean(d_real), tf.reduce_mean(1.0 - d_fake)

    step = tf.function(step, autograph=False)
    for s in range(1, steps + 1):
        images = as_float(train_images[rng.integers(0, len(train_images), batch_size)])
        z, c = latent.sample_latent(model.cfg, rng, batch_size)
        real, fake = step(tf.constant(images), tf.constant(z, tf.float32), tf.constant(c, tf.float32))
        yield s, float(real), float(fake)


def fail(message: str) -> int:
    print(f"probe_discriminator.py: error: {message}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if not (args.run_dir / "config.json").is_file():
        return fail(f"{args.run_dir} is not a run folder (no config.json)")

    import dataclasses

    import keras
    import tensorflow as tf

    from bidirectional_infogan import datasets
    from bidirectional_infogan.runs.checkpoints import CheckpointError, load_trained_model
    from bidirectional_infogan.model.networks import build_discriminator

    try:
        model, iteration, run = load_trained_model(args.run_dir, args.iteration)
        data = datasets.DATASETS[run.model.dataset].load_training_data(run.data, run.train.validation_size)
    except USER_ERRORS + (CheckpointError,) as err:
        return fail(str(err))
    tf.config.experimental.enable_op_determinism()
    if args.d == "run":
        discriminator, optimizer = model.discriminator, model.d_optimizer
    else:
        keras.utils.set_random_seed(args.seed)
        discriminator = build_discriminator(dataclasses.replace(model.cfg, initialisation=args.init), seed=args.seed)
        optimizer = keras.optimizers.Adam(run.train.lr_d, beta_1=run.train.beta1_d, beta_2=0.999,
                                          epsilon=run.train.adam_epsilon)
    print(f"{args.run_dir} iteration {iteration}: {args.d} D, {args.d_batch_statistics} batch statistics"
          + (f", --init {args.init}" if args.d == "new" else ""))
    for s, real, fake in train_d_alone(model, discriminator, optimizer, data.train_images, run.train.batch_size,
                                       args.steps, args.d_batch_statistics, np.random.default_rng(args.seed)):
        if s == 1 or s % 25 == 0 or s == args.steps:
            print(f"step {s:4d}: D(real) {real:.3f}, 1 - D(fake) {fake:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
