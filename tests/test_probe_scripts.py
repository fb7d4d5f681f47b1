"""scripts/training_mode_grid.py and scripts/probe_discriminator.py on the 40-iteration MNIST run."""

import re

import numpy as np
import pytest
from PIL import Image

import probe_discriminator
import training_mode_grid


def test_training_mode_grid_draws_the_grid_and_keeps_an_existing_file(trained_run, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert training_mode_grid.main([str(trained_run), str(out), "--scale", "1"]) == 0
    pixels = np.asarray(Image.open(out))
    # 10 rows (z fixed per row) x 10 values of MNIST's categorical variable, 28x28 cells, 1-pixel separators
    assert pixels.shape == (10 * 28 + 9, 10 * 28 + 9)
    assert "iteration 40" in capsys.readouterr().out
    before = out.read_bytes()
    assert training_mode_grid.main([str(trained_run), str(out)]) == 2
    assert "exists" in capsys.readouterr().err and out.read_bytes() == before
    assert training_mode_grid.main([str(trained_run), str(tmp_path / "b.png"), "--variable", "2"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert training_mode_grid.main([str(tmp_path), str(tmp_path / "c.png")]) == 2
    assert "not a run folder" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [["--d", "run"], ["--d", "new", "--d_batch_statistics", "joint", "--init", "he"]])
def test_probe_discriminator_trains_d_alone(trained_run, capsys, flags):
    """Nothing in the run folder is written, and D's mean outputs are printed at steps 1 and 3."""
    files = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in trained_run.rglob("*") if p.is_file()}
    assert probe_discriminator.main([str(trained_run), "--steps", "3", *flags]) == 0
    lines = capsys.readouterr().out.splitlines()
    values = [tuple(map(float, re.findall(r"(\d\.\d{3})", line))) for line in lines if line.startswith("step")]
    assert [line.split(":")[0].split()[1] for line in lines if line.startswith("step")] == ["1", "3"]
    assert all(len(v) == 2 and all(0 <= x <= 1 for x in v) for v in values)
    assert {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in trained_run.rglob("*") if p.is_file()} == files
