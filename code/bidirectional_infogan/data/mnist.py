"""MNIST from the four standard IDX files (gzip or plain), with an optional checked download.

As in the original (TF's old tutorial reader), the first 5,000 training images are the validation set and
the other 55,000 the training set. Images are returned as uint8 arrays (N, 28, 28, 1); `common.to_float` maps them
to [0, 1].
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bidirectional_infogan.data.common import DataError, cache_dir, download_folder, require_folder

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049

# name -> sha256 of the *uncompressed* IDX file (so gzip settings of a mirror do not matter)
FILES = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)


@dataclass
class Split:
    images: np.ndarray  # uint8 (N, H, W, C)
    labels: np.ndarray  # int64 (N,)


@dataclass
class MnistData:
    train: Split
    validation: Split
    test: Split


def default_cache_dir() -> Path:
    return cache_dir("mnist")


ENVIRONMENT = "MNIST_DIR"  # a folder holding the four files: read when no --data_dir is given, instead of the cache


def environment_dir() -> Path | None:
    """The folder that $MNIST_DIR names (absolute), or None if it is unset or empty. Every entry point reads
    MNIST from it when no folder is given (train_mnist.py, evaluate_model.py, scripts, tests)."""
    value = os.environ.get(ENVIRONMENT, "").strip()
    return Path(value).expanduser().resolve() if value else None


def _given_folder(data_dir) -> Path | None:
    """`data_dir` checked, else $MNIST_DIR checked, else None (the download cache)."""
    if data_dir is not None:
        return require_folder(data_dir, "MNIST")
    if environment_dir() is not None:
        return require_folder(environment_dir(), f"MNIST (${ENVIRONMENT})", f"unset {ENVIRONMENT} or correct it")
    return None


def _open_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise DataError(f"cannot read {path}: {err}") from None


def parse_idx(raw: bytes, expected_magic: int, source: str = "IDX data") -> np.ndarray:
    """Parse an IDX file of unsigned bytes (magic 2049: labels, 2051: images), checking magic and length."""
    if len(raw) < 8:
        raise DataError(f"{source} is truncated: {len(raw)} bytes, too short for an IDX header")
    magic = int.from_bytes(raw[0:4], "big")
    if magic != expected_magic:
        kind = "images" if expected_magic == IMAGES_MAGIC else "labels"
        raise DataError(f"{source} is not an MNIST {kind} file: magic number {magic}, expected {expected_magic}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{source} is truncated inside its header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "longer than its header says"
        raise DataError(f"{source} is {what}: {len(raw)} bytes, expected {expected} for shape {shape}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def find_idx_file(folder: Path, name: str) -> Path | None:
    """Accept the canonical name and the common variant with a dot (train-images.idx3-ubyte), gzip or not."""
    dotted = name.replace("-idx", ".idx")
    for candidate in (name, name + ".gz", dotted, dotted + ".gz"):
        if (folder / candidate).is_file():
            return folder / candidate
    return None


def _read_pair(folder: Path, prefix: str) -> Split:
    paths = {kind: find_idx_file(folder, f"{prefix}-{kind}") for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")}
    missing = [f"{prefix}-{k}[.gz]" for k, p in paths.items() if p is None]
    if missing:
        raise DataError(f"MNIST file(s) missing in {folder}: {', '.join(missing)}")
    images_path, labels_path = paths["images-idx3-ubyte"], paths["labels-idx1-ubyte"]
    images = parse_idx(_open_bytes(images_path), IMAGES_MAGIC, str(images_path))
    labels = parse_idx(_open_bytes(labels_path), LABELS_MAGIC, str(labels_path))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{images_path} and {labels_path} do not match: images {images.shape}, labels {labels.shape}")
    if labels.size and labels.max() > 9:
        raise DataError(f"{labels_path} has labels outside 0..9")
    return Split(images=images[..., None], labels=labels.astype(np.int64))


def load_mnist(data_dir: str | Path | None = None, validation_size: int = 5000, download: bool = True) -> MnistData:
    """Read MNIST from `data_dir`; without it, from $MNIST_DIR, else from the cache folder, downloading there on
    first use."""
    folder = _given_folder(data_dir)
    if folder is None:
        folder = default_cache_dir()
        if download:
            ensure_downloaded(folder)
    train_all = _read_pair(folder, "train")
    test = _read_pair(folder, "t10k")
    if not 0 <= validation_size < len(train_all.labels):
        raise DataError(f"validation size {validation_size} does not fit {len(train_all.labels)} training images")
    validation = Split(train_all.images[:validation_size], train_all.labels[:validation_size])
    train = Split(train_all.images[validation_size:], train_all.labels[validation_size:])
    return MnistData(train=train, validation=validation, test=test)


def load_mnist_test(data_dir: str | Path | None = None, download: bool = True) -> Split:
    """Only the 10,000 test images and labels (evaluation reads nothing else, so it fetches nothing else)."""
    folder = _given_folder(data_dir)
    if folder is None:
        folder = default_cache_dir()
        if download:
            ensure_downloaded(folder, names=[name for name in FILES if name.startswith("t10k")])
    return _read_pair(folder, "t10k")


def ensure_downloaded(folder: Path, mirrors=MIRRORS, names=None) -> None:
    """Download any missing MNIST file (of `names`; default all four) into `folder`, checking the sha256 of its
    uncompressed content."""
    with download_folder(folder, "MNIST"):
        for name, sha256 in FILES.items():
            if find_idx_file(folder, name) is None and (names is None or name in names):
                _download(folder, name, sha256, mirrors)


def _download(folder: Path, name: str, sha256: str, mirrors) -> None:
    """One of the four files, from the first mirror that has it (checked), as `name`.gz in `folder`."""
    part = folder / (name + ".gz.part")
    errors = []
    for mirror in mirrors:
        url = mirror + name + ".gz"
        try:
            print(f"downloading {url}", flush=True)
            with urllib.request.urlopen(url, timeout=60) as response:
                compressed = response.read()
            if hashlib.sha256(gzip.decompress(compressed)).hexdigest() != sha256:
                raise DataError("checksum mismatch")
            part.write_bytes(compressed)
            part.replace(folder / (name + ".gz"))  # appears under its real name only when complete
            break
        except (OSError, EOFError, zlib.error, DataError) as err:
            errors.append(f"{url}: {err}")
        finally:
            part.unlink(missing_ok=True)
    else:
        raise DataError(f"could not download {name}.gz ({'; '.join(errors)}); put the four MNIST files "
                        f"in a folder and pass it with --data_dir (or set MNIST_DIR)")
