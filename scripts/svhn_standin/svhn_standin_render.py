"""The rendering of one chunk of the SVHN stand-in's crops for scripts/svhn_standin/make_svhn_standin.py (its --help says
what a crop holds): the random factors of each image, the digits drawn in their font and warped onto the crop,
the colours, the background texture, lighting and drop shadow, then blur, sensor noise and JPEG.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache

import numpy as np
from scipy import ndimage
from PIL import Image

from bidirectional_infogan.data.svhn import LABEL_COUNTS
from svhn_standin_fonts import Glyphs, glyphs

SIZE = 32  # the crop, pixels
SUPER = 4  # the digits are drawn at SUPER * SIZE and box-filtered down
STROKES = (0, 3, 6)  # extra stroke width (Pillow's stroke_width) at svhn_standin_fonts.REF_FONT_SIZE ...
STROKE_P = (0.6, 0.25, 0.15)  # ... and how often each is drawn
HEIGHT = (0.5, 0.9)  # the font's digit height as a share of the crop height
ROTATION = 8.0  # degrees, uniform in +- this
SHEAR = 0.2  # horizontal shear, uniform in +- this
ASPECT = (0.85, 1.15)  # horizontal stretch
SHIFT = 1.5  # the centre digit's ink box centre moves up to this many pixels from the crop centre, each way
NEIGHBOUR_P = 0.6  # --neighbours standin: chance of a neighbour digit at the left, and independently at the right
# --neighbours svhn: how many house numbers of 1, 2, ... 6 digits SVHN's full-number files hold (the digitStruct.mat
# of train.tar.gz and test.tar.gz; 33,402 and 13,068 numbers, 73,257 and 26,032 digits: every digit is one crop of
# train_32x32.mat / test_32x32.mat). Crops with 0 / 1 / 2 neighbours: 7.0 / 77.2 / 15.8% (train), 9.5 / 81.3 / 9.1%.
# (written from memory of SVHN's statistics, not recounted here: docs/svhn-standin.md)
NUMBER_LENGTHS = {"train": (5137, 18130, 8691, 1434, 9, 1), "test": (2483, 8356, 2081, 146, 2)}
LABEL_PRIORS = ("uniform", "svhn")  # --label_prior: the centre digit and the neighbours, uniform or as in SVHN
NEIGHBOUR_MODELS = ("standin", "svhn")  # --neighbours: how many neighbours are drawn
SPLIT_NAMES = ("train", "test")  # by the split index of a task
TRACKING = (0.02, 0.3)  # extra gap between digits, share of the digit height, added to the font's advance
VISIBLE_INK = 2.0  # a neighbour counts as visible with at least this many pixels' worth of ink in the crop
DARK_ON_LIGHT_P = 0.5
BACKGROUND_LUMA = {True: (0.5, 0.92), False: (0.06, 0.45)}  # by dark_on_light
CONTRAST = (0.25, 0.6)  # |foreground luma - background luma| (cut at 0.02 and 0.98)
TEXTURES = ("plain", "noise", "bricks", "wood", "plaster")
TEXTURE_STRENGTH = (0.08, 0.3)  # drawn, then cut to TEXTURE_CONTRAST x the digits' contrast / background luma
TEXTURE_CONTRAST = 0.4  # (the texture must not hide the digits)
LIGHTING_STRENGTH = (0.0, 0.35)  # the brightness ramp goes from 1 - strength to 1 + strength across the crop
SHADOW_P, SHADOW_STRENGTH, SHADOW_OFFSET = 0.35, (0.2, 0.5), (1.0, 2.5)  # offset in pixels, away from the light
BLUR = (0.0, 1.1)  # Gaussian sigma, pixels
NOISE = (1.0, 4.0)  # Gaussian sensor noise sigma, grey levels
JPEG_QUALITY = (30, 90, 5)  # from, to, step (images of one quality are coded together)
HUE_BINS = 12


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114])


def hls_to_rgb(h, l, s) -> np.ndarray:
    """Vectorised colorsys.hls_to_rgb: (..., 3) in 0..1."""
    h, l, s = (np.asarray(v, dtype=np.float64)[..., None] for v in (h, l, s))
    k = (np.array([0.0, 8.0, 4.0]) + h * 12) % 12
    a = s * np.minimum(l, 1 - l)
    return l - a * np.clip(np.minimum(k - 3, 9 - k), -1, 1)


def colour_with_luma(hue, saturation, target) -> tuple[np.ndarray, np.ndarray]:
    """The HLS lightness (and RGB) of each hue and saturation whose luma is `target` (bisection; the luma
    grows with the lightness)."""
    lo, hi = np.zeros_like(target), np.ones_like(target)
    for _ in range(20):
        mid = (lo + hi) / 2
        darker = luma(hls_to_rgb(hue, mid, saturation)) < target
        lo, hi = np.where(darker, mid, lo), np.where(darker, hi, mid)
    lightness = (lo + hi) / 2
    return lightness, hls_to_rgb(hue, lightness, saturation)


def label_probabilities(label_prior: str, split: int) -> np.ndarray | None:
    """The chance of each digit 0..9 for --label_prior (None: uniform) in split 0 (train) or 1 (test)."""
    if label_prior == "uniform":
        return None
    counts = np.array(LABEL_COUNTS[SPLIT_NAMES[split]], dtype=np.float64)
    return counts / counts.sum()


def draw_digits(rng: np.random.Generator, n: int, p: np.ndarray | None) -> np.ndarray:
    """n digits with chances p (None: uniform, the stand-in's original draw)."""
    return rng.integers(0, 10, n) if p is None else rng.choice(10, n, p=p)


def neighbour_shares(split: int) -> np.ndarray:
    """The share of SVHN's crops with 0, 1 and 2 neighbour digits in split 0 (train) or 1 (test): of a number's
    L digits, 2 have one neighbour and L - 2 have two (a single digit has none)."""
    counts = np.zeros(3)
    for length, numbers in enumerate(NUMBER_LENGTHS[SPLIT_NAMES[split]], start=1):
        if length == 1:
            counts[0] += numbers
        else:
            counts[1:] += (2 * numbers, (length - 2) * numbers)
    return counts / counts.sum()


def draw_neighbours(rng: np.random.Generator, n: int, neighbours: str, split: int,
                    p: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The left and right neighbour digits (-1: none). standin: each side independently with NEIGHBOUR_P;
    svhn: 0, 1 or 2 neighbours with SVHN's shares, a single one at the left or the right with equal chance (the
    last or the first digit of its number). The digits are drawn with chances p, as the centre digit."""
    if neighbours == "standin":
        left = np.where(rng.random(n) < NEIGHBOUR_P, draw_digits(rng, n, p), -1)
        return left, np.where(rng.random(n) < NEIGHBOUR_P, draw_digits(rng, n, p), -1)
    count = rng.choice(3, n, p=neighbour_shares(split))
    one_left = rng.random(n) < 0.5
    left = np.where((count == 2) | ((count == 1) & one_left), draw_digits(rng, n, p), -1)
    return left, np.where((count == 2) | ((count == 1) & ~one_left), draw_digits(rng, n, p), -1)


def draw_factors(rng: np.random.Generator, n: int, n_fonts: int, split: int = 0, label_prior: str = "uniform",
                 neighbours: str = "standin") -> dict:
    """The random factors of n crops (split 0 train, 1 test: SVHN's chances differ). The defaults draw what the
    stand-in always drew, in the same order from rng."""
    u = rng.uniform
    p = label_probabilities(label_prior, split)
    f = {
        "digit": draw_digits(rng, n, p),
        "font": rng.integers(0, n_fonts, n),
        "stroke_index": rng.choice(len(STROKES), n, p=STROKE_P),
        "scale": u(*HEIGHT, n),
        "rotation": u(-ROTATION, ROTATION, n),
        "shear": u(-SHEAR, SHEAR, n),
        "aspect": u(*ASPECT, n),
        "shift_x": u(-SHIFT, SHIFT, n),
        "shift_y": u(-SHIFT, SHIFT, n),
    }
    f["left_digit"], f["right_digit"] = draw_neighbours(rng, n, neighbours, split, p)
    f.update({
        "tracking": u(*TRACKING, n),
        "dark_on_light": rng.random(n) < DARK_ON_LIGHT_P,
        "background_hue": u(0, 1, n),
        "background_saturation": 0.6 * u(0, 1, n) ** 2,  # mostly muted, as on walls
        "foreground_hue": u(0, 1, n),
        "foreground_saturation": 0.7 * u(0, 1, n) ** 3,  # mostly white, black, grey, some gold
        "texture": rng.integers(0, len(TEXTURES), n),
        "texture_strength": u(*TEXTURE_STRENGTH, n),
        "lighting_direction": u(0, 2 * np.pi, n),
        "lighting_strength": u(*LIGHTING_STRENGTH, n),
        "shadow": np.where(rng.random(n) < SHADOW_P, u(*SHADOW_STRENGTH, n), 0.0),
        "shadow_offset": u(*SHADOW_OFFSET, n),
        "blur_radius": u(*BLUR, n),
        "noise_sigma": u(*NOISE, n),
        "jpeg_quality": JPEG_QUALITY[0] + JPEG_QUALITY[2] * rng.integers(
            0, (JPEG_QUALITY[1] - JPEG_QUALITY[0]) // JPEG_QUALITY[2] + 1, n),
    })
    dark = f["dark_on_light"]
    lo = np.where(dark, BACKGROUND_LUMA[True][0], BACKGROUND_LUMA[False][0])
    hi = np.where(dark, BACKGROUND_LUMA[True][1], BACKGROUND_LUMA[False][1])
    f["background_luma"] = u(lo, hi)
    contrast = u(*CONTRAST, n)
    f["foreground_luma"] = np.clip(f["background_luma"] + np.where(dark, -contrast, contrast), 0.02, 0.98)
    f["texture_strength"] = np.minimum(f["texture_strength"], TEXTURE_CONTRAST * np.abs(
        f["foreground_luma"] - f["background_luma"]) / f["background_luma"])
    return f


def render_digits(g: Glyphs, digit: int, left: int, right: int, height: float, rotation: float, shear: float,
                  aspect: float, shift_x: float, shift_y: float, tracking: float):
    """The digits' coverage (SIZE, SIZE) as uint8 bytes, and where the neighbours' ink is: (a, b, c: the drawing
    canvas x of output pixel (u, v) at SUPER scale is a u + b v + c; the canvas x left of which the left
    neighbour lies, right of which the right one, None without one)."""
    gap = tracking * g.height
    pens = [(digit, 0.0)]
    if left >= 0:
        pens.append((left, -(g.advance[left] + gap)))
    if right >= 0:
        pens.append((right, g.advance[digit] + gap))
    xs = [round(pen + g.left[d]) for d, pen in pens]
    x0 = min(xs)
    x1 = max(x + g.masks[d].width for x, (d, _) in zip(xs, pens))
    y0 = min(g.top[d] for d, _ in pens)
    y1 = max(g.top[d] + g.masks[d].height for d, _ in pens)
    canvas = Image.new("L", (x1 - x0, y1 - y0))
    # the boxes of slanted glyphs can overlap: then paste through the ink as mask (slower)
    overlap = any(xs[j] < xs[k] + g.masks[pens[k][0]].width and xs[k] < xs[j] + g.masks[pens[j][0]].width
                  for j in range(len(pens)) for k in range(j))
    for x, (d, _) in zip(xs, pens):
        canvas.paste(g.masks[d], (x - x0, g.top[d] - y0), g.masks[d] if overlap else None)
    centre_left = xs[0] - x0
    cx = centre_left + g.masks[digit].width / 2
    cy = g.top[digit] - y0 + g.masks[digit].height / 2
    # forward map: out = C + A (in - c) with A = s R Sh D (rotation R counter-clockwise on screen, y downwards;
    # shear Sh = [[1, shear], [0, 1]]; D = diag(aspect, 1)); PIL wants the inverse, in = c + A^-1 (out - C)
    s = height * SIZE * SUPER / g.height
    cos, sin = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
    # A^-1 = D^-1 Sh^-1 R^T / s
    r00, r01, r10, r11 = cos, -sin, sin, cos  # R^T
    a00, a01 = (r00 - shear * r10) / (aspect * s), (r01 - shear * r11) / (aspect * s)
    a10, a11 = r10 / s, r11 / s
    ox, oy = SIZE * SUPER / 2 + shift_x * SUPER, SIZE * SUPER / 2 + shift_y * SUPER
    c0 = cx - a00 * ox - a01 * oy
    c1 = cy - a10 * ox - a11 * oy
    data = (a00, a01, c0, a10, a11, c1)
    warped = canvas.transform((SIZE * SUPER, SIZE * SUPER), Image.Transform.AFFINE, data,
                              Image.Resampling.NEAREST).reduce(SUPER)
    # separators halfway between the neighbours' ink and the centre digit's, in canvas x
    left_sep = right_sep = None
    for x, (d, pen) in zip(xs[1:], pens[1:]):
        if pen < 0:
            left_sep = (x - x0 + g.masks[d].width + centre_left) / 2
        else:
            right_sep = (centre_left + g.masks[digit].width + x - x0) / 2
    return warped.tobytes(), (a00, a01, c0, left_sep, right_sep)


@lru_cache(maxsize=16)
def _interpolation(n_in: int, n_out: int = SIZE) -> np.ndarray:
    """(n_out, n_in) linear interpolation weights (pixel centres aligned, edges clamped)."""
    pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    i0 = np.minimum(np.floor(pos).astype(int), n_in - 2) if n_in > 1 else np.zeros(n_out, int)
    w = pos - i0
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), i0] += 1 - w
    if n_in > 1:
        m[np.arange(n_out), i0 + 1] += w
    return m


def smooth_noise(rng, n: int, cells: int) -> np.ndarray:
    """(n, SIZE, SIZE) float32 noise, unit normal on a cells x cells grid, bilinearly interpolated."""
    m = _interpolation(cells).astype(np.float32)
    return m @ rng.standard_normal((n, cells, cells), dtype=np.float32) @ m.T


def _per_image(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)[:, None, None]


def textures(rng, kind: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """(n, SIZE, SIZE) float32 brightness modulation of the background, about unit size, by texture kind."""
    n = len(kind)
    out = np.zeros((n, SIZE, SIZE), dtype=np.float32)
    grid = np.arange(SIZE, dtype=np.float32) + np.float32(0.5 - SIZE / 2)
    gx, gy = grid[None, None, :], grid[None, :, None]
    for k, name in enumerate(TEXTURES):
        idx = np.flatnonzero(kind == k)
        m = len(idx)
        if m == 0 or name == "plain":
            continue
        t = np.radians(rotation[idx])  # the wall turns with the digits
        cos, sin = _per_image(np.cos(t)), _per_image(np.sin(t))
        xr, yr = gx * cos - gy * sin, gx * sin + gy * cos
        if name == "noise":  # fine grain
            tex = 2 * rng.random((m, SIZE, SIZE), dtype=np.float32) - 1 + 0.3 * smooth_noise(rng, m, 4)
        elif name == "plaster":  # smoothed noise at two scales, a little grain
            tex = 0.8 * smooth_noise(rng, m, 5) + 0.5 * smooth_noise(rng, m, 11) \
                + 0.3 * rng.standard_normal((m, SIZE, SIZE), dtype=np.float32)
        elif name == "bricks":  # rows of bricks of varying tone, offset by half a brick, mortar lines
            bh = _per_image(rng.uniform(6, 12, m))
            bw = bh * _per_image(rng.uniform(2.0, 2.6, m))
            mortar_w = _per_image(rng.uniform(0.4, 0.9, m))
            yy = yr + _per_image(rng.uniform(0, 100, m))
            row = np.floor(yy / bh)
            xx = xr + _per_image(rng.uniform(0, 100, m)) + (row % 2) * bw / 2
            col = np.floor(xx / bw)
            fy, fx = yy / bh - row, xx / bw - col
            dist = np.minimum(bh * np.minimum(fy, 1 - fy), bw * np.minimum(fx, 1 - fx))
            mortar = np.clip(mortar_w - dist + 0.5, 0, 1)
            tone = rng.standard_normal((m, 8, 8), dtype=np.float32)[
                np.arange(m)[:, None, None], (row % 8).astype(int), (col % 8).astype(int)]
            sign = _per_image(np.where(rng.random(m) < 0.5, -2.0, 2.0))  # mortar lighter or darker
            tex = (0.5 * tone + 0.3 * rng.standard_normal((m, SIZE, SIZE), dtype=np.float32)) * (1 - mortar) \
                + sign * mortar
        else:  # wood: grain stripes, warped, with plank seams
            v = yr + 1.5 * smooth_noise(rng, m, 3)
            period = _per_image(rng.uniform(2.5, 6, m))
            grain = np.sin(np.float32(2 * np.pi) * v / period + _per_image(rng.uniform(0, 2 * np.pi, m)))
            plank = _per_image(rng.uniform(9, 18, m))
            f = (yr + _per_image(rng.uniform(0, 100, m))) / plank
            seam = np.clip(1.2 - plank * np.abs(f - np.round(f)), 0, 1)
            tex = 0.8 * grain + 0.4 * smooth_noise(rng, m, 6) - 2.0 * seam
        out[idx] = tex
    return out


_OFFSET = np.arange(SIZE)[None, :] - np.arange(SIZE)[:, None]  # column minus row


def gaussian_blur(images: np.ndarray, sigma: np.ndarray, radius: int = 3) -> np.ndarray:
    """Each stack of images (n, C, SIZE, SIZE) blurred with its own Gaussian sigma (0: unchanged; the kernel
    is cut at `radius` and renormalised where the edge cuts it), as two matrix products."""
    taps = np.exp(-np.arange(-radius, radius + 1) ** 2 / (2 * np.maximum(sigma, 1e-3)[:, None] ** 2))
    w = np.where(np.abs(_OFFSET) <= radius, taps[:, np.clip(_OFFSET + radius, 0, 2 * radius)], 0)
    w = (w / w.sum(axis=2, keepdims=True)).astype(images.dtype)[:, None]  # (n, 1, S, S): row i mixes pixels near i
    return w @ images @ w.transpose(0, 1, 3, 2)


def jpeg(images: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """Each uint8 image (n, H, W, 3) through JPEG at its quality. Images of one quality go side by side in
    one strip (4:4:4, no chroma subsampling: every 8x8 block is coded alone, so this is exactly each image
    on its own, only faster)."""
    out = np.empty_like(images)
    for q in np.unique(quality):
        idx = np.flatnonzero(quality == q)
        strip = images[idx].transpose(1, 0, 2, 3).reshape(SIZE, -1, 3)
        buffer = io.BytesIO()
        Image.fromarray(strip).save(buffer, format="JPEG", quality=int(q), subsampling=0)
        buffer.seek(0)
        decoded = np.asarray(Image.open(buffer).convert("RGB"))
        out[idx] = decoded.reshape(SIZE, len(idx), SIZE, 3).transpose(1, 0, 2, 3)
    return out


def digit_masks(f: dict, font_paths) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The digits' coverage of each crop (n, SIZE, SIZE) float32 0..1, the neighbours' ink in the crop (left,
    right; pixels' worth) and each image's font digit height at REF_FONT_SIZE."""
    n = len(f["digit"])
    covers = []
    heights = np.empty(n)
    inverse = np.full((n, 5), np.nan)  # a, b, c of the canvas x of a crop pixel; left and right separator
    keys = ("font", "stroke_index", "digit", "left_digit", "right_digit", "scale", "rotation", "shear", "aspect",
            "shift_x", "shift_y", "tracking")
    for i, (font, stroke, *rest) in enumerate(zip(*(f[key].tolist() for key in keys))):
        g = glyphs(str(font_paths[font]), STROKES[stroke])
        heights[i] = g.height
        cover, row = render_digits(g, *rest)
        covers.append(cover)
        inverse[i] = [np.nan if v is None else v for v in row]
    pixel = (np.arange(SIZE) + 0.5) * SUPER  # crop pixel centres in the drawing's coordinates
    a, b, c, left_sep, right_sep = (inverse[:, k, None, None] for k in range(5))
    x_in = a * pixel[None, None, :] + b * pixel[None, :, None] + c  # canvas x of each crop pixel
    cover = np.frombuffer(b"".join(covers), dtype=np.uint8).reshape(n, SIZE, SIZE).astype(np.float32) / np.float32(255)
    left_ink = np.where(x_in < left_sep, cover, 0).sum(axis=(1, 2))  # comparisons with nan are False
    right_ink = np.where(x_in > right_sep, cover, 0).sum(axis=(1, 2))
    return cover, left_ink, right_ink, heights


def compose(rng, f: dict, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The blurred scene (n, SIZE, SIZE, 3) float32 in grey levels (before noise and JPEG) and the background's
    mean luma 0..1 (no blur)."""
    n = len(mask)
    _, bg = colour_with_luma(f["background_hue"], f["background_saturation"], f["background_luma"])
    _, fg = colour_with_luma(f["foreground_hue"], f["foreground_saturation"], f["foreground_luma"])
    field = 1 + _per_image(f["texture_strength"]) * textures(rng, f["texture"], f["rotation"])
    # drop shadow: the digits' mask moved away from the light, softened, darkening the background
    angle = f["lighting_direction"]
    dx = np.rint(-np.cos(angle) * f["shadow_offset"]).astype(int)
    dy = np.rint(np.sin(angle) * f["shadow_offset"]).astype(int)
    rows = np.clip(np.arange(SIZE)[None, :] - dy[:, None], 0, SIZE - 1)
    cols = np.clip(np.arange(SIZE)[None, :] - dx[:, None], 0, SIZE - 1)
    shadow = mask[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    shadow = ndimage.gaussian_filter(shadow, (0, 0.8, 0.8), mode="nearest", truncate=3.0)
    grid = np.arange(SIZE, dtype=np.float32) + np.float32(0.5 - SIZE / 2)
    ramp = grid[None, None, :] * _per_image(np.cos(angle)) - grid[None, :, None] * _per_image(np.sin(angle))
    light = 1 + _per_image(f["lighting_strength"]) * np.clip(ramp / np.float32(SIZE / 2), -1, 1)
    field *= (1 - _per_image(f["shadow"]) * shadow) * light  # the background's brightness factor
    brightness = np.clip(_per_image(luma(bg)) * field, 0, 1).mean(axis=(1, 2), dtype=np.float64)
    # the image is background colour x weight + foreground colour x weight; blur the two weights (it is linear)
    weights = np.stack([field * (1 - mask), light * mask], axis=1)  # (n, 2, S, S)
    weights = gaussian_blur(weights, f["blur_radius"]).reshape(n, 2, -1).transpose(0, 2, 1)
    colours = np.stack([bg, fg], axis=1).astype(np.float32) * np.float32(255)  # (n, 2, 3)
    image = (weights @ colours).reshape(n, SIZE, SIZE, 3)
    return image, brightness


def render_chunk(task) -> tuple[int, np.ndarray, dict]:
    """One chunk: (its start, images (n, 32, 32, 3) uint8, factors). Runs in a worker process."""
    font_paths, seed, split, index, start, n, label_prior, neighbours = task
    rng = np.random.default_rng([seed, split, index])
    f = draw_factors(rng, n, len(font_paths), split, label_prior, neighbours)
    mask, left_ink, right_ink, heights = digit_masks(f, font_paths)
    f["left_visible"] = left_ink >= VISIBLE_INK
    f["right_visible"] = right_ink >= VISIBLE_INK
    f["digits_visible"] = 1 + f["left_visible"].astype(np.int64) + f["right_visible"]
    f["stroke"] = np.array(STROKES)[f["stroke_index"]] / heights
    image, f["background_brightness"] = compose(rng, f, mask)
    image += rng.standard_normal(image.shape, dtype=np.float32) * _per_image(f["noise_sigma"])[..., None]
    image = jpeg((np.clip(image, 0, 255) + np.float32(0.5)).astype(np.uint8), f["jpeg_quality"])
    f["background_hue_bin"] = np.floor(f["background_hue"] * HUE_BINS).astype(np.int64) % HUE_BINS
    f["foreground_hue_bin"] = np.floor(f["foreground_hue"] * HUE_BINS).astype(np.int64) % HUE_BINS
    del f["stroke_index"], f["shadow_offset"]
    return start, image, f
