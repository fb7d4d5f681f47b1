"""Shared fixtures. Tests that need real MNIST look in $MNIST_DIR, then ../shared/data/mnist (next to the
project), then the project's download cache (downloading there if needed); they skip with a reason if none
of these can supply the files."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

# The tests run training in this process: set up TensorFlow as the command-line tools do (one inter-op thread,
# tf_setup.single_inter_op_thread) before any test runs an op.
from bidirectional_infogan.util.tf_setup import import_tensorflow  # noqa: E402

import_tensorflow()


def _has_mnist(folder: Path) -> bool:
    from bidirectional_infogan.data.mnist import FILES, find_idx_file
    return folder.is_dir() and all(find_idx_file(folder, name) for name in FILES)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    from bidirectional_infogan.data.mnist import default_cache_dir, ensure_downloaded, environment_dir
    candidates = [environment_dir()] if environment_dir() is not None else []  # $MNIST_DIR, as the package reads it
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
    from bidirectional_infogan.train import cli
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


def best_match_predictions(values, labels, n_values: int, n_labels: int):
    """The label that each sample's value stands for under the one-to-one mapping of values to labels with the
    most matches, computed here without the project's evaluation module (whose results the tests check): the
    contingency table counted with np.bincount, scipy's linear_sum_assignment called on it directly. Values
    left without a label predict -1."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment
    values, labels = np.asarray(values, np.int64), np.asarray(labels, np.int64)
    counts = np.bincount(values * n_labels + labels, minlength=n_values * n_labels).reshape(n_values, n_labels)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    label_of_value = np.full(n_values, -1, np.int64)
    label_of_value[rows] = cols
    return label_of_value[values]


def mnist_test_labels(folder) -> "np.ndarray":
    """The MNIST test labels read straight from the IDX file (8 header bytes, then one byte a label), without the
    project's data module."""
    import gzip
    import numpy as np
    path = next(p for p in sorted(Path(folder).iterdir()) if p.name.startswith("t10k-labels"))
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return np.frombuffer(raw[8:], dtype=np.uint8)


def hungarian_accuracy(categories, labels) -> float:
    """Accuracy of categories read as labels under best_match_predictions' mapping."""
    import numpy as np
    labels = np.asarray(labels)
    predicted = best_match_predictions(categories, labels, int(np.max(categories)) + 1, int(labels.max()) + 1)
    return float(np.mean(predicted == labels))


# Writable copies of a run folder. The checkpoints' data files are nearly all of a run folder's size (about
# 85 MB each for the run above), and the tests that need a writable run folder write next to them, not into
# them: in a copy they are hard links to the original's, everything else (config.json, encodings.txt, the
# checkpoint index files, events, ...) is a real copy. Renaming or deleting a linked file is safe; writing
# into one (open for writing, Path.write_bytes, shutil.copy onto it) would change the original for every
# later test, so a test that damages a checkpoint's data asks for a real copy of it (`real_copies`).
# _linked_checkpoints_stay_unchanged fails the session if a linked file was written all the same.

_LINKED: dict = {}  # (st_dev, st_ino) -> (path, size, mtime_ns) of each checkpoint data file shared by a link


def _linked_file_changed(path: Path, size: int, mtime_ns: int) -> bool:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return False  # the original was moved away: nothing left here to compare
    return (stat.st_size, stat.st_mtime_ns) != (size, mtime_ns)


def writable_run_copy(run: Path, dest: Path, real_copies=()) -> Path:
    """Copy run folder `run` to `dest` (which must not exist), hard-linking `checkpoints/*.data-*` except those
    matching a pattern in `real_copies` (relative to the run folder, e.g. "checkpoints/iteration-40.data-*"),
    which are copied like every other file. Falls back to real copies where a link is not possible."""
    import shutil
    run = Path(run)

    def copy(src, dst):
        relative = Path(src).relative_to(run)
        linkable = relative.parent.name == "checkpoints" and ".data-" in relative.name
        if linkable and not any(relative.match(pattern) for pattern in real_copies):
            stat = os.stat(src)
            path, size, mtime_ns = _LINKED.setdefault((stat.st_dev, stat.st_ino),
                                                      (Path(src), stat.st_size, stat.st_mtime_ns))
            assert not _linked_file_changed(path, size, mtime_ns), f"a test wrote into the shared {path}"
            try:
                os.link(src, dst)
                return dst
            except OSError:  # another file system, or links not supported
                pass
        return shutil.copy2(src, dst)

    shutil.copytree(run, dest, copy_function=copy)
    return Path(dest)


@pytest.fixture(scope="session", autouse=True)
def _linked_checkpoints_stay_unchanged():
    yield
    changed = [str(path) for path, size, mtime_ns in _LINKED.values() if _linked_file_changed(path, size, mtime_ns)]
    assert not changed, ("a test wrote into checkpoint data files that writable_run_copy shares by hard links "
                         f"(use real_copies for the files a test damages): {', '.join(changed)}")


# trained_run exported (scripts/run_tools/export_pretrained.py) and loaded: shared by test_pretrained and
# test_plain_keras.
@pytest.fixture(scope="session")
def exported(trained_run, mnist_dir, tmp_path_factory):
    """trained_run's newest checkpoint (40) exported; (folder, results.json)."""
    import json

    import export_pretrained
    out = tmp_path_factory.mktemp("pretrained") / "mnist"
    assert export_pretrained.main([str(trained_run), str(out), "--data_dir", str(mnist_dir),
                                   "--chosen_by", "made up: the only run"]) == 0
    return out, json.loads((out / "results.json").read_text())


@pytest.fixture(scope="session")
def trained_model(trained_run):
    from bidirectional_infogan.runs.checkpoints import load_trained_model
    model, iteration, run = load_trained_model(trained_run, 40)
    return model, run.model


# The networks of tables 1 and 2, built once per test module: shared by test_architecture and
# test_architecture_initialisation.
@pytest.fixture(scope="module")
def table1_networks():
    from bidirectional_infogan.model.config import mnist_model_config
    from bidirectional_infogan.model.networks import build_discriminator, build_encoder, build_generator
    cfg = mnist_model_config()
    return build_generator(cfg), build_encoder(cfg), build_discriminator(cfg)


@pytest.fixture(scope="module")
def table2_networks():
    import dataclasses

    from bidirectional_infogan.model.config import table2_model_config
    from bidirectional_infogan.model.networks import build_discriminator, build_encoder, build_generator
    cfg = table2_model_config("svhn")
    # CelebA and SVHN share table 2: the two configs differ in the data set's name only
    assert dataclasses.replace(table2_model_config("celeba"), dataset="svhn") == cfg
    return build_generator(cfg), build_encoder(cfg), build_discriminator(cfg)
