"""Grid layouts (positions of each image, separators) and the choice of images to show."""

import numpy as np
from PIL import Image

from bidirectional_infogan.evaluate import visualization as vis


def numbered_images(n, h=3, w=2):
    """Image i is filled with the value i / 100."""
    return np.stack([np.full((h, w, 1), i / 100.0, np.float32) for i in range(n)])


def test_image_grid_positions_and_separators():
    images = numbered_images(6)
    grid = vis.image_grid(images, rows=2, cols=3, separator=1)
    assert grid.shape == (2 * 3 + 1, 3 * 2 + 2, 1)
    for i in range(6):
        r, c = divmod(i, 3)
        cell = grid[r * 4:r * 4 + 3, c * 3:c * 3 + 2]
        assert np.all(cell == np.float32(i / 100.0)), i
    assert np.all(grid[3, :, 0] == vis.SEPARATOR_VALUE)  # horizontal line between the rows
    assert np.all(grid[:, 2, 0] == vis.SEPARATOR_VALUE) and np.all(grid[:, 5, 0] == vis.SEPARATOR_VALUE)


def test_image_grid_fills_missing_cells():
    grid = vis.image_grid([np.ones((2, 2, 1)), None], rows=1, cols=3, separator=0, empty_value=0.0)
    assert grid.shape == (2, 6, 1)
    assert np.all(grid[:, :2] == 1) and np.all(grid[:, 2:] == 0)


def test_pair_grid_puts_originals_in_odd_columns():
    originals = numbered_images(4)
    recons = numbered_images(4) + 0.5
    grid = vis.pair_grid(originals, recons, rows=2, pairs_per_row=2, separator=0)
    assert grid.shape == (6, 8, 1)
    assert grid[0, 0, 0] == np.float32(0.0) and grid[0, 2, 0] == np.float32(0.5)   # pair 0
    assert grid[0, 4, 0] == np.float32(0.01) and grid[0, 6, 0] == np.float32(0.51)  # pair 1
    assert grid[3, 0, 0] == np.float32(0.02)  # second row starts with image 2


def test_save_png_writes_exact_pixels(tmp_path):
    grid = np.array([[[0.0], [1.0]], [[0.5], [0.2]]], np.float32)
    path = vis.save_png(tmp_path / "sub" / "g.png", grid)
    pixels = np.asarray(Image.open(path))
    assert pixels.tolist() == [[0, 255], [128, 51]]
    rgb = vis.save_png(tmp_path / "rgb.png", np.zeros((2, 3, 3)), scale=2)
    assert Image.open(rgb).size == (6, 4) and Image.open(rgb).mode == "RGB"


def test_most_confident_per_value():
    probabilities = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.95, 0.05], [0.3, 0.7]])
    assert vis.most_confident_per_value(probabilities, 2) == [[3, 0], [2, 4]]
    assert vis.most_confident_per_value(probabilities, 10) == [[3, 0, 1], [2, 4]]
    # a value nobody is assigned to gets an empty list, not image 0
    assert vis.most_confident_per_value(np.array([[0.9, 0.1, 0.0]]), 1) == [[0], [], []]


def test_extremes_per_value_is_a_true_argmax_and_argmin():
    values = np.array([1.5, 2.5, 3.0, -0.5, 1.2])
    groups = np.array([0, 0, 1, 1, 0])
    largest, smallest = vis.extremes_per_value(values, groups, 3)
    # the original's running max started at 0 and min at 1: group 0's minimum (1.2 > 1) would be lost
    assert largest == [[1], [2], []] and smallest == [[4], [3], []]
