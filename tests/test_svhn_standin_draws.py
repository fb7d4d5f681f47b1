"""The SVHN stand-in builder's draws: the default output byte for byte as before the label-prior and neighbour
options (hashes made before they existed), and the drawn frequencies under --label_prior svhn and --neighbours svhn
within their binomial error."""

import hashlib
import shutil

import numpy as np
import PIL
import pytest
from PIL import features as pil_features

from bidirectional_infogan.data import svhn

import make_svhn_standin as standin  # noqa: E402 (each scripts/ folder is on pytest's pythonpath)
import svhn_standin_render as render
from test_svhn_standin import digests, run

# The default output as it was before --label_prior and --neighbours (made with the code of commit 7a7292d).
DEFAULT_DRAWS = "de129717b2284919217030dc3b475c95fbebdfbda1be394896a530af76e738fd"
DEFAULT_MADE_WITH = {"DejaVuSans.ttf": "abdc775b21b1bc470d50c97e790d276f2054b7504e56e5bd3e64f48d68582322",
                     "numpy": "2.4.6", "Pillow": "13.0.0", "freetype2": "2.14.3", "jpeg": "6.2"}
DEFAULT_OUTPUT = {  # 300 training and 100 test images, seed 0, DejaVuSans.ttf only (README: its folder as FONTDIR)
    "README.txt": "62ded0488b3e96850b49147292453fd14957b63523a5b5b149e3a00585403087",
    "factors_test.npz": "858c42c6e99663895b18d6dee5efcde9328cf6a183c5e737daa964bdf2d879fb",
    "factors_train.npz": "1da028c0cca13fc6d29dcba887ad901e338dee97d2f7e855606caab877117b51",
    "test_32x32.mat": "090f59739ef22964dafb75629bd470a244749f6ed377843d92508c33469309c4",
    "train_32x32.mat": "c35d475e5977cdd5b956882e7c554c77ae7e12950893a8837393c8dc25d65bfd",
}


def test_default_draws_unchanged():
    """The factors drawn by default, and the random stream after them (the textures and noise draw from it),
    for a training and a test chunk: numpy only, no fonts."""
    h = hashlib.sha256()
    for split in (0, 1):
        rng = np.random.default_rng([0, split, 0])
        f = render.draw_factors(rng, 500, 7)
        for key in sorted(f):
            h.update(key.encode())
            h.update(np.ascontiguousarray(f[key]).tobytes())
        h.update(rng.random(4).tobytes())
    assert h.hexdigest() == DEFAULT_DRAWS


def test_default_output_unchanged(tmp_path):
    """All five files of a small default run, byte for byte. The bytes depend on the font file and on
    numpy, Pillow, FreeType and libjpeg: elsewhere this skips (test_default_draws_unchanged still runs)."""
    font = next((p for p in standin.find_fonts() if p.name == "DejaVuSans.ttf"), None)
    if font is None:
        pytest.skip("DejaVuSans.ttf is not installed")
    made_with = {"DejaVuSans.ttf": hashlib.sha256(font.read_bytes()).hexdigest(), "numpy": np.__version__,
                 "Pillow": PIL.__version__, "freetype2": pil_features.version("freetype2"),
                 "jpeg": pil_features.version("jpg")}
    if made_with != DEFAULT_MADE_WITH:
        pytest.skip(f"the reference bytes were made with {DEFAULT_MADE_WITH}, this is {made_with}")
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    shutil.copy(font, fonts)
    assert run(["--out", tmp_path / "o", "--train_count", 300, "--test_count", 100, "--seed", 0, "--workers", 1,
                "--font_dir", fonts]) == (0, None)
    readme = tmp_path / "o" / "README.txt"
    readme.write_text(readme.read_text().replace(str(fonts), "FONTDIR"))
    assert digests(tmp_path / "o") == DEFAULT_OUTPUT


@pytest.mark.slow
def test_workers_do_not_change_the_output(tmp_path, monkeypatch):
    """Small chunks (so that there are several per split), one worker and two: the same bytes."""
    monkeypatch.setattr(standin, "CHUNK", 40)  # read by chunk_tasks in this process; the workers get the tasks
    for name, workers in (("one", 1), ("two", 2)):
        assert run(["--out", tmp_path / name, "--train_count", 100, "--test_count", 50, "--workers", workers]) \
            == (0, None)
    assert digests(tmp_path / "one") == digests(tmp_path / "two")


# --- --label_prior svhn and --neighbours svhn ------------------------------------------------------------------

PRIOR_DRAWS = 200_000  # crops drawn (not rendered) per split


def within_binomial_error(counts: np.ndarray, n: int, p: np.ndarray, sigmas: float = 4.5) -> bool:
    """Each count within `sigmas` binomial standard deviations sqrt(n p (1 - p)) of n p."""
    return bool(np.all(np.abs(counts - n * p) <= sigmas * np.sqrt(n * p * (1 - p))))


@pytest.mark.parametrize("split, name", [(0, "train"), (1, "test")])
def test_svhn_label_prior(split, name):
    """The centre digits drawn with --label_prior svhn follow SVHN's label counts of that split, within 4.5
    binomial standard deviations at 200,000 draws (0.4 points for the 1s; uniform digits would be 9 points
    off); so do the neighbours."""
    counts = np.array(svhn.LABEL_COUNTS[name])
    assert counts.sum() == {"train": 73_257, "test": 26_032}[name]  # the crops of train_32x32.mat / test_32x32.mat
    p = counts / counts.sum()
    f = render.draw_factors(np.random.default_rng([5, split]), PRIOR_DRAWS, 3, split, "svhn", "standin")
    assert within_binomial_error(np.bincount(f["digit"], minlength=10), PRIOR_DRAWS, p)
    neighbours = np.concatenate([f["left_digit"], f["right_digit"]])
    neighbours = neighbours[neighbours >= 0]
    assert within_binomial_error(np.bincount(neighbours, minlength=10), len(neighbours), p)


# SVHN's crops with 0, 1 and 2 neighbours: a crop is one digit of a house number; the numbers of 1, 2, ... 6 digits
# (train 5137, 18130, 8691, 1434, 9, 1; test 2483, 8356, 2081, 146, 2) give their end digits one neighbour each
# and their inner digits two.
SVHN_NEIGHBOURS = {"train": (5137, 56530, 11590), "test": (2483, 21170, 2379)}


@pytest.mark.parametrize("split, name", [(0, "train"), (1, "test")])
def test_svhn_neighbours(split, name):
    """--neighbours svhn: the crops with 0, 1 and 2 drawn neighbours (93% and 90% with at least one), each within
    4.5 binomial standard deviations at 200,000 draws; a single neighbour at the left as often as at the right.
    The digits stay uniform under --label_prior uniform."""
    counts = np.array(SVHN_NEIGHBOURS[name])
    assert counts.sum() == {"train": 73_257, "test": 26_032}[name]
    f = render.draw_factors(np.random.default_rng([6, split]), PRIOR_DRAWS, 3, split, "uniform", "svhn")
    drawn = (f["left_digit"] >= 0).astype(int) + (f["right_digit"] >= 0)
    assert within_binomial_error(np.bincount(drawn, minlength=3), PRIOR_DRAWS, counts / counts.sum())
    one = drawn == 1
    assert within_binomial_error(np.sum(one & (f["left_digit"] >= 0)), one.sum(), np.array(0.5))
    assert within_binomial_error(np.bincount(f["digit"], minlength=10), PRIOR_DRAWS, np.full(10, 0.1))
