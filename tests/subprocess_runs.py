"""Training scripts run as subprocesses, and their checkpoints compared bitwise: shared by the tests of issue 29
(test_repeatable_under_load.py, test_chaos_resume.py, test_chaos_scripts.py).

Every run is a subprocess of a training script (code/train_mnist.py, code/train_svhn.py) with PYTHONPATH set to
this repository's code/, and checkpoints are compared with plain TensorFlow (tf.train.load_checkpoint), tensor by
tensor, bitwise; nothing of the package is imported, so these tests do not depend on its module layout.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

REPO = Path(__file__).resolve().parents[1]
CODE = REPO / "code"


def script_env(**extra) -> dict:
    """The environment of a training subprocess: the package from this repository's code/, output unbuffered."""
    env = dict(os.environ, PYTHONPATH=str(CODE), PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
    env.update(extra)
    return env


def train_command(dataset: str, *args) -> list[str]:
    return [sys.executable, str(CODE / f"train_{dataset}.py"), *[str(a) for a in args]]


def run_dirs(log_dir: Path, dataset: str) -> list[Path]:
    folder = Path(log_dir) / dataset
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def only_run_dir(log_dir: Path, dataset: str) -> Path:
    runs = run_dirs(log_dir, dataset)
    assert len(runs) == 1, runs
    return runs[0]


def checkpoint_tensors(prefix) -> dict[str, np.ndarray]:
    """Every tensor of a checkpoint by name (model weights, batch-norm statistics, optimiser slots and step
    counts, the step, the noise layers' random state, save_counter and the object graph), read by TensorFlow."""
    reader = tf.train.load_checkpoint(str(prefix))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def differing_tensors(a: dict, b: dict) -> list[str]:
    """Names whose tensors differ in shape, dtype or any bit (NaN equal to itself only if the bits are equal), or
    that only one side has. Nothing is skipped: in these runs no tensor is legitimately run-specific (the object
    graph and save_counter are equal when both runs saved equally often, which they do here)."""
    differ = sorted(set(a) ^ set(b))
    for name in sorted(set(a) & set(b)):
        x, y = np.asarray(a[name]), np.asarray(b[name])
        same = (x.tobytes() == y.tobytes()) if x.dtype.kind in "fiucb" else np.array_equal(x, y)
        if x.dtype != y.dtype or x.shape != y.shape or not same:
            differ.append(name)
    return differ


def final_checkpoint(run_dir: Path, iteration: int) -> Path:
    prefix = run_dir / "checkpoints" / f"iteration-{iteration}"
    assert prefix.with_suffix(".index").exists(), sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    return prefix


@contextlib.contextmanager
def cpu_burners(count: int = 2):
    """`count` processes that spin on the CPU until the block ends (killed in any case)."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield burners
    finally:
        for burner in burners:
            burner.kill()
        for burner in burners:
            burner.wait()


def run_concurrently(commands: list[list[str]], cwd: Path, logs: list[Path], timeout: float = 1500) -> None:
    """Start every command at once, wait for all; assert each exits 0 (its log in the message)."""
    processes = []
    try:
        for command, log in zip(commands, logs):
            with open(log, "w") as out:
                processes.append(subprocess.Popen(command, cwd=cwd, env=script_env(), stdout=out,
                                                  stderr=subprocess.STDOUT))
        deadline = time.monotonic() + timeout
        for process in processes:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for process, log in zip(processes, logs):
        assert process.returncode == 0, f"{log}:\n{log.read_text()[-3000:]}"


# ---------------------------------------------------------------------------------------------------------
# A tiny data set in SVHN's published format (train_32x32.mat, test_32x32.mat), made of real MNIST digits


def read_idx(path: Path) -> np.ndarray:
    """An MNIST idx file (gzipped or not) as a numpy array, read here without the package."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def mnist_file(folder: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem, stem.replace("-idx", ".idx")):
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(f"{stem} not in {folder}")


def write_tiny_svhn(folder: Path, mnist_dir: Path, n_train: int = 256, n_test: int = 128) -> Path:
    """train_32x32.mat and test_32x32.mat as published (X uint8 (32, 32, 3, N), y (N, 1) in 1..10 where 10 is
    the digit 0) from the first MNIST digits: padded to 32x32, one colour per image so the channels differ."""
    import scipy.io
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(29)
    for split, n, stem in (("train", n_train, "train"), ("test", n_test, "t10k")):
        images = read_idx(mnist_file(mnist_dir, f"{stem}-images-idx3-ubyte"))[:n]
        labels = read_idx(mnist_file(mnist_dir, f"{stem}-labels-idx1-ubyte"))[:n]
        padded = np.pad(images, ((0, 0), (2, 2), (2, 2))).astype(np.float32) / 255.0
        colours = rng.uniform(0.3, 1.0, (n, 1, 1, 3)).astype(np.float32)
        rgb = np.round(padded[..., None] * colours * 255.0).astype(np.uint8)  # (N, 32, 32, 3)
        x = np.ascontiguousarray(rgb.transpose(1, 2, 3, 0))
        y = np.where(labels == 0, 10, labels).reshape(n, 1).astype(np.uint8)
        scipy.io.savemat(folder / f"{split}_32x32.mat", {"X": x, "y": y})
    return folder
