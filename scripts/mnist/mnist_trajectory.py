"""Test accuracy (Hungarian mapping) and label-free health (docs/health.md) of every checkpoint of an MNIST run,
to compare a run's course with the reference trajectory.

    python scripts/mnist/mnist_trajectory.py RUN_DIR [--output FILE]

FILE defaults to results/mnist_trajectory_seed<SEED>.json for a run at the paper's settings and to
results/mnist_<RECIPE>_trajectory_seed<SEED>.json for one at a recipe's values (train_mnist.py --recipe); a run
with other flags needs --output (the robust-mode trajectories in results/ were written so). A file that holds
another run's trajectory is never replaced. Each checkpoint's test categories (E's most probable category of each
test image, uint8 .npy) are saved too, for scripts/mnist/run_selection.py (--categories_dir).

Train with `--checkpoint_every 1000 --keep_checkpoints 40` (loop settings only: they do not change the
trajectory) to have a checkpoint every 1,000 iterations (40 leaves room for the checkpoints that stopping and
resuming add).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bidirectional_infogan.datasets import DATASETS
from bidirectional_infogan.util.arguments import fail

PROGRAM = "mnist_trajectory.py"
ROOT = Path(__file__).resolve().parents[2]


def default_output(seed: int, flags: dict) -> Path | None:
    """Where a run's trajectory goes unless --output says: named after the seed and the recipe, so that a recipe's
    run of a seed does not replace the defaults' (None: a run at no recipe's values)."""
    import find_paper_run  # this folder is on the path when this runs as a script
    from mnist_results import changed_flags
    for recipe in DATASETS["mnist"].recipes:
        if changed_flags(flags) == changed_flags(find_paper_run.paper_settings("mnist", f"--recipe {recipe}")):
            prefix = "mnist" if recipe == "paper" else f"mnist_{recipe}"
            return ROOT / "results" / f"{prefix}_trajectory_seed{seed}.json"
    return None


def holder(path: Path) -> str | None:
    """The run whose trajectory `path` holds ("" if it is not a trajectory file), None if there is no file."""
    if not path.exists():
        return None
    try:
        held = json.loads(path.read_text())
    except (OSError, ValueError):
        return ""
    return held.get("run", "") if isinstance(held, dict) else ""


def main() -> None:
    parser = argparse.ArgumentParser(
        allow_abbrev=False, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--output", type=Path, default=None,
                        help="JSON file to write (default: results/mnist_trajectory_seed<SEED>.json of the checkout, "
                             "or mnist_<RECIPE>_trajectory_seed<SEED>.json for a run at a recipe's values)")
    parser.add_argument("--data_dir", default=None, help="MNIST folder (default: the run's own)")
    parser.add_argument("--categories_dir", type=Path, default=None,
                        help="where each checkpoint's test categories go, as seed<SEED>_<RUN>_iteration-<N>.npy "
                             "(default: results/mnist_<RECIPE>/checkpoints/ for results/mnist_<RECIPE>_trajectory_"
                             "seed<SEED>.json, results/mnist/checkpoints/ for the paper's; else beside --output)")
    args = parser.parse_args()

    from bidirectional_infogan.util.tf_setup import import_tensorflow
    import_tensorflow()
    from bidirectional_infogan.evaluate import evaluation
    from bidirectional_infogan.evaluate.code_cache import cached_test_codes
    from bidirectional_infogan.evaluate.evaluation_data import load_test_set
    from bidirectional_infogan.evaluate.health import model_health
    from mnist_results import health_entry, save_test_categories
    from bidirectional_infogan.evaluate.inputs import categories_from_codes
    from bidirectional_infogan.runs.checkpoints import CheckpointError, load_trained_model
    from bidirectional_infogan.runs.errors import USER_ERRORS
    from bidirectional_infogan.runs.run_folder import list_checkpoints, load_run_config
    try:
        run = load_run_config(args.run_dir)
        test = load_test_set(run, args.data_dir)
    except USER_ERRORS as err:
        fail(err, PROGRAM)
    output = args.output or default_output(run.train.seed, run.flags)
    if output is None:
        fail(f"{args.run_dir} was trained with flags of no recipe of train_mnist.py; "
             "say where its trajectory goes with --output", PROGRAM)
    if holder(output) not in (None, args.run_dir.name):
        fail(f"{output} holds {'the trajectory of run ' + holder(output) if holder(output) else 'something else'}"
             "; give another --output (it is not replaced)", PROGRAM)
    # each checkpoint's test categories: results/mnist_reliable_trajectory_seed1.json -> results/mnist_reliable/checkpoints/
    categories_dir = args.categories_dir or output.parent / output.stem.split("_trajectory_")[0] / "checkpoints"
    n_categories = run.model.categorical_dims[0]  # the values of the first categorical variable
    points = []
    for iteration in list_checkpoints(args.run_dir):
        try:
            model, _, _ = load_trained_model(args.run_dir, iteration)
        except CheckpointError as err:
            fail(err, PROGRAM)
        codes, _ = cached_test_codes(model, args.run_dir, iteration, test.images)
        categories = categories_from_codes(run.model, codes)[:, 0].astype(np.int64)
        mapping = evaluation.hungarian_mapping(categories, test.labels, n_categories, test.n_classes)
        report = evaluation.classification_report(categories, test.labels, n_categories, test.n_classes, mapping)
        health = health_entry(model_health(model, test.images))
        name = f"seed{run.train.seed}_{args.run_dir.name}_iteration-{iteration}.npy"
        try:
            saved = save_test_categories(categories, categories_dir / name, output)
        except OSError as err:
            fail(f"cannot write {categories_dir / name}: {err.strerror or err}", PROGRAM)
        points.append({"iteration": iteration, "accuracy": report["accuracy"], "nmi": report["nmi"],
                       "ari": report["ari"], "health": health, "test_categories": saved})
        print(f"{iteration:>6}: accuracy {report['accuracy']:.2%}  NMI {report['nmi']:.3f}  ARI {report['ari']:.3f}  "
              f"health {health['score']:.3f}", flush=True)
    text = json.dumps({"run": args.run_dir.name, "seed": run.train.seed, "points": points}, indent=2) + "\n"
    partial = output.with_name(output.name + ".partial")  # written whole, then renamed: never half a file
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(text)
        partial.replace(output)
    except OSError as err:
        fail(f"cannot write {output}: {err.strerror or err}", PROGRAM)
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
