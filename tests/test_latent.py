"""The latent code: sampling, splitting, and the layouts of the figure grids."""

import numpy as np
import pytest

from bidirectional_infogan.model import latent
from bidirectional_infogan.model.config import mnist_model_config


@pytest.fixture
def cfg():
    return mnist_model_config()


def test_sample_latent_ranges_and_one_hot(cfg):
    z, c = latent.sample_latent(cfg, np.random.default_rng(0), 5000)
    assert z.shape == (5000, 16) and c.shape == (5000, 12) and z.dtype == np.float32
    assert z.min() >= -1 and z.max() <= 1 and z.min() < -0.99 and z.max() > 0.99
    one_hot = c[:, :10]
    assert set(np.unique(one_hot)) == {0.0, 1.0} and np.all(one_hot.sum(axis=1) == 1)
    counts = one_hot.sum(axis=0)
    assert counts.min() > 400 and counts.max() < 600  # uniform over 10 values
    assert c[:, 10:].min() >= -1 and c[:, 10:].max() <= 1


def test_split_and_join_round_trip(cfg):
    rng = np.random.default_rng(1)
    z = rng.uniform(-1, 1, (4, 16))
    values = np.array([[3], [0], [9], [3]])
    cont = rng.uniform(-1, 1, (4, 2))
    code = latent.join_latent(cfg, z, values, cont)
    parts = latent.split_latent(cfg, code)
    np.testing.assert_allclose(parts.z, z, rtol=1e-6)
    assert parts.categorical[0].argmax(axis=1).tolist() == [3, 0, 9, 3]
    np.testing.assert_allclose(parts.continuous, cont, rtol=1e-6)
    assert code.shape == (4, 28)


def test_categorical_grid_layout(cfg):
    code = latent.categorical_grid_latent(cfg, np.random.default_rng(2))
    parts = latent.split_latent(cfg, code)
    grid_z = parts.z.reshape(10, 10, 16)
    grid_cat = parts.categorical[0].argmax(axis=1).reshape(10, 10)
    grid_cont = parts.continuous.reshape(10, 10, 2)
    assert np.all(grid_cat == np.arange(10)[None, :])  # category runs along the columns
    assert np.all(grid_z == grid_z[:, :1])  # one z per row
    assert np.all(grid_cont == grid_cont[:, :1])  # one pair of continuous values per row
    assert len(np.unique(grid_z[:, 0, 0])) == 10  # rows differ


def test_continuous_grid_layout(cfg):
    code = latent.continuous_grid_latent(cfg, np.random.default_rng(3), variable=1)
    parts = latent.split_latent(cfg, code)
    grid_cat = parts.categorical[0].argmax(axis=1).reshape(10, 10)
    assert np.all(grid_cat == np.arange(10)[:, None])  # rows are categories
    sweep = parts.continuous[:, 1].reshape(10, 10)
    np.testing.assert_allclose(sweep, np.tile(latent.CONTINUOUS_SWEEP, (10, 1)), rtol=1e-6)
    other = parts.continuous[:, 0]
    assert np.all(other == other[0])  # the other variable is fixed for the whole grid
    grid_z = parts.z.reshape(10, 10, 16)
    assert np.all(grid_z == grid_z[:, :1])
