"""scripts/investigations/make_proxy_data.py: MNIST digits written as SVHN's .mat files and CelebA's JPEGs and text files, read
back with the project's loaders and with scipy / PIL directly, their pixels checked against the factors file."""

import hashlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image
from scipy import ndimage

from bidirectional_infogan.data import celeba, svhn
from bidirectional_infogan.data.mnist import find_idx_file, load_mnist

ROOT = Path(__file__).resolve().parents[1]

import make_proxy_data as proxy  # noqa: E402

LIMIT = 200
N_TEST = 34  # ceil(200 * 10,000 / 60,000)
N_VALIDATION = 22  # round(200 * 19,867 / (162,770 + 19,867))
CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
    "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
    "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
    "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
    "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young").split()
# SVHN: an exact pixel is the colour times the brightness plus noise cut at NOISE_MAX, rounded and clipped
SVHN_TOLERANCE = proxy.NOISE_MAX + 0.5
JPEG_TOLERANCE = 4  # a flat background through JPEG (quality 90)
JPEG_STROKE_TOLERANCE = 30  # inside a stroke, near its edges; the closest palette colours are 107 apart


def run(argv, capsys=None):
    """The script's main() in this process; (exit code, stderr) with capsys."""
    code = proxy.main([str(a) for a in argv])
    return code, (capsys.readouterr().err if capsys else None)


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    return load_mnist(mnist_dir, validation_size=0, download=False)


@pytest.fixture(scope="module")
def out(mnist_dir, tmp_path_factory) -> Path:
    """The proxies of the first 200 IDX training and 34 test images, seed 0. Treat as read-only."""
    folder = tmp_path_factory.mktemp("proxy")
    assert run(["--mnist_dir", mnist_dir, "--out", folder, "--limit", LIMIT, "--workers", 1]) == (0, None)
    return folder


def scaled(factors, key):
    """The palette colour `key` of each image times its brightness, clipped: (N, 3) float."""
    colours = factors["palette"][factors[key]].astype(np.float64) * factors["brightness"][:, None]
    return np.clip(colours, 0, 255)


def nearest_colour(pixels, brightness, palette):
    """Index of the palette colour (times each image's brightness) nearest to each pixel (N, 3)."""
    candidates = np.clip(palette[None].astype(np.float64) * brightness[:, None, None], 0, 255)  # (N, 10, 3)
    return np.linalg.norm(candidates - pixels[:, None, :].astype(np.float64), axis=2).argmin(axis=1)


def tree_digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --- SVHN ---------------------------------------------------------------------------------------------------

def test_svhn_mat_files_in_the_published_format(out, mnist):
    for name, split, n in (("train", mnist.train, LIMIT), ("test", mnist.test, N_TEST)):
        content = scipy.io.loadmat(out / "svhn" / f"{name}_32x32.mat")
        x, y = content["X"], content["y"]
        assert x.dtype == np.uint8 and x.shape == (32, 32, 3, n)
        assert y.shape == (n, 1) and set(np.unique(y)) <= set(range(1, 11))
        expected = np.where(split.labels[:n] == 0, 10, split.labels[:n])  # 10 stands for the digit 0
        np.testing.assert_array_equal(y[:, 0], expected)
        assert 10 in y and 1 in y
        factors = np.load(out / "svhn" / f"factors_{name}.npz")
        np.testing.assert_array_equal(factors["digit"], split.labels[:n])
        np.testing.assert_array_equal(factors["source_index"], np.arange(n))
        for key in ("digit", "stroke_colour", "background_colour", "neighbour_side"):
            assert factors[key].dtype.kind == "i" and factors[key].shape == (n,)
        assert factors["palette"].shape == (10, 3) and len(set(map(tuple, factors["palette"]))) == 10
        assert list(factors["palette_names"]) == proxy.PALETTE_NAMES
    assert "make_proxy_data.py" in (out / "svhn" / "README.txt").read_text()


def test_svhn_loader_reads_them(out, mnist):
    data = svhn.load_svhn(out / "svhn", validation_size=50)
    raw = scipy.io.loadmat(out / "svhn" / "train_32x32.mat")["X"].transpose(3, 0, 1, 2)
    assert data.validation.images.shape == (50, 32, 32, 3) and data.train.images.shape == (150, 32, 32, 3)
    assert data.test.images.shape == (N_TEST, 32, 32, 3)
    np.testing.assert_array_equal(data.validation.images, raw[:50])
    np.testing.assert_array_equal(data.train.images, raw[50:])
    np.testing.assert_array_equal(np.concatenate([data.validation.labels, data.train.labels]),
                                  mnist.train.labels[:LIMIT])
    np.testing.assert_array_equal(data.test.labels, mnist.test.labels[:N_TEST])


@pytest.mark.parametrize("name", ["train", "test"])
def test_svhn_colours_match_the_factors(out, mnist, name):
    images = svhn.read_mat(out / "svhn" / f"{name}_32x32.mat").images.astype(np.float64)  # (N, 32, 32, 3)
    factors = np.load(out / "svhn" / f"factors_{name}.npz")
    source = (mnist.train if name == "train" else mnist.test).images[:len(images), :, :, 0]
    background, stroke = scaled(factors, "background_colour"), scaled(factors, "stroke_colour")
    assert (factors["stroke_colour"] != factors["background_colour"]).all()
    assert set(factors["background_colour"]) == set(range(10)) or name == "test"
    # the top-left pixel is background, the pixels where the MNIST digit is at full ink are the stroke colour
    assert np.abs(images[:, 0, 0] - background).max() <= SVHN_TOLERANCE
    np.testing.assert_array_equal(nearest_colour(images[:, 0, 0], factors["brightness"], factors["palette"]),
                                  factors["background_colour"])
    # (grey >= 250: blended 2% towards the background at most; 255 itself is rare in MNIST)
    tolerance = SVHN_TOLERANCE + 5 / 255 * np.abs(stroke - background)
    checked = 0
    for i in range(len(images)):
        rows, cols = np.nonzero(source[i] >= 250)
        pixels = images[i, rows + 2 + factors["shift_y"][i], cols + 2 + factors["shift_x"][i]]
        assert (np.abs(pixels - stroke[i]) <= tolerance[i]).all(), i
        checked += len(rows) > 0
    assert checked > 0.9 * len(images)
    # a background pixel away from the digit is off by at most the noise once the brightness is known ...
    assert np.abs(images[:, 0, 0] - background).max() > 1  # ... and there is noise
    assert 0.8 < factors["brightness"].min() and factors["brightness"].max() < 1.2


def test_svhn_neighbour_digits_show_at_the_recorded_edge(out):
    images = svhn.read_mat(out / "svhn" / "train_32x32.mat").images.astype(np.float64)
    factors = np.load(out / "svhn" / "factors_train.npz")
    side = factors["neighbour_side"]
    assert set(side) == {0, 1, 2} and 0.35 < (side > 0).mean() < 0.65
    assert ((factors["neighbour_digit"] >= 0) == (side > 0)).all()
    background, stroke = scaled(factors, "background_colour"), scaled(factors, "stroke_colour")
    # how far each pixel is from the background, as a share of the stroke's distance (about 0 or 1)
    ink = (np.linalg.norm(images - background[:, None, None], axis=3)
           / np.linalg.norm(stroke - background, axis=1)[:, None, None])
    left, right = ink[:, :, :3].max(axis=(1, 2)), ink[:, :, -3:].max(axis=(1, 2))
    assert (left[side == 1] > 0.5).all() and (right[side == 2] > 0.5).all()
    # without a neighbour the outer two columns are background (the digit rarely reaches them)
    edges = np.maximum(ink[:, :, :2].max(axis=(1, 2)), ink[:, :, -2:].max(axis=(1, 2)))
    assert (edges[side == 0] < 0.25).mean() > 0.9


# --- CelebA -------------------------------------------------------------------------------------------------

def test_celeba_files_in_the_published_format(out, mnist):
    folder = out / "celeba"
    n = LIMIT + N_TEST
    names = [f"{i:06d}.jpg" for i in range(1, n + 1)]
    partition_lines = (folder / "list_eval_partition.txt").read_text().splitlines()
    expected_partition = [0] * (LIMIT - N_VALIDATION) + [1] * N_VALIDATION + [2] * N_TEST
    assert partition_lines == [f"{name} {p}" for name, p in zip(names, expected_partition)]
    lines = (folder / "list_attr_celeba.txt").read_text().splitlines()
    assert lines[0] == str(n) and lines[1].split() == CELEBA_ATTRIBUTES and len(lines) == n + 2
    for name, line in zip(names, lines[2:]):
        assert re.fullmatch(re.escape(name) + r"( (-1| 1)){40}", line), line
    assert sorted(p.name for p in (folder / "img_align_celeba").iterdir()) == names
    for name in names[:5] + names[-5:]:
        with Image.open(folder / "img_align_celeba" / name) as image:
            assert image.format == "JPEG" and image.mode == "RGB" and image.size == (178, 218)
    factors = np.load(folder / "factors.npz")
    digits = np.concatenate([mnist.train.labels[:LIMIT], mnist.test.labels[:N_TEST]])
    np.testing.assert_array_equal(factors["digit"], digits)
    np.testing.assert_array_equal(factors["partition"], expected_partition)
    np.testing.assert_array_equal(factors["source_set"], [0] * LIMIT + [1] * N_TEST)
    assert (factors["neighbour_side"] == 0).all() and (factors["stroke_colour"] != factors["background_colour"]).all()


def test_celeba_loader_reads_them(out):
    data = celeba.load_celeba(out / "celeba", cache_dir=out.parent / (out.name + "_cache"), with_attributes=True,
                              workers=1)
    assert data.train.images.shape == (LIMIT - N_VALIDATION, 32, 32, 3)
    assert data.validation.images.shape == (N_VALIDATION, 32, 32, 3)
    assert data.test.images.shape == (N_TEST, 32, 32, 3)
    assert data.attribute_names == CELEBA_ATTRIBUTES
    factors = np.load(out / "celeba" / "factors.npz")
    # the crop box's corner is background (the digit's empty border), so the 32x32 crop's corner too
    crops = np.concatenate([data.train.images, data.validation.images, data.test.images]).astype(np.float64)
    assert np.abs(crops[:, 0, 0] - scaled(factors, "background_colour")).max() <= JPEG_TOLERANCE
    names, partition = celeba.read_partition(out / "celeba")
    attribute_names, values, files = celeba.read_attributes(out / "celeba")
    assert files == names and values.shape == (LIMIT + N_TEST, 40)
    np.testing.assert_array_equal(partition, factors["partition"])


def test_celeba_colours_match_the_factors(out, mnist):
    factors = np.load(out / "celeba" / "factors.npz")
    source = np.concatenate([mnist.train.images[:LIMIT], mnist.test.images[:N_TEST]])[..., 0]
    background, stroke = scaled(factors, "background_colour"), scaled(factors, "stroke_colour")
    corners, with_core = [], 0
    for i in range(len(source)):
        with Image.open(out / "celeba" / "img_align_celeba" / f"{i + 1:06d}.jpg") as image:
            pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
        corners.append(pixels[0, 0])
        assert np.abs(pixels[[0, 0, -1, -1], [0, -1, 0, -1]] - background[i]).max() <= JPEG_TOLERANCE, i
        # the digit, scaled to the 108x108 box: where it and its neighbours are at full ink, the stroke colour
        big = np.asarray(Image.fromarray(source[i]).resize((108, 108), Image.Resampling.BICUBIC))
        rows, cols = np.nonzero(ndimage.minimum_filter(big, size=3, mode="constant") >= 250)
        if len(rows) >= 5:
            with_core += 1
            inside = pixels[55 + factors["shift_y"][i] + rows, 35 + factors["shift_x"][i] + cols]
            assert np.abs(inside - stroke[i]).max() <= JPEG_STROKE_TOLERANCE, i
            assert np.abs(np.median(inside, axis=0) - stroke[i]).max() <= 10, i
    assert with_core > 0.8 * len(source)
    np.testing.assert_array_equal(nearest_colour(np.array(corners), factors["brightness"], factors["palette"]),
                                  factors["background_colour"])


def test_celeba_attributes_follow_the_factors(out):
    factors = np.load(out / "celeba" / "factors.npz")
    mapping = json.loads((out / "celeba" / "proxy_attributes.json").read_text())
    assert list(mapping) == CELEBA_ATTRIBUTES
    kinds = [mapping[name]["factor"] for name in CELEBA_ATTRIBUTES]
    assert kinds.count("digit") == 10 and kinds.count("background") == 10 and kinds.count("random") == 20
    for kind in ("digit", "background"):
        assert sorted(m["value"] for m in mapping.values() if m["factor"] == kind) == list(range(10))
    names, values, _ = celeba.read_attributes(out / "celeba")  # values 1 -> 1, -1 -> 0
    random_columns = []
    for j, name in enumerate(names):
        factor, value = mapping[name]["factor"], mapping[name]["value"]
        if factor == "digit":
            np.testing.assert_array_equal(values[:, j], factors["digit"] == value, err_msg=name)
        elif factor == "background":
            np.testing.assert_array_equal(values[:, j], factors["background_colour"] == value, err_msg=name)
        else:
            assert value is None
            random_columns.append(values[:, j])
    coins = np.array(random_columns, dtype=np.float64)  # (20, N)
    assert 0.45 < coins.mean() < 0.55
    assert (np.abs(coins.mean(axis=1) - 0.5) < 0.15).all()  # 234 draws: sd 0.033
    # independent of each other and of the factors: no column is a copy of another or of a factor column
    correlations = np.corrcoef(np.concatenate([coins, values.T[np.array(kinds) != "random"]]))[:20]
    np.fill_diagonal(correlations[:, :20], 0)
    assert np.abs(correlations).max() < 0.35


# --- the script ---------------------------------------------------------------------------------------------

def test_same_seed_same_bytes_other_seed_other_data(out, mnist_dir, tmp_path, monkeypatch):
    again, other = tmp_path / "again", tmp_path / "other"
    # as if a day later: no time stamp (such as the one scipy writes into a .mat header) may reach the files
    later = time.time() + 86400
    monkeypatch.setattr(time, "time", lambda: later)
    monkeypatch.setattr(time, "asctime", lambda *args: "Fri Jan  2 03:04:05 2099")
    assert run(["--mnist_dir", mnist_dir, "--out", again, "--limit", LIMIT, "--workers", 1]) == (0, None)
    assert tree_digest(again) == tree_digest(out)  # every file, the .mat, .npz and JPEGs included
    assert run(["--mnist_dir", mnist_dir, "--out", other, "--limit", LIMIT, "--seed", 1, "--workers", 1,
                "--datasets", "svhn"]) == (0, None)
    assert sorted(p.name for p in other.iterdir()) == ["svhn"]
    for name in ("train_32x32.mat", "test_32x32.mat"):
        assert (other / "svhn" / name).read_bytes() != (out / "svhn" / name).read_bytes()
    mine, theirs = np.load(out / "svhn" / "factors_train.npz"), np.load(other / "svhn" / "factors_train.npz")
    np.testing.assert_array_equal(mine["digit"], theirs["digit"])  # same digits, other colours
    assert (mine["background_colour"] != theirs["background_colour"]).mean() > 0.5


def test_worker_processes_write_the_same_jpegs(mnist_dir, tmp_path):
    for workers in (1, 2):
        assert run(["--mnist_dir", mnist_dir, "--out", tmp_path / str(workers), "--limit", 900, "--datasets",
                    "celeba", "--workers", workers]) == (0, None)  # 1,050 images: three chunks
    assert tree_digest(tmp_path / "1") == tree_digest(tmp_path / "2")


def test_refuses_to_overwrite(out, mnist_dir, tmp_path, capsys):
    before = tree_digest(out)
    code, err = run(["--mnist_dir", mnist_dir, "--out", out, "--limit", 10], capsys)
    assert code == 2 and err.count("\n") == 1 and "--overwrite" in err and "svhn" in err
    assert tree_digest(out) == before
    # someone else's folder is kept even with --overwrite
    theirs = tmp_path / "celeba"
    theirs.mkdir()
    (theirs / "list_attr_celeba.txt").write_text("the real thing\n")
    code, err = run(["--mnist_dir", mnist_dir, "--out", tmp_path, "--limit", 10, "--overwrite"], capsys)
    assert code == 2 and err.count("\n") == 1 and "not written by this script" in err
    assert (theirs / "list_attr_celeba.txt").read_text() == "the real thing\n"
    assert not (tmp_path / "svhn").exists()
    # an earlier output of the script is replaced with --overwrite, and only then
    assert run(["--mnist_dir", mnist_dir, "--out", tmp_path, "--limit", 10, "--datasets", "svhn"]) == (0, None)
    capsys.readouterr()
    code, err = run(["--mnist_dir", mnist_dir, "--out", tmp_path, "--limit", 20, "--datasets", "svhn"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert scipy.io.loadmat(tmp_path / "svhn" / "train_32x32.mat")["y"].shape == (10, 1)
    assert run(["--mnist_dir", mnist_dir, "--out", tmp_path, "--limit", 20, "--datasets", "svhn",
                "--overwrite"]) == (0, None)
    assert scipy.io.loadmat(tmp_path / "svhn" / "train_32x32.mat")["y"].shape == (20, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["celeba", "svhn"]  # no partial folder left


def test_bad_input_is_one_line_exit_2(mnist_dir, tmp_path, capsys):
    incomplete = tmp_path / "mnist"
    incomplete.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"):  # no t10k labels
        source = find_idx_file(Path(mnist_dir), name)
        (incomplete / source.name).symlink_to(source)
    code, err = run(["--mnist_dir", incomplete, "--out", tmp_path / "out"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("make_proxy_data.py: error: MNIST file(s) missing in") and "t10k-labels" in err
    code, err = run(["--mnist_dir", tmp_path / "nowhere", "--out", tmp_path / "out"], capsys)
    assert code == 2 and "does not exist" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    for bad in (["--limit", "0"], ["--datasets", "mnist"], ["--workers", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            run(["--mnist_dir", mnist_dir, "--out", tmp_path / "out"] + bad)
        assert exit_info.value.code == 2


def test_help_as_a_script():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "investigations" / "make_proxy_data.py"), "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for word in ("--mnist_dir", "--limit", "--seed", "--overwrite", "--datasets", "stand-in", "factors"):
        assert word in result.stdout


# --- plain grey digits ----------------------------------------------------------------------------------------

def test_grey_digits_in_svhn_format(mnist_dir, mnist, tmp_path):
    """--datasets grey: each IDX digit centred in 32x32 (2 pixels of black each side), in all three channels."""
    assert run(["--mnist_dir", mnist_dir, "--out", tmp_path, "--datasets", "grey", "--limit", LIMIT]) == (0, None)
    folder = tmp_path / "grey"
    assert sorted(p.name for p in folder.iterdir()) == ["README.txt", "factors_test.npz", "factors_train.npz",
                                                        "test_32x32.mat", "train_32x32.mat"]
    for name, split, n in (("train", mnist.train, LIMIT), ("test", mnist.test, N_TEST)):
        content = scipy.io.loadmat(str(folder / f"{name}_32x32.mat"))
        x, y = content["X"], content["y"]
        assert x.shape == (32, 32, 3, n) and x.dtype == np.uint8 and y.shape == (n, 1)
        expected = np.zeros((n, 32, 32), np.uint8)
        expected[:, 2:30, 2:30] = split.images[:n, :, :, 0]
        for channel in range(3):
            np.testing.assert_array_equal(x[:, :, channel].transpose(2, 0, 1), expected)
        np.testing.assert_array_equal(y[:, 0], np.where(split.labels[:n] == 0, 10, split.labels[:n]))
        np.testing.assert_array_equal(np.load(folder / f"factors_{name}.npz")["digit"], split.labels[:n])
    data = svhn.load_svhn(folder, validation_size=20)  # and the project's loader reads it
    np.testing.assert_array_equal(data.train.labels, mnist.train.labels[20:LIMIT])
