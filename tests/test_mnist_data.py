"""The IDX reader on good, truncated and wrongly-magic files, file discovery, and the real MNIST split."""

import dataclasses
import gzip
import struct

import numpy as np
import pytest

from bidirectional_infogan.data import mnist
from bidirectional_infogan.data.common import DataError, to_float


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_fake_mnist(folder, n_train=12, n_test=4, gz=True, dotted=False):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28))
        labels = np.arange(n) % 10
        for kind, array, magic in (("images-idx3-ubyte", images, 2051), ("labels-idx1-ubyte", labels, 2049)):
            name = f"{prefix}-{kind}".replace("-idx", ".idx" if dotted else "-idx")
            raw = idx_bytes(array, magic)
            if gz:
                (folder / (name + ".gz")).write_bytes(gzip.compress(raw))
            else:
                (folder / name).write_bytes(raw)
    return folder


def test_parse_idx_good_file():
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    parsed = mnist.parse_idx(idx_bytes(images, 2051), 2051)
    assert parsed.shape == (2, 3, 4) and np.array_equal(parsed, images)


@pytest.mark.parametrize("cut", [3, 10, 20])
def test_parse_idx_truncated(cut):
    raw = idx_bytes(np.zeros((2, 3, 4)), 2051)
    with pytest.raises(DataError, match="truncated"):
        mnist.parse_idx(raw[:-cut] if cut < 20 else raw[:6], 2051, "x")


def test_parse_idx_wrong_magic_and_extra_bytes():
    raw = idx_bytes(np.zeros((5,)), 2049)
    with pytest.raises(DataError, match="magic number 2049, expected 2051"):
        mnist.parse_idx(raw, 2051)
    with pytest.raises(DataError, match="longer than its header"):
        mnist.parse_idx(raw + b"\0", 2049)


@pytest.mark.parametrize("gz,dotted", [(True, False), (False, False), (False, True), (True, True)])
def test_load_accepts_gzip_plain_and_dotted_names(tmp_path, gz, dotted):
    folder = write_fake_mnist(tmp_path / "m", gz=gz, dotted=dotted)
    data = mnist.load_mnist(folder, validation_size=5, download=False)
    assert data.train.images.shape == (7, 28, 28, 1) and data.validation.images.shape == (5, 28, 28, 1)
    assert data.test.images.shape == (4, 28, 28, 1)
    assert data.validation.labels.tolist() == [0, 1, 2, 3, 4]  # the first training images
    assert data.train.labels.tolist() == [5, 6, 7, 8, 9, 0, 1]


def test_missing_and_corrupted_files(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        mnist.load_mnist(tmp_path / "nope", download=False)
    folder = write_fake_mnist(tmp_path / "m")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        mnist.load_mnist(folder, validation_size=5, download=False)
    folder = write_fake_mnist(tmp_path / "c")
    (folder / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="cannot read"):
        mnist.load_mnist(folder, validation_size=5, download=False)


def test_download_checks_the_checksum(tmp_path):
    """A mirror serving wrong content is refused and nothing is left in the cache."""
    served = tmp_path / "mirror"
    served.mkdir()
    for name in mnist.FILES:
        (served / (name + ".gz")).write_bytes(gzip.compress(b"wrong content"))
    with pytest.raises(DataError, match="checksum mismatch"):
        mnist.ensure_downloaded(tmp_path / "cache", mirrors=(served.as_uri() + "/",))
    assert not (tmp_path / "cache").exists()  # nothing kept, nor the folder the download made


def test_real_mnist(mnist_dir):
    data = mnist.load_mnist(mnist_dir, download=False)
    assert data.train.images.shape == (55000, 28, 28, 1) and data.validation.images.shape == (5000, 28, 28, 1)
    assert data.test.images.shape == (10000, 28, 28, 1)
    all_train = np.concatenate([data.validation.labels, data.train.labels])
    assert np.bincount(all_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(data.test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    mean = (data.validation.images.astype(np.float64).sum() + data.train.images.astype(np.float64).sum()) / (60000 * 784)
    assert mean == pytest.approx(33.318, abs=1e-3)
    floats = to_float(data.test.images[:10])
    assert floats.dtype == np.float32 and floats.max() <= 1.0 and floats.min() >= 0.0


def test_corrupt_deflate_stream(tmp_path):
    """A gzip file whose compressed data are damaged: one DataError, not a zlib traceback."""
    folder = write_fake_mnist(tmp_path / "m")
    path = folder / "train-images-idx3-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[20:40] = b"\xff" * 20  # inside the deflate stream, after the 10-byte header
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="cannot read"):
        mnist.load_mnist(folder, validation_size=5, download=False)


def test_evaluation_reads_and_fetches_only_the_test_files(mnist_dir, tmp_path, monkeypatch):
    """A folder with only the two t10k files is enough for the test set; with no folder, only those two are
    downloaded (a mirror that serves nothing else, the real files, checked by their sha256)."""
    import shutil
    from bidirectional_infogan.train import cli
    from bidirectional_infogan.datasets import DATASETS
    from bidirectional_infogan.evaluate.evaluation_data import load_test_set
    only_test = tmp_path / "only_test"
    only_test.mkdir()
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        shutil.copy(mnist.find_idx_file(mnist_dir, name), only_test)
    run = cli.build_run(DATASETS["mnist"], dict(DATASETS["mnist"].defaults))
    test = load_test_set(run, str(only_test))
    assert test.images.shape == (10000, 28, 28, 1) and np.bincount(test.labels)[0] == 980
    # the download cache: gzip copies of the two test files on a file:// mirror
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for path in only_test.iterdir():
        raw = path.read_bytes() if not path.name.endswith(".gz") else gzip.decompress(path.read_bytes())
        (mirror / (path.name.removesuffix(".gz") + ".gz")).write_bytes(gzip.compress(raw))
    monkeypatch.setattr(mnist, "MIRRORS", (mirror.as_uri() + "/",))
    monkeypatch.setattr(mnist.ensure_downloaded, "__defaults__", ((mirror.as_uri() + "/",), None))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(mnist.ENVIRONMENT, raising=False)  # else the test files are read from there
    assert mnist.load_mnist_test().images.shape == (10000, 28, 28, 1)
    assert sorted(p.name for p in mnist.default_cache_dir().iterdir()) == [
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_mnist_dir_is_where_every_entry_point_reads_mnist(tmp_path, monkeypatch):
    """Issue 43: without --data_dir, $MNIST_DIR names the folder (training reads it and records it in
    config.json, evaluation reads the test set from it); a wrong one is one DataError naming it."""
    from bidirectional_infogan.datasets import DATASETS
    from bidirectional_infogan.evaluate.evaluation_data import load_test_set
    from bidirectional_infogan.train import cli
    folder = write_fake_mnist(tmp_path / "m", n_train=12, n_test=7)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # never the real cache
    monkeypatch.setenv(mnist.ENVIRONMENT, str(folder))
    assert len(mnist.load_mnist(validation_size=5, download=False).train.labels) == 7
    run = cli.build_run(DATASETS["mnist"], dict(DATASETS["mnist"].defaults))
    assert run.data["data_dir"] == str(folder.resolve())  # what train_mnist.py records
    assert len(load_test_set(dataclasses.replace(run, data={}), None).labels) == 7  # evaluate_model.py's path
    monkeypatch.setenv(mnist.ENVIRONMENT, str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match=r"MNIST \(\$MNIST_DIR\) folder .*nowhere does not exist"):
        mnist.load_mnist_test()
    monkeypatch.setenv(mnist.ENVIRONMENT, "")  # empty: as unset, the download cache
    assert mnist.environment_dir() is None
    assert not (tmp_path / "cache").exists()


def test_a_failed_download_leaves_no_empty_cache_folders(tmp_path, monkeypatch):
    """Issue 43: a download that fails (here: a mirror that has nothing) removes the cache folders it made."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(mnist.ENVIRONMENT, raising=False)
    (tmp_path / "empty_mirror").mkdir()
    with pytest.raises(DataError, match="could not download"):
        mnist.ensure_downloaded(mnist.default_cache_dir(), mirrors=((tmp_path / "empty_mirror").as_uri() + "/",))
    assert not (tmp_path / "cache").exists()
