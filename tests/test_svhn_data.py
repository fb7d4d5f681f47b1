"""The SVHN reader on small .mat files in the published layout: transpose, labels, splits, extra, and errors."""

import numpy as np
import pytest
import scipy.io

from bidirectional_infogan.data import svhn
from bidirectional_infogan.data.common import DataError


def svhn_arrays(n, offset):
    """X (32, 32, 3, n) whose image i is filled with offset + i, with one marked pixel; y cycles 1..10."""
    x = np.zeros((32, 32, 3, n), dtype=np.uint8)
    for i in range(n):
        x[..., i] = offset + i
        x[5, 7, 2, i] = 200 + i  # row 5, column 7, blue
    y = (np.arange(n) % 10 + 1).reshape(n, 1).astype(np.uint8)  # includes 10 = digit 0
    return x, y


def write_svhn(folder, n_train=12, n_test=4, n_extra=6):
    folder.mkdir(parents=True, exist_ok=True)
    for name, n, offset in (("train", n_train, 0), ("test", n_test, 50), ("extra", n_extra, 100)):
        x, y = svhn_arrays(n, offset)
        scipy.io.savemat(folder / f"{name}_32x32.mat", {"X": x, "y": y})
    return folder


def test_images_labels_and_splits(tmp_path):
    data = svhn.load_svhn(write_svhn(tmp_path / "s"), validation_size=5)
    assert data.validation.images.shape == (5, 32, 32, 3) and data.train.images.shape == (7, 32, 32, 3)
    assert data.test.images.shape == (4, 32, 32, 3)
    for split in (data.train, data.validation, data.test):
        assert split.images.dtype == np.uint8 and split.images.flags["C_CONTIGUOUS"]
        assert split.labels.dtype == np.int64
    # the validation set is the first 5 training images, the training set the other 7
    assert data.validation.images[:, 0, 0, 0].tolist() == [0, 1, 2, 3, 4]
    assert data.train.images[:, 0, 0, 0].tolist() == [5, 6, 7, 8, 9, 10, 11]
    assert data.validation.labels.tolist() == [1, 2, 3, 4, 5]
    assert data.train.labels.tolist() == [6, 7, 8, 9, 0, 1, 2]  # label 10 is the digit 0
    assert data.test.labels.tolist() == [1, 2, 3, 4]
    # X[r, c, ch, i] appears at images[i, r, c, ch]
    assert data.train.images[0, 5, 7, 2] == 205 and data.train.images[0, 7, 5, 2] == 5
    assert data.train.images[0, 5, 7, 1] == 5 and data.test.images[3, 5, 7, 2] == 203
    assert data.test.images[3, 0, 0, 0] == 53


def test_use_extra_and_zero_validation(tmp_path):
    folder = write_svhn(tmp_path / "s")
    data = svhn.load_svhn(folder, use_extra=True, validation_size=0)
    assert len(data.validation.labels) == 0 and data.validation.images.shape == (0, 32, 32, 3)
    assert data.train.images.shape == (18, 32, 32, 3)
    assert data.train.images[:, 0, 0, 0].tolist() == list(range(12)) + list(range(100, 106))
    assert data.train.labels.tolist()[12:] == [1, 2, 3, 4, 5, 6]
    assert data.train.images[14, 5, 7, 2] == 202 and data.train.images.flags["C_CONTIGUOUS"]
    # without use_extra, extra_32x32.mat is neither needed nor read
    (folder / "extra_32x32.mat").unlink()
    assert svhn.load_svhn(folder, validation_size=2).train.images.shape == (10, 32, 32, 3)


def test_missing_folder_and_files(tmp_path):
    with pytest.raises(DataError, match="SVHN folder .* does not exist.*ufldl.stanford.edu/housenumbers"):
        svhn.load_svhn(tmp_path / "nope")
    folder = write_svhn(tmp_path / "s")
    (folder / "extra_32x32.mat").unlink()
    with pytest.raises(DataError, match=r"missing in .*: extra_32x32\.mat; .*\"Format 2\".*housenumbers"):
        svhn.load_svhn(folder, use_extra=True, validation_size=2)
    (folder / "test_32x32.mat").unlink()
    with pytest.raises(DataError, match=r"missing in .*: test_32x32\.mat;"):
        svhn.load_svhn(folder, validation_size=2)


@pytest.mark.parametrize("content", ["truncated", "text", "empty", "header only"])
def test_unreadable_file(tmp_path, content):
    folder = write_svhn(tmp_path / "s")
    path = folder / "train_32x32.mat"
    raw = path.read_bytes()
    path.write_bytes({"truncated": raw[:len(raw) // 2], "text": b"<html>Not Found</html>" * 10, "empty": b"",
                      "header only": raw[:140]}[content])
    with pytest.raises(DataError, match=r"cannot read .*train_32x32\.mat .*truncated or not a \.mat file"):
        svhn.load_svhn(folder, validation_size=2)


def write_train(folder, **variables):
    folder.mkdir(parents=True, exist_ok=True)
    x, y = svhn_arrays(4, 0)
    scipy.io.savemat(folder / "test_32x32.mat", {"X": x, "y": y})
    scipy.io.savemat(folder / "train_32x32.mat", variables)
    return folder


def test_bad_content(tmp_path):
    x, y = svhn_arrays(6, 0)
    cases = [
        ({"y": y}, "has no variable X"),
        ({"X": x}, "has no variable y"),
        ({"images": x, "labels": y}, "has no variable X or y"),
        ({"X": x[:, :, :1], "y": y}, r"X has shape \(32, 32, 1, 6\), expected \(32, 32, 3, N\)"),
        ({"X": np.zeros((28, 28, 3, 6), np.uint8), "y": y}, r"X has shape \(28, 28, 3, 6\)"),
        ({"X": x.transpose(3, 0, 1, 2), "y": y}, r"X has shape \(6, 32, 32, 3\)"),  # already (N, H, W, C)
        ({"X": x.astype(np.float64), "y": y}, "X has dtype float64, expected uint8"),
        ({"X": x, "y": y[:5]}, "X has 6 images but y has 5 labels"),
        ({"X": x, "y": np.zeros((6, 2))}, r"y has shape \(6, 2\)"),
        ({"X": x, "y": np.array([[1], [2], [0], [3], [4], [5]])}, "label 0 outside 1..10"),
        ({"X": x, "y": np.array([[1], [2], [11], [3], [4], [5]])}, "label 11 outside 1..10"),
        ({"X": x, "y": np.array([[1], [2], [2.5], [3], [4], [5]])}, "label 2.5 outside 1..10"),
    ]
    for i, (variables, message) in enumerate(cases):
        folder = write_train(tmp_path / str(i), **variables)
        with pytest.raises(DataError, match=message + ".*housenumbers"):
            svhn.load_svhn(folder, validation_size=2)


def test_bad_test_file_is_named(tmp_path):
    folder = write_svhn(tmp_path / "s")
    x, y = svhn_arrays(3, 0)
    scipy.io.savemat(folder / "test_32x32.mat", {"X": x, "y": y + 10})
    with pytest.raises(DataError, match=r"test_32x32\.mat: label 11 outside 1..10"):
        svhn.load_svhn(folder, validation_size=2)


def test_validation_size_must_fit(tmp_path):
    folder = write_svhn(tmp_path / "s")
    for size in (12, 13, -1):
        with pytest.raises(DataError, match=f"validation size {size} does not fit 12 training images"):
            svhn.load_svhn(folder, validation_size=size)
    assert len(svhn.load_svhn(folder, validation_size=11).train.labels) == 1
