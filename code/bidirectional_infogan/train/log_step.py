"""What the training loop writes at each log step besides the losses: TensorBoard images (networks in
inference mode), the max-activating validation samples as PNGs, and how well each categorical variable
classifies the validation images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from bidirectional_infogan.evaluate import evaluation, figures, health, visualization
from bidirectional_infogan.model import latent
from bidirectional_infogan.data.common import TrainingData

SAMPLES_PER_ROW = 10  # images per row of the samples_disc/ and samples_cont/ figures
HEALTH_IMAGES = 2000  # validation images of the label-free health at each log step


def log_figures(model, writer, step: int, batch_images: np.ndarray, data: TrainingData, run_dir: Path,
                rng: np.random.Generator) -> str:
    """Generated grids (codes drawn from `rng`) and reconstructions of the batch to TensorBoard,
    max-activating validation samples to samples_disc/ and samples_cont/, and, where the validation images
    have labels, the validation scores. Returns a line for the log ("" without labels)."""
    cfg = model.cfg
    categorical, continuous = figures.generated_grids(cfg, model.generate, rng)
    with writer.as_default(step=step):
        for v, grid in enumerate(categorical):
            tf.summary.image(f"image_categorical_{v}", grid[None])
        for j, grid in enumerate(continuous):
            tf.summary.image(f"image_continuous_{j}", grid[None])
        originals = batch_images[:50]
        reconstructions = model.generate(model.encode(originals))
        tf.summary.image("image_reconstruction", visualization.pair_grid(originals, reconstructions, 5, 10)[None])
    parts = latent.split_latent(cfg, model.encode(data.validation_images))
    save_validation_samples(parts, data.validation_images, step, run_dir)
    if data.validation_labels is None or len(data.validation_labels) == 0:
        return ""
    return log_validation_scores(parts, data.validation_labels, writer, step)


def log_validation_scores(parts: latent.LatentParts, labels: np.ndarray, writer, step: int) -> str:
    """TensorBoard scalars validation/accuracy_c<v> (best one-to-one mapping of the values of categorical
    variable v to the labels, Hungarian algorithm) and validation/nmi_c<v>. Labels are not used in training."""
    n_labels = int(labels.max()) + 1
    scores = []
    with writer.as_default(step=step):
        for score in evaluation.score_categorical_variables(parts.categorical, labels, n_labels):
            v = score["variable"]
            tf.summary.scalar(f"validation/accuracy_c{v}", score["accuracy"])
            tf.summary.scalar(f"validation/nmi_c{v}", score["nmi"])
            scores.append(f"c{v} {score['accuracy']:.2%}")
    return "validation accuracy (Hungarian mapping): " + ", ".join(scores)


def save_validation_samples(parts: latent.LatentParts, validation_images: np.ndarray, step: int,
                            run_dir: Path) -> None:
    """Max-activating validation images.

    samples_disc/<step>_d<v>.png: row k = the 10 validation images most confidently put in category k of
    categorical variable v.
    samples_cont/<step>_c<j>.png, with one categorical variable (MNIST, as the original): for each category
    (columns), the image with the largest (top row) and the smallest (bottom row) value of continuous
    variable j. With several categorical variables (CelebA, SVHN, as the original's result pages): two rows
    of the 20 images with the smallest values, then two rows of the 20 with the largest.
    """
    for v, probabilities in enumerate(parts.categorical):
        grid = figures.most_confident(validation_images, probabilities, SAMPLES_PER_ROW)
        _save_new(Path(run_dir) / "samples_disc" / f"{step}_d{v + 1}.png", grid)
    everyone = np.zeros(len(validation_images), int)
    for j in range(parts.continuous.shape[1]):
        values = parts.continuous[:, j]
        if len(parts.categorical) == 1:
            categories = parts.categorical[0]
            grid = figures.continuous_extremes_per_column(validation_images, values, categories.argmax(axis=1),
                                                          categories.shape[1])
        else:
            grid, _, _ = figures.continuous_extremes(validation_images, values, everyone, 1, SAMPLES_PER_ROW,
                                                     rows_per_end=2)
        _save_new(Path(run_dir) / "samples_cont" / f"{step}_c{j + 1}.png", grid)


def _save_new(path: Path, grid) -> None:
    """Write a PNG unless the file exists (a resumed run recomputes identical figures; keep the first)."""
    if not path.exists():
        visualization.save_png(path, grid)


def log_health(model, writer, step: int, data: TrainingData, run_dir: Path, seed: int) -> str:
    """The label-free health (health.py) at a log step: TensorBoard scalars health/... and one line of
    RUN_DIR/health.jsonl. Returns a line for the log. With fewer than health.MIN_IMAGES validation images only
    G's spread is measured."""
    real = data.validation_images[:HEALTH_IMAGES] if len(data.validation_images) else None
    spread = health.generator_spread(model, seed, real)
    record = {"iteration": step, **spread}
    line = f"G diversity {spread['diversity']:.4f}" + (
        f", colour spread {spread['colour_spread']:.2f} of the data's" if "colour_spread" in spread else "")
    if len(data.validation_images) >= health.MIN_IMAGES:
        scores = health.model_health(model, data.validation_images[:HEALTH_IMAGES], seed)
        record["score"] = scores["score"]
        for part in scores["variables"]:
            for name in ("usage", "information", "stability", "agreement", "score"):
                record[f"{name}_c{part['variable']}"] = part[name]
        early = health.early_note(step, scores["score"])
        line = (f"health {scores['score']:.3f} (threshold {health.HEALTH_THRESHOLD}"
                f"{'; ' + early if early else ''}), {line}")
    with writer.as_default(step=step):
        for name, value in record.items():
            if name != "iteration":
                tf.summary.scalar(f"health/{name}", value)
    health.append_record(Path(run_dir) / "health.jsonl", record)
    return line
