"""Write a house-number stand-in for SVHN, rendered from TrueType fonts, in SVHN's cropped-digit file format.

    python scripts/svhn_standin/make_svhn_standin.py --out DIR [--train_count 73257] [--test_count 26032] [--seed 0]
                                        [--label_prior uniform|svhn] [--neighbours standin|svhn]
                                        [--workers W] [--overwrite] [--grid PNG] [--font_dir FOLDER ...]

What it is for: real SVHN is not available here. These are 32x32 crops of synthetic house numbers whose
generating factors are all known (digit, font, neighbour digits, colours, texture, lighting, ...), so that
the SVHN settings of table 2 can be trained and an encoder's variables scored against those factors. It
is a stand-in, not SVHN: see docs/svhn-standin.md for what still differs.

What is written into DIR:

train_32x32.mat, test_32x32.mat   SVHN's "Format 2": X uint8 (32, 32, 3, N), y uint8 (N, 1), labels 1..10
    with 10 for the digit 0 (bidirectional_infogan.data.svhn.load_svhn reads them).
factors_train.npz, factors_test.npz   the factors of each image, in .mat order, and the name lists
    (font_names, texture_names); README.txt lists the fields.
README.txt   what was written, with which seed and fonts; its first line marks the folder as this script's.

Each crop: a centred digit (the label), 50-90% of the crop high, in a random font (and extra stroke weight),
rotated and sheared a little; zero to two neighbour digits of the same number at the left and right, on the
same baseline, often cut by the crop's edge; a background colour and a foreground colour of clearly
different brightness (dark on light or light on dark), a background texture (plain, noise, bricks, wood,
plaster), a linear lighting ramp and sometimes a soft drop shadow; then Gaussian blur, sensor noise and
JPEG compression (quality 30-90). The digits are drawn at 4x (128x128) and box-filtered down to 32x32.

The digits and their neighbours. By default (--label_prior uniform --neighbours standin, the stand-in as it
always was) the ten digits are equally common and each side has a neighbour with chance 0.6. --label_prior svhn
draws the centre digit, and the neighbours, with the digit frequencies of SVHN's train_32x32.mat (training
split) and test_32x32.mat (test split): 1 is 18.9% of the training crops, 9 6.4%. --neighbours svhn draws 0, 1
or 2 neighbours as often as SVHN's crops have them: a crop is one digit of a house number, and 93% (train) and
90% (test) of those digits belong to numbers of two or more digits (one neighbour at the left or the right for
the first and last digits, two for the others). Whether a drawn neighbour shows in the crop depends on the
geometry, as before (digits_visible). A folder made with either option records both in README.txt and in
the factors files (label_prior, neighbours); without these fields it was made with the defaults.

Fonts: the .ttf/.otf files of matplotlib's mpl-data/fonts/ttf (found without importing matplotlib; a
dependency of this script only, see requirements-scripts.txt) and of /usr/share/fonts, or of the
--font_dir folders instead. A font is used only if it draws all ten digits, pairwise different, and at
least 7 of them look like the digit they stand for (closest to the right one of ten built-in stroke
templates; this drops symbol fonts such as cmsy10 that map 0..9 to other signs). One file per file name
(the first found), sorted by name.

Determinism: images are made in chunks of CHUNK, each from np.random.default_rng([seed, split, chunk]) (split
0 train, 1 test), so the output is the same, byte for byte, for the same seed, counts and fonts (and the
same Pillow / FreeType / numpy) whatever --workers is.
An existing non-empty DIR is never touched without --overwrite, and --overwrite replaces only a folder that
this script wrote (it has its README.txt). Each file is written under a temporary name in DIR and renamed
when all are complete.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bidirectional_infogan.data.common import DataError, available_cpus
from bidirectional_infogan.util.progress import Progress
from bidirectional_infogan.data.dataset_output import save_svhn_mat, svhn_labels, why_not_replace
# the fonts and the rendering of a chunk ("as": re-exported, make_svhn_standin.X stays their interface)
from svhn_standin_fonts import default_font_dirs as default_font_dirs, draws_digits as draws_digits, find_fonts
from svhn_standin_render import LABEL_PRIORS, NEIGHBOUR_MODELS, SIZE, TEXTURES, render_chunk

CHUNK = 1000  # images per random stream and per worker task (fixed: the output must not depend on --workers)
SPLITS = ("train", "test")

MARKER = "written by scripts/svhn_standin/make_svhn_standin.py"  # first line of README.txt
REPLACEABLE = "make_svhn_standin.py"  # --overwrite replaces a folder whose README.txt first line names this
FIELDS = """\
digit                 int64   the centre digit 0..9 (the label; y is 10 for 0)
font                  int64   index into font_names
stroke                float64 extra stroke width added to the font's own, share of the digit height
digits_visible        int64   1..3: the centre digit plus each neighbour with >= 2 pixels' worth of ink in the crop
left_digit, right_digit int64 the neighbour digits drawn (-1: none); they may lie (almost) outside the crop
left_visible, right_visible bool whether that neighbour counts in digits_visible
scale                 float64 the font's digit height (tallest digit) as a share of the crop height
rotation              float64 degrees, counter-clockwise on screen
shear                 float64 horizontal shear (x moves by shear * y, y downwards)
aspect                float64 horizontal stretch
shift_x, shift_y      float64 pixels the centre digit's ink box centre is moved right / down from the crop centre
tracking              float64 extra gap between digits, share of the digit height
dark_on_light         bool    the digits are darker than the background
background_hue, foreground_hue             float64 0..1 (HLS hue; meaningless when the saturation is ~0)
background_hue_bin, foreground_hue_bin     int64   the hue in 12 bins (floor(hue * 12))
background_saturation, foreground_saturation float64 0..1 (HLS)
background_luma, foreground_luma           float64 0..1, Rec. 601 luma of the flat colours
background_brightness float64 0..1, mean luma of the background as drawn (texture, shadow, lighting; no digits)
texture               int64   index into texture_names
texture_strength      float64 amplitude of the texture (a brightness factor; mortar and seams reach ~2x)
lighting_direction    float64 radians, the direction (counter-clockwise from right, on screen) of brightest light
lighting_strength     float64 the brightness factor goes from 1 - strength to 1 + strength across the crop
shadow                float64 darkness of the drop shadow (0: none), cast away from the light
blur_radius           float64 Gaussian sigma in pixels
noise_sigma           float64 Gaussian sensor noise in grey levels (before the JPEG step)
jpeg_quality          int64   30..90 in steps of 5
font_names            str     the font file names; texture_names the texture names
"""
OPTION_FIELDS = """\
label_prior           str     one value: uniform (ten equally common digits) or svhn (SVHN's digit frequencies)
neighbours            str     one value: standin (each side with chance 0.6) or svhn (0/1/2 as often as in SVHN)
"""  # in the factors files and README.txt only if an option is not the default (the default output is unchanged)
DEFAULTS = {"label_prior": "uniform", "neighbours": "standin"}


# --- files -------------------------------------------------------------------------------------------------

def chunk_tasks(font_paths, seed: int, split: int, count: int, options: dict = DEFAULTS) -> list[tuple]:
    return [(tuple(str(p) for p in font_paths), seed, split, i, start, min(CHUNK, count - start),
             options["label_prior"], options["neighbours"]) for i, start in enumerate(range(0, count, CHUNK))]


def generate(font_paths, seed: int, counts: dict, workers: int = 1, progress: Progress | None = None,
             options: dict = DEFAULTS) -> dict:
    """{split name: (images (n, 32, 32, 3) uint8, factors dict)} for counts {split name: n} and options
    {"label_prior": ..., "neighbours": ...}."""
    tasks = [(name, task) for split, name in enumerate(SPLITS) if counts.get(name)
             for task in chunk_tasks(font_paths, seed, split, counts[name], options)]
    images = {name: np.empty((counts[name], SIZE, SIZE, 3), dtype=np.uint8) for name, _ in tasks}
    parts: dict[str, list] = {name: [] for name in images}
    done = 0

    def collect(name, result):
        nonlocal done
        start, x, factors = result
        images[name][start:start + len(x)] = x
        parts[name].append(factors)
        done += len(x)
        if progress:
            progress.update(done)

    if workers > 1 and len(tasks) > 1:
        with multiprocessing.get_context("spawn").Pool(min(workers, len(tasks))) as pool:
            for (name, _), result in zip(tasks, pool.imap(render_chunk, [t for _, t in tasks])):
                collect(name, result)
    else:
        for name, task in tasks:
            collect(name, render_chunk(task))
    return {name: (images[name], {key: np.concatenate([p[key] for p in parts[name]]) for key in parts[name][0]})
            for name in images}


def save_mat(path: Path, images: np.ndarray, digits: np.ndarray, seed: int) -> None:
    """SVHN's Format 2 (X (32, 32, 3, N), y (N, 1), 10 for 0) with a fixed header text instead of scipy's
    creation time (the same bytes every run). Not compressed: zlib saves under 1% on these noisy images and
    costs 2 s per 10,000 of them (SVHN's own files are compressed, by 19%)."""
    save_svhn_mat(path, images.transpose(1, 2, 3, 0), svhn_labels(digits),
                  f"SVHN stand-in (rendered fonts), seed {seed}", compress=False)


def recorded(options: dict) -> dict:
    """The options to record in the output: none for the defaults (their output is as it always was), else all."""
    return {} if options == DEFAULTS else dict(options)


def save_factors(path: Path, factors: dict, font_paths, options: dict = DEFAULTS) -> None:
    """np.savez (it dates its zip entries 1980: the same bytes every run), factors in a fixed key order."""
    arrays = {key: np.asarray(factors[key]) for key in sorted(factors)}
    np.savez(path, **arrays, font_names=np.array([p.name for p in font_paths]),
             texture_names=np.array(TEXTURES), **{key: np.array(value) for key, value in recorded(options).items()})


def save_grid(images: np.ndarray, path: Path, columns: int = 10, zoom: int = 3, gap: int = 2) -> None:
    """The images (at most columns^2) in a grid, each enlarged `zoom` times (nearest), as PNG."""
    images = images[:columns * columns]
    rows = math.ceil(len(images) / columns)
    cell = SIZE * zoom + gap
    grid = np.full((rows * cell + gap, columns * cell + gap, 3), 255, dtype=np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        grid[gap + r * cell:gap + r * cell + SIZE * zoom, gap + c * cell:gap + c * cell + SIZE * zoom] = \
            image.repeat(zoom, axis=0).repeat(zoom, axis=1)
    Image.fromarray(grid).save(path, format="PNG", optimize=True)


def readme_text(seed: int, counts: dict, font_paths, options: dict = DEFAULTS) -> str:
    fonts = "\n".join(f"{i:3d} {p.name}  ({p.parent})" for i, p in enumerate(font_paths))
    chosen = recorded(options)
    made_with = ("made with " + " ".join(f"--{key} {value}" for key, value in chosen.items())
                 + " (label_prior and neighbours in the factors files).\n") if chosen else ""
    return (f"SVHN stand-in {MARKER} (seed {seed}): rendered house-number crops in SVHN's format, not SVHN.\n"
            f"train_32x32.mat: {counts['train']} images; test_32x32.mat: {counts['test']} images.\n{made_with}"
            f"SVHN's loader takes the first 5,000 training images as its validation set.\n\n"
            f"factors_train.npz and factors_test.npz: one entry per image, in the order of the .mat file:\n"
            f"{FIELDS}{OPTION_FIELDS if chosen else ''}\ntexture_names: {', '.join(TEXTURES)}\n\n"
            f"fonts (index: file name, folder):\n{fonts}\n")


PARTIAL = ".partial-"  # prefix of the temporary names in the output folder


class OneLineParser(argparse.ArgumentParser):
    """argparse, but its errors are one line on stderr (exit 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def error(message: str) -> int:
    print(f"make_svhn_standin.py: error: {message}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    parser = OneLineParser(prog="make_svhn_standin.py", allow_abbrev=False, description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output folder (created; files go directly into it)")
    parser.add_argument("--train_count", type=int, default=73_257, help="training images (73,257 as SVHN)")
    parser.add_argument("--test_count", type=int, default=26_032, help="test images (26,032 as SVHN)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--label_prior", choices=LABEL_PRIORS, default=DEFAULTS["label_prior"],
                        help="the digits' frequencies: uniform (default) or svhn (those of SVHN's train and test "
                             "files, in each split)")
    parser.add_argument("--neighbours", choices=NEIGHBOUR_MODELS, default=DEFAULTS["neighbours"],
                        help="how many neighbour digits: standin (default; each side with chance 0.6) or svhn "
                             "(0, 1 or 2 as often as in SVHN: about 90%% of the crops have one or two)")
    parser.add_argument("--workers", type=int, default=min(available_cpus(), 8),
                        help="processes rendering the images (default: one per CPU, at most 8); "
                             "the output does not depend on it")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace OUT's files if an earlier run of this script wrote them")
    parser.add_argument("--grid", metavar="PNG", help="also save the first 100 test images as a 10x10 grid")
    parser.add_argument("--font_dir", action="append", metavar="FOLDER",
                        help="look for fonts here (repeatable) instead of matplotlib's and /usr/share/fonts")
    args = parser.parse_args(argv)
    for name in ("train_count", "test_count", "workers"):
        if getattr(args, name) < 1:
            return error(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.seed < 0:
        return error(f"--seed must be 0 or more, got {args.seed}")
    grid = Path(args.grid).expanduser() if args.grid else None
    if grid is not None and not grid.parent.is_dir():
        return error(f"--grid: folder {grid.parent} does not exist")

    out = Path(args.out).expanduser()
    refused = why_not_replace(out, REPLACEABLE, args.overwrite, ignore_prefix=PARTIAL)
    if refused:
        return error(refused)
    try:
        font_paths = find_fonts(args.font_dir)
    except DataError as err:
        return error(str(err))

    names = [f"{s}_32x32.mat" for s in SPLITS] + [f"factors_{s}.npz" for s in SPLITS] + ["README.txt"]
    written: list[Path] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for stale in out.glob(PARTIAL + "*"):
            stale.unlink()
        probe = out / f"{PARTIAL}probe"
        probe.write_bytes(b"")  # fail now, not after the rendering, if OUT is not writable
        probe.unlink()
    except OSError as err:
        return error(f"cannot write to {out}: {err.strerror or err}")

    counts = {"train": args.train_count, "test": args.test_count}
    options = {"label_prior": args.label_prior, "neighbours": args.neighbours}
    start = time.monotonic()
    progress = Progress(sum(counts.values()), out=sys.stderr, label="images", line_interval=30.0)
    progress.message(f"SVHN stand-in: {counts['train']} training and {counts['test']} test images, "
                     f"{len(font_paths)} fonts, {args.workers} worker(s) -> {out}")
    try:
        try:
            data = generate(font_paths, args.seed, counts, args.workers, progress, options)
        finally:
            progress.close()
        for split in SPLITS:
            images, factors = data[split]
            for name, write in ((f"{split}_32x32.mat", lambda p: save_mat(p, images, factors["digit"], args.seed)),
                                (f"factors_{split}.npz", lambda p: save_factors(p, factors, font_paths, options))):
                temporary = out / f"{PARTIAL}{name}"
                written.append(temporary)
                write(temporary)
        temporary = out / f"{PARTIAL}README.txt"
        written.append(temporary)
        temporary.write_text(readme_text(args.seed, counts, font_paths, options))
        if grid is not None:
            temporary_grid = grid.with_name(f"{PARTIAL}{grid.name}")
            written.append(temporary_grid)
            save_grid(data["test"][0][:100], temporary_grid)
        for name in names:  # README.txt last: a folder with it is complete
            os.replace(out / f"{PARTIAL}{name}", out / name)
        if grid is not None:
            os.replace(temporary_grid, grid)
    except OSError as err:
        return error(f"cannot write {err.filename or out}: {err.strerror or err}")
    finally:
        for path in written:
            path.unlink(missing_ok=True)
    total = time.monotonic() - start
    print(f"wrote {out} ({sum(counts.values())} images in {total:.1f} s, "
          f"{sum(counts.values()) / total:.0f} images/s)" + (f" and {grid}" if grid else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
