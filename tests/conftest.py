"""Shared fixtures. Tests that need real MNIST look in $MNIST_DIR, then ../shared/data/mnist (next to the
project), then the project's download cache (downloading there if needed); they skip with a reason if none
of these can supply the files."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "code"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def _has_mnist(folder: Path) -> bool:
    from bidirectional_infogan.data.mnist import FILES, find_idx_file
    return folder.is_dir() and all(find_idx_file(folder, name) for name in FILES)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    from bidirectional_infogan.data.mnist import default_cache_dir, ensure_downloaded
    candidates = []
    if os.environ.get("MNIST_DIR"):
        candidates.append(Path(os.environ["MNIST_DIR"]))
    candidates += [ROOT.parent / "shared" / "data" / "mnist", default_cache_dir()]
    for folder in candidates:
        if _has_mnist(folder):
            return folder
    try:
        ensure_downloaded(default_cache_dir())
    except Exception as err:  # no internet: nothing to test against
        pytest.skip(f"real MNIST not found ({', '.join(map(str, candidates))}) and not downloadable: {err}")
    return default_cache_dir()


# A short training run on real MNIST, shared by the training-script and evaluation tests.
FAST = ["--batch_size", "32", "--max_iter", "40", "--checkpoint_every", "20", "--log_every", "20",
        "--scalars_every", "10"]


def run_cli(argv):
    """code/train_mnist.py in this process (faster than a subprocess; same code path)."""
    import train_mnist
    from bidirectional_infogan import cli
    return cli.main(train_mnist.SCRIPT, [str(a) for a in argv])


def only_run(log_dir: Path) -> Path:
    runs = sorted((log_dir / "mnist").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


@pytest.fixture(scope="session")
def trained_run(mnist_dir, tmp_path_factory) -> Path:
    """A 40-iteration MNIST run (batch 32, checkpoints at 20 and 40). Treat it as read-only."""
    log_dir = tmp_path_factory.mktemp("trained")
    assert run_cli(FAST + ["--data_dir", mnist_dir, "--log_dir", log_dir]) == 0
    return only_run(log_dir)
