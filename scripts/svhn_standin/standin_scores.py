"""The factors of the SVHN stand-in's test images (scripts/svhn_standin/make_svhn_standin.py) and the scores of E's codes
against them, for scripts/svhn_standin/score_standin.py (its --help says what each score and factor group is).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bidirectional_infogan.evaluate import evaluation
from bidirectional_infogan.model.latent import split_latent
from bidirectional_infogan.evaluate.factor_scores import ScoreError, best_of, categorical_entry, pearson, usable

FACTORS_FILE = "factors_test.npz"
NAME_LISTS = ("font_names", "texture_names")  # in the factors file, but not one entry per image
OPTIONS = {"label_prior": "uniform", "neighbours": "standin"}  # one value each, in the file only when not these

NOMINAL = ("digit", "font", "texture", "background_hue_bin", "foreground_hue_bin")
ORDINAL = ("digits_visible", "dark_on_light")
CONTINUOUS = ("background_brightness", "foreground_luma", "contrast", "background_saturation",
              "foreground_saturation", "lighting_strength", "lighting_x", "lighting_y", "shadow", "texture_strength",
              "scale", "rotation", "shear", "aspect", "shift_x", "shift_y", "stroke", "tracking", "blur_radius",
              "noise_sigma", "jpeg_quality")
ANGLES = ("lighting_direction",)
NMI_FACTORS = NOMINAL + ORDINAL + CONTINUOUS + ANGLES  # what each categorical variable is scored against
ETA_FACTORS = NOMINAL  # continuous variables: correlation ratio
R_FACTORS = ORDINAL + CONTINUOUS  # continuous variables: Pearson's r
BINNED = CONTINUOUS + ANGLES
N_BINS = 10
HUE_SATURATION = {"background_hue_bin": "background_saturation", "foreground_hue_bin": "foreground_saturation"}
MIN_SATURATION = 0.2


def add_derived_factors(factors: dict) -> dict:
    """contrast, lighting_x and lighting_y (see the module's text) from the factors they are made of."""
    factors = dict(factors)
    if "foreground_luma" in factors and "background_luma" in factors:
        factors["contrast"] = np.asarray(factors["foreground_luma"], np.float64) - factors["background_luma"]
    if "lighting_strength" in factors and "lighting_direction" in factors:
        strength, direction = np.asarray(factors["lighting_strength"], np.float64), factors["lighting_direction"]
        factors["lighting_x"] = strength * np.cos(direction)
        factors["lighting_y"] = strength * np.sin(direction)
    return factors


def load_standin_factors(data_dir: Path) -> dict:
    """The factors of the stand-in's test images, in the order of test_32x32.mat (with the derived ones)."""
    path = data_dir / FACTORS_FILE
    if not path.is_file():
        raise ScoreError(f"{data_dir} has no {FACTORS_FILE}: not a stand-in written by make_svhn_standin.py "
                         f"(only it has the factors to score against)")
    try:
        with np.load(path) as stored:
            factors = {name: stored[name] for name in stored.files if name not in NAME_LISTS + tuple(OPTIONS)}
    except (OSError, ValueError) as err:
        raise ScoreError(f"cannot read {path}: {err}") from None
    if "digit" not in factors or "font" not in factors:
        raise ScoreError(f"{path} has no 'digit' or 'font' entry: not the factors file of a stand-in of "
                         f"make_svhn_standin.py (a proxy of make_proxy_data.py is scored by score_proxy.py)")
    return add_derived_factors(factors)


def standin_options(data_dir: Path) -> dict:
    """How the stand-in was made: {"label_prior": ..., "neighbours": ...} (make_svhn_standin.py's options; a
    factors file without them was made with the defaults)."""
    with np.load(Path(data_dir) / FACTORS_FILE) as stored:
        return {name: str(stored[name]) if name in stored.files else default for name, default in OPTIONS.items()}


def standin_command(data_dir: Path) -> str | None:
    """The make_svhn_standin.py command that makes this stand-in again, read off its README.txt (seed, counts)
    and factors file (options), or None if README.txt does not say. The fonts must be the same ones
    (README.txt lists them); the output does not depend on --workers."""
    import re
    try:
        readme = (Path(data_dir) / "README.txt").read_text()
    except OSError:
        return None
    seed = re.search(r"\(seed (\d+)\)", readme)
    counts = re.search(r"train_32x32\.mat: (\d+) images; test_32x32\.mat: (\d+) images", readme)
    if not (seed and counts):
        return None
    options = standin_options(data_dir)
    chosen = "".join(f" --{name} {value}" for name, value in options.items() if value != OPTIONS[name])
    return (f"python scripts/svhn_standin/make_svhn_standin.py --out {Path(data_dir).name} --seed {seed[1]} "
            f"--train_count {counts[1]} --test_count {counts[2]}{chosen}")


def per_digit_recall(values: np.ndarray, digits: np.ndarray, n_values: int, mapping: dict) -> list:
    """For each digit 0-9, the share of its test images whose value `mapping` reads as that digit (None for a
    digit with no test image): classification_report's per-class accuracy."""
    report = evaluation.classification_report(values, digits, n_values, 10, mapping)
    return [None if np.isnan(recall) else recall for recall in report["per_class_accuracy"]]


def many_to_one_reading(values: np.ndarray, digits: np.ndarray, n_values: int) -> dict:
    """A variable with more values than digits read many-to-one (each value as its most common digit):
    its accuracy, each digit's recall and the mapping (value -> digit, -1 for an unused value)."""
    mapping = evaluation.majority_mapping(values, digits, n_values, 10)
    read = evaluation.apply_mapping(values, mapping)
    recall = [float(np.mean(read[digits == d] == d)) if np.any(digits == d) else None for d in range(10)]
    return {"accuracy": float(np.mean(read == digits)), "per_digit_recall": recall,
            "mapping": {str(k): v for k, v in mapping.items()}}


def quantile_bins(values, n_bins: int = N_BINS) -> np.ndarray:
    """Bin index 0..n_bins-1 of each value, the bins cut at the values' own quantiles (equal counts); tied
    quantiles merge bins, so a factor that is 0 for most images gets fewer."""
    values = np.asarray(values, np.float64)
    edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, n_bins + 1)[1:-1]))
    return np.searchsorted(edges, values, side="right")


def factor_labels(factors: dict, name: str):
    """(labels 0..k-1, rows) the categorical scores of `name` are computed on: the binned values for a
    continuous factor or an angle, the values themselves otherwise; rows: a boolean mask of the images it is
    scored on (the coloured ones for a hue bin), or None for all. None if the factor is missing or constant."""
    values = factors.get(name)
    if values is None:
        return None
    values, rows = np.asarray(values), None
    if name in HUE_SATURATION:
        saturation = factors.get(HUE_SATURATION[name])
        if saturation is None:
            return None
        rows = np.asarray(saturation) >= MIN_SATURATION
        values = values[rows]
    if name in BINNED and len(values):
        values = quantile_bins(values)
    labels = np.unique(values, return_inverse=True)[1].reshape(-1)
    if len(labels) == 0 or labels.max() < 1:
        return None
    return labels, rows


def score_codes(cfg, codes: np.ndarray, factors: dict) -> dict:
    """Scores of E's codes of the test images against their factors: {'categorical': [...], 'continuous': [...]}."""
    parts = split_latent(cfg, codes)
    labels = {name: factor_labels(factors, name) for name in NMI_FACTORS}
    categorical = []
    for score in evaluation.score_categorical_variables(parts.categorical, np.asarray(factors["digit"]), 10):
        block = parts.categorical[score["variable"] - 1]
        values, n_values = block.argmax(axis=1), block.shape[1]
        nmi = {}
        for name in NMI_FACTORS:
            if labels[name] is None:
                nmi[name] = None
                continue
            factor, rows = labels[name]
            nmi[name] = evaluation.normalized_mutual_information(
                values if rows is None else values[rows], factor, n_values, int(factor.max()) + 1)
        entry = categorical_entry(score, values, nmi)
        entry["per_digit_recall"] = per_digit_recall(values, np.asarray(factors["digit"]), n_values,
                                                     score["mapping"])
        if n_values > 10:
            entry["many_to_one"] = many_to_one_reading(values, np.asarray(factors["digit"]), n_values)
        categorical.append(entry)
    continuous = []
    for j in range(parts.continuous.shape[1]):
        values = np.asarray(parts.continuous[:, j], np.float64)
        eta = {}
        for name in ETA_FACTORS:
            if labels[name] is None:
                eta[name] = None
                continue
            factor, rows = labels[name]
            eta[name] = evaluation.correlation_ratio(values if rows is None else values[rows], factor)
        r = {}
        for name in R_FACTORS:
            factor = usable(factors, name)
            r[name] = None if factor is None else pearson(values, factor)
        best, best_score = best_of({**eta, **r})
        continuous.append({"variable": f"cont{j + 1}", "eta": eta, "r": r, "best_factor": best,
                           "best_score": best_score})
    return {"categorical": categorical, "continuous": continuous}

