"""Issue 29: the same tiny run twice, at the same time, while two more processes burn CPU; every tensor of the
two final checkpoints must be equal, bit for bit (MNIST, and table 2 with and without the opt-in terms)."""

from __future__ import annotations

from pathlib import Path

import pytest
from subprocess_runs import (checkpoint_tensors, cpu_burners, differing_tensors, final_checkpoint, only_run_dir,
                             run_concurrently, train_command, write_tiny_svhn)


def assert_repeatable(tmp_path: Path, dataset: str, flags: list, iterations: int) -> None:
    """The run twice at the same time, with two CPU burners: every tensor of the final checkpoints equal."""
    commands = [train_command(dataset, *flags, "--log_dir", tmp_path / name) for name in ("first", "second")]
    with cpu_burners(2):
        run_concurrently(commands, tmp_path, [tmp_path / "first.log", tmp_path / "second.log"])
    first, second = (checkpoint_tensors(final_checkpoint(only_run_dir(tmp_path / name, dataset), iterations))
                     for name in ("first", "second"))
    assert len(first) > 100, sorted(first)
    differ = differing_tensors(first, second)
    assert differ == [], f"{len(differ)} of {len(first)} tensors differ, e.g. {differ[:10]}"


# Short runs: on this 2-core machine, with the two burners and the other run, an iteration takes seconds.
MNIST_TINY = ["--batch_size", "32", "--max_iter", "10", "--checkpoint_every", "5", "--log_every", "5",
              "--scalars_every", "5", "--validation_size", "100", "--seed", "7"]


@pytest.mark.slow
def test_repeatable_under_load_mnist(mnist_dir, tmp_path):
    assert_repeatable(tmp_path, "mnist", MNIST_TINY + ["--data_dir", mnist_dir], 10)


TABLE2_TINY = ["--batch_size", "16", "--max_iter", "8", "--checkpoint_every", "4", "--log_every", "4",
               "--scalars_every", "4", "--validation_size", "100", "--seed", "7", "--d_batch_statistics", "joint"]
# With --d_r1, 6 of 15 pairs of processes differed (in D's weights and Adam slots) until training switched
# TensorFlow's graph optimiser off for runs with a double backpropagation (train.training.set_op_determinism;
# docs/repeatability.md).
OPT_IN_TERMS = ["--consistency_weight", "1", "--d_r1", "0.1"]


@pytest.mark.slow
@pytest.mark.parametrize("terms", [[], OPT_IN_TERMS], ids=["joint", "joint_consistency_r1"])
def test_repeatable_under_load_table2(terms, mnist_dir, tmp_path):
    data = write_tiny_svhn(tmp_path / "svhn", mnist_dir)
    assert_repeatable(tmp_path, "svhn", TABLE2_TINY + terms + ["--data_dir", data], 8)
