"""Random copies of a batch of real images for the consistency term (--consistency_weight).

E is asked to give an image and its augmented copy the same categorical value, so the categorical code cannot
follow what the augmentation changes: colour and brightness ("colour"), position, angle and size ("geometric"),
or both. The copies are drawn in numpy from a generator the training loop seeds with (seed, step), so a resumed
run draws the same copies as an uninterrupted one.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

AUGMENTATIONS = ("colour", "geometric", "both")  # the kinds of copy `augment` makes (--consistency_augment)
MAX_ROTATION_DEGREES = 12.0
SCALE_RANGE = (0.9, 1.1)
MAX_SHIFT_PIXELS = 2.0
GAIN_RANGE = (0.7, 1.3)  # per channel (RGB only)
CONTRAST_RANGE = (0.6, 1.4)
MAX_BRIGHTNESS_SHIFT = 0.2


def colour_jitter(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """float images (N, H, W, C) in [0, 1] -> copies with other colours and brightness, in [0, 1].

    RGB: the channels in a random order, inverted (1 - x) with probability 1/2, a gain per channel; every image:
    its contrast around its mean and its brightness changed. One channel: contrast and brightness only (a grey
    digit inverted is not a digit of the data).
    """
    n, _, _, channels = images.shape
    out = images.astype(np.float32, copy=True)
    if channels == 3:
        orders = np.argsort(rng.random((n, 3)), axis=1)
        out = np.take_along_axis(out, orders[:, None, None, :], axis=3)
        invert = rng.random(n) < 0.5
        out[invert] = 1.0 - out[invert]
        out *= rng.uniform(*GAIN_RANGE, size=(n, 1, 1, 3)).astype(np.float32)
    mean = out.mean(axis=(1, 2, 3), keepdims=True)
    contrast = rng.uniform(*CONTRAST_RANGE, size=(n, 1, 1, 1)).astype(np.float32)
    shift = rng.uniform(-MAX_BRIGHTNESS_SHIFT, MAX_BRIGHTNESS_SHIFT, size=(n, 1, 1, 1)).astype(np.float32)
    return np.clip((out - mean) * contrast + mean + shift, 0.0, 1.0)


def geometric_jitter(images: np.ndarray, rng: np.random.Generator, max_shear: float = 0.0) -> np.ndarray:
    """float images (N, H, W, C) -> copies rotated, scaled and shifted about their centre (bilinear, the border
    pixels repeated outward); with max_shear > 0 also slanted: each row moved sideways by a shear drawn from
    [-max_shear, max_shear] times its distance from the centre row (a shear s adds s to the slant -mu11 / mu02,
    rows counted downwards, of scripts/mnist/mnist_results.py). With max_shear 0 no shear is drawn: the copies and the
    generator's later draws are those of the code before the shear existed."""
    n, height, width, channels = images.shape
    angles = np.radians(rng.uniform(-MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES, n))
    scales = rng.uniform(*SCALE_RANGE, n)
    shifts = rng.uniform(-MAX_SHIFT_PIXELS, MAX_SHIFT_PIXELS, (n, 2))
    shears = rng.uniform(-max_shear, max_shear, n) if max_shear > 0 else np.zeros(n)
    centre = np.array([(height - 1) / 2.0, (width - 1) / 2.0])
    out = np.empty_like(images, dtype=np.float32)
    for i in range(n):
        cos, sin = math.cos(angles[i]) / scales[i], math.sin(angles[i]) / scales[i]
        inverse = np.array([[cos, -sin], [sin, cos]])  # output (row, col) -> input, about the centre
        if shears[i]:
            # the output's column c at row r comes from column c + shear * (r - centre), before the rotation
            inverse = inverse @ np.array([[1.0, 0.0], [shears[i], 1.0]])
        offset = centre - inverse @ (centre + shifts[i])
        for c in range(channels):
            out[i, :, :, c] = ndimage.affine_transform(images[i, :, :, c], inverse, offset, order=1, mode="nearest")
    return out


def augment(images: np.ndarray, kind: str, rng: np.random.Generator, max_shear: float = 0.0) -> np.ndarray:
    """The augmented copies of one batch: `kind` is one of AUGMENTATIONS; `max_shear` slants the geometric ones
    (--consistency_shear)."""
    if kind not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation '{kind}'")
    if kind in ("colour", "both"):
        images = colour_jitter(images, rng)
    if kind in ("geometric", "both"):
        images = geometric_jitter(images, rng, max_shear)
    return images.astype(np.float32)
