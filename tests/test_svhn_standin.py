"""scripts/svhn_standin/make_svhn_standin.py: rendered house numbers in SVHN's .mat format, read back with scipy and with the
project's SVHN loader; the factors file checked against the labels and the pixels; the label checked against
what is drawn by a small classifier; determinism by seed and --workers; the default output byte for byte as before
--label_prior and --neighbours; their svhn draws against SVHN's counts; bad input and refusals."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from bidirectional_infogan.data import svhn

import make_svhn_standin as standin  # noqa: E402 (each scripts/ folder is on pytest's pythonpath)
import svhn_standin_render as render

N_TRAIN, N_TEST = 150, 100
FINAL_NAMES = {"train_32x32.mat", "test_32x32.mat", "factors_train.npz", "factors_test.npz", "README.txt"}
PER_IMAGE = ("digit", "font", "stroke", "digits_visible", "left_digit", "right_digit", "left_visible",
             "right_visible", "scale", "rotation", "shear", "aspect", "shift_x", "shift_y", "tracking",
             "dark_on_light", "background_hue", "foreground_hue", "background_hue_bin", "foreground_hue_bin",
             "background_saturation", "foreground_saturation", "background_luma", "foreground_luma",
             "background_brightness", "texture", "texture_strength", "lighting_direction", "lighting_strength",
             "shadow", "blur_radius", "noise_sigma", "jpeg_quality")


def run(argv, capsys=None):
    """The script's main() in this process: (exit code, stderr lines) with capsys. argparse's own errors
    (SystemExit) count as exit codes too."""
    try:
        code = standin.main([str(a) for a in argv])
    except SystemExit as exit_info:
        code = exit_info.code
    return code, (capsys.readouterr().err.splitlines() if capsys else None)


def digests(folder: Path, names=FINAL_NAMES) -> dict:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in sorted(names)}


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    """150 training and 100 test images, seed 0, one worker, with the grid. Treat as read-only."""
    folder = tmp_path_factory.mktemp("standin") / "svhn"
    grid = folder.parent / "grid.png"
    assert run(["--out", folder, "--train_count", N_TRAIN, "--test_count", N_TEST, "--workers", 1,
                "--grid", grid]) == (0, None)
    return folder


def load_mat(folder, split):
    return scipy.io.loadmat(folder / f"{split}_32x32.mat")


# --- the files ----------------------------------------------------------------------------------------------

def test_mat_files_in_svhn_format(out):
    assert {p.name for p in out.iterdir()} == FINAL_NAMES  # nothing else, no temporary files
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        content = load_mat(out, split)
        assert {k for k in content if not k.startswith("__")} == {"X", "y"}
        x, y = content["X"], content["y"]
        assert x.dtype == np.uint8 and x.shape == (32, 32, 3, n)
        assert y.dtype == np.uint8 and y.shape == (n, 1)
        assert y.min() >= 1 and y.max() <= 10 and 10 in y  # 10 is the digit 0; there is no label 0
        assert len(np.unique(y)) == 10
        assert x.std() > 20  # images, not a constant
        header = (out / f"{split}_32x32.mat").read_bytes()[:116].decode("ascii")
        assert header.startswith("MATLAB 5.0 MAT-file") and "seed 0" in header  # fixed text, no date


def test_load_svhn_reads_it_with_the_right_labels(out):
    data = svhn.load_svhn(out, use_extra=False, validation_size=50)
    train_y = load_mat(out, "train")["y"].reshape(-1)
    factors = np.load(out / "factors_train.npz")
    assert len(data.validation.labels) == 50 and len(data.train.labels) == N_TRAIN - 50
    assert len(data.test.labels) == N_TEST
    labels = np.concatenate([data.validation.labels, data.train.labels])
    np.testing.assert_array_equal(labels, train_y % 10)
    np.testing.assert_array_equal(labels, factors["digit"])
    np.testing.assert_array_equal(data.test.labels, np.load(out / "factors_test.npz")["digit"])
    x = load_mat(out, "train")["X"]
    np.testing.assert_array_equal(data.validation.images[7], x[..., 7])
    np.testing.assert_array_equal(data.train.images[0], x[..., 50])


def test_factors_file(out):
    readme = (out / "README.txt").read_text()
    assert readme.splitlines()[0].startswith("SVHN stand-in written by scripts/svhn_standin/make_svhn_standin.py")
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        f = np.load(out / f"factors_{split}.npz")
        y = load_mat(out, split)["y"].reshape(-1)
        assert set(PER_IMAGE) <= set(f.files)
        for key in f.files:
            if key not in ("font_names", "texture_names"):
                assert len(f[key]) == n, key
        np.testing.assert_array_equal(f["digit"], y % 10)
        assert set(np.unique(f["digits_visible"])) == {1, 2, 3}  # each occurs
        np.testing.assert_array_equal(f["digits_visible"], 1 + f["left_visible"] + f["right_visible"])
        assert np.all(f["left_digit"][f["left_visible"]] >= 0) and np.all(f["right_digit"][f["right_visible"]] >= 0)
        font_names = list(f["font_names"])
        assert font_names == sorted(font_names) and len(set(font_names)) == len(font_names)
        assert f["font"].min() >= 0 and f["font"].max() < len(font_names)
        for name in font_names:
            assert name in readme
        assert list(f["texture_names"]) == list(standin.TEXTURES)
        assert f["texture"].min() >= 0 and f["texture"].max() < len(standin.TEXTURES)
        for part in ("background", "foreground"):
            hue = f[f"{part}_hue"]
            assert np.all((hue >= 0) & (hue < 1))
            np.testing.assert_array_equal(f[f"{part}_hue_bin"], np.floor(hue * 12).astype(int))
        np.testing.assert_array_equal(f["dark_on_light"], f["foreground_luma"] < f["background_luma"])
        assert np.all(np.abs(f["foreground_luma"] - f["background_luma"]) > 0.2)
        assert np.all((f["background_brightness"] >= 0) & (f["background_brightness"] <= 1))
        assert set(np.unique(f["jpeg_quality"])) <= set(range(30, 91, 5))


def test_factors_match_the_pixels(out):
    """background_brightness follows the crop's border (mostly background); the digits are darker than
    their surroundings exactly when dark_on_light says so."""
    f = np.load(out / "factors_test.npz")
    x = load_mat(out, "test")["X"].transpose(3, 0, 1, 2).astype(np.float64)
    grey = x @ np.array([0.299, 0.587, 0.114]) / 255
    border = np.concatenate([grey[:, :2].reshape(len(grey), -1), grey[:, -2:].reshape(len(grey), -1)], 1).mean(1)
    assert np.corrcoef(border, f["background_brightness"])[0, 1] > 0.9
    centre = grey[:, 10:22, 12:20]
    dark_share = (centre < border[:, None, None]).mean(axis=(1, 2))  # share of the centre darker than the border
    # ink is a minority of the centre: where the digits are light, more than half of it is darker than the border
    assert np.mean((dark_share < 0.5) == f["dark_on_light"]) < 0.2


def test_grid(out):
    grid = Image.open(out.parent / "grid.png")
    assert grid.size == (10 * (32 * 3 + 2) + 2,) * 2 and grid.mode == "RGB"
    x = load_mat(out, "test")["X"]
    np.testing.assert_array_equal(np.asarray(grid)[2:2 + 96:3, 2:2 + 96:3], x[..., 0])  # first test image


# --- the label is the digit drawn ------------------------------------------------------------------------

def features(images: np.ndarray) -> np.ndarray:
    """Grey, each image standardised, turned so that the digit is bright (the top and bottom rows are mostly
    background; the sides may show neighbours), the middle of the crop only."""
    g = images.astype(np.float64).mean(axis=3)
    g = (g - g.mean(axis=(1, 2), keepdims=True)) / (g.std(axis=(1, 2), keepdims=True) + 1e-6)
    border = np.concatenate([g[:, :2].reshape(len(g), -1), g[:, -2:].reshape(len(g), -1)], 1).mean(1)
    g *= np.where(border > 0, -1.0, 1.0)[:, None, None]
    return g[:, 4:28, 6:26].reshape(len(g), -1)


def test_a_classifier_learns_the_labels(tmp_path):  # about 1.5 s
    """A nearest-centroid classifier fitted on 1,000 training images classifies 1,000 test images well above
    chance (10%): the labels in the .mat files are the digits drawn (shuffled labels would give ~10%)."""
    folder = tmp_path / "svhn"
    assert run(["--out", folder, "--train_count", 1000, "--test_count", 1000, "--workers", 1]) == (0, None)
    data = svhn.load_svhn(folder, validation_size=0)
    a, b = features(data.train.images), features(data.test.images)
    centroids = np.stack([a[data.train.labels == k].mean(axis=0) for k in range(10)])
    predicted = ((b[:, None, :] - centroids[None]) ** 2).sum(axis=2).argmin(axis=1)
    accuracy = np.mean(predicted == data.test.labels)
    assert accuracy > 0.4, accuracy  # about 0.7 with the generator as it is


# --- determinism -------------------------------------------------------------------------------------------

def test_same_seed_same_bytes_other_seed_other_images(tmp_path):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        assert run(["--out", tmp_path / name, "--train_count", 40, "--test_count", 30, "--seed", seed,
                    "--workers", 1]) == (0, None)
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    x_a, x_c = load_mat(tmp_path / "a", "train")["X"], load_mat(tmp_path / "c", "train")["X"]
    assert np.mean(x_a != x_c) > 0.5
    f_a, f_c = np.load(tmp_path / "a" / "factors_test.npz"), np.load(tmp_path / "c" / "factors_test.npz")
    assert not np.array_equal(f_a["digit"], f_c["digit"])
    # the two splits are different streams
    assert not np.array_equal(x_a[..., :30], load_mat(tmp_path / "a", "test")["X"])


def test_options_reach_the_drawing_and_are_recorded(tmp_path, out):
    """A rendered run with both options draws what draw_factors draws with them (seed 0: each split's first
    chunk), and records them in the factors files and README.txt; a default run records neither."""
    folder = tmp_path / "svhn"
    assert run(["--out", folder, "--train_count", 300, "--test_count", 100, "--workers", 1,
                "--label_prior", "svhn", "--neighbours", "svhn"]) == (0, None)
    readme = (folder / "README.txt").read_text()
    assert "made with --label_prior svhn --neighbours svhn" in readme
    for split, (name, n) in enumerate((("train", 300), ("test", 100))):
        f = np.load(folder / f"factors_{name}.npz")
        assert str(f["label_prior"]) == "svhn" and str(f["neighbours"]) == "svhn"
        drawn = render.draw_factors(np.random.default_rng([0, split, 0]), n, len(f["font_names"]), split,
                                    "svhn", "svhn")
        for key in ("digit", "left_digit", "right_digit", "font"):
            np.testing.assert_array_equal(f[key], drawn[key], err_msg=key)
        np.testing.assert_array_equal(f["digit"], load_mat(folder, name)["y"].reshape(-1) % 10)
    for line in standin.OPTION_FIELDS.splitlines():
        assert line in readme
    assert run(["--out", tmp_path / "prior", "--train_count", 5, "--test_count", 5, "--workers", 1,
                "--label_prior", "svhn"]) == (0, None)
    f = np.load(tmp_path / "prior" / "factors_test.npz")
    assert (str(f["label_prior"]), str(f["neighbours"])) == ("svhn", "standin")
    assert not {"label_prior", "neighbours"} & set(np.load(out / "factors_train.npz").files)
    assert "label_prior" not in (out / "README.txt").read_text()


# --- fonts -------------------------------------------------------------------------------------------------

def test_font_filter_keeps_digit_fonts_and_drops_symbol_fonts():
    fonts = {p.name: p for p in standin.find_fonts()}
    assert fonts, "no usable font found on this machine"
    for path in fonts.values():
        assert standin.draws_digits(path)
    mpl = [d for d in standin.default_font_dirs() if "mpl-data" in str(d)]
    if not mpl or not (mpl[0] / "cmsy10.ttf").is_file():
        pytest.skip("matplotlib's fonts are not installed")
    for name in ("DejaVuSans.ttf", "DejaVuSerif-Bold.ttf", "cmr10.ttf", "STIXGeneral.ttf"):
        assert name in fonts
    for name in ("cmsy10.ttf", "cmex10.ttf", "LastResortHE-Regular.ttf", "STIXSizOneSymReg.ttf",
                 "DejaVuSansDisplay.ttf"):  # symbols, boxes or no digits at all
        assert name not in fonts and not standin.draws_digits(mpl[0] / name)


def test_font_dir_replaces_the_search(tmp_path, capsys):
    fonts = standin.find_fonts()
    folder = tmp_path / "fonts"
    folder.mkdir()
    (folder / "broken.ttf").write_bytes(b"not a font")
    (folder / fonts[0].name).write_bytes(fonts[0].read_bytes())
    assert run(["--out", tmp_path / "o", "--train_count", 5, "--test_count", 5, "--workers", 1,
                "--font_dir", folder]) == (0, None)
    assert list(np.load(tmp_path / "o" / "factors_train.npz")["font_names"]) == [fonts[0].name]


# --- bad input and refusals ----------------------------------------------------------------------------------

def assert_one_error_line(lines, *words):
    assert len(lines) == 1 and lines[0].startswith("make_svhn_standin.py: error: "), lines
    for word in words:
        assert word in lines[0], lines


@pytest.mark.parametrize("args, words", [
    (["--train_count", 0], ["--train_count", "at least 1"]),
    (["--test_count", -3], ["--test_count", "at least 1"]),
    (["--workers", 0], ["--workers"]),
    (["--seed", -1], ["--seed"]),
    (["--train_count", "many"], ["invalid int value"]),  # argparse's own check: one line as well
    (["--label_prior", "zipf"], ["--label_prior", "invalid choice", "zipf"]),
    (["--neighbours", "many"], ["--neighbours", "invalid choice", "many"]),
])
def test_bad_numbers(tmp_path, capsys, args, words):
    target = tmp_path / "o"
    code, lines = run(["--out", target, *args], capsys)
    assert code == 2
    assert_one_error_line(lines, *words)
    assert not target.exists()


def test_no_usable_font(tmp_path, capsys):
    empty = tmp_path / "no_fonts"
    empty.mkdir()
    (empty / "symbols.ttf").write_bytes(b"\0" * 100)
    code, lines = run(["--out", tmp_path / "o", "--train_count", 5, "--test_count", 5, "--font_dir", empty], capsys)
    assert code == 2
    assert_one_error_line(lines, "no usable font", str(empty))
    assert not (tmp_path / "o").exists()


def test_unwritable_output(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    code, lines = run(["--out", blocker / "sub", "--train_count", 5, "--test_count", 5], capsys)
    assert code == 2
    assert_one_error_line(lines, "cannot write", str(blocker / "sub"))
    code, lines = run(["--out", blocker, "--train_count", 5, "--test_count", 5], capsys)
    assert code == 2
    assert_one_error_line(lines, "not a folder")
    assert blocker.read_text() == "x"


def test_failure_while_writing_leaves_no_final_names(tmp_path, capsys, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(standin, "save_factors", fail)
    target = tmp_path / "o"
    code, lines = run(["--out", target, "--train_count", 5, "--test_count", 5, "--workers", 1], capsys)
    assert code == 2
    # after the progress lines, one error line and no traceback
    assert_one_error_line([line for line in lines if "error" in line.lower()], "No space left on device")
    assert lines[-1].startswith("make_svhn_standin.py: error: ") and not any("Traceback" in line for line in lines)
    assert list(target.iterdir()) == []  # no final names and no temporary files


def test_overwrite_only_replaces_its_own_folder(tmp_path, capsys):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    for extra in ([], ["--overwrite"]):
        code, lines = run(["--out", foreign, "--train_count", 5, "--test_count", 5, *extra], capsys)
        assert code == 2
        assert_one_error_line(lines, str(foreign))
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"] and (foreign / "notes.txt").read_text() == "keep me"

    own = tmp_path / "own"
    assert run(["--out", own, "--train_count", 5, "--test_count", 5, "--workers", 1], capsys)[0] == 0
    code, lines = run(["--out", own, "--train_count", 6, "--test_count", 5, "--workers", 1], capsys)
    assert code == 2
    assert_one_error_line(lines, "--overwrite")
    assert load_mat(own, "train")["X"].shape[3] == 5
    assert run(["--out", own, "--train_count", 6, "--test_count", 5, "--workers", 1, "--overwrite"], capsys)[0] == 0
    assert load_mat(own, "train")["X"].shape[3] == 6
    assert {p.name for p in own.iterdir()} == FINAL_NAMES
