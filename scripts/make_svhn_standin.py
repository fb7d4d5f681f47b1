"""Write a house-number stand-in for SVHN, rendered from TrueType fonts, in SVHN's cropped-digit file format.

    python scripts/make_svhn_standin.py --out DIR [--train_count 73257] [--test_count 26032] [--seed 0]
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
import importlib.util
import io
import math
import multiprocessing
import os
import sys
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.io
from scipy import ndimage
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from bidirectional_infogan.data.common import DataError, available_cpus
from bidirectional_infogan.progress import Progress

SIZE = 32  # the crop, pixels
SUPER = 4  # the digits are drawn at SUPER * SIZE and box-filtered down
CHUNK = 1000  # images per random stream and per worker task (fixed: the output must not depend on --workers)
REF_FONT_SIZE = 144  # font size (pixels per em) of the cached glyphs; the affine warp scales them
STROKES = (0, 3, 6)  # extra stroke width (Pillow's stroke_width) in pixels at REF_FONT_SIZE ...
STROKE_P = (0.6, 0.25, 0.15)  # ... and how often each is drawn
HEIGHT = (0.5, 0.9)  # the font's digit height as a share of the crop height
ROTATION = 8.0  # degrees, uniform in +- this
SHEAR = 0.2  # horizontal shear, uniform in +- this
ASPECT = (0.85, 1.15)  # horizontal stretch
SHIFT = 1.5  # the centre digit's ink box centre moves up to this many pixels from the crop centre, each way
NEIGHBOUR_P = 0.6  # chance of a neighbour digit at the left, and independently at the right
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
SPLITS = ("train", "test")

MARKER = "written by scripts/make_svhn_standin.py"  # first line of README.txt
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


# --- fonts -------------------------------------------------------------------------------------------------

def _arc(cx, cy, rx, ry, a0, a1, n=24):
    t = np.radians(np.linspace(a0, a1, n))
    return list(zip(cx + rx * np.cos(t), cy - ry * np.sin(t)))


# Stroke skeletons of the ten digits in a box 0.6 wide and 1 high (y downwards); "1" has a second form
# with a foot. Only for telling fonts that draw digits from fonts that draw something else.
_SKELETONS = {
    0: [_arc(.3, .5, .27, .48, 0, 360)],
    1: [[(.12, .2), (.3, 0), (.3, 1)]],
    2: [_arc(.3, .27, .26, .26, 160, -35) + [(.04, 1), (.58, 1)]],
    3: [_arc(.3, .26, .24, .24, 150, -90) + _arc(.3, .74, .27, .26, 90, -150)],
    4: [[(.44, 1), (.44, 0), (.02, .7), (.6, .7)]],
    5: [[(.54, 0), (.1, 0), (.07, .46)] + _arc(.3, .69, .28, .31, 140, -150)],
    6: [_arc(.4, .62, .34, .62, 75, 185), _arc(.31, .7, .27, .29, 0, 360)],
    7: [[(.02, 0), (.58, 0), (.2, 1)]],
    8: [_arc(.3, .25, .22, .24, 0, 360), _arc(.3, .73, .27, .27, 0, 360)],
    "1foot": [[(.12, .2), (.3, 0), (.3, 1)], [(.08, 1), (.52, 1)]],
}
_SKELETONS[9] = [[(.6 - x, 1 - y) for x, y in line] for line in _SKELETONS[6]]
MIN_DIGITS_LIKE = 7  # of 10


def _normalised(mask: np.ndarray) -> np.ndarray:
    """The ink box scaled to 24 pixels high, centred in 24x20, blurred, zero mean and unit norm."""
    image = Image.fromarray(mask)
    image = image.crop(image.getbbox())
    width = max(1, min(20, round(image.width * 24 / image.height)))
    canvas = Image.new("L", (20, 24))
    canvas.paste(image.resize((width, 24), Image.Resampling.BOX), ((20 - width) // 2, 0))
    a = np.asarray(canvas.filter(ImageFilter.GaussianBlur(1.5)), dtype=np.float64)
    a = a - a.mean()
    return a / (np.linalg.norm(a) + 1e-12)


@lru_cache(maxsize=1)
def _templates() -> np.ndarray:
    out = []
    for key in [*range(10), "1foot"]:
        image = Image.new("L", (200, 200))
        draw = ImageDraw.Draw(image)
        for line in _SKELETONS[key]:
            draw.line([(20 + x * 160, 20 + y * 160) for x, y in line], fill=255, width=18, joint="curve")
        out.append(_normalised(np.asarray(image)))
    return np.stack(out)


def draws_digits(path: Path) -> bool:
    """Whether the font draws 0..9 non-empty, pairwise different and mostly like digits."""
    try:
        font = ImageFont.truetype(str(path), 64)
        masks = []
        for k in range(10):
            image = Image.new("L", (128, 128))
            ImageDraw.Draw(image).text((24, 96), str(k), font=font, fill=255, anchor="ls")
            masks.append(np.asarray(image))
    except (OSError, ValueError):
        return False
    if any(not m.any() for m in masks):
        return False
    if any(np.array_equal(masks[i], masks[j]) for i in range(10) for j in range(i)):
        return False
    glyph = np.stack([_normalised(m) for m in masks])
    scores = glyph.reshape(10, -1) @ _templates().reshape(len(_SKELETONS), -1).T  # correlations
    scores[:, 1] = np.maximum(scores[:, 1], scores[:, 10])  # either form of "1"
    return int((scores[:, :10].argmax(axis=1) == np.arange(10)).sum()) >= MIN_DIGITS_LIKE


def default_font_dirs() -> list[Path]:
    """matplotlib's bundled fonts (if matplotlib is installed; it is not imported) and the system's."""
    dirs = []
    try:
        spec = importlib.util.find_spec("matplotlib")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        dirs.append(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf")
    dirs.append(Path("/usr/share/fonts"))
    return dirs


@lru_cache(maxsize=8)
def _find_fonts(dirs: tuple[Path, ...]) -> tuple[Path, ...]:
    chosen: dict[str, Path] = {}
    for folder in dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() in (".ttf", ".otf") and path.name not in chosen and path.is_file() \
                    and draws_digits(path):
                chosen[path.name] = path
    return tuple(chosen[name] for name in sorted(chosen))


def find_fonts(dirs=None) -> list[Path]:
    """The usable fonts of `dirs` (default: default_font_dirs()), one per file name, sorted by file name.
    A DataError if there are none."""
    dirs = tuple(Path(d).expanduser() for d in (default_font_dirs() if dirs is None else dirs))
    fonts = list(_find_fonts(dirs))
    if not fonts:
        raise DataError(f"no usable font (a .ttf/.otf file that draws the digits 0-9) in "
                        f"{', '.join(map(str, dirs)) or 'no folder'}; install matplotlib "
                        f"(pip install -r requirements-scripts.txt) or pass --font_dir")
    return fonts


class Glyphs:
    """One font at one extra stroke width, at REF_FONT_SIZE: each digit's ink as an L image, where its ink
    box starts relative to the pen position on the baseline (left, top), its advance, and the font's digit
    height (its tallest digit's ink)."""

    def __init__(self, path: str, stroke: int):
        font = ImageFont.truetype(path, REF_FONT_SIZE)
        self.masks, self.left, self.top, self.advance = [], [], [], []
        for k in range(10):
            l, t, r, b = font.getbbox(str(k), anchor="ls", stroke_width=stroke)
            image = Image.new("L", (r - l + 2, b - t + 2))
            ImageDraw.Draw(image).text((1 - l, 1 - t), str(k), font=font, fill=255, anchor="ls",
                                       stroke_width=stroke, stroke_fill=255)
            box = image.getbbox()
            self.masks.append(image.crop(box))
            self.left.append(box[0] + l - 1)
            self.top.append(box[1] + t - 1)
            self.advance.append(font.getlength(str(k)) + 2 * stroke)
        self.height = max(m.height for m in self.masks)


_GLYPHS: dict[tuple[str, int], Glyphs] = {}


def glyphs(path: str, stroke: int) -> Glyphs:
    key = (path, stroke)
    if key not in _GLYPHS:
        _GLYPHS[key] = Glyphs(path, stroke)
    return _GLYPHS[key]


# --- one chunk of images -----------------------------------------------------------------------------------

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


def draw_factors(rng: np.random.Generator, n: int, n_fonts: int) -> dict:
    u = rng.uniform
    f = {
        "digit": rng.integers(0, 10, n),
        "font": rng.integers(0, n_fonts, n),
        "stroke_index": rng.choice(len(STROKES), n, p=STROKE_P),
        "scale": u(*HEIGHT, n),
        "rotation": u(-ROTATION, ROTATION, n),
        "shear": u(-SHEAR, SHEAR, n),
        "aspect": u(*ASPECT, n),
        "shift_x": u(-SHIFT, SHIFT, n),
        "shift_y": u(-SHIFT, SHIFT, n),
        "left_digit": np.where(rng.random(n) < NEIGHBOUR_P, rng.integers(0, 10, n), -1),
        "right_digit": np.where(rng.random(n) < NEIGHBOUR_P, rng.integers(0, 10, n), -1),
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
    }
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
    font_paths, seed, split, index, start, n = task
    rng = np.random.default_rng([seed, split, index])
    f = draw_factors(rng, n, len(font_paths))
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


# --- files -------------------------------------------------------------------------------------------------

def chunk_tasks(font_paths, seed: int, split: int, count: int) -> list[tuple]:
    return [(tuple(str(p) for p in font_paths), seed, split, i, start, min(CHUNK, count - start))
            for i, start in enumerate(range(0, count, CHUNK))]


def generate(font_paths, seed: int, counts: dict, workers: int = 1, progress: Progress | None = None) -> dict:
    """{split name: (images (n, 32, 32, 3) uint8, factors dict)} for counts {split name: n}."""
    tasks = [(name, task) for split, name in enumerate(SPLITS) if counts.get(name)
             for task in chunk_tasks(font_paths, seed, split, counts[name])]
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
    y = np.where(digits == 0, 10, digits).astype(np.uint8).reshape(-1, 1)
    scipy.io.savemat(str(path), {"X": images.transpose(1, 2, 3, 0), "y": y}, do_compression=False)
    header = f"MATLAB 5.0 MAT-file Platform: posix, SVHN stand-in (rendered fonts), seed {seed}".encode("ascii")
    with open(path, "r+b") as file:
        file.write(header.ljust(116, b" "))  # the 116-byte text field of the 128-byte header


def save_factors(path: Path, factors: dict, font_paths) -> None:
    """np.savez (it dates its zip entries 1980: the same bytes every run), factors in a fixed key order."""
    arrays = {key: np.asarray(factors[key]) for key in sorted(factors)}
    np.savez(path, **arrays, font_names=np.array([p.name for p in font_paths]),
             texture_names=np.array(TEXTURES))


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


def readme_text(seed: int, counts: dict, font_paths) -> str:
    fonts = "\n".join(f"{i:3d} {p.name}  ({p.parent})" for i, p in enumerate(font_paths))
    return (f"SVHN stand-in {MARKER} (seed {seed}): rendered house-number crops in SVHN's format, not SVHN.\n"
            f"train_32x32.mat: {counts['train']} images; test_32x32.mat: {counts['test']} images.\n"
            f"SVHN's loader takes the first 5,000 training images as its validation set.\n\n"
            f"factors_train.npz and factors_test.npz: one entry per image, in the order of the .mat file:\n"
            f"{FIELDS}\ntexture_names: {', '.join(TEXTURES)}\n\nfonts (index: file name, folder):\n{fonts}\n")


def ours(folder: Path) -> bool:
    readme = folder / "README.txt"
    try:
        return readme.is_file() and MARKER in readme.read_text(errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return False


PARTIAL = ".partial-"  # prefix of the temporary names in the output folder


class OneLineParser(argparse.ArgumentParser):
    """argparse, but its errors are one line on stderr (exit 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def error(message: str) -> int:
    print(f"make_svhn_standin.py: error: {message}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    parser = OneLineParser(prog="make_svhn_standin.py", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output folder (created; files go directly into it)")
    parser.add_argument("--train_count", type=int, default=73_257, help="training images (73,257 as SVHN)")
    parser.add_argument("--test_count", type=int, default=26_032, help="test images (26,032 as SVHN)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
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
    if out.exists() and not out.is_dir():
        return error(f"{out} exists and is not a folder")
    if out.is_dir() and any(not p.name.startswith(PARTIAL) for p in out.iterdir()):
        if not args.overwrite:
            return error(f"{out} exists and is not empty; pass --overwrite to replace it")
        if not ours(out):
            return error(f"{out} was not written by this script (no README.txt of it); not replacing it, "
                         f"delete it yourself if it should go")
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
    start = time.monotonic()
    progress = Progress(sum(counts.values()), out=sys.stderr, label="images", line_interval=30.0)
    progress.message(f"SVHN stand-in: {counts['train']} training and {counts['test']} test images, "
                     f"{len(font_paths)} fonts, {args.workers} worker(s) -> {out}")
    try:
        try:
            data = generate(font_paths, args.seed, counts, args.workers, progress)
        finally:
            progress.close()
        for split in SPLITS:
            images, factors = data[split]
            for name, write in ((f"{split}_32x32.mat", lambda p: save_mat(p, images, factors["digit"], args.seed)),
                                (f"factors_{split}.npz", lambda p: save_factors(p, factors, font_paths))):
                temporary = out / f"{PARTIAL}{name}"
                written.append(temporary)
                write(temporary)
        temporary = out / f"{PARTIAL}README.txt"
        written.append(temporary)
        temporary.write_text(readme_text(args.seed, counts, font_paths))
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
