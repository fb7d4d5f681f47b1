"""A run's health without labels: numbers computed from real images, E and G alone.

For each categorical variable, from E's softmax p(x) on real images (inference mode):
  usage        H(mean_x p(x)) / ln K: 1.0 when the real images use every value equally, 0 when all fall in one.
  information  (H(mean_x p(x)) - mean_x H(p(x))) / ln K: the estimate of I(c; x) that IMSAT and IIC maximise,
               normalised; 1.0 when E puts each image in one value with certainty and uses every value
               equally, low when E is unsure between values (two values that share one kind of image).
  stability    the share of real images that keep their value when shifted, rotated and scaled a little
               (augment.geometric_jitter): a value that splits one kind of image by small accidents is unstable.
and from G's images of a fixed set of codes:
  agreement    the share of G(z, c) whose E-argmax is the value c gave: E is G's inverse on the code.
The health score of a variable is the geometric mean of the four; a run's score is that of its best variable.

The spread of G's images (a collapse shows as a falling curve; logged during training):
  diversity      the mean distance between G's images of a fixed batch of codes, as root-mean-square pixel
                 difference per pair;
  sample_entropy per categorical variable, H(mean of E's softmax over G's images) / ln K;
  colour_spread  how much the mean colour of G's images varies, over how much that of real images varies
                 (1.0: as much; a G that draws every image in a few colours falls towards 0 even while its
                 shapes keep the diversity up).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from bidirectional_infogan.model import latent
from bidirectional_infogan.data.augment import geometric_jitter

HEALTH_THRESHOLD = 0.80  # a run whose score is below this is suspect (docs/health.md)
# Before this iteration a score under the threshold is expected, not a sign of a failed run: G still ignores much
# of its code (the robust MNIST runs scored 0.54-0.57 up to 3,000 iterations and 0.97-0.98 from 4,000,
# results/mnist_robust*_trajectory_seed*.json; docs/health.md "Early in a run").
EARLY_ITERATIONS = 5000


def early_note(iteration: int | None, score: float) -> str | None:
    """The words that say a low `score` is expected at `iteration`, or None (a score over the threshold, an
    iteration from EARLY_ITERATIONS on, or one that is not known)."""
    if iteration is None or score >= HEALTH_THRESHOLD or iteration >= EARLY_ITERATIONS:
        return None
    return f"a low score is expected before iteration {EARLY_ITERATIONS:,}"
DIVERSITY_CODES = 256  # G's images per diversity measurement
AGREEMENT_CODES = 1000
MIN_IMAGES = 100  # fewer real images give no usable estimate of the usage


def _entropy(p: np.ndarray, axis=-1) -> np.ndarray:
    p = np.asarray(p, np.float64)
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=axis)


def usage(probabilities: np.ndarray) -> float:
    """H(mean prediction) / ln K for softmax outputs (N, K)."""
    k = probabilities.shape[1]
    return float(_entropy(np.mean(probabilities, axis=0, dtype=np.float64)) / np.log(k))


def information(probabilities: np.ndarray) -> float:
    """(H(mean prediction) - mean per-image entropy) / ln K for softmax outputs (N, K)."""
    k = probabilities.shape[1]
    marginal = _entropy(np.mean(probabilities, axis=0, dtype=np.float64))
    return float((marginal - np.mean(_entropy(probabilities))) / np.log(k))


def stability(probabilities: np.ndarray, jittered_probabilities: np.ndarray) -> float:
    """Share of images whose argmax is the same for the image and its jittered copy."""
    return float(np.mean(np.argmax(probabilities, 1) == np.argmax(jittered_probabilities, 1)))


def combined(components: dict) -> float:
    """Geometric mean of usage, information, stability and agreement (each in [0, 1])."""
    values = [max(float(components[name]), 0.0) for name in ("usage", "information", "stability", "agreement")]
    return float(np.prod(values) ** (1.0 / len(values)))


def diversity(images: np.ndarray) -> float:
    """Mean over all pairs of images of the root-mean-square pixel difference (0 for identical images)."""
    flat = np.asarray(images, np.float64).reshape(len(images), -1)
    # row by row from the differences themselves (identical images give exactly 0)
    distances = [np.sqrt(np.mean((flat[i + 1:] - flat[i]) ** 2, axis=1)) for i in range(len(flat) - 1)]
    return float(np.mean(np.concatenate(distances))) if len(flat) > 1 else 0.0


def colour_spread(images: np.ndarray) -> float:
    """The standard deviation over images of each image's mean value per channel, root mean square over the
    channels (0 when every image has the same mean colour)."""
    flat = np.asarray(images, np.float64).reshape(len(images), -1, np.shape(images)[-1])
    return float(np.sqrt(np.mean(flat.mean(axis=1).var(axis=0))))


def fixed_codes(cfg, n: int, seed: int = 0) -> np.ndarray:
    """The same n codes at every measurement of a run (drawn as in training from a fixed generator)."""
    z, c = latent.sample_latent(cfg, np.random.default_rng([seed, 5, n]), n)
    return np.concatenate([z, c], axis=1)


def model_health(model, real_images: np.ndarray, seed: int = 0) -> dict:
    """Every health number of a trained model (E and G in inference mode) on real images (uint8 or float):
    {"variables": [{"variable", "usage", "information", "stability", "agreement", "score"}, ...],
     "score": the best variable's score, "threshold", "healthy"}."""
    from bidirectional_infogan.data.common import as_float
    cfg = model.cfg
    if len(real_images) < MIN_IMAGES:
        raise ValueError(f"the health needs at least {MIN_IMAGES} real images, got {len(real_images)}")
    images = as_float(real_images)
    jittered = geometric_jitter(images, np.random.default_rng([seed, 6]))
    real = latent.split_latent(cfg, model.encode(images)).categorical
    moved = latent.split_latent(cfg, model.encode(jittered)).categorical
    codes = fixed_codes(cfg, AGREEMENT_CODES, seed)
    given = latent.split_latent(cfg, codes).categorical
    read = latent.split_latent(cfg, model.encode(model.generate(codes))).categorical
    variables = []
    for v in range(len(cfg.categorical_dims)):
        parts = {"variable": v + 1, "usage": usage(real[v]), "information": information(real[v]),
                 "stability": stability(real[v], moved[v]),
                 "agreement": float(np.mean(np.argmax(read[v], 1) == np.argmax(given[v], 1)))}
        parts["score"] = combined(parts)
        variables.append(parts)
    best = max(part["score"] for part in variables)
    return {"variables": variables, "score": best, "threshold": HEALTH_THRESHOLD, "healthy": best >= HEALTH_THRESHOLD}


def generator_spread(model, seed: int = 0, real_images: np.ndarray | None = None) -> dict:
    """G's spread on a fixed batch of codes: {"diversity": ..., "sample_entropy_c1": ..., ...}, and with real
    images (uint8 or float) "colour_spread", G's over theirs."""
    from bidirectional_infogan.data.common import as_float
    cfg = model.cfg
    images = model.generate(fixed_codes(cfg, DIVERSITY_CODES, seed))
    out = {"diversity": diversity(images)}
    if real_images is not None:
        real_spread = colour_spread(as_float(real_images))
        out["colour_spread"] = colour_spread(images) / real_spread if real_spread > 0 else 0.0
    for v, p in enumerate(latent.split_latent(cfg, model.encode(images)).categorical):
        out[f"sample_entropy_c{v + 1}"] = usage(p)
    return out


def append_record(path: Path, record: dict) -> None:
    """Add one line {"iteration": ..., ...} to a .jsonl file, dropping lines of that iteration or later (a resumed
    run logs them again); written to a temporary file and renamed, so a kill leaves the old or the new file."""
    path = Path(path)
    kept = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                if json.loads(line)["iteration"] < record["iteration"]:
                    kept.append(line)
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by an old kill
    kept.append(json.dumps(record))
    partial = path.with_name(path.name + ".partial")
    partial.write_text("\n".join(kept) + "\n")
    os.replace(partial, path)


def read_records(path: Path) -> list[dict]:
    """The records of a health.jsonl file, in iteration order."""
    records = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return sorted(records, key=lambda r: r["iteration"])


def final_over_peak(records: list[dict], key: str = "diversity") -> float:
    """The last value of a health curve over its highest value (1.0: no fall from the peak)."""
    values = [r[key] for r in records]
    return float(values[-1] / max(values)) if values and max(values) > 0 else float("nan")
