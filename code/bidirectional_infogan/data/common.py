"""What every data loader shares: the error type, the pixel conversion, the download cache folder, the CPU count,
and what a loader hands to training (`TrainingData`) and to evaluation (`TestSet`)."""

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class DataError(Exception):
    """Missing, truncated or malformed data files (the message is shown to the user as is)."""


def require_folder(data_dir, label: str, hint: str = "") -> Path:
    """`data_dir` as a Path, or a DataError that says whether it is missing or a file."""
    folder = Path(data_dir).expanduser()
    if not folder.is_dir():
        problem = "is a file, not a folder" if folder.exists() else "does not exist"
        raise DataError(f"{label} folder {folder} {problem}" + (f"; {hint}" if hint else ""))
    return folder


def cache_dir(dataset: str) -> Path:
    """Where `dataset`'s downloads or caches go: $XDG_CACHE_HOME (else ~/.cache)/bidirectional_infogan/<dataset>."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "bidirectional_infogan" / dataset


@contextlib.contextmanager
def download_folder(folder: Path, label: str):
    """Make `folder` (and the folders above it that are missing) for a download into it; if the download fails,
    remove again those of them that are still empty, so that a failed first download leaves no empty cache
    folders behind (~/.cache/bidirectional_infogan/<dataset>)."""
    made = [f for f in (folder, *folder.parents) if not f.exists()]  # deepest first
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"cannot make the {label} download folder {folder} ({err.strerror}); "
                        f"pass --data_dir or set XDG_CACHE_HOME") from None
    try:
        yield folder
    except BaseException:
        for made_here in made:
            try:
                made_here.rmdir()  # only if empty
            except OSError:
                break
        raise


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity; all of the machine's where that is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 pixels -> float32 in [0, 1]."""
    return images.astype(np.float32) * np.float32(1.0 / 255.0)


def as_float(images) -> np.ndarray:
    """uint8 images through `to_float` (as in training); float images as they are (an array, not cast)."""
    images = np.asarray(images)
    return to_float(images) if images.dtype == np.uint8 else images


@dataclass
class TrainingData:
    """uint8 images (N, H, W, C) to train on, the validation images of the figures, and their labels where
    the data set has classes (for the validation scores in TensorBoard; never used in training)."""

    train_images: np.ndarray
    validation_images: np.ndarray
    validation_labels: np.ndarray | None = None


@dataclass
class TestSet:
    """The test images that a trained run is evaluated on, with what is known about them."""

    images: np.ndarray  # uint8 (N, H, W, C)
    labels: np.ndarray | None  # int64 (N,): the digit of each image (MNIST, SVHN); None for CelebA
    n_classes: int
    class_names: list
    attributes: np.ndarray | None = None  # (N, A) in {0, 1} (CelebA)
    attribute_names: list | None = None
