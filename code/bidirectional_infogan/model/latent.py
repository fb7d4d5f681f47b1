"""The latent code: sampling it, splitting E's output into its parts, and the fixed grids for figures.

Layout (one place owns it): concat(z, one-hot of categorical variable 1, ..., continuous values). z and the
continuous values are uniform in [-1, 1]; each categorical variable is uniform over its values (or, with
--categorical_prior learned, drawn from the model's learned prior).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bidirectional_infogan.model.config import ModelConfig

# The sweep of a continuous variable in the original's figures (columns of the continuous grid).
CONTINUOUS_SWEEP = (-2.0, -1.5, -1.0, -0.5, -0.1, 0.1, 0.5, 1.0, 1.5, 2.0)


@dataclass
class LatentParts:
    """A latent code split into z, a list of categorical blocks and the continuous block."""

    z: np.ndarray
    categorical: list
    continuous: np.ndarray


def sample_latent(cfg: ModelConfig, rng: np.random.Generator, batch_size: int,
                  priors=None) -> tuple[np.ndarray, np.ndarray]:
    """Draw (z, c) for one batch: z uniform in [-1, 1]; c = one-hot categoricals then uniform continuous.
    `priors` (--categorical_prior learned): the probabilities of the values of the first len(priors) categorical
    variables, which are then drawn from them instead of uniformly."""
    z = rng.uniform(-1.0, 1.0, size=(batch_size, cfg.z_dim))
    priors = [np.asarray(p, np.float64) / np.sum(p, dtype=np.float64) for p in priors or []]
    blocks = [np.eye(n)[rng.choice(n, size=batch_size, p=priors[i]) if i < len(priors)
                        else rng.integers(0, n, size=batch_size)] for i, n in enumerate(cfg.categorical_dims)]
    blocks.append(rng.uniform(-1.0, 1.0, size=(batch_size, cfg.continuous_dim)))
    return z.astype(np.float32), np.concatenate(blocks, axis=1).astype(np.float32)


def split_latent(cfg: ModelConfig, code) -> LatentParts:
    """Split (batch, latent_dim) codes (E's output, or concat(z, c)) into z, categoricals and continuous."""
    z = code[:, :cfg.z_dim]
    categorical, start = [], cfg.z_dim
    for n in cfg.categorical_dims:
        categorical.append(code[:, start:start + n])
        start += n
    continuous = code[:, start:start + cfg.continuous_dim]
    return LatentParts(z=z, categorical=categorical, continuous=continuous)


def latent_blocks(cfg: ModelConfig) -> list[tuple[str, int]]:
    """The named blocks of the layout, in order: ("z", z_dim), ("categorical_1", n_1), ...,
    ("categorical_K", n_K), ("continuous", continuous_dim) (left out when there are no continuous variables).

    These names are the keys of the exported networks' dicts (scripts/run_tools/export_pretrained.py): the encoder
    returns such a dict, the generator takes one."""
    blocks = [("z", cfg.z_dim)]
    blocks += [(f"categorical_{i + 1}", n) for i, n in enumerate(cfg.categorical_dims)]
    if cfg.continuous_dim:
        blocks.append(("continuous", cfg.continuous_dim))
    return blocks


def latent_to_dict(cfg: ModelConfig, code) -> dict:
    """(batch, latent_dim) codes -> {name: (batch, size)} in the names of `latent_blocks`."""
    out, start = {}, 0
    for name, size in latent_blocks(cfg):
        out[name] = code[:, start:start + size]
        start += size
    return out


def latent_from_dict(cfg: ModelConfig, blocks: dict) -> np.ndarray:
    """{name: (batch, size)} in the names of `latent_blocks` -> (batch, latent_dim) float32 codes."""
    expected = latent_blocks(cfg)
    if set(blocks) != {name for name, _ in expected}:
        raise ValueError(f"the latent dict has keys {sorted(blocks)}; expected "
                         f"{[name for name, _ in expected]}")
    parts = []
    for name, size in expected:
        part = np.asarray(blocks[name], np.float32)
        if part.ndim != 2 or part.shape[1] != size:
            raise ValueError(f"latent block '{name}' has shape {part.shape}; expected (batch, {size})")
        parts.append(part)
    return np.concatenate(parts, axis=1)


def join_latent(cfg: ModelConfig, z, categorical_values, continuous) -> np.ndarray:
    """Build concat(z, c) from integer categorical values (batch, n_categorical) and continuous values."""
    categorical_values = np.asarray(categorical_values).reshape(len(z), len(cfg.categorical_dims))
    blocks = [np.asarray(z, np.float64)]
    blocks += [np.eye(n)[categorical_values[:, i]] for i, n in enumerate(cfg.categorical_dims)]
    blocks.append(np.asarray(continuous, np.float64).reshape(len(z), cfg.continuous_dim))
    return np.concatenate(blocks, axis=1).astype(np.float32)


def categorical_grid_latent(cfg: ModelConfig, rng: np.random.Generator, variable: int = 0) -> np.ndarray:
    """Codes for the categorical figure: rows x columns = other factors x values of one categorical variable.

    Row r has its own z and its own continuous values; column k sets `variable` to k. The other categorical
    variables hold one random value for the whole grid (as in the original). Returns (rows * cols, latent).
    """
    cols = cfg.categorical_dims[variable]
    rows = 10
    z = np.repeat(rng.uniform(-1, 1, size=(rows, cfg.z_dim)), cols, axis=0)
    continuous = np.repeat(rng.uniform(-1, 1, size=(rows, cfg.continuous_dim)), cols, axis=0)
    fixed = [rng.integers(0, n) for n in cfg.categorical_dims]
    values = np.tile(fixed, (rows * cols, 1))
    values[:, variable] = np.tile(np.arange(cols), rows)
    return join_latent(cfg, z, values, continuous)


def continuous_grid_latent(cfg: ModelConfig, rng: np.random.Generator, variable: int,
                           sweep=CONTINUOUS_SWEEP) -> np.ndarray:
    """Codes for the continuous figure of one variable: rows = values of the first categorical variable,
    columns = `sweep` values of continuous `variable`.

    z is fixed per row; the other continuous variables (and other categorical variables) hold one random
    value for the whole grid. Returns (rows * len(sweep), latent).
    """
    rows, cols = cfg.categorical_dims[0], len(sweep)
    z = np.repeat(rng.uniform(-1, 1, size=(rows, cfg.z_dim)), cols, axis=0)
    continuous = np.tile(rng.uniform(-1, 1, size=(1, cfg.continuous_dim)), (rows * cols, 1))
    continuous[:, variable] = np.tile(np.asarray(sweep, np.float64), rows)
    fixed = [rng.integers(0, n) for n in cfg.categorical_dims]
    values = np.tile(fixed, (rows * cols, 1))
    values[:, 0] = np.repeat(np.arange(rows), cols)
    return join_latent(cfg, z, values, continuous)
