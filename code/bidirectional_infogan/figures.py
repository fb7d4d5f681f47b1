"""The figures of evaluate_model.py, as functions from arrays to image grids (no model calls inside, except
through the callables passed in)."""

from __future__ import annotations

import numpy as np

from . import visualization as vis


def samples_per_class(images, predicted: np.ndarray, n_classes: int, per_row: int, rng: np.random.Generator,
                      rows_per_class: int = 2) -> tuple[np.ndarray, list[list[int]]]:
    """Class k gets `rows_per_class` rows of random test images that the model puts in class k
    (`rows_per_class * per_row` images; fewer if it has fewer). The original: 60 per digit, 2 rows of 30.
    Returns the grid and the chosen indices per class."""
    chosen, rows = [], []
    for k in range(n_classes):
        members = np.flatnonzero(predicted == k)
        take = min(rows_per_class * per_row, len(members))
        picked = sorted(rng.choice(members, size=take, replace=False).tolist()) if take else []
        chosen.append(picked)
        rows += [picked[r * per_row:(r + 1) * per_row] for r in range(rows_per_class)]
    return vis.image_grid(vis.pick(images, rows, per_row), len(rows), per_row), chosen


def continuous_extremes(images, predicted: np.ndarray, confidence: np.ndarray, values: np.ndarray,
                        n_classes: int, per_row: int, threshold: float) -> tuple[np.ndarray, list, list]:
    """Two rows per class k, among the images confidently (> threshold) put in class k: the `per_row` with
    the smallest value of the continuous variable (most extreme first), then the `per_row` with the largest.
    Returns the grid and the (smallest, largest) index lists."""
    confident = confidence > threshold
    largest, smallest = vis.extremes_per_value(values, np.where(confident, predicted, -1), n_classes, per_row)
    rows = []
    for k in range(n_classes):
        rows += [smallest[k], largest[k]]
    return vis.image_grid(vis.pick(images, rows, per_row), 2 * n_classes, per_row), smallest, largest


def reconstruction_pairs(images, labels: np.ndarray, reconstruct, n_classes: int, pairs_per_row: int,
                         rng: np.random.Generator, rows_per_class: int = 2) -> np.ndarray:
    """Class k gets `rows_per_class` rows of random test images of true class k, each image followed by its
    reconstruction G(E(x)) (originals in the odd columns). The original: 20 per digit, 2 rows of 10 pairs."""
    per_class = rows_per_class * pairs_per_row
    originals, reconstructions = [], []
    for k in range(n_classes):
        members = np.flatnonzero(labels == k)
        chosen = np.sort(rng.choice(members, size=min(per_class, len(members)), replace=False))
        row = images[chosen]
        rebuilt = reconstruct(row)
        padding = per_class - len(chosen)
        originals += list(row) + [None] * padding
        reconstructions += list(rebuilt) + [None] * padding
    return vis.pair_grid(originals, reconstructions, n_classes * rows_per_class, pairs_per_row)


def misclassified(images, labels: np.ndarray, predicted: np.ndarray, n_classes: int,
                  per_row: int) -> tuple[np.ndarray, list[str], int]:
    """Every misclassified image, grouped by true class (each class starts a new row), each marked with the
    class the model gave. Returns the RGB grid, one label per row (the true class on a block's first row)
    and the number of rows."""
    cells, row_labels = [], []
    for k in range(n_classes):
        wrong = np.flatnonzero((labels == k) & (predicted != k))
        rows = max(1, -(-len(wrong) // per_row))
        marked = [vis.mark_corner(images[i], str(predicted[i]) if predicted[i] >= 0 else "?") for i in wrong]
        cells += marked + [None] * (rows * per_row - len(marked))
        row_labels += [str(k)] + [""] * (rows - 1)
    n_rows = len(row_labels)
    cell_shape = images.shape[1:3] + (3,)
    return vis.image_grid(cells, n_rows, per_row, cell_shape=cell_shape), row_labels, n_rows
