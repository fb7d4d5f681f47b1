"""SVHN, the cropped digits ("Format 2"): the .mat files published at http://ufldl.stanford.edu/housenumbers/.

Each file holds `X`, uint8 (32, 32, 3, N), and `y`, (N, 1) with labels 1..10 where 10 is the digit 0. Images
are returned as uint8 arrays (N, 32, 32, 3) and labels as 0..9. As for MNIST, the first `validation_size`
images of train_32x32.mat are the validation set and the rest the training set; `use_extra` appends the
531,131 images of extra_32x32.mat to the training set.

Without a data folder the files are read from the download cache ($XDG_CACHE_HOME or ~/.cache, then
bidirectional_infogan/svhn), downloaded there from `URL` on first use and checked against the published sizes
and MD5s (see download.py: the MD5 is checked right after the download, later starts only check the size).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io
from scipy.io.matlab import MatReadError

from bidirectional_infogan.data.common import DataError, cache_dir, download_folder, require_folder
from bidirectional_infogan.data.download import download_file
from bidirectional_infogan.data.mnist import Split

URL = "http://ufldl.stanford.edu/housenumbers/"
HINT = (f'expected SVHN\'s cropped-digit "Format 2" files train_32x32.mat, test_32x32.mat (and extra_32x32.mat '
        f"with extra data) in one folder, from {URL}")
# name -> (size in bytes, MD5), as published at URL
FILES = {
    "train_32x32.mat": (182_040_794, "e26dedcc434d2e4c54c9b2d4a06d8373"),
    "test_32x32.mat": (64_275_384, "eb5a983be6a315427106f1b164d9cef3"),
    "extra_32x32.mat": (1_329_278_602, "a93ce644f1a588dc4d68dda5feec44a7"),
}
# How many crops of each digit 0..9 the cropped-digit files hold: the labels y of train_32x32.mat and
# test_32x32.mat counted (10 counted as 0). They sum to 73,257 and 26,032; 1 is the most common digit.
LABEL_COUNTS = {
    "train": (4948, 13861, 10585, 8497, 7458, 6882, 5727, 5595, 5045, 4659),
    "test": (1744, 5099, 4149, 2882, 2523, 2384, 1977, 2019, 1660, 1595),
}

# What scipy raises on truncated, corrupt or non-.mat files (found by cutting valid files at every length).
MAT_ERRORS = (MatReadError, ValueError, OSError, TypeError, IndexError, KeyError, EOFError, NotImplementedError,
              OverflowError, MemoryError, zlib.error)


@dataclass
class SvhnData:
    train: Split
    validation: Split
    test: Split


def read_mat(path: Path) -> Split:
    """One SVHN .mat file -> Split with images (N, 32, 32, 3) uint8 (a transposed view of X) and labels 0..9."""
    if not path.is_file():
        raise DataError(f"SVHN file {path.name} missing in {path.parent}; {HINT}")
    try:
        content = scipy.io.loadmat(str(path), variable_names=["X", "y"])
    except MAT_ERRORS as err:
        raise DataError(f"cannot read {path} ({type(err).__name__}: {err}), truncated or not a .mat file; "
                        f"{HINT}") from None
    missing = [key for key in ("X", "y") if key not in content]
    if missing:
        raise DataError(f"{path} has no variable {' or '.join(missing)}; {HINT}")
    x, y = content["X"], content["y"]
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3):
        raise DataError(f"{path}: X has shape {x.shape}, expected (32, 32, 3, N); {HINT}")
    if x.dtype != np.uint8:
        raise DataError(f"{path}: X has dtype {x.dtype}, expected uint8; {HINT}")
    if y.ndim > 2 or (y.ndim == 2 and 1 not in y.shape) or not np.issubdtype(y.dtype, np.number):
        raise DataError(f"{path}: y has shape {y.shape} and dtype {y.dtype}, expected numbers of shape (N, 1); "
                        f"{HINT}")
    labels = y.reshape(-1)
    if len(labels) != x.shape[3]:
        raise DataError(f"{path}: X has {x.shape[3]} images but y has {len(labels)} labels; {HINT}")
    bad = (labels < 1) | (labels > 10) | (labels != np.round(labels))
    if bad.any():
        raise DataError(f"{path}: label {labels[bad][0]} outside 1..10; {HINT}")
    labels = labels.astype(np.int64) % 10  # 10 is the digit 0
    return Split(images=x.transpose(3, 0, 1, 2), labels=labels)  # a view; the caller makes it contiguous


def file_names(use_extra: bool) -> list[str]:
    return ["train_32x32.mat", "test_32x32.mat"] + (["extra_32x32.mat"] if use_extra else [])


def default_cache_dir() -> Path:
    return cache_dir("svhn")


def ensure_downloaded(folder: Path, use_extra: bool = False, base_url: str | None = None) -> None:
    """Download into `folder` each needed file that is not there with its published size (from `base_url`,
    default `URL`). A file of the right size is trusted without hashing it: only complete, checked downloads
    ever get the real name."""
    base_url = base_url or URL
    names = file_names(use_extra)
    hint = f"alternatively download {', '.join(names)} from {base_url} yourself and pass their folder with --data_dir"
    with download_folder(folder, "SVHN"):
        for name in names:
            size, md5 = FILES[name]
            path = folder / name
            if not (path.is_file() and path.stat().st_size == size):
                download_file(base_url + name, path, size, md5, name, hint=hint)


def load_svhn(data_dir: str | Path | None = None, use_extra: bool = False, validation_size: int = 5000,
              download: bool = True) -> SvhnData:
    """Read SVHN from `data_dir` (without it, from the download cache, downloading there on first use):
    validation = the first `validation_size` training images, train = the rest (plus all of
    extra_32x32.mat with `use_extra`), test = test_32x32.mat."""
    if data_dir is None:
        folder = default_cache_dir()
        if download:
            ensure_downloaded(folder, use_extra)
    else:
        folder = require_folder(data_dir, "SVHN", HINT)
    names = file_names(use_extra)
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise DataError(f"SVHN file(s) missing in {folder}: {', '.join(missing)}; {HINT}")
    train_all = read_mat(folder / "train_32x32.mat")
    n_train = len(train_all.labels)
    if not 0 <= validation_size < n_train:
        raise DataError(f"validation size {validation_size} does not fit {n_train} training images "
                        f"(it must be 0 or more and leave at least one image to train on)")
    validation = Split(np.ascontiguousarray(train_all.images[:validation_size]), train_all.labels[:validation_size])
    parts = [Split(train_all.images[validation_size:], train_all.labels[validation_size:])]
    if use_extra:
        parts.append(read_mat(folder / "extra_32x32.mat"))
    train_images = np.empty((sum(len(p.labels) for p in parts), 32, 32, 3), dtype=np.uint8)  # C order
    np.concatenate([p.images for p in parts], out=train_images)
    train = Split(train_images, np.concatenate([p.labels for p in parts]))
    test = read_mat(folder / "test_32x32.mat")
    return SvhnData(train=train, validation=validation,
                    test=Split(np.ascontiguousarray(test.images), test.labels))
