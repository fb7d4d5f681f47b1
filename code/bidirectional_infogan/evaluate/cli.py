"""evaluate_model.py: accuracy of the categorical code on the test set, and the figures of a trained run; or
several runs compared by how well they agree (--compare)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from bidirectional_infogan.evaluate import visualization as vis
from bidirectional_infogan.util.arguments import OneLineErrorParser, positive_int, seed_int
from bidirectional_infogan.runs.errors import USER_ERRORS
from bidirectional_infogan.runs.run_folder import RunFolderError
from bidirectional_infogan.util.tf_setup import device_line, import_tensorflow
from bidirectional_infogan.evaluate.figure_modes import (generate, misclassified, projector_embedding, reconstruct,
                                                         sample)
from bidirectional_infogan.evaluate.inputs import (MAPPING_FROM_LABELS, MISCLASSIFIED_NEEDS, EncodingsError,
                                                   Outcome, Request, load_inputs, mapping_note, model_source,
                                                   read_classes)
from bidirectional_infogan.evaluate.scoring import evaluate, health_outcome

MODES = ("evaluate", "sample", "reconstruct", "generate", "misclassified", "projector")


def _check_can_make_folder(folder: Path) -> None:
    """Fail before the work, not after it, if `folder` cannot be a folder (it or a parent is a file)."""
    for existing in (folder, *folder.parents):
        if existing.exists():
            if not existing.is_dir():
                raise RunFolderError(f"{folder} cannot be made: {existing} is a file, not a folder")
            return


def figures_dir(request: Request) -> Path:
    """Where the figures go: --output_dir; else RUN_DIR/samples of a run folder; else, for an exported model,
    ./samples/<its folder's name> where the user is (an exported folder such as pretrained/mnist is read only)."""
    if request.args.output_dir:
        return Path(request.args.output_dir).expanduser()
    if request.checkpoint is None:
        return Path("samples") / request.run_dir.resolve().name
    return request.run_dir / "samples"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="evaluate_model.py",
        description="Evaluate a trained Bidirectional-InfoGAN run: test accuracy of its categorical code and "
                    "the figures of the paper. Several modes may be given at once; figures go to "
                    "RUN_DIR/samples/ of a run folder, or to ./samples/NAME/ in the current folder for an exported "
                    "model NAME (its folder is left as it is); these are this tool's output folders, their files "
                    "rewritten on each call. Or, "
                    "with --compare and no --model_dir, compare several runs without labels.")
    parser.add_argument("--model_dir", metavar="RUN_DIR",
                        help="the run folder of a training run, or a folder made by "
                             "scripts/run_tools/export_pretrained.py (encoder.keras, generator.keras, config.json); "
                             "needed by every mode but --compare")
    parser.add_argument("--iteration", type=positive_int,
                        help="checkpoint to use (default: the latest in RUN_DIR/checkpoints; --compare: in each "
                             "run folder)")
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
    modes.add_argument("--projector", action="store_true",
                       help="E's codes of the test images (categorical probabilities and continuous values) as "
                            "a TensorBoard Projector embedding: projector_config.pbtxt, encoder_codes_tensor.tsv, "
                            "encoder_codes_metadata.tsv (label, predicted digit, category and its confidence; "
                            "CelebA: the 40 attributes) and encoder_codes_sprite.png in the output folder; view "
                            "it with tensorboard --logdir RUN_DIR/samples, Projector tab")
    modes.add_argument("--compare", nargs="+", metavar="RUN_OR_FILE",
                       help="instead of --model_dir and the other modes: compare two or more runs of one data set "
                            "by how well their categories of the same test images agree (labels are not read). "
                            "Each is a run folder, an exported model folder or a saved category file (.npy of "
                            "integers, E's most probable category of each test image in test-file order, (N,) "
                            "or (N, V) for V categorical variables). Prints per run its mean agreement (mean "
                            "adjusted mutual information with the others) and mean matched share (Hungarian "
                            "matching), the medoid (the run to pick), the runs flagged as outliers and what "
                            "each run that differs from the medoid splits and merges; docs/health.md, "
                            "'Choosing among several runs'")
    other = parser.add_argument_group("options")
    other.add_argument("--json", metavar="PATH", help="also write every figure of --evaluate (or everything of "
                                                      "--compare) to this JSON file (refuses to overwrite an "
                                                      "existing file)")
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
    other.add_argument("--projector_images", type=positive_int, default=10000, metavar="N",
                       help="--projector: the first N test images (default 10000; the Projector's sprite holds "
                            "at most 8192x8192 pixels)")
    other.add_argument("--output_dir", help="write the images here instead of RUN_DIR/samples (an exported "
                                            "model: ./samples/NAME); a folder that already holds PNG files is "
                                            "refused unless --overwrite is given")
    other.add_argument("--overwrite", action="store_true", help="--output_dir: replace the PNG files there")
    return parser


def check_arguments(args: argparse.Namespace) -> Request:
    """Everything that can be wrong with the arguments, found without TensorFlow (so that bad input is one
    line, exit 2, and fast); a RunFolderError says what."""
    run_dir = Path(args.model_dir).expanduser()
    run, checkpoint, exported_iteration = model_source(run_dir, args.iteration)  # one line if no checkpoint
    if args.misclassified and len(run.model.categorical_dims) != 1:
        raise RunFolderError(MISCLASSIFIED_NEEDS)
    json_path = checked_json_path(args)
    if json_path is not None and not args.evaluate:
        raise RunFolderError("--json writes the figures of --evaluate; add --evaluate")
    if args.output_dir:
        _check_can_make_folder(Path(args.output_dir).expanduser())
    if args.output_dir and not args.overwrite and any(Path(args.output_dir).expanduser().glob("*.png")):
        raise RunFolderError(f"{args.output_dir} already holds PNG files; pass --overwrite to replace them "
                             f"or choose another --output_dir")
    if not 0 < args.confidence < 1:
        raise RunFolderError(f"--confidence must be between 0 and 1, got {args.confidence}")
    return Request(args, run_dir, run, checkpoint, exported_iteration, json_path)


def checked_json_path(args: argparse.Namespace) -> Path | None:
    """--json's path, refused if it exists or cannot be made."""
    json_path = Path(args.json).expanduser() if args.json else None
    if json_path is not None:
        if json_path.exists():
            raise RunFolderError(f"{json_path} exists; choose another --json path (nothing is overwritten)")
        _check_can_make_folder(json_path.parent)
    return json_path


# ---------------------------------------------------------------------------------------------------------

def main(argv=None, out=None) -> int:
    out = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.compare:
        if args.model_dir or any(getattr(args, mode) for mode in MODES):
            parser.error("--compare takes its runs as arguments: leave out --model_dir and the other modes")
        return compare_runs(args, out)
    if not args.model_dir:
        parser.error("the following arguments are required: --model_dir (or --compare)")
    if not any(getattr(args, mode) for mode in MODES):
        parser.error("no mode given: choose one or more of " + ", ".join("--" + m for m in MODES + ("compare",)))
    try:
        request = check_arguments(args)
        import_tensorflow()
        print(device_line(), file=out, flush=True)
        run_modes(request, out)
    except USER_ERRORS + (EncodingsError,) as err:
        print(f"evaluate_model.py: error: {err}", file=sys.stderr)
        return 2
    return 0


def compare_runs(args: argparse.Namespace, out) -> int:
    """--compare: the inputs checked before TensorFlow is imported (it is imported only to encode folders)."""
    from bidirectional_infogan.evaluate import compare_mode

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    try:
        json_path = checked_json_path(args)
        sources = compare_mode.check_sources(args.compare, args.iteration)
        if any(source.categories is None for source in sources):
            import_tensorflow()
            say(device_line())
        compare_mode.compare(sources, args.iteration, args.data_dir, json_path, say)
    except USER_ERRORS as err:
        print(f"evaluate_model.py: error: {err}", file=sys.stderr)
        return 2
    return 0


def run_modes(request: Request, out) -> None:
    """Load the inputs, run the chosen modes in a fixed order (they share one random generator), write their
    figures and print their lines; --json gets their values."""
    from bidirectional_infogan.runs.checkpoints import CheckpointError
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
    samples_dir = figures_dir(request)
    if any((args.sample, args.reconstruct, args.generate, args.misclassified, args.projector)):
        say(f"figures go to {samples_dir}/")
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
    if args.projector:
        show(projector_embedding(inputs, classes, samples_dir, args.projector_images))
    if request.json_path is not None:
        request.json_path.parent.mkdir(parents=True, exist_ok=True)
        request.json_path.write_text(json.dumps({"run_dir": str(request.run_dir), **results}, indent=2) + "\n")
        print(f"wrote {request.json_path}", file=out)
