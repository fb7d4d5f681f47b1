"""Run folders under faults (issue 16), section 8: divergence. Non-finite losses or weights stop the run, and
no non-finite checkpoint is saved (the other faults are in test_run_faults.py).

Tiny runs on real MNIST: each test trains a new 10-iteration run whose training step is patched to give NaN
losses or weights."""

from pathlib import Path

import pytest
import tensorflow as tf

from conftest import run_cli
from test_run_faults import hint

# 8. Divergence: non-finite losses or weights stop the run, and no non-finite checkpoint is saved

TINY = ["--batch_size", "32", "--max_iter", "10", "--checkpoint_every", "4", "--keep_checkpoints", "5",
        "--log_every", "5", "--scalars_every", "5"]


def saved_iterations(run: Path) -> list[int]:
    return sorted(int(p.name[len("iteration-"):-len(".index")]) for p in (run / "checkpoints").glob("*.index"))


def _patch_step(monkeypatch, after_update):
    """BidirectionalInfoGAN.train_step, then after_update(model, iteration, metrics) -> metrics."""
    from bidirectional_infogan.model.gan import BidirectionalInfoGAN
    original = BidirectionalInfoGAN.train_step

    def train_step(self, images, z, c, augmented=None):
        metrics = original(self, images, z, c, augmented)
        return after_update(self, int(self.step.numpy()), metrics)
    monkeypatch.setattr(BidirectionalInfoGAN, "train_step", train_step)


def _one_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("train_mnist.py: error: "), err
    return err


@pytest.mark.slow
@pytest.mark.parametrize("nan_from, last_good", [(6, 4), (3, None)])
def test_nan_losses_stop_the_run_with_one_line(mnist_dir, tmp_path, capsys, monkeypatch, nan_from, last_good):
    """The step returns NaN losses from iteration `nan_from` on: the run stops there (exit 2, one line on
    stderr naming the iteration and the last good checkpoint) and saves nothing after the last good one."""
    def nan_losses(model, iteration, metrics):
        return {name: tf.constant(float("nan")) for name in metrics} if iteration >= nan_from else metrics
    _patch_step(monkeypatch, nan_losses)
    code = run_cli(TINY + ["--data_dir", mnist_dir, "--log_dir", tmp_path])
    run = next((tmp_path / "mnist").iterdir())
    assert saved_iterations(run) == ([last_good] if last_good else [])
    assert code == 2
    err = _one_line(capsys.readouterr().err)
    assert f"the losses became non-finite at iteration {nan_from} (D_loss nan, G_loss nan)" in err
    if last_good:
        assert f"the last good checkpoint is iteration-{last_good} (evaluate it with: " in err
        assert hint(err, "evaluate it with: ")[:4] == ["python", "evaluate_model.py", "--model_dir", str(run)]
    else:
        assert "training stopped and nothing was saved; start a new run with lower learning rates" in err


@pytest.mark.slow
@pytest.mark.parametrize("when, nan_at, saved", [
    ("periodic checkpoint", 8, [4]),  # the losses of iteration 8 are still finite
    ("final checkpoint", 10, [4, 8]),
    ("interrupt", 6, [4]),  # Ctrl-C or SIGTERM right after the update that made the weights NaN
])
def test_non_finite_weights_are_never_saved(mnist_dir, tmp_path, capsys, monkeypatch, when, nan_at, saved):
    """A weight of E becomes NaN in the update of iteration `nan_at` (that iteration's losses are finite, they
    come from the weights before it): the checkpoint that would be saved next is not, and the run stops."""
    def nan_weight(model, iteration, metrics):
        if iteration == nan_at:
            variable = model.encoder.trainable_variables[-1]
            value = variable.numpy()
            value.flat[0] = float("nan")
            variable.assign(value)
            if when == "interrupt":
                raise KeyboardInterrupt
        return metrics
    _patch_step(monkeypatch, nan_weight)
    code = run_cli(TINY + ["--data_dir", mnist_dir, "--log_dir", tmp_path])
    run = next((tmp_path / "mnist").iterdir())
    assert saved_iterations(run) == saved
    assert code == 2
    err = _one_line(capsys.readouterr().err)
    assert f"the weights were not finite after iteration {nan_at} (E's " in err and "holds NaN)" in err
    assert f"the last good checkpoint is iteration-{saved[-1]}" in err


@pytest.mark.slow
def test_resuming_a_non_finite_checkpoint_is_refused(mnist_dir, tmp_path, capsys, monkeypatch):
    """A checkpoint with NaN weights, as runs saved before these checks: --resume names it and trains nothing
    (it does not call it the last good checkpoint), and the failed resume is not in command.txt."""
    from bidirectional_infogan.train import training

    def nan_weight(model, iteration, metrics):
        if iteration == 4:
            model.discriminator.trainable_variables[0].assign(
                tf.fill(model.discriminator.trainable_variables[0].shape, float("inf")))
        return metrics
    _patch_step(monkeypatch, nan_weight)
    monkeypatch.setattr(training, "check_weights", lambda *args: None)  # the code before the checks
    assert run_cli(TINY + ["--stop_after", "4", "--data_dir", mnist_dir, "--log_dir", tmp_path]) == 0
    monkeypatch.undo()
    run = next((tmp_path / "mnist").iterdir())
    assert saved_iterations(run) == [4]
    commands = (run / "command.txt").read_text()
    capsys.readouterr()
    assert run_cli(["--resume", run]) == 2
    err = _one_line(capsys.readouterr().err)
    assert "the weights of checkpoint iteration-4 are not finite (D's " in err and "holds inf)" in err
    assert "training stopped and nothing was saved" in err and "last good" not in err
    assert saved_iterations(run) == [4]
    assert (run / "command.txt").read_text() == commands
