"""scripts/investigations/training_mode_grid.py and scripts/investigations/probe_discriminator.py on the 40-iteration MNIST run."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import probe_discriminator
import training_mode_grid
from bidirectional_infogan.model import latent
from bidirectional_infogan.runs.checkpoints import load_trained_model
from bidirectional_infogan.model.networks import build_discriminator


def _tile(images, rows, cols):
    """Row-major tiling with 1-pixel separators, written here (not with the project's image_grid)."""
    h, w = images.shape[1:3]
    out = np.zeros((rows * h + rows - 1, cols * w + cols - 1), np.float64)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        out[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = image[..., 0]
    return out


def test_training_mode_grid_is_g_with_batch_statistics(trained_run, tmp_path, capsys):
    """The PNG's cells are G(codes) in training mode for the codes of the categorical grid (value k in column k),
    and not G in inference mode, which at iteration 40 still normalises with near-initial moving averages."""
    out = tmp_path / "grid.png"
    assert training_mode_grid.main([str(trained_run), str(out), "--scale", "1"]) == 0
    assert "iteration 40" in capsys.readouterr().out
    pixels = np.asarray(Image.open(out)).astype(np.float64) / 255
    model, _, _ = load_trained_model(trained_run)
    codes = latent.categorical_grid_latent(model.cfg, np.random.default_rng(0), 0)  # the grid's first draw
    assert np.array_equal(codes[:, 16:26].argmax(1), np.tile(np.arange(10), 10))  # value k in column k
    inference = model.generator(tf.constant(codes), training=False).numpy()
    training = model.generator(tf.constant(codes), training=True).numpy()
    separators = np.zeros_like(pixels, bool)
    separators[28::29, :] = separators[:, 28::29] = True
    cells = ~separators
    # one uint8 level for the PNG's rounding, and a little more for float32 differences between two eager calls
    assert np.max(np.abs(pixels - _tile(training, 10, 10))[cells]) <= 1.5 / 255
    # the same tolerance fails for inference mode (it would pass if the script drew with the moving averages)
    assert np.max(np.abs(pixels - _tile(inference, 10, 10))[cells]) > 1.5 / 255


def test_training_mode_grid_bad_input_one_line_and_nothing_overwritten(trained_run, tmp_path, capsys):
    out = tmp_path / "mine.png"
    out.write_bytes(b"a user's file")
    assert training_mode_grid.main([str(trained_run), str(out)]) == 2
    assert "exists" in capsys.readouterr().err and out.read_bytes() == b"a user's file"
    for argv in ([str(trained_run), str(tmp_path / "b.png"), "--variable", "2"],
                 [str(trained_run), str(tmp_path / "b.png"), "--iteration", "7"],
                 [str(tmp_path), str(tmp_path / "b.png")]):
        assert training_mode_grid.main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("training_mode_grid.py: error: ") and err.count("\n") == 1, argv
    with pytest.raises(SystemExit) as exit_info:
        training_mode_grid.main([str(trained_run), str(tmp_path / "b.png"), "--scale", "0"])
    assert exit_info.value.code == 2 and capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "b.png").exists()


@pytest.mark.parametrize("batch_statistics", ["separate", "joint"])
def test_probe_discriminator_moves_d_only(trained_run, batch_statistics):
    """D's weights change; G's and E's stay exactly as restored; the reported means are probabilities."""
    import keras
    model, _, run = load_trained_model(trained_run)
    frozen = [v.numpy().copy() for v in model.generator.variables + model.encoder.variables]
    discriminator = build_discriminator(model.cfg, seed=1)
    d_before = [v.numpy().copy() for v in discriminator.trainable_variables]
    images = np.random.default_rng(0).integers(0, 256, (64, 28, 28, 1), dtype=np.uint8)
    reported = list(probe_discriminator.train_d_alone(model, discriminator, keras.optimizers.Adam(1e-4), images,
                                                      8, 3, batch_statistics, np.random.default_rng(1)))
    assert [s for s, _, _ in reported] == [1, 2, 3]
    assert all(0 <= x <= 1 for _, real, fake in reported for x in (real, fake))
    assert all(not np.array_equal(v.numpy(), b) for v, b in zip(discriminator.trainable_variables, d_before)
               if "kernel" in v.path)
    # trainable weights exactly; batch-norm moving statistics may move (training-mode calls), not the weights
    after = model.generator.variables + model.encoder.variables
    assert all(np.array_equal(v.numpy(), b) for v, b in zip(after, frozen) if v.trainable)


def test_probe_discriminator_prints_and_writes_nothing(trained_run, capsys):
    files = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in trained_run.rglob("*") if p.is_file()}
    assert probe_discriminator.main([str(trained_run), "--steps", "3", "--d", "run"]) == 0
    steps = [line.split(":")[0] for line in capsys.readouterr().out.splitlines() if line.startswith("step")]
    assert steps == ["step    1", "step    3"]
    assert {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in trained_run.rglob("*") if p.is_file()} == files
    assert probe_discriminator.main([str(trained_run), "--iteration", "7"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
