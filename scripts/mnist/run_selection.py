"""Choose among several MNIST runs without labels, from their saved test categories, and check the choice on the
labels: results/run_selection.json.

    python scripts/mnist/run_selection.py NAME FOLDER [--output results/run_selection.json] [--data_dir MNIST]

FOLDER holds one set of runs' category files (uint8 .npy, E's most probable category of each MNIST test image
in file order, as scripts/mnist/mnist_results.py and mnist_trajectory.py write them):
    FOLDER/seed<SEED>_<RUN>.npy                          each run's final model
    FOLDER/checkpoints/seed<SEED>_<RUN>_iteration-<N>.npy   its checkpoints (optional)
The runs are compared as `evaluate_model.py --compare` compares them (agreement.py: mean agreement, medoid,
outliers, without labels). Then, on the labels only: each run's test accuracy (best one-to-one mapping), and,
for every checkpoint iteration that all runs have, the Spearman rank correlation between mean agreement and
accuracy over the runs. The set NAME replaces its own entry in --output and keeps the others; its "command"
recomputes the comparison from the saved files alone ({json}: where its output goes).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from bidirectional_infogan.data.common import DataError
from bidirectional_infogan.data.mnist import load_mnist_test
from bidirectional_infogan.evaluate import agreement, evaluation
from bidirectional_infogan.util.arguments import OneLineErrorParser

ROOT = Path(__file__).resolve().parents[2]
FINAL = re.compile(r"seed(\d+)_(.+)\.npy")
CHECKPOINT = re.compile(r"seed(\d+)_(.+)_iteration-(\d+)\.npy")


def fail(message) -> None:
    print(f"run_selection.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def shown(path: Path) -> str:
    """A path as the results file names it: relative to the checkout when it is inside, else absolute."""
    path = path.resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def accuracy(categories: np.ndarray, labels: np.ndarray) -> float:
    mapping = evaluation.hungarian_mapping(categories, labels, int(categories.max()) + 1, 10)
    return evaluation.accuracy(evaluation.apply_mapping(categories, mapping), labels)


def read_set(folder: Path) -> tuple[list[dict], dict]:
    """The runs of a set ({seed, run, path}, by seed) and their checkpoint files ({iteration: {seed: path}})."""
    runs = []
    for path in sorted(folder.glob("seed*.npy")):
        match = FINAL.fullmatch(path.name)
        if match:
            runs.append({"seed": int(match[1]), "run": match[2], "path": path})
    runs.sort(key=lambda r: r["seed"])
    checkpoints: dict[int, dict[int, Path]] = {}
    for path in sorted((folder / "checkpoints").glob("seed*.npy")):
        match = CHECKPOINT.fullmatch(path.name)
        if match:
            checkpoints.setdefault(int(match[3]), {})[int(match[1])] = path
    return runs, checkpoints


def load(path: Path) -> np.ndarray:
    categories = np.load(path)
    if categories.shape != (10000,):
        fail(f"{path} holds {categories.shape}, not the 10,000 MNIST test images' categories")
    return categories.astype(np.int64)


def spearman_by_iteration(runs: list[dict], checkpoints: dict, labels: np.ndarray) -> list[dict]:
    """For each checkpoint iteration that every run has: mean agreement and accuracy of each run, and Spearman's
    rho between them over the runs (None when either is constant)."""
    seeds = [r["seed"] for r in runs]
    out = []
    for iteration in sorted(checkpoints):
        if set(checkpoints[iteration]) < set(seeds):
            continue
        categories = [load(checkpoints[iteration][seed]) for seed in seeds]
        report = agreement.compare_runs(categories, [f"seed {s}" for s in seeds])
        agreements = [run["mean_agreement"] for run in report["runs"]]
        accuracies = [round(accuracy(c, labels), 4) for c in categories]
        rho = stats.spearmanr(agreements, accuracies).statistic if len(set(agreements)) > 1 and \
            len(set(accuracies)) > 1 else None
        out.append({"iteration": iteration, "mean_agreement": agreements, "accuracy": accuracies,
                    "spearman": None if rho is None or np.isnan(rho) else round(float(rho), 4),
                    "flagged": [seeds[i] for i, run in enumerate(report["runs"]) if run["flagged"]]})
    return out


def select(name: str, folder: Path, labels: np.ndarray) -> dict:
    runs, checkpoints = read_set(folder)
    if len(runs) < 2:
        fail(f"{folder} holds {len(runs)} run's category files (seed<SEED>_<RUN>.npy); a set needs two or more")
    categories = [load(r["path"]) for r in runs]
    report = agreement.compare_runs(categories, [f"seed {r['seed']}" for r in runs])
    entries = []
    for run, compared, cats in zip(runs, report["runs"], categories):
        entries.append({"seed": run["seed"], "run": run["run"], "accuracy": round(accuracy(cats, labels), 4),
                        "mean_agreement": compared["mean_agreement"],
                        "mean_matched_share": compared["mean_matched_share"], "flagged": compared["flagged"],
                        "differences": compared["differences"], "test_categories": shown(run["path"])})
    files = " ".join(shown(r["path"]) for r in runs)
    return {"name": name, "runs": entries, "medoid": int(report["medoid"].split()[-1]),
            "flagged": [int(n.split()[-1]) for n in report["flagged"]], "thresholds": report["thresholds"],
            "rule": report["rule"]["text"], "by_iteration": spearman_by_iteration(runs, checkpoints, labels),
            "command": f"python evaluate_model.py --compare {files} --json {{json}}"}


def main() -> None:
    parser = OneLineErrorParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                allow_abbrev=False)
    parser.add_argument("name", help="the set's name in the output, e.g. reliable")
    parser.add_argument("folder", type=Path, help="the set's category files (see above)")
    parser.add_argument("--output", type=Path, default=ROOT / "results" / "run_selection.json")
    parser.add_argument("--data_dir", default=None, help="MNIST folder, for the accuracies only")
    args = parser.parse_args()
    if not args.folder.is_dir():
        fail(f"{args.folder} is not a folder")
    try:
        labels = load_mnist_test(args.data_dir, download=False).labels.astype(np.int64)
    except DataError as err:
        fail(err)
    entry = select(args.name, args.folder, labels)
    sets = []
    if args.output.exists():
        try:
            sets = [s for s in json.loads(args.output.read_text())["sets"] if s["name"] != args.name]
        except (OSError, ValueError, KeyError, TypeError) as err:
            fail(f"cannot read the sets of {args.output} ({err}); move it away")
    sets.append(entry)
    partial = args.output.with_suffix(".partial")
    partial.write_text(json.dumps({"sets": sorted(sets, key=lambda s: s["name"])}, indent=2) + "\n")
    partial.replace(args.output)
    print(f"wrote set '{args.name}' to {args.output}")
    for run in entry["runs"]:
        print(f"  seed {run['seed']}: accuracy {run['accuracy']:.2%}, mean agreement {run['mean_agreement']:.3f}"
              f"{'  FLAGGED' if run['flagged'] else ''}{'  (medoid)' if run['seed'] == entry['medoid'] else ''}")
    for point in entry["by_iteration"]:
        print(f"  iteration {point['iteration']}: Spearman rho {point['spearman']}")


if __name__ == "__main__":
    main()
