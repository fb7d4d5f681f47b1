"""evaluate_model.py's figure modes: --sample, --reconstruct, --generate, --misclassified and --projector."""

from __future__ import annotations

import numpy as np

from pathlib import Path

from bidirectional_infogan.evaluate import evaluation, figures, projector
from bidirectional_infogan.evaluate import visualization as vis
from bidirectional_infogan.data.common import to_float
from bidirectional_infogan.evaluate.inputs import MISCLASSIFIED_NEEDS, Classes, Figure, Inputs, Outcome
from bidirectional_infogan.runs.run_folder import RunFolderError


def sample(inputs: Inputs, classes: Classes | None, confidence: float, row_labels: bool, columns: int | None,
           rng: np.random.Generator) -> Outcome:
    """MNIST: random test images per digit, and per digit the confident images with the smallest and largest
    value of each continuous variable (rows sorted by digit). Otherwise: see `sample_variables`."""
    if classes is None:
        return sample_variables(inputs, row_labels, columns or 20)
    images, n_classes, per_row = inputs.test.images, inputs.test.n_classes, columns or 30
    h = images.shape[1]
    grid, _ = figures.samples_per_class(images, classes.predicted, n_classes, per_row, rng)
    # two rows per digit 0..9, labelled with the categorical value that stands for the digit
    values = [str(v) for v in evaluation.encodings_from_mapping(classes.mapping, n_classes)]
    if row_labels:
        grid = vis.add_row_labels(grid, [label for v in values for label in (v, "")], h)
    shown = [Figure("samples_categorical.png", grid)]
    groups = np.where(classes.probabilities.max(axis=1) > confidence, classes.predicted, -1)  # confident ones
    for j in range(inputs.cfg.continuous_dim):
        grid, smallest, _ = figures.continuous_extremes(images, inputs.parts.continuous[:, j], groups, n_classes,
                                                        per_row)
        if row_labels:
            labels = [f"{value}{sign}" for value in values for sign in ("-", "+")]
            grid = vis.add_row_labels(grid, labels, h, width=30)
        short = [k for k in range(n_classes) if len(smallest[k]) < per_row]
        note = (f"  c{j + 1}: fewer than {per_row} confident images for digit(s) {short}: rows padded with black"
                if short else "")
        shown.append(Figure(f"sample_cont_c{j + 1}.png", grid, note))
    return Outcome(figures=shown)


def sample_variables(inputs: Inputs, row_labels: bool, per_row: int) -> Outcome:
    """Per categorical variable: row k = the 20 (--columns) test images most confidently given value k. Per
    continuous variable: two rows of the smallest values, then two rows of the largest."""
    images = inputs.test.images
    h = images.shape[1]
    shown = []
    for v, probabilities in enumerate(inputs.parts.categorical):
        grid = figures.most_confident(images, probabilities, per_row)
        if row_labels:
            grid = vis.add_row_labels(grid, [str(k) for k in range(probabilities.shape[1])], h)
        shown.append(Figure(f"samples_categorical_c{v + 1}.png", grid))
    everyone = np.zeros(len(images), int)
    for j in range(inputs.cfg.continuous_dim):
        grid, _, _ = figures.continuous_extremes(images, inputs.parts.continuous[:, j], everyone, 1, per_row,
                                                 rows_per_end=2)
        if row_labels:
            grid = vis.add_row_labels(grid, ["low", "low", "high", "high"], h, width=34)
        shown.append(Figure(f"sample_cont_c{j + 1}.png", grid))
    return Outcome(figures=shown)


def reconstruct(inputs: Inputs, columns: int | None, rng: np.random.Generator) -> Outcome:
    """Test images beside G(E(x)), and the mean squared reconstruction error beside that of random pairs."""
    model, test = inputs.model, inputs.test

    def rebuild(images):
        return model.generate(model.encode(images))

    # rows: the digits where the test set has labels; otherwise 10 rows of random test images
    groups = test.labels if test.labels is not None else np.arange(len(test.images)) % 10
    grid = figures.reconstruction_pairs(test.images, groups, rebuild, test.n_classes or 10, columns or 10, rng)
    originals = to_float(test.images)
    reconstructions = model.generate(inputs.codes)
    error = float(np.mean((originals - reconstructions) ** 2))
    shuffled = reconstructions[rng.permutation(len(originals))]
    baseline = float(np.mean((originals - shuffled) ** 2))
    line = (f"Reconstruction MSE over the {len(originals)} test images: {error:.5f} "
            f"(random pairs (x, G(E(x'))): {baseline:.5f}, ratio {error / baseline:.2f})")
    return Outcome({"reconstruction_mse": error, "random_pair_mse": baseline},
                   [Figure("samples_reconstruction.png", grid)], [line])


def generate(inputs: Inputs, rng: np.random.Generator) -> Outcome:
    """Generated grids as the original's: categories (not digits) along the columns / down the rows."""
    categorical, continuous = figures.generated_grids(inputs.cfg, inputs.model.generate, rng)
    one = len(categorical) == 1
    shown = [Figure("generated_imgs_categorical.png" if one else f"generated_imgs_categorical_c{v + 1}.png", grid)
             for v, grid in enumerate(categorical)]
    shown += [Figure(f"generated_imgs_cont_c{j + 1}.png", grid) for j, grid in enumerate(continuous)]
    return Outcome(figures=shown)


def misclassified(inputs: Inputs, classes: Classes | None) -> Outcome:
    """Every misclassified test image, grouped by true digit, marked with the digit the model gave."""
    if classes is None:
        raise RunFolderError(MISCLASSIFIED_NEEDS)
    images, labels = inputs.test.images, inputs.test.labels
    grid, row_labels = figures.misclassified(images, labels, classes.predicted, inputs.test.n_classes, 30)
    grid = vis.add_row_labels(grid, row_labels, images.shape[1])
    wrong = int(np.sum(classes.predicted != labels))
    line = f"{wrong} of {len(labels)} test images misclassified (mapping from {classes.mapping_source})"
    return Outcome({"misclassified": wrong}, [Figure("misclassified.png", grid)], [line])


def projector_embedding(inputs: Inputs, classes: Classes | None, folder: Path, limit: int) -> Outcome:
    """E's codes of the first `limit` test images as a TensorBoard Projector embedding in `folder`: the
    categorical probabilities and continuous values side by side (z is left out: it holds what the code does
    not), each point drawn as its image and labelled with what is known of it."""
    n = min(limit, len(inputs.test.images))
    parts = inputs.parts
    codes = np.concatenate([*parts.categorical, parts.continuous], axis=1)[:n]
    metadata = {}
    if inputs.test.labels is not None:
        metadata["label"] = [inputs.test.class_names[k] for k in inputs.test.labels[:n]]
    if classes is not None:
        metadata["predicted"] = [inputs.test.class_names[k] for k in classes.predicted[:n]]
    for v, probabilities in enumerate(parts.categorical):
        suffix = "" if len(parts.categorical) == 1 else f"_c{v + 1}"
        metadata["category" + suffix] = probabilities[:n].argmax(axis=1)
        metadata["confidence" + suffix] = probabilities[:n].max(axis=1)  # how sure E is of that category
    if inputs.test.attributes is not None:  # CelebA: colour the points by any attribute
        for a, name in enumerate(inputs.test.attribute_names):
            metadata[name] = inputs.test.attributes[:n, a]
    try:
        path = projector.write_projector(folder, codes, inputs.test.images[:n], metadata)
    except ValueError as err:  # e.g. a sprite over the Projector's 8192 px: --projector_images
        raise RunFolderError(f"--projector: {err}") from None
    line = (f"wrote {path} (Projector embedding of {n} test images: {codes.shape[1]} values each); view it with "
            f"tensorboard --logdir {folder}, Projector tab")
    return Outcome({"projector": {"images": n, "dimensions": int(codes.shape[1])}}, lines=[line])

