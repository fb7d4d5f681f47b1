"""Test accuracy of every checkpoint of an MNIST run (Hungarian mapping), to compare a run's course with
the reference trajectory.

    python scripts/mnist_trajectory.py RUN_DIR [--output results/mnist_trajectory_seed<SEED>.json]

Train with `--checkpoint_every 1000 --keep_checkpoints 40` (loop settings only: they do not change the
trajectory) to have a checkpoint every 1,000 iterations (40 leaves room for the checkpoints that stopping and
resuming add).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fail(message) -> None:
    """A user error: one line on stderr and exit code 2, as the project's other scripts."""
    print(f"mnist_trajectory.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--output", type=Path, default=None,
                        help="JSON file to write (default: results/mnist_trajectory_seed<SEED>.json of the checkout, "
                             "named after the run's seed, so that runs of other seeds do not replace it)")
    parser.add_argument("--data_dir", default=None, help="MNIST folder (default: the run's own)")
    args = parser.parse_args()

    from bidirectional_infogan.util.tf_setup import import_tensorflow
    import_tensorflow()
    from bidirectional_infogan.evaluate import evaluation
    from bidirectional_infogan.evaluate.code_cache import cached_test_codes
    from bidirectional_infogan.evaluate.evaluation_data import load_test_set
    from bidirectional_infogan.model.latent import split_latent
    from bidirectional_infogan.runs.checkpoints import CheckpointError, load_trained_model
    from bidirectional_infogan.runs.errors import USER_ERRORS
    from bidirectional_infogan.runs.run_folder import list_checkpoints, load_run_config
    try:
        run = load_run_config(args.run_dir)
        test = load_test_set(run, args.data_dir)
    except USER_ERRORS as err:
        fail(err)
    output = args.output or ROOT / "results" / f"mnist_trajectory_seed{run.train.seed}.json"
    n_categories = run.model.categorical_dims[0]  # the values of the first categorical variable
    points = []
    for iteration in list_checkpoints(args.run_dir):
        try:
            model, _, _ = load_trained_model(args.run_dir, iteration)
        except CheckpointError as err:
            fail(err)
        codes, _ = cached_test_codes(model, args.run_dir, iteration, test.images)
        categories = split_latent(run.model, codes).categorical[0].argmax(axis=1)
        mapping = evaluation.hungarian_mapping(categories, test.labels, n_categories, test.n_classes)
        report = evaluation.classification_report(categories, test.labels, n_categories, test.n_classes, mapping)
        points.append({"iteration": iteration, "accuracy": report["accuracy"], "nmi": report["nmi"],
                       "ari": report["ari"]})
        print(f"{iteration:>6}: accuracy {report['accuracy']:.2%}  NMI {report['nmi']:.3f}  ARI {report['ari']:.3f}",
              flush=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"run": args.run_dir.name, "seed": run.train.seed, "points": points},
                                 indent=2) + "\n")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
