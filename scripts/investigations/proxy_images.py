"""The pictures of the proxies of scripts/investigations/make_proxy_data.py (its --help says what each holds): the palette and
the colours drawn for each image, SVHN's 32x32 crops of MNIST digits with a cut-off neighbour and pixel noise,
and CelebA's 178x218 JPEGs of an enlarged digit.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from bidirectional_infogan.util.progress import Progress
from bidirectional_infogan.data.dataset_output import svhn_labels

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
    y = svhn_labels(labels)
    factors = {
        "digit": labels.astype(np.int64), "stroke_colour": stroke, "background_colour": background,
        "neighbour_side": side.astype(np.int64),
        "neighbour_digit": np.where(side > 0, labels[other], -1).astype(np.int64),
        "neighbour_index": np.where(side > 0, other, -1).astype(np.int64),
        "shift_x": shift_x, "shift_y": shift_y, "brightness": brightness,
        "source_index": np.arange(n, dtype=np.int64),
    }
    return x, y, factors



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

