"""scripts/investigations/reproduce_proxy.sh end to end on a small SVHN proxy: it trains at the table-2 defaults, continues
the same run when asked for more iterations, and scores every checkpoint into results/svhn_proxy.json."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "investigations" / "reproduce_proxy.sh"


def reproduce(env, *argv):
    return subprocess.run(["bash", str(SCRIPT), *argv], env=env, capture_output=True, text=True, timeout=600,
                          cwd=env["WORK"])


@pytest.mark.slow
def test_trains_continues_and_scores(mnist_dir, tmp_path):
    proxy = tmp_path / "proxy"
    # 5,100 training images: the table-2 default validation size (5,000) plus a few batches of 32
    made = subprocess.run([sys.executable, str(ROOT / "scripts" / "investigations" / "make_proxy_data.py"), "--mnist_dir", str(mnist_dir),
                           "--out", str(proxy), "--datasets", "svhn", "--limit", "5100"], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    env = dict(os.environ, WORK=str(tmp_path), MNIST_DIR=str(mnist_dir), PROXY_DIR="proxy", RUNS_DIR="runs",
               OUTPUT_ROOT="out", ITERATIONS="2")
    first = reproduce(env, "svhn")
    assert first.returncode == 0, first.stderr[-2000:]
    runs = list((tmp_path / "runs" / "svhn_proxy" / "svhn").iterdir())
    assert len(runs) == 1
    run = runs[0]
    config = json.loads((run / "config.json").read_text())
    # every setting that shapes training is the script's default (table 2), only the loop settings are given
    assert config["train"]["batch_size"] == 32 and config["train"]["lr_g"] == 1e-4
    assert config["train"]["max_iter"] == 300000 and config["flags"]["stop_after"] == 2
    results = json.loads((tmp_path / "out" / "results" / "svhn_proxy.json").read_text())
    assert results["run"] == run.name and [r["iteration"] for r in results["iterations"]] == [2]

    second = reproduce(dict(env, ITERATIONS="3"), "svhn")  # continues the same run, does not start another
    assert second.returncode == 0, second.stderr[-2000:]
    assert list((tmp_path / "runs" / "svhn_proxy" / "svhn").iterdir()) == [run]
    assert "Resuming" in second.stdout
    results = json.loads((tmp_path / "out" / "results" / "svhn_proxy.json").read_text())
    assert [r["iteration"] for r in results["iterations"]] == [2, 3]

    again = reproduce(dict(env, ITERATIONS="3"), "svhn")  # nothing left to train: scores only
    assert again.returncode == 0 and "Resuming" not in again.stdout


def test_refuses_bad_arguments(tmp_path):
    env = dict(os.environ, WORK=str(tmp_path))
    for argv, extra, message in ((["mnist"], {}, "usage"), (["svhn"], {"ITERATIONS": "x"}, "ITERATIONS"),
                                 (["svhn"], {"TRAIN_FLAGS": "--lr_g 1"}, "TRAIN_FLAGS may hold")):
        result = reproduce(dict(env, **extra), *argv)
        assert result.returncode == 2 and message in result.stderr, (argv, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
