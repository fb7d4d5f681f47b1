"""The image grids of the figures, shared by the training's log steps and evaluate_model.py: functions from
arrays to grids (no model calls inside, except through the callables passed in)."""

from __future__ import annotations

import numpy as np

from bidirectional_infogan.model import latent
from bidirectional_infogan.evaluate import visualization as vis

# ---------------------------------------------------------------------------------------------------------
# Generated images


def generated_grids(cfg, generate, rng: np.random.Generator) -> tuple[list, list]:
    """The generated figures, with categories (not digits) along the axes, as the original's: for each
    categorical variable v, 10 rows x n_v columns (z and the continuous values fixed per row, value k of v in
    column k); then for each continuous variable j, one row per value of the first categorical variable, j
    swept along the columns. `generate` maps codes to images (G in inference mode). Returns (categorical grids,
    continuous grids); the codes are drawn from `rng` in that order."""
    categorical = []
    for v, n in enumerate(cfg.categorical_dims):
        codes = latent.categorical_grid_latent(cfg, rng, v)
        categorical.append(vis.image_grid(generate(codes), len(codes) // n, n))
    continuous = []
    for j in range(cfg.continuous_dim):
        codes = latent.continuous_grid_latent(cfg, rng, j)
        rows = cfg.categorical_dims[0]
        continuous.append(vis.image_grid(generate(codes), rows, len(codes) // rows))
    return categorical, continuous


# ---------------------------------------------------------------------------------------------------------
# Real images chosen by their codes (max-activating samples)


def most_confident(images, probabilities: np.ndarray, per_row: int) -> np.ndarray:
    """Row k: the `per_row` images that E puts in value k of a categorical variable with the highest
    probability, most confident first (rows padded with black)."""
    chosen = vis.most_confident_per_value(probabilities, per_row)
    return vis.image_grid(vis.pick(images, chosen, per_row), len(chosen), per_row)


def continuous_extremes(images, values: np.ndarray, groups: np.ndarray, n_groups: int, per_row: int,
                        rows_per_end: int = 1) -> tuple[np.ndarray, list, list]:
    """For each group k (e.g. the images classified as k; -1: in no group): `rows_per_end` rows of the images
    with the smallest `values` (most extreme first), then `rows_per_end` rows of those with the largest.
    Returns the grid and the (smallest, largest) index lists of each group."""
    count = rows_per_end * per_row
    largest, smallest = vis.extremes_per_value(values, groups, n_groups, count)
    rows = []
    for k in range(n_groups):
        for end in (smallest[k], largest[k]):
            rows += [end[r * per_row:(r + 1) * per_row] for r in range(rows_per_end)]
    return vis.image_grid(vis.pick(images, rows, per_row), len(rows), per_row), smallest, largest


def continuous_extremes_per_column(images, values: np.ndarray, categories: np.ndarray,
                                   n_categories: int) -> np.ndarray:
    """The original's training figure: column k = category k, with the image of the largest value in the top
    row and the one of the smallest in the bottom row."""
    largest, smallest = vis.extremes_per_value(values, categories, n_categories)
    cells = vis.pick(images, largest, 1) + vis.pick(images, smallest, 1)
    return vis.image_grid(cells, 2, n_categories)


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


# ---------------------------------------------------------------------------------------------------------
# Reconstructions and errors


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
                  per_row: int) -> tuple[np.ndarray, list[str]]:
    """Every misclassified image, grouped by true class (each class starts a new row), each marked with the
    class the model gave. Returns the RGB grid and one label per row (the true class on a block's first
    row)."""
    cells, row_labels = [], []
    for k in range(n_classes):
        wrong = np.flatnonzero((labels == k) & (predicted != k))
        rows = max(1, -(-len(wrong) // per_row))
        marked = [vis.mark_corner(images[i], str(predicted[i]) if predicted[i] >= 0 else "?") for i in wrong]
        cells += marked + [None] * (rows * per_row - len(marked))
        row_labels += [str(k)] + [""] * (rows - 1)
    cell_shape = images.shape[1:3] + (3,)
    return vis.image_grid(cells, len(row_labels), per_row, cell_shape=cell_shape), row_labels
