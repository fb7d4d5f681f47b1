"""Write stand-ins for SVHN and CelebA made of real MNIST digits, in exactly the published file formats.

    python scripts/investigations/make_proxy_data.py --mnist_dir DIR --out OUT [--limit N] [--seed S]
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

from bidirectional_infogan.data.common import DataError
from bidirectional_infogan.data.mnist import load_mnist
from bidirectional_infogan.util.progress import Progress
from bidirectional_infogan.data.dataset_output import save_svhn_mat, svhn_labels, why_not_replace
# the pictures ("as": re-exported, make_proxy_data.NOISE_MAX stays its interface)
from proxy_images import (CELEBA_BOX, CELEBA_SHIFT, NOISE_MAX as NOISE_MAX, PALETTE_NAMES, PALETTE_RGB,
                          draw_colours, render_celeba_chunk, scaled_colours, svhn_split)

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

MARKER = "written by scripts/investigations/make_proxy_data.py"  # first line of README.txt in each output folder
REPLACEABLE = "make_proxy_data.py"  # --overwrite replaces a folder whose README.txt first line names this
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


def save_factors(path: Path, factors: dict) -> None:
    """The factors and the palette as one .npz (np.savez dates its zip entries 1980: the same bytes every run)."""
    np.savez(path, **{key: np.asarray(value) for key, value in factors.items()}, palette=PALETTE_RGB,
             palette_names=np.array(PALETTE_NAMES))


def save_mat(path: Path, x: np.ndarray, y: np.ndarray, seed: int) -> None:
    """SVHN's Format 2, compressed, with a fixed header text instead of scipy's creation time (same bytes
    every run)."""
    save_svhn_mat(path, x, y, f"proxy SVHN from MNIST, seed {seed}", compress=True)


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
        save_mat(folder / f"{name}_32x32.mat", x, svhn_labels(labels), seed)
        save_factors(folder / f"factors_{name}.npz", {"digit": labels.astype(np.int64),
                                                      "source_index": np.arange(n, dtype=np.int64)})
    (folder / "README.txt").write_text(
        f"Plain digits {MARKER}: MNIST digits centred in 32x32, white on black, in SVHN's format, not SVHN.\n"
        f"train_32x32.mat: IDX training images 0..{n_train - 1}; test_32x32.mat: IDX test images 0..{n_test - 1}.\n"
        f"factors_train.npz and factors_test.npz: digit and source_index, in the order of the .mat file.\n")

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


def error(message: str) -> int:
    print(f"make_proxy_data.py: error: {message}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        allow_abbrev=False, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
        refused = why_not_replace(out / name, REPLACEABLE, args.overwrite)
        if refused:
            return error(refused)
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
