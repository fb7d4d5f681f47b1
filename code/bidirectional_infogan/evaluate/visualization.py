"""Image grids and PNG files (Pillow, at the images' own resolution), and the choice of images to show.

Images are float arrays in [0, 1] (or uint8) of shape (N, H, W, C). Grids are separated by thin grey
lines so that single images can be told apart.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from bidirectional_infogan.data.common import as_float

SEPARATOR_VALUE = 0.5  # mid grey: visible between white-on-black digits and between faces


def as_float_images(images) -> np.ndarray:
    """float32 images in [0, 1]: uint8 through data.common.to_float (the training's conversion), float cast."""
    return as_float(images).astype(np.float32)


def image_grid(images, rows: int, cols: int, separator: int = 1, empty_value: float = 0.0,
               cell_shape: tuple | None = None) -> np.ndarray:
    """Tile up to rows*cols images row by row into one (H', W', C) array.

    Cells without an image (or whose entry is None) are filled with `empty_value`; `separator` pixels of
    grey lie between neighbouring cells (none around the border). `cell_shape` (H, W, C) is needed only
    when no cell holds an image.
    """
    images = list(images)
    shape = next((np.asarray(im).shape for im in images if im is not None), cell_shape)
    if shape is None:
        raise ValueError("image_grid needs at least one image or a cell_shape")
    h, w, c = shape
    if len(images) > rows * cols:
        raise ValueError(f"{len(images)} images do not fit a {rows}x{cols} grid")
    height = rows * h + (rows - 1) * separator
    width = cols * w + (cols - 1) * separator
    grid = np.full((height, width, c), SEPARATOR_VALUE, np.float32)
    for index in range(rows * cols):
        r, col = divmod(index, cols)
        top, left = r * (h + separator), col * (w + separator)
        image = images[index] if index < len(images) else None
        if image is None:
            grid[top:top + h, left:left + w] = empty_value
        else:
            grid[top:top + h, left:left + w] = as_float_images(image)
    return grid


def pair_grid(originals, reconstructions, rows: int, pairs_per_row: int, separator: int = 1) -> np.ndarray:
    """Originals in the odd columns (1st, 3rd, ...), each followed by its reconstruction."""
    interleaved = []
    for original, reconstruction in zip(originals, reconstructions):
        interleaved += [original, reconstruction]
    return image_grid(interleaved, rows, 2 * pairs_per_row, separator)


def to_uint8(grid) -> np.ndarray:
    grid = np.asarray(grid)
    if grid.dtype == np.uint8:
        return grid
    return np.clip(np.rint(grid * 255.0), 0, 255).astype(np.uint8)


def save_png(path, grid, scale: int = 1) -> Path:
    """Write an (H, W, 1|3) image in [0, 1] as PNG (grey or RGB); `scale` enlarges by pixel repetition."""
    pixels = to_uint8(grid)
    if scale > 1:
        pixels = pixels.repeat(scale, axis=0).repeat(scale, axis=1)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")  # a kill mid-write leaves the old PNG whole, never half a new one
    Image.fromarray(pixels).save(partial, format="PNG")
    os.replace(partial, path)
    return path


# ---------------------------------------------------------------------------------------------------------
# Which images to show

def most_confident_per_value(probabilities: np.ndarray, per_value: int) -> list[list[int]]:
    """For each value k of a categorical variable: indices of the `per_value` images that E assigns to k
    (argmax) with the highest probability, most confident first. A value with fewer images gets a shorter
    list (the original showed image 0 in the empty places)."""
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    chosen = []
    for k in range(probabilities.shape[1]):
        members = np.flatnonzero(predicted == k)
        order = np.argsort(-confidence[members], kind="stable")
        chosen.append(members[order[:per_value]].tolist())
    return chosen


def extremes_per_value(values: np.ndarray, groups: np.ndarray, n_groups: int, count: int = 1):
    """For each group g (e.g. the predicted category): the indices of the `count` images with the largest and
    of the `count` with the smallest `values`, as two lists of lists (largest first, smallest first).

    A true argmax/argmin: the original started its running maximum at 0 and minimum at 1, so a group whose
    values never crossed those bounds showed image 0.
    """
    largest, smallest = [], []
    for g in range(n_groups):
        members = np.flatnonzero(groups == g)
        order = members[np.argsort(values[members], kind="stable")]
        smallest.append(order[:count].tolist())
        largest.append(order[::-1][:count].tolist())
    return largest, smallest


def pick(images, index_lists, per_row: int) -> list:
    """Flatten lists of indices into a row-major list of images, padding each row with None to `per_row`."""
    cells = []
    for indices in index_lists:
        row = [images[i] for i in indices[:per_row]]
        cells += row + [None] * (per_row - len(row))
    return cells


# ---------------------------------------------------------------------------------------------------------
# Labels drawn onto figures

LABEL_COLOUR = (255, 64, 64)


def to_rgb(grid) -> np.ndarray:
    """(H, W, 1|3) in [0, 1] -> (H, W, 3) uint8."""
    pixels = to_uint8(grid)
    return np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels


def _font(size: int):
    from PIL import ImageFont
    return ImageFont.load_default(size=size)


def add_row_labels(grid, labels: list[str], cell_height: int, separator: int = 1, width: int = 24,
                   font_size: int = 12) -> np.ndarray:
    """Put a white margin with one label per row of cells on the left of a grid (RGB uint8 out)."""
    from PIL import ImageDraw
    pixels = to_rgb(grid)
    canvas = Image.new("RGB", (pixels.shape[1] + width, pixels.shape[0]), (255, 255, 255))
    canvas.paste(Image.fromarray(pixels), (width, 0))
    draw = ImageDraw.Draw(canvas)
    font = _font(font_size)
    for row, text in enumerate(labels):
        top = row * (cell_height + separator)
        draw.text((width // 2, top + cell_height // 2), text, fill=(0, 0, 0), font=font, anchor="mm")
    return np.asarray(canvas)


def mark_corner(image, text: str, font_size: int = 10) -> np.ndarray:
    """Draw `text` in red on a dark box in the top-left corner of one image (RGB uint8 out)."""
    from PIL import ImageDraw
    canvas = Image.fromarray(to_rgb(as_float_images(image)))
    draw = ImageDraw.Draw(canvas)
    font = _font(font_size)
    left, top, right, bottom = draw.textbbox((1, 0), text, font=font)
    draw.rectangle((0, 0, right + 1, bottom + 1), fill=(0, 0, 0))
    draw.text((1, 0), text, fill=LABEL_COLOUR, font=font)
    return np.asarray(canvas)
