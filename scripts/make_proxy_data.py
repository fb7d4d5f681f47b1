"""Write stand-ins for SVHN and CelebA made of real MNIST digits, in exactly the published file formats.

    python scripts/make_proxy_data.py --mnist_dir DIR --out OUT [--limit N] [--seed S]
                                      [--datasets svhn,celeba] [--overwrite] [--workers W]

What they are for: real SVHN and CelebA are not available here, so these proxies let the table-2 training
(SVHN and CelebA settings, loaders and evaluation) run end to end on data whose generating factors are known:
the digit, the stroke colour, the background colour and, for SVHN, a cut-off neighbour digit. A trained
encoder's variables can then be scored against each factor. They are only a stand-in: they cannot show which
factors the paper's networks find on the real SVHN or CelebA (house numbers, faces).

What is written (DIR holds MNIST's four IDX files, gzip or not):

OUT/svhn/train_32x32.mat, test_32x32.mat   SVHN's cropped-digit "Format 2": X uint8 (32, 32, 3, N), y uint8
    (N, 1) with 10 for the digit 0. Image i of train (test) is IDX training (test) image i: the 28x28 digit
    padded to 32x32 and shifted by up to 2 pixels each way, its grey value blending a background colour
    (grey 0) into a stroke colour (grey 255), both drawn from PALETTE and never equal; then the whole image
    times a brightness factor in 1 +- BRIGHTNESS, plus Gaussian pixel noise (sigma NOISE_SIGMA grey levels,
    cut at +- NOISE_MAX). In about half of the images, part of another random digit of the same set shows at
    the left or right edge (same colours), as in SVHN's crops. Note that SVHN's loader takes the first 5,000
    training images as its validation set.
OUT/svhn/factors_train.npz, factors_test.npz, README.txt   the factors of each image, in .mat order.
OUT/celeba/img_align_celeba/000001.jpg ...   178x218 RGB JPEGs: the digit, resized smoothly to 108x108, in
    CelebA's default crop box (35, 55, 143, 163) shifted by up to 4 pixels each way, on the background colour
    that fills the image, with the same colouring and brightness as SVHN (no pixel noise: JPEG adds its own).
    Train (partition 0) and validation (1) are IDX training images in CelebA's proportion 162,770 : 19,867,
    test (2) the IDX test images, numbered in that order.
OUT/celeba/list_eval_partition.txt, list_attr_celeba.txt   CelebA's formats, with CelebA's 40 attribute
    names: 10 columns say "the digit is k", 10 "the background colour is k", 20 are independent fair coins
    (ATTRIBUTE_FACTORS; also written to proxy_attributes.json).
OUT/celeba/factors.npz, proxy_attributes.json, README.txt   factors in the order of list_eval_partition.txt.
OUT/grey/ (only with --datasets grey)   the plain digits in SVHN's format: each 28x28 digit centred in 32x32,
    white on black in all three channels, nothing else (no colours, shifts, noise or neighbours); factors
    files with the digit. For probes that separate the networks from the colour task.

--limit N uses only the first N IDX training images and the first ceil(N * 10,000 / 60,000) IDX test images
(the test set shrinks in proportion, so the full run is the limit N = 60,000); CelebA's train/validation
proportion still holds. The output is the same, byte for byte, for the same input, seed and limit.
An existing non-empty OUT/svhn, OUT/celeba or OUT/grey is never touched without --overwrite, and --overwrite replaces
only folders that this script wrote (they have its README.txt).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from bidirectional_infogan.data.common import DataError
from bidirectional_infogan.data.mnist import load_mnist
from bidirectional_infogan.progress import Progress

# Ten clearly different colours (the closest pair, yellow and orange, are 107 apart in RGB).
PALETTE = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "red": (220, 20, 20),
    "green": (20, 170, 40),
    "blue": (30, 50, 220),
    "yellow": (240, 230, 30),
    "cyan": (20, 200, 220),
    "magenta": (210, 30, 200),
    "orange": (255, 128, 0),
    "grey": (128, 128, 128),
}
PALETTE_NAMES = list(PALETTE)
PALETTE_RGB = np.array(list(PALETTE.values()), dtype=np.uint8)

BRIGHTNESS = 0.10  # each image's colours are multiplied by a factor drawn uniformly from 1 +- BRIGHTNESS
NOISE_SIGMA = 3.0  # SVHN's Gaussian pixel noise, in grey levels 0..255 ...
NOISE_MAX = 9.0  # ... cut at +- this
SVHN_SHIFT = 2  # the digit moves up to this many pixels from the centre of the 32x32 image, each way
NEIGHBOUR_SHARE = 0.5  # share of SVHN images with part of a second digit at an edge
NEIGHBOUR_INK_COLUMNS = (4, 8)  # how many of the neighbour's ink columns show (inclusive; fewer than all)
CELEBA_SIZE = (178, 218)  # width, height
CELEBA_BOX = (35, 55, 143, 163)  # CelebA's default crop (left, top, right, bottom): 108x108
CELEBA_SHIFT = 4
JPEG_QUALITY = 90
JPEG_SUBSAMPLING = 0  # 4:4:4, no chroma subsampling: the thin coloured strokes keep their colour
# CelebA's partition sizes: 162,770 train, 19,867 validation, 19,962 test of 202,599
CELEBA_TRAIN, CELEBA_VALIDATION = 162_770, 19_867
CELEBA_CHUNK = 500  # images per worker task

ATTRIBUTE_NAMES = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
    "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
    "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
    "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
    "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young").split()
# Column -> (factor, value): the first ten say "the digit is k", the next ten "the background colour is
# PALETTE_NAMES[k]", the last twenty are independent fair coins.
ATTRIBUTE_FACTORS = {name: ("digit", i) for i, name in enumerate(ATTRIBUTE_NAMES[:10])}
ATTRIBUTE_FACTORS |= {name: ("background", i) for i, name in enumerate(ATTRIBUTE_NAMES[10:20])}
ATTRIBUTE_FACTORS |= {name: ("random", None) for name in ATTRIBUTE_NAMES[20:]}

MARKER = "written by scripts/make_proxy_data.py"  # first line of README.txt in each output folder
FIELDS = """\
digit              int64  the digit 0..9 (the IDX label of the main digit)
stroke_colour      int64  index into palette of the stroke colour (where the MNIST grey value is 255)
background_colour  int64  index into palette of the background colour (grey value 0); never the stroke's
neighbour_side     int64  0 no neighbour digit, 1 part of one at the left edge, 2 at the right edge
neighbour_digit    int64  the neighbour's digit, -1 without one
neighbour_index    int64  the neighbour's index in the same IDX file, -1 without one
shift_x, shift_y   int64  pixels the digit is moved right / down from the centred position
brightness         float64 factor the colours were multiplied by (before rounding and clipping to 0..255)
source_index       int64  index of the digit in its IDX file
palette            uint8  (10, 3) the RGB colours; palette_names their names
"""


def rng_for(seed: int, stream: int) -> np.random.Generator:
    """One independent random stream per (seed, part of the output): 0 SVHN train, 1 SVHN test, 2 CelebA."""
    return np.random.default_rng([seed, stream])


def draw_colours(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Background and stroke colour indices (never equal) and brightness factors for n images."""
    background = rng.integers(0, len(PALETTE_RGB), n)
    stroke = (background + rng.integers(1, len(PALETTE_RGB), n)) % len(PALETTE_RGB)
    brightness = rng.uniform(1 - BRIGHTNESS, 1 + BRIGHTNESS, n)
    return background, stroke, brightness


def ink_columns(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last column with ink (grey > 127) of each 28x28 image (the middle column if none)."""
    ink = (images > 127).any(axis=1)  # (n, 28)
    has_ink = ink.any(axis=1)
    first = np.where(has_ink, ink.argmax(axis=1), 14)
    last = np.where(has_ink, 27 - ink[:, ::-1].argmax(axis=1), 14)
    return first, last


def place(images: np.ndarray, top: np.ndarray, left: np.ndarray, size: int = 32) -> np.ndarray:
    """Each 28x28 image on a size x size zero canvas with its top-left corner at (top, left), cut at the edges."""
    pad = size
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad)))
    rows = np.arange(size)[None, :] - top[:, None] + pad  # (n, size)
    cols = np.arange(size)[None, :] - left[:, None] + pad
    return padded[np.arange(len(images))[:, None, None], rows[:, :, None], cols[:, None, :]]


def svhn_split(images: np.ndarray, labels: np.ndarray, rng: np.random.Generator, progress: Progress,
               done: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """SVHN's X (32, 32, 3, n) uint8 and y (n, 1) uint8 for these MNIST images (n, 28, 28), and their factors."""
    n = len(images)
    background, stroke, brightness = draw_colours(rng, n)
    shift_x = rng.integers(-SVHN_SHIFT, SVHN_SHIFT + 1, n)
    shift_y = rng.integers(-SVHN_SHIFT, SVHN_SHIFT + 1, n)
    # the neighbour: another image of the same set, showing a few of its ink columns at the left or right edge
    side = np.where(rng.random(n) < NEIGHBOUR_SHARE, rng.integers(1, 3, n), 0) if n > 1 else np.zeros(n, int)
    other = rng.integers(0, max(n - 1, 1), n)
    other = np.minimum(other + (other >= np.arange(n)), n - 1)  # never the image itself (with n > 1)
    visible = rng.integers(NEIGHBOUR_INK_COLUMNS[0], NEIGHBOUR_INK_COLUMNS[1] + 1, n)
    first, last = ink_columns(images[other])
    visible = np.maximum(np.minimum(visible, last - first), 1)  # cut: not all its ink (a narrow 1 shows less)
    neighbour_left = np.where(side == 1, visible - 1 - last, 32 - visible - first)
    neighbour_top = 2 + rng.integers(-SVHN_SHIFT, SVHN_SHIFT + 1, n)
    noise_rng = np.random.default_rng(rng.integers(0, 2**63))

    x = np.empty((32, 32, 3, n), dtype=np.uint8)
    chunk = 5000
    for start in range(0, n, chunk):
        part = slice(start, min(start + chunk, n))
        grey = place(images[part], 2 + shift_y[part], 2 + shift_x[part]).astype(np.float32)
        neighbour = place(images[other[part]], neighbour_top[part], neighbour_left[part]).astype(np.float32)
        grey = np.maximum(grey, neighbour * (side[part] > 0)[:, None, None]) / 255.0
        bg = PALETTE_RGB[background[part]].astype(np.float32)[:, None, None, :]
        fg = PALETTE_RGB[stroke[part]].astype(np.float32)[:, None, None, :]
        rgb = (bg + grey[..., None] * (fg - bg)) * brightness[part].astype(np.float32)[:, None, None, None]
        noise = np.clip(noise_rng.normal(0.0, NOISE_SIGMA, rgb.shape), -NOISE_MAX, NOISE_MAX)
        rgb = np.clip(np.rint(rgb + noise.astype(np.float32)), 0, 255).astype(np.uint8)
        x[..., part] = rgb.transpose(1, 2, 3, 0)
        progress.update(done + part.stop)
    y = np.where(labels == 0, 10, labels).astype(np.uint8).reshape(n, 1)
    factors = {
        "digit": labels.astype(np.int64), "stroke_colour": stroke, "background_colour": background,
        "neighbour_side": side.astype(np.int64),
        "neighbour_digit": np.where(side > 0, labels[other], -1).astype(np.int64),
        "neighbour_index": np.where(side > 0, other, -1).astype(np.int64),
        "shift_x": shift_x, "shift_y": shift_y, "brightness": brightness,
        "source_index": np.arange(n, dtype=np.int64),
    }
    return x, y, factors


def save_factors(path: Path, factors: dict) -> None:
    """The factors and the palette as one .npz (np.savez dates its zip entries 1980: the same bytes every run)."""
    np.savez(path, **{key: np.asarray(value) for key, value in factors.items()}, palette=PALETTE_RGB,
             palette_names=np.array(PALETTE_NAMES))


def save_mat(path: Path, x: np.ndarray, y: np.ndarray, seed: int) -> None:
    """scipy.io.savemat, with the header's creation time replaced by a fixed text (same bytes every run)."""
    scipy.io.savemat(str(path), {"X": x, "y": y}, do_compression=True)
    header = f"MATLAB 5.0 MAT-file Platform: posix, proxy SVHN from MNIST, seed {seed}".encode("ascii")
    with open(path, "r+b") as f:
        f.write(header.ljust(116, b" "))  # the 116-byte description field of the 128-byte header


def write_svhn(folder: Path, mnist, n_train: int, n_test: int, seed: int, shown: Path) -> None:
    """The SVHN proxy into `folder` (`shown` is where it will be renamed to, for the progress line)."""
    progress = Progress(n_train + n_test, out=sys.stderr, label="images", line_interval=30.0)
    progress.message(f"SVHN proxy: {n_train} training and {n_test} test images -> {shown}")
    try:
        for stream, (name, split, n, done) in enumerate((("train", mnist.train, n_train, 0),
                                                         ("test", mnist.test, n_test, n_train))):
            images, labels = split.images[:n, :, :, 0], split.labels[:n]
            x, y, factors = svhn_split(images, labels, rng_for(seed, stream), progress, done)
            save_mat(folder / f"{name}_32x32.mat", x, y, seed)
            save_factors(folder / f"factors_{name}.npz", factors)
    finally:
        progress.close()
    (folder / "README.txt").write_text(
        f"Proxy SVHN {MARKER} (seed {seed}): MNIST digits in SVHN's format, not SVHN.\n"
        f"train_32x32.mat: IDX training images 0..{n_train - 1}; test_32x32.mat: IDX test images "
        f"0..{n_test - 1}.\n\nfactors_train.npz and factors_test.npz: one entry per image, in the order of "
        f"the .mat file:\n{FIELDS}")


def write_grey(folder: Path, mnist, n_train: int, n_test: int, seed: int) -> None:
    """The plain digits in SVHN's format into `folder`: centred, white on black, three equal channels."""
    for name, split, n in (("train", mnist.train, n_train), ("test", mnist.test, n_test)):
        grey = np.pad(split.images[:n, :, :, 0], ((0, 0), (2, 2), (2, 2)))
        x = np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=3).transpose(1, 2, 3, 0))
        labels = split.labels[:n]
        save_mat(folder / f"{name}_32x32.mat", x, np.where(labels == 0, 10, labels).astype(np.uint8).reshape(n, 1), seed)
        save_factors(folder / f"factors_{name}.npz", {"digit": labels.astype(np.int64),
                                                      "source_index": np.arange(n, dtype=np.int64)})
    (folder / "README.txt").write_text(
        f"Plain digits {MARKER}: MNIST digits centred in 32x32, white on black, in SVHN's format, not SVHN.\n"
        f"train_32x32.mat: IDX training images 0..{n_train - 1}; test_32x32.mat: IDX test images 0..{n_test - 1}.\n"
        f"factors_train.npz and factors_test.npz: digit and source_index, in the order of the .mat file.\n")


def render_celeba_chunk(task) -> int:
    """Write the JPEGs of one chunk (runs in a worker process); returns the number written."""
    paths, images, background, stroke, left, top = task
    box_size = CELEBA_BOX[2] - CELEBA_BOX[0], CELEBA_BOX[3] - CELEBA_BOX[1]
    for i, path in enumerate(paths):
        digit = Image.fromarray(images[i]).resize(box_size, Image.Resampling.BICUBIC)
        mask = Image.new("L", CELEBA_SIZE, 0)
        mask.paste(digit, (int(left[i]), int(top[i])))
        picture = Image.composite(Image.new("RGB", CELEBA_SIZE, tuple(int(v) for v in stroke[i])),
                                  Image.new("RGB", CELEBA_SIZE, tuple(int(v) for v in background[i])), mask)
        picture.save(path, format="JPEG", quality=JPEG_QUALITY, subsampling=JPEG_SUBSAMPLING)
    return len(paths)


def scaled_colours(indices: np.ndarray, brightness: np.ndarray) -> np.ndarray:
    """Palette colours times each image's brightness, rounded and clipped: (n, 3) uint8."""
    return np.clip(np.rint(PALETTE_RGB[indices] * brightness[:, None]), 0, 255).astype(np.uint8)


def write_celeba(folder: Path, mnist, n_train_idx: int, n_test: int, seed: int, workers: int,
                 shown: Path) -> None:
    """The CelebA proxy into `folder` (`shown` is where it will be renamed to, for the progress line)."""
    n_validation = round(n_train_idx * CELEBA_VALIDATION / (CELEBA_TRAIN + CELEBA_VALIDATION))
    n_train = n_train_idx - n_validation
    images = np.concatenate([mnist.train.images[:n_train_idx, :, :, 0], mnist.test.images[:n_test, :, :, 0]])
    labels = np.concatenate([mnist.train.labels[:n_train_idx], mnist.test.labels[:n_test]])
    partition = np.repeat([0, 1, 2], [n_train, n_validation, n_test])
    n = len(labels)
    names = [f"{i + 1:06d}.jpg" for i in range(n)]

    rng = rng_for(seed, 2)
    background, stroke, brightness = draw_colours(rng, n)
    shift_x = rng.integers(-CELEBA_SHIFT, CELEBA_SHIFT + 1, n)
    shift_y = rng.integers(-CELEBA_SHIFT, CELEBA_SHIFT + 1, n)
    coins = rng.random((n, 20)) < 0.5

    columns, coin_columns = [], iter(coins.T)
    for name in ATTRIBUTE_NAMES:
        factor, value = ATTRIBUTE_FACTORS[name]
        if factor == "digit":
            columns.append(labels == value)
        elif factor == "background":
            columns.append(background == value)
        else:
            columns.append(next(coin_columns))
    attributes = np.stack(columns, axis=1)
    rows = [f"{file} " + " ".join("%2d" % v for v in np.where(row, 1, -1)) for file, row in zip(names, attributes)]
    (folder / "list_attr_celeba.txt").write_text(f"{n}\n" + " ".join(ATTRIBUTE_NAMES) + " \n" + "\n".join(rows) + "\n")
    (folder / "list_eval_partition.txt").write_text("".join(f"{f} {p}\n" for f, p in zip(names, partition)))
    (folder / "proxy_attributes.json").write_text(json.dumps(
        {name: {"factor": factor, "value": value} for name, (factor, value) in ATTRIBUTE_FACTORS.items()},
        indent=1) + "\n")
    save_factors(folder / "factors.npz", {
        "digit": labels, "stroke_colour": stroke, "background_colour": background,
        "neighbour_side": np.zeros(n, dtype=np.int64), "neighbour_digit": np.full(n, -1, dtype=np.int64),
        "neighbour_index": np.full(n, -1, dtype=np.int64), "shift_x": shift_x, "shift_y": shift_y,
        "brightness": brightness, "source_index": np.concatenate([np.arange(n_train_idx), np.arange(n_test)]),
        "source_set": np.repeat([0, 1], [n_train_idx, n_test]), "partition": partition})
    (folder / "README.txt").write_text(
        f"Proxy CelebA {MARKER} (seed {seed}): MNIST digits in CelebA's format, not CelebA.\n"
        f"{n_train} train (partition 0, IDX training images 0..{n_train - 1}), {n_validation} validation "
        f"(1, IDX training images {n_train}..{n_train_idx - 1}), {n_test} test (2, IDX test images "
        f"0..{n_test - 1}).\n\nproxy_attributes.json: what each column of list_attr_celeba.txt means "
        f"(digit k, background colour k, or a random fair coin).\n\nfactors.npz: one entry per image, in "
        f"the order of list_eval_partition.txt:\n{FIELDS}"
        f"source_set         int64  0 IDX training set, 1 IDX test set\n"
        f"partition          int64  0 train, 1 validation, 2 test (as list_eval_partition.txt)\n"
        f"(no neighbour digits here: neighbour_side is 0, neighbour_digit and neighbour_index -1)\n")

    image_dir = folder / "img_align_celeba"
    image_dir.mkdir()
    bg_rgb, fg_rgb = scaled_colours(background, brightness), scaled_colours(stroke, brightness)
    left, top = CELEBA_BOX[0] + shift_x, CELEBA_BOX[1] + shift_y
    tasks = [([str(image_dir / name) for name in names[s:s + CELEBA_CHUNK]], images[s:s + CELEBA_CHUNK],
              bg_rgb[s:s + CELEBA_CHUNK], fg_rgb[s:s + CELEBA_CHUNK], left[s:s + CELEBA_CHUNK],
              top[s:s + CELEBA_CHUNK]) for s in range(0, n, CELEBA_CHUNK)]
    progress = Progress(n, out=sys.stderr, label="images", line_interval=30.0)
    progress.message(f"CelebA proxy: {n_train} train, {n_validation} validation, {n_test} test JPEGs "
                     f"-> {shown / image_dir.name}")
    done = 0
    try:
        if workers > 1 and len(tasks) > 1:
            with multiprocessing.get_context("spawn").Pool(min(workers, len(tasks))) as pool:
                for count in pool.imap_unordered(render_celeba_chunk, tasks):
                    done += count
                    progress.update(done)
        else:
            for task in tasks:
                done += render_celeba_chunk(task)
                progress.update(done)
    finally:
        progress.close()


def ours(folder: Path) -> bool:
    readme = folder / "README.txt"
    try:
        return readme.is_file() and MARKER in readme.read_text(errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return False


def error(message: str) -> int:
    print(f"make_proxy_data.py: error: {message}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist_dir", required=True, help="folder with MNIST's four IDX files (gzip or not)")
    parser.add_argument("--out", required=True, help="output folder; svhn/ and celeba/ are written inside it")
    parser.add_argument("--limit", type=int, default=None,
                        help="use only the first N IDX training images (and the test set in proportion)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of colours, shifts, noise, ... (0)")
    parser.add_argument("--datasets", default="svhn,celeba",
                        help="which to write, comma-separated: svhn, celeba (default: both), grey")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace OUT/svhn and OUT/celeba if an earlier run of this script wrote them")
    parser.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 8),
                        help="processes writing the CelebA JPEGs (default: one per CPU, at most 8)")
    args = parser.parse_args(argv)
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    if not datasets or set(datasets) - {"svhn", "celeba", "grey"}:
        parser.error(f"--datasets takes svhn, celeba and grey, comma-separated, got '{args.datasets}'")
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit must be at least 1, got {args.limit}")
    if args.seed < 0:
        parser.error(f"--seed must be 0 or more, got {args.seed}")
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")

    out = Path(args.out).expanduser()
    for name in datasets:
        target = out / name
        if target.exists() and not target.is_dir():
            return error(f"{target} exists and is not a folder")
        if target.is_dir() and any(target.iterdir()):
            if not args.overwrite:
                return error(f"{target} exists and is not empty; pass --overwrite to replace it")
            if not ours(target):
                return error(f"{target} was not written by this script (no README.txt of it); not replacing it, "
                             f"delete it yourself if it should go")
    try:
        mnist = load_mnist(args.mnist_dir, validation_size=0, download=False)
    except DataError as err:
        return error(str(err))
    n_train_all, n_test_all = len(mnist.train.labels), len(mnist.test.labels)
    n_train = n_train_all if args.limit is None else min(args.limit, n_train_all)
    n_test = min(n_test_all, math.ceil(n_train * n_test_all / n_train_all))

    for name in datasets:
        # built beside its final place and renamed when complete: an interrupted run leaves nothing half-written
        target, partial = out / name, out / f".{name}.partial"
        try:
            if partial.exists():
                shutil.rmtree(partial)
            partial.mkdir(parents=True)
            if name == "svhn":
                write_svhn(partial, mnist, n_train, n_test, args.seed, target)
            elif name == "grey":
                write_grey(partial, mnist, n_train, n_test, args.seed)
            else:
                write_celeba(partial, mnist, n_train, n_test, args.seed, args.workers, target)
            if target.exists():
                shutil.rmtree(target)
            partial.rename(target)
        except OSError as err:
            return error(f"cannot write {target}: {err}")
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
