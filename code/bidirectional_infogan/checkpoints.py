"""Checkpoints of a run (tf.train.Checkpoint + CheckpointManager) and loading a trained model back.

A checkpoint holds G, E, D (weights and batch-norm statistics), both optimisers (step counts and slots),
the iteration counter and the random state of D's noise layers.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from .config import RunConfig
from .run_folder import list_checkpoints, load_run_config


class CheckpointError(Exception):
    """A missing or unusable checkpoint (the message is meant for the user)."""


def checkpoint_manager(model, run_dir: Path, keep: int = 2) -> tf.train.CheckpointManager:
    return tf.train.CheckpointManager(model.checkpoint, str(Path(run_dir) / "checkpoints"), max_to_keep=keep,
                                      checkpoint_name="iteration")


def find_checkpoint(run_dir: Path, iteration: int | None = None) -> tuple[int, str]:
    """(iteration, prefix) of the requested checkpoint, by default the newest one."""
    available = list_checkpoints(run_dir)
    if not available:
        raise CheckpointError(f"{run_dir} has no checkpoint")
    if iteration is None:
        iteration = max(available)
    if iteration not in available:
        raise CheckpointError(f"{run_dir} has no checkpoint of iteration {iteration}; it has "
                              f"{', '.join(str(i) for i in available)}")
    return iteration, available[iteration]


def restore(model, prefix: str, *, expect_partial: bool = False) -> int:
    """Restore a checkpoint into `model` and return its iteration. Errors surface; none is swallowed."""
    try:
        status = model.checkpoint.restore(prefix)
        if expect_partial:
            status.expect_partial()
        else:
            status.assert_consumed()
    # A truncated or damaged file fails inside TensorFlow's reader with IndexError or OSError.
    except (tf.errors.OpError, AssertionError, ValueError, IndexError, OSError) as err:
        raise CheckpointError(f"cannot restore {prefix}: {str(err).splitlines()[0]}") from None
    return int(model.step.numpy())


def load_trained_model(run_dir, iteration: int | None = None):
    """Rebuild the networks from the run's config.json and restore a checkpoint.

    Returns (model, iteration, run config).
    """
    from .training import BidirectionalInfoGAN

    run: RunConfig = load_run_config(run_dir)
    iteration, prefix = find_checkpoint(Path(run_dir), iteration)
    model = BidirectionalInfoGAN(run.model, run.train)
    restore(model, prefix)
    return model, iteration, run
