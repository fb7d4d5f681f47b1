"""Scoring a run against the known factors of a synthetic data set: the parts that
scripts/investigations/score_proxy.py (the MNIST-stroke proxies) and scripts/svhn_standin/score_standin.py (the
rendered house numbers) share: checking that a factors file describes the test images, walking a run's
checkpoints, E's test codes, best-of and correlation helpers, and the table and JSON forms of the numbers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


class ScoreError(Exception):
    """A run or data folder that cannot be scored (the message is meant for the user)."""


def parse_iterations(text: str, available) -> list[int]:
    """'all' or a comma-separated list of checkpoint iterations, each of which must exist."""
    available = sorted(available)
    if text.strip() == "all":
        return available
    try:
        wanted = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ScoreError(f"--iterations must be 'all' or comma-separated numbers, got '{text}'") from None
    missing = [i for i in wanted if i not in available]
    if not wanted or missing:
        raise ScoreError(f"no checkpoint of iteration {', '.join(map(str, missing or wanted))}; the run has "
                         f"{', '.join(map(str, available))}")
    return wanted


def check_alignment(factors: dict, n_images: int, labels, path: Path) -> None:
    """The factors must describe the test images one by one (same count; SVHN: the same digits)."""
    n = len(factors["digit"])
    if n != n_images:
        raise ScoreError(f"{path} describes {n} test images but the test set has {n_images}: not the factors "
                         f"of these images")
    if labels is not None and not np.array_equal(np.asarray(labels), factors["digit"]):
        raise ScoreError(f"the digits in {path} differ from the test set's labels: not the factors of these images")


def usable(factors: dict, name: str):
    """The factor's values, or None if the file lacks it or it is constant (nothing to score against)."""
    values = factors.get(name)
    if values is None or len(np.unique(values)) < 2:
        return None
    return np.asarray(values)


def pearson(a, b) -> float:
    """Pearson's r (np.corrcoef); NaN if either is constant."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def best_of(scores: dict) -> tuple[str | None, float | None]:
    """(name, score) of the largest absolute score that is not None or NaN; (None, None) if there is none or
    it is 0 (a variable that carries nothing, e.g. one E puts every image in the same value of)."""
    known = {k: abs(v) for k, v in scores.items() if v is not None and not math.isnan(v)}
    if not known or max(known.values()) < 1e-9:
        return None, None
    name = max(known, key=known.get)
    return name, known[name]


def categorical_entry(score: dict, values, nmi: dict) -> dict:
    """A categorical variable's entry of score_codes, from its score_categorical_variables `score`, values, NMI."""
    best, best_nmi = best_of(nmi)
    return {"variable": f"c{score['variable']}", "values_used": len(np.unique(values)),
            "accuracy_digit": score["accuracy"], "mapping_digit": {str(k): v for k, v in score["mapping"].items()},
            "nmi": nmi, "best_factor": best, "best_score": best_nmi}


def checkpoint_models(run_dir: Path, iterations, available: dict):
    """(iteration, model) for each of `iterations` in turn: the networks are built once, from the run's
    config.json, and only the weights change from one checkpoint to the next (available: iteration ->
    checkpoint prefix, run_folder.list_checkpoints). ScoreError for a checkpoint that cannot be read."""
    from bidirectional_infogan.runs.checkpoints import CheckpointError, load_trained_model, restore
    model = None
    for iteration in iterations:
        try:
            if model is None:
                model, _, _ = load_trained_model(run_dir, iteration)
            else:  # the same networks: only the weights change
                restore(model, available[iteration])
        except CheckpointError as err:
            raise ScoreError(str(err)) from None
        yield iteration, model


def encode_test_images(model, run_dir: Path, iteration: int, images, cache: bool = True) -> np.ndarray:
    """E's codes of the test images in inference mode: from the run folder's cache of test codes
    (code_cache.cached_test_codes, computed and stored there on first use), or computed afresh when `cache`
    is False or the run folder is read-only."""
    from bidirectional_infogan.evaluate.code_cache import cached_test_codes
    if cache:
        try:
            return cached_test_codes(model, run_dir, iteration, images)[0]
        except OSError:  # a read-only run folder: no cache
            pass
    return model.encode(images)


def text(value, form: str, width: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-".rjust(width)
    return format(value, form).rjust(width)


def no_nan(value):
    """NaN -> None throughout (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [no_nan(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
