"""evaluate_model.py: accuracy of the categorical code on the test set, and the figures of a trained run."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import evaluation, figures
from . import visualization as vis
from .cli import USER_ERRORS, OneLineErrorParser, positive_int, seed_int
from .config import ModelConfig, RunConfig
from .data.common import TestSet, to_float
from .latent import LatentParts, split_latent
from .pretrained import check_exported_folder, is_exported_folder
from .run_folder import RunFolderError, choose_checkpoint, load_run_config
from .tf_setup import device_line, import_tensorflow

MODES = ("evaluate", "sample", "reconstruct", "generate", "misclassified")


def _check_can_make_folder(folder: Path) -> None:
    """Fail before the work, not after it, if `folder` cannot be a folder (it or a parent is a file)."""
    for existing in (folder, *folder.parents):
        if existing.exists():
            if not existing.is_dir():
                raise RunFolderError(f"{folder} cannot be made: {existing} is a file, not a folder")
            return


class EncodingsError(ValueError):
    """An encodings.txt that is not a permutation of the categories."""


def parse_encodings(text: str, n_classes: int, source: str = "encodings.txt") -> list[int]:
    """Parse 'c0,c1,...' (or one value per line): entry i is the category that encodes class i; must be a
    permutation of 0..n-1."""
    entries = [e.strip() for e in re.split(r"\s*,\s*|\s*\n\s*", text.strip())]
    if entries == [""]:
        raise EncodingsError(f"{source} is empty; it needs {n_classes} comma-separated categories "
                             f"(entry i = the category that encodes digit i)")
    values = []
    for position, entry in enumerate(entries):
        if entry == "":
            raise EncodingsError(f"{source}: entry {position} is empty")
        try:
            values.append(int(entry))
        except ValueError:
            raise EncodingsError(f"{source}: entry {position} ('{entry}') is not an integer") from None
    if len(values) != n_classes:
        raise EncodingsError(f"{source} has {len(values)} entries; it needs {n_classes} "
                             f"(entry i = the category that encodes digit i)")
    for position, value in enumerate(values):
        if not 0 <= value < n_classes:
            raise EncodingsError(f"{source}: entry {position} is {value}; categories are 0..{n_classes - 1}")
    for value in set(values):
        positions = [i for i, v in enumerate(values) if v == value]
        if len(positions) > 1:
            raise EncodingsError(f"{source}: category {value} appears more than once (entries "
                                 f"{', '.join(map(str, positions))}); each category encodes one digit")
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="evaluate_model.py",
        description="Evaluate a trained Bidirectional-InfoGAN run: test accuracy of its categorical code and "
                    "the figures of the paper. Several modes may be given at once; figures go to "
                    "RUN_DIR/samples/ (this tool's output folder: its files are rewritten on each call).")
    parser.add_argument("--model_dir", required=True, metavar="RUN_DIR",
                        help="the run folder of a training run, or a folder made by scripts/export_pretrained.py "
                             "(encoder.keras, generator.keras, config.json)")
    parser.add_argument("--iteration", type=positive_int,
                        help="checkpoint to use (default: the latest in RUN_DIR/checkpoints)")
    modes = parser.add_argument_group("modes (at least one)")
    modes.add_argument("--evaluate", action="store_true",
                       help="MNIST: test accuracy under RUN_DIR/encodings.txt (entry i = the category that "
                            "encodes digit i); without that file, under the best one-to-one mapping found from "
                            "the test labels (Hungarian algorithm). Also NMI, ARI, purity, per-class accuracy "
                            "and the confusion matrix. SVHN: accuracy (best mapping) and NMI of each "
                            "categorical variable. CelebA: for each of the 40 attributes, the categorical value "
                            "or continuous variable that predicts it best, with its AUC")
    modes.add_argument("--sample", action="store_true",
                       help="MNIST: samples_categorical.png, 60 random test images per predicted digit (two "
                            "rows of 30 per digit, digits 0..9 from the top), and sample_cont_c<j>.png, per digit "
                            "a row of the 30 confidently classified "
                            "test images with the smallest value of continuous variable j, then a row with the "
                            "largest. CelebA, SVHN: samples_categorical_c<v>.png, row k = the 20 test images "
                            "most confidently given value k of categorical variable v, and sample_cont_c<j>.png, "
                            "two rows of the smallest values of continuous variable j, then two of the largest")
    modes.add_argument("--reconstruct", action="store_true",
                       help="samples_reconstruction.png: 20 random test images per digit (two rows of 10 pairs "
                            "per digit; CelebA: 20 rows of random test images), each followed by G(E(x)); prints "
                            "the mean squared reconstruction error beside that of random (x, G(E(x'))) pairs")
    modes.add_argument("--generate", action="store_true",
                       help="generated_imgs_categorical.png (CelebA, SVHN: one file per categorical variable, "
                            "_c<v>): 10x10 generated images, z and continuous values fixed per row, the "
                            "category 0..9 along the columns; "
                            "generated_imgs_cont_c<j>.png: continuous variable j swept from -2 to 2 along the "
                            "columns, one row per value of the first categorical variable")
    modes.add_argument("--misclassified", action="store_true",
                       help="misclassified.png (MNIST): every misclassified test image, grouped by true digit "
                            "(one block of rows each, labelled on the left), each marked with the digit the "
                            "model gave")
    other = parser.add_argument_group("options")
    other.add_argument("--json", metavar="PATH", help="also write every figure of --evaluate to this JSON file "
                                                      "(refuses to overwrite an existing file)")
    other.add_argument("--data_dir", help="folder of the data set (default: the one the run was trained on)")
    other.add_argument("--seed", type=seed_int, default=12345, help="seed of the random choices in the figures "
                                                               "(default 12345)")
    other.add_argument("--confidence", type=float, default=0.996,
                       help="--sample: softmax confidence above which an image counts as confidently "
                            "classified (default 0.996, as the original)")
    other.add_argument("--row_labels", action="store_true",
                       help="--sample: write in a margin on the left the categorical value of each row (MNIST: "
                            "rows are sorted by the digit the value stands for; '-' and '+' mark the rows of "
                            "small and large continuous values)")
    other.add_argument("--columns", type=positive_int,
                       help="images per row of the --sample figures (default 30, as the original) and pairs per "
                            "row of --reconstruct (default 10); smaller figures suit a README")
    other.add_argument("--output_dir", help="write the images here instead of RUN_DIR/samples (a folder that "
                                            "already holds PNG files is refused unless --overwrite is given)")
    other.add_argument("--overwrite", action="store_true", help="--output_dir: replace the PNG files there")
    return parser


# ---------------------------------------------------------------------------------------------------------
# The arguments, checked before TensorFlow is imported

MISCLASSIFIED_NEEDS = ("--misclassified needs a run with one categorical variable that classifies the test labels "
                       "(MNIST)")


@dataclass
class Request:
    """The checked arguments, with what checking them found: the run's config and which model to load."""

    args: argparse.Namespace
    run_dir: Path
    run: RunConfig
    checkpoint: tuple[int, str] | None  # (iteration, prefix) in a run folder; None for an exported folder
    exported_iteration: int | None  # an exported folder's iteration (from its results.json)
    json_path: Path | None


def check_arguments(args: argparse.Namespace) -> Request:
    """Everything that can be wrong with the arguments, found without TensorFlow (so that bad input is one
    line, exit 2, and fast); a RunFolderError says what."""
    run_dir = Path(args.model_dir).expanduser()
    run = load_run_config(run_dir)
    if args.misclassified and len(run.model.categorical_dims) != 1:
        raise RunFolderError(MISCLASSIFIED_NEEDS)
    checkpoint, exported_iteration = None, None
    if is_exported_folder(run_dir):
        exported_iteration = check_exported_folder(run_dir, args.iteration).get("iteration")
    else:
        checkpoint = choose_checkpoint(run_dir, args.iteration)  # one line if there is none (of that iteration)
    json_path = Path(args.json).expanduser() if args.json else None
    if json_path is not None and json_path.exists():
        raise RunFolderError(f"{json_path} exists; choose another --json path (nothing is overwritten)")
    if json_path is not None and not args.evaluate:
        raise RunFolderError("--json writes the figures of --evaluate; add --evaluate")
    for path in filter(None, (args.output_dir, json_path and json_path.parent)):
        _check_can_make_folder(Path(path).expanduser())
    if args.output_dir and not args.overwrite and any(Path(args.output_dir).expanduser().glob("*.png")):
        raise RunFolderError(f"{args.output_dir} already holds PNG files; pass --overwrite to replace them "
                             f"or choose another --output_dir")
    if not 0 < args.confidence < 1:
        raise RunFolderError(f"--confidence must be between 0 and 1, got {args.confidence}")
    return Request(args, run_dir, run, checkpoint, exported_iteration, json_path)


# ---------------------------------------------------------------------------------------------------------
# What every mode works from, built once

@dataclass
class Inputs:
    """A trained model at one checkpoint (or an exported one), the test set and E's codes of it."""

    run_dir: Path
    cfg: ModelConfig
    model: object  # encode(images) and generate(codes): model.BidirectionalInfoGAN or pretrained.ExportedModel
    iteration: int | None
    test: TestSet
    codes: np.ndarray
    parts: LatentParts
    origin: str  # the line that says which model it is and where the codes came from


@dataclass
class Classes:
    """An MNIST-like run (one categorical variable with at least as many values as the test set has classes):
    its categories mapped to the classes, as a classifier."""

    probabilities: np.ndarray  # the categorical variable's softmax, (N, n_categories)
    categories: np.ndarray  # the most probable category of each test image
    mapping: dict
    mapping_source: str  # "encodings.txt" or MAPPING_FROM_LABELS
    predicted: np.ndarray  # the class of each test image under the mapping


MAPPING_FROM_LABELS = "test labels (Hungarian algorithm)"


def load_inputs(request: Request, say=print) -> Inputs:
    """Load the test set and the model, and encode the test set (a run folder caches the codes)."""
    from .checkpoints import model_from_checkpoint
    from .code_cache import cached_test_codes
    from .evaluation_data import load_test_set
    from .pretrained import ExportedModel

    run, run_dir, data_dir = request.run, request.run_dir, request.args.data_dir
    if request.checkpoint is None:
        # An exported model (scripts/export_pretrained.py): its .keras files, no checkpoints, no code cache.
        # The data folder in its config.json is the training machine's: the data set's default location
        # (MNIST and SVHN: the download cache) or --data_dir instead.
        data = {k: v for k, v in run.data.items() if k not in ("data_dir", "cache_dir")}
        test = load_test_set(dataclasses.replace(run, data=data), data_dir)
        model, iteration = ExportedModel(run_dir, run.model), request.exported_iteration
        codes = model.encode(test.images)
        origin = f"Exported model: iteration {iteration} (test set encoded)"
    else:
        from .checkpoints import intact_checkpoint
        asked = request.args.iteration
        iteration, prefix = intact_checkpoint(run_dir, asked, say)  # a damaged newest one is skipped, saying so
        test = load_test_set(run, data_dir)
        model = model_from_checkpoint(run, prefix)
        codes, cached = cached_test_codes(model, run_dir, iteration, test.images)
        origin = f"Checkpoint: iteration {iteration} ({'test codes from the cache' if cached else 'test set encoded'})"
    return Inputs(run_dir, run.model, model, iteration, test, codes, split_latent(run.model, codes), origin)


def read_classes(inputs: Inputs) -> Classes | None:
    """The run as a classifier of the test labels (None if it is not MNIST-like): categories mapped to classes
    by RUN_DIR/encodings.txt, or else by the best one-to-one mapping on the test labels."""
    cfg, test = inputs.cfg, inputs.test
    if not (len(cfg.categorical_dims) == 1 and test.labels is not None and cfg.categorical_dims[0] >= test.n_classes):
        return None
    probabilities = inputs.parts.categorical[0]
    categories = probabilities.argmax(axis=1)
    path = inputs.run_dir / "encodings.txt"
    if path.is_file():
        encodings = parse_encodings(path.read_text(), test.n_classes, str(path))
        mapping, source = evaluation.mapping_from_encodings(encodings), "encodings.txt"
    else:
        mapping = evaluation.hungarian_mapping(categories, test.labels, cfg.categorical_dims[0], test.n_classes)
        source = MAPPING_FROM_LABELS
    return Classes(probabilities, categories, mapping, source, evaluation.apply_mapping(categories, mapping))


def mapping_note(inputs: Inputs, classes: Classes) -> str:
    """What to say when the categories were mapped to classes on the test labels."""
    path = inputs.run_dir / "encodings.txt"
    encodings = evaluation.encodings_from_mapping(classes.mapping, inputs.test.n_classes)
    return (f"No {path.name} in {inputs.run_dir}: mapping categories to digits with the Hungarian "
            f"algorithm on the test labels:\n  {','.join(map(str, encodings))}\n"
            f"  (encodings.txt form: entry i = the category that encodes digit i; save it as "
            f"{path} to fix the mapping)")


# ---------------------------------------------------------------------------------------------------------
# The modes: each returns its values, figures and lines; main() writes and prints them

@dataclass
class Figure:
    name: str  # file name in the output folder
    grid: np.ndarray
    note: str = ""  # printed after the line that names the written file


@dataclass
class Outcome:
    values: dict = field(default_factory=dict)  # for --json
    figures: list[Figure] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # printed after the figures are written


def evaluate(inputs: Inputs, classes: Classes | None) -> Outcome:
    """MNIST: the classifier's scores; SVHN: each categorical variable's; CelebA: each attribute's best
    predictor."""
    if classes is not None:
        report = classifier_scores(inputs, classes)
        return Outcome(report, lines=classifier_lines(report))
    if inputs.test.labels is not None:
        report = variable_scores(inputs)
        return Outcome(report, lines=variable_lines(report))
    report = attribute_scores(inputs)
    return Outcome(report, lines=attribute_lines(report))


def health_outcome(inputs: Inputs) -> Outcome:
    """The label-free health of the model (health.py) on the test images, for --evaluate."""
    from . import health
    if len(inputs.test.images) < health.MIN_IMAGES:  # the scores above still stand; only the health is left out
        return Outcome({"health": None}, lines=[f"Health without labels: not computed (it needs at least "
                                                f"{health.MIN_IMAGES} test images, this test set has "
                                                f"{len(inputs.test.images)})"])
    report = health.model_health(inputs.model, inputs.test.images)
    verdict = "healthy" if report["healthy"] else "suspect"
    lines = [f"Health without labels: {report['score']:.3f} ({verdict}; threshold {report['threshold']}, "
             "docs/health.md)"]
    for part in report["variables"]:
        lines.append(f"  categorical {part['variable']}: usage {part['usage']:.3f}, information "
                     f"{part['information']:.3f}, stability {part['stability']:.3f}, E(G(c)) = c "
                     f"{part['agreement']:.3f}; score {part['score']:.3f}")
    return Outcome({"health": report}, lines=lines)


def classifier_scores(inputs: Inputs, classes: Classes) -> dict:
    labels = inputs.test.labels
    report = evaluation.classification_report(classes.categories, labels, inputs.cfg.categorical_dims[0],
                                              inputs.test.n_classes, classes.mapping)
    report.update(iteration=inputs.iteration, mapping_source=classes.mapping_source, n_test=len(labels))
    return report


def classifier_lines(report: dict) -> list[str]:
    n_test, confusion = report["n_test"], report["confusion_matrix"]
    lines = [f"Accuracy: {report['accuracy']:.4f} ({n_test - report['errors']} of {n_test} test images; mapping "
             f"from {report['mapping_source']})",
             f"NMI: {report['nmi']:.4f}   ARI: {report['ari']:.4f}   purity: {report['purity']:.4f} (mapping-free)",
             "Per-class accuracy: " + "  ".join(f"{k}: {a:.3f}" for k, a in enumerate(report["per_class_accuracy"])),
             "Confusion matrix (rows: true digit, columns: predicted digit):",
             "       " + "".join(f"{k:>6}" for k in range(len(confusion)))]
    return lines + [f"  {k:>3}  " + "".join(f"{v:>6}" for v in row) for k, row in enumerate(confusion)]


def variable_scores(inputs: Inputs) -> dict:
    """SVHN: each categorical variable as a classifier of the digits, under its best mapping."""
    labels, n_classes = inputs.test.labels, inputs.test.n_classes
    variables = []
    for v, probabilities in enumerate(inputs.parts.categorical):
        values = probabilities.argmax(axis=1)
        n_values = probabilities.shape[1]
        mapping = evaluation.hungarian_mapping(values, labels, n_values, n_classes)
        report = evaluation.classification_report(values, labels, n_values, n_classes, mapping)
        report["variable"] = f"c{v + 1}"
        variables.append(report)
    return {"iteration": inputs.iteration, "n_test": len(labels), "variables": variables}


def variable_lines(result: dict) -> list[str]:
    lines = [f"Each categorical variable against the {result['n_test']} test labels (best one-to-one mapping "
             f"of its values to digits, Hungarian algorithm):",
             f"  {'variable':<9}{'accuracy':>9}{'NMI':>8}{'ARI':>8}{'purity':>8}  mapping (entry i = value "
             f"for digit i)"]
    for report in result["variables"]:
        encodings = ",".join(map(str, report["encodings"])) if report["encodings"] else "-"
        lines.append(f"  {report['variable']:<9}{report['accuracy']:>9.4f}{report['nmi']:>8.4f}"
                     f"{report['ari']:>8.4f}{report['purity']:>8.4f}  {encodings}")
    return lines


def attribute_scores(inputs: Inputs) -> dict:
    """CelebA: for each attribute, the categorical value or continuous variable that predicts it best."""
    test, parts = inputs.test, inputs.parts
    names, scores = [], []
    for v, probabilities in enumerate(parts.categorical):
        for k in range(probabilities.shape[1]):
            names.append(f"c{v + 1}={k}")
            scores.append(probabilities[:, k])
    for j in range(inputs.cfg.continuous_dim):
        for sign, label in ((1, "high"), (-1, "low")):
            names.append(f"cont{j + 1} {label}")
            scores.append(sign * parts.continuous[:, j])
    auc = evaluation.auc_matrix(np.stack(scores, axis=1), test.attributes)
    rows = []
    for a, name in enumerate(test.attribute_names):
        best = int(np.nanargmax(auc[a])) if not np.all(np.isnan(auc[a])) else 0
        share = float(test.attributes[:, a].mean())
        rows.append({"attribute": name, "positives": share, "best_predictor": names[best],
                     "auc": float(auc[a, best])})
    return {"iteration": inputs.iteration, "n_test": len(test.images), "attributes": rows,
            "predictors": names, "auc": auc.tolist()}


def attribute_lines(result: dict) -> list[str]:
    lines = [f"Best single predictor of each attribute on the {result['n_test']} test images "
             f"(AUC; 0.5 = chance). cK=k: probability that categorical variable K takes value k; "
             f"contJ high/low: the value of continuous variable J, large or small",
             f"  {'attribute':<22}{'positives':>10}  {'best predictor':<16}{'AUC':>7}"]
    for row in sorted(result["attributes"], key=lambda r: -r["auc"]):
        lines.append(f"  {row['attribute']:<22}{row['positives']:>9.1%}  {row['best_predictor']:<16}"
                     f"{row['auc']:>7.3f}")
    return lines


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


# ---------------------------------------------------------------------------------------------------------

def main(argv=None, out=None) -> int:
    out = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    if not any(getattr(args, mode) for mode in MODES):
        parser.error("no mode given: choose one or more of " + ", ".join("--" + m for m in MODES))
    try:
        request = check_arguments(args)
        import_tensorflow()
        print(device_line(), file=out, flush=True)
        run_modes(request, out)
    except USER_ERRORS + (EncodingsError,) as err:
        print(f"evaluate_model.py: error: {err}", file=sys.stderr)
        return 2
    return 0


def run_modes(request: Request, out) -> None:
    """Load the inputs, run the chosen modes in a fixed order (they share one random generator), write their
    figures and print their lines; --json gets their values."""
    from .checkpoints import CheckpointError
    args = request.args

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    try:
        inputs = load_inputs(request, say)
    except CheckpointError as err:
        raise RunFolderError(str(err)) from None
    say(inputs.origin)
    classes = read_classes(inputs)
    if classes is not None and classes.mapping_source == MAPPING_FROM_LABELS:
        say(mapping_note(inputs, classes))
    samples_dir = Path(args.output_dir).expanduser() if args.output_dir else request.run_dir / "samples"
    rng = np.random.default_rng(args.seed)
    results = {}

    def show(outcome: Outcome) -> None:
        for figure in outcome.figures:
            path = vis.save_png(samples_dir / figure.name, figure.grid)
            say(f"wrote {path} ({figure.grid.shape[1]}x{figure.grid.shape[0]})")
            if figure.note:
                say(figure.note)
        for line in outcome.lines:
            say(line)
        results.update(outcome.values)

    if args.evaluate:
        show(evaluate(inputs, classes))
        show(health_outcome(inputs))
    if args.sample:
        show(sample(inputs, classes, args.confidence, args.row_labels, args.columns, rng))
    if args.reconstruct:
        show(reconstruct(inputs, args.columns, rng))
    if args.generate:
        show(generate(inputs, rng))
    if args.misclassified:
        show(misclassified(inputs, classes))
    if request.json_path is not None:
        request.json_path.parent.mkdir(parents=True, exist_ok=True)
        request.json_path.write_text(json.dumps({"run_dir": str(request.run_dir), **results}, indent=2) + "\n")
        print(f"wrote {request.json_path}", file=out)
