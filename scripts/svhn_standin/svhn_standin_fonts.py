"""The fonts of the SVHN stand-in of scripts/svhn_standin/make_svhn_standin.py (its --help says which fonts it looks for):
which font files draw the ten digits, and the glyphs of one font at one extra stroke width, cached per process.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from bidirectional_infogan.data.common import DataError

REF_FONT_SIZE = 144  # font size (pixels per em) of the cached glyphs; the affine warp scales them


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
