"""Collect the measured figures of MNIST runs into results/mnist.json and print the README's results table.

    python scripts/mnist/mnist_results.py RUN_DIR [RUN_DIR ...] [--output results/mnist.json]

Each RUN_DIR must have been evaluated first with
    python evaluate_model.py --model_dir RUN_DIR --evaluate --json RUN_DIR/evaluation.json
(which also caches E's codes of the test images). Runs already in the --output file whose folders are not
given (a run folder deleted, or on another machine) keep their entries; a given run replaces its own entry.
--fresh writes only the given runs. Each run also gets its label-free health score (docs/health.md, from the
evaluation.json) and the training flags it changed from the paper's defaults (empty at the paper's settings);
`--output results/mnist_reliable.json` collects the runs of a recipe apart from the defaults'. Each run's
test categories (E's most probable category of each of the 10,000 test images, in file order, uint8) are saved
beside the output, in results/mnist_reliable/ for results/mnist_reliable.json, so that runs can be re-scored and
compared (evaluate_model.py --compare) without their checkpoints. Besides accuracy, NMI and ARI, this script measures what the
two continuous variables learned: within each digit class, the correlation of each variable with the ink of
the image (mean pixel value, which grows with stroke width) and with its slant (the second-moment skew
mu11 / mu02, which grows as the digit leans right), averaged over the ten classes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
from pathlib import Path

import numpy as np

from bidirectional_infogan.data.common import DataError
from bidirectional_infogan.evaluate.evaluation_data import load_test_set
from bidirectional_infogan.evaluate.inputs import categories_from_codes
from bidirectional_infogan.model.latent import split_latent
from bidirectional_infogan.runs.run_folder import RunFolderError, load_run_config
from bidirectional_infogan.util.arguments import fail

PROGRAM = "mnist_results.py"
ROOT = Path(__file__).resolve().parents[2]


def ink_and_slant(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean pixel value and slant (mu11 / mu02, x to the right, y downwards) of each image."""
    x = images[..., 0].astype(np.float64) / 255.0
    mass = x.sum(axis=(1, 2))
    rows, cols = np.mgrid[0:x.shape[1], 0:x.shape[2]]
    mean_r = (x * rows).sum(axis=(1, 2)) / mass
    mean_c = (x * cols).sum(axis=(1, 2)) / mass
    dr = rows[None] - mean_r[:, None, None]
    dc = cols[None] - mean_c[:, None, None]
    mu11 = (x * dr * dc).sum(axis=(1, 2))
    mu02 = (x * dr * dr).sum(axis=(1, 2))
    return x.mean(axis=(1, 2)), -mu11 / mu02  # rows grow downwards: a right lean has negative mu11


def within_class_correlation(values: np.ndarray, feature: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean([np.corrcoef(values[labels == k], feature[labels == k])[0, 1] for k in range(10)]))


def assign_stroke_and_rotation(variables: list[dict]) -> tuple[str, str]:
    """Name one variable stroke width and another rotation: the pair with the largest |corr_ink| + |corr_slant|
    (one to one, since a variable can correlate with both; with a single variable it gets both names)."""
    pairs = itertools.permutations(range(len(variables)), 2) if len(variables) > 1 else [(0, 0)]
    a, b = max(pairs, key=lambda ab: abs(variables[ab[0]]["corr_ink"]) + abs(variables[ab[1]]["corr_slant"]))
    return variables[a]["variable"], variables[b]["variable"]


def health_entry(report: dict | None) -> dict | None:
    """The health of MNIST's one categorical variable from evaluate_model.py's report: score and components."""
    if not report:
        return None
    best = max(report["variables"], key=lambda part: part["score"])
    return {key: round(best[key], 4) for key in ("score", "usage", "information", "stability", "agreement")}


def changed_flags(flags: dict) -> dict:
    """The flags of a run that shape training and differ from train_mnist.py's defaults (the paper's)."""
    import find_paper_run  # this folder is on the path when this runs as a script
    paper = find_paper_run.paper_settings("mnist")
    return {name: flags[name] for name in sorted(paper) if name in flags and flags[name] != paper[name]}


def save_test_categories(categories: np.ndarray, path: Path, output: Path) -> str:
    """Save test categories (uint8, one per test image) to `path` (written whole, then renamed); returns the path
    as the results file `output` names it: when `output` lies in a folder named results/ (at any depth, e.g.
    results/run_selection/), relative to the folder that holds that results/, so that a checkout's records name
    their files the same on every machine; otherwise the absolute path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npy")
    np.save(partial, categories.astype(np.uint8))
    partial.replace(path)
    path = path.resolve()
    results = next((folder for folder in output.resolve().parents if folder.name == "results"), None)
    if results is not None and path.is_relative_to(results.parent):
        return path.relative_to(results.parent).as_posix()
    return str(path)


def describe_run(run_dir: Path, test, output: Path) -> dict:
    import find_paper_run  # this folder is on the path when this runs as a script
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    run = load_run_config(run_dir)
    iteration = evaluation["iteration"]
    codes = np.load(run_dir / "test_codes" / f"iteration-{iteration}.npz")["codes"]
    latent = split_latent(run.model, codes)
    continuous = latent.continuous
    ink, slant = ink_and_slant(test.images)
    variables = []
    for j in range(run.model.continuous_dim):
        variables.append({"variable": f"continuous {j + 1}",
                          "corr_ink": round(within_class_correlation(continuous[:, j], ink, test.labels), 3),
                          "corr_slant": round(within_class_correlation(continuous[:, j], slant, test.labels), 3)})
    stroke, rotation = assign_stroke_and_rotation(variables)
    timing_file = run_dir / "timing.jsonl"
    sessions = [json.loads(line) for line in timing_file.read_text().splitlines()] if timing_file.exists() else []
    return {
        "run": run_dir.name, "seed": run.train.seed, "iteration": iteration,
        "accuracy": evaluation["accuracy"], "nmi": evaluation["nmi"], "ari": evaluation["ari"],
        "purity": evaluation["purity"], "misclassified": evaluation["errors"],
        "mapping_source": evaluation["mapping_source"], "encodings": evaluation["encodings"],
        "health": health_entry(evaluation.get("health")),
        "recipe": find_paper_run.recipe_of(run.flags), "flags": changed_flags(run.flags),
        "continuous": variables, "stroke_width_variable": stroke, "rotation_variable": rotation,
        "train_seconds": round(sum(s["seconds"] for s in sessions), 1) if sessions else None,
        # a run resumed on other machines names each of them, in order
        "processor": " + ".join(dict.fromkeys(
            s["processor"] + (f" ({s['vector_extensions']})" if s.get("vector_extensions") else "")
            for s in sessions)) if sessions else None,
        "cpus": sessions[-1]["cpus"] if sessions else None,
        # the commits that trained it, in order (sessions before timing.jsonl recorded the code count as null)
        "code": list(dict.fromkeys(s.get("code") for s in sessions)),
        # results/X.json -> results/X/seed<SEED>_<run>.npy
        "test_categories": save_test_categories(categories_from_codes(run.model, codes)[:, 0],
                                                output.with_suffix("") / f"seed{run.train.seed}_{run_dir.name}.npy",
                                                output),
    }


def summary(runs: list[dict]) -> dict:
    out = {"runs": len(runs)}
    for key in ("accuracy", "nmi", "ari"):
        values = [r[key] for r in runs]
        out[key] = {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else None,
                    "min": min(values), "max": max(values)}
    return out


def trained_with(run: dict) -> str:
    """The commits that trained a run, shortened, or "not recorded" (runs from before timing.jsonl kept them)."""
    commits = [c for c in run.get("code") or [] if c]
    return ", ".join(f"`{c[:7]}{'-dirty' if c.endswith('-dirty') else ''}`" for c in commits) or "not recorded"


def machine(run: dict) -> str:
    if not run.get("processor"):
        return "n/a"
    return f"{run['processor']}, {run['cpus']} cores" if run.get("cpus") else run["processor"]


def health_cell(run: dict) -> str:
    """The health score, starred under the threshold; "n/a" for runs evaluated before the health existed."""
    from bidirectional_infogan.evaluate.health import HEALTH_THRESHOLD
    if not run.get("health"):
        return "n/a"
    score = run["health"]["score"]
    return f"{score:.3f}" + (" (suspect)" if score < HEALTH_THRESHOLD else "")


def markdown(runs: list[dict], total: dict) -> str:
    lines = ["| seed | iteration | test accuracy | NMI | ARI | errors | health | stroke width | rotation "
             "| training time | machine | code |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | --- | --- |"]
    for r in runs:
        hours = f"{r['train_seconds'] / 3600:.1f} h" if r["train_seconds"] else "n/a"
        lines.append(f"| {r['seed']} | {r['iteration']:,} | {r['accuracy']:.2%} | {r['nmi']:.3f} | {r['ari']:.3f} | "
                     f"{r['misclassified']} | {health_cell(r)} | {r['stroke_width_variable']} | "
                     f"{r['rotation_variable']} | {hours} | "
                     f"{machine(r)} | {trained_with(r)} |")
    if len(runs) > 1:
        a, n, r = total["accuracy"], total["nmi"], total["ari"]
        lines.append(f"| mean ± std ({len(runs)} runs) | | {a['mean']:.2%} ± {a['std']:.2%} | "
                     f"{n['mean']:.3f} ± {n['std']:.3f} | {r['mean']:.3f} ± {r['std']:.3f} | | | | | | | |")
    lines.append("| original page (best model, hand mapping) | 30,000 | 96.99% | | | | | continuous 1 (its \"c2\") "
                 "| continuous 2 (its \"c3\") | | | |")
    return "\n".join(lines)


def recipe_row(recipe: str, runs: list[dict], total: dict) -> str:
    """One row of the results table (markdown's columns) for all the runs of a recipe: accuracy, NMI and ARI as
    mean ± std with the worst seed's accuracy, the mean errors and health, and the range of training times."""
    a, n, r = total["accuracy"], total["nmi"], total["ari"]
    worst = min(runs, key=lambda run: run["accuracy"])
    iterations = sorted({run["iteration"] for run in runs})
    hours = sorted(run["train_seconds"] / 3600 for run in runs if run.get("train_seconds"))
    healths = [run["health"]["score"] for run in runs if run.get("health")]
    machines = sorted({machine(run) for run in runs})
    def spread(score, form):  # "mean ± std", or the one run's value
        return f"{score['mean']:{form}}" + (f" ± {score['std']:{form}}" if score["std"] is not None else "")
    return (f"| `--recipe {recipe}`: mean ± std ({len(runs)} runs, seeds "
            f"{', '.join(str(run['seed']) for run in sorted(runs, key=lambda run: run['seed']))}) | "
            f"{', '.join(f'{i:,}' for i in iterations)} | {spread(a, '.2%')}, worst "
            f"{worst['accuracy']:.2%} (seed {worst['seed']}) | {spread(n, '.3f')} | "
            f"{spread(r, '.3f')} | {statistics.mean(run['misclassified'] for run in runs):.0f} | "
            f"{f'{statistics.mean(healths):.3f}' if healths else 'n/a'} | | | "
            f"{f'{hours[0]:.1f}-{hours[-1]:.1f} h per seed' if hours else 'n/a'} | {'; '.join(machines)} | |")


def merge_runs(published: list[dict], measured: list[dict]) -> tuple[list[dict], list[dict]]:
    """The measured runs plus the published ones not measured again (matched by run folder name), by seed.

    Returns (all runs, the published runs kept). Run folders live outside git and may be gone, so a rerun of
    this script must not drop a result that only the results file still holds."""
    names = {run["run"] for run in measured}
    kept = [run for run in published if run["run"] not in names]
    return sorted(measured + kept, key=lambda r: (r["seed"], r["run"])), kept


# What merge_runs, summary and markdown read from each published run.
PUBLISHED_KEYS = ("run", "seed", "iteration", "accuracy", "nmi", "ari", "misclassified",
                  "stroke_width_variable", "rotation_variable", "train_seconds")


def read_published(path: Path) -> list[dict]:
    """The runs of an existing results file ([] if there is none)."""
    if not path.exists():
        return []
    try:
        runs = json.loads(path.read_text())["runs"]
        for number, run in enumerate(runs, 1):
            missing = [key for key in PUBLISHED_KEYS if key not in run]
            if missing:
                raise ValueError(f"run {number} has no {', '.join(missing)}")
        return runs
    except (OSError, ValueError, KeyError, TypeError) as err:
        fail(f"cannot read the runs of {path} ({err}); move it away or use --fresh", PROGRAM)


def main() -> None:
    parser = argparse.ArgumentParser(
        allow_abbrev=False, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", nargs="+", type=Path)
    parser.add_argument("--output", type=Path, default=ROOT / "results" / "mnist.json")
    parser.add_argument("--data_dir", default=None, help="MNIST folder (default: the first run's)")
    parser.add_argument("--fresh", action="store_true",
                        help="write only the given runs, dropping the runs that --output already holds")
    args = parser.parse_args()
    args.output = args.output.resolve()  # the category files are named relative to the folder holding results/
    published = [] if args.fresh else read_published(args.output)
    evaluated = [d for d in args.run_dirs if (d / "evaluation.json").is_file()]
    for skipped in sorted(set(args.run_dirs) - set(evaluated)):
        print(f"skipping {skipped}: no evaluation.json (run evaluate_model.py --evaluate --json on it first)")
    if not evaluated:
        fail("no evaluated run given (none has an evaluation.json)", PROGRAM)
    try:
        test = load_test_set(load_run_config(evaluated[0]), args.data_dir)
    except (DataError, RunFolderError) as err:
        fail(err, PROGRAM)
    runs, kept = merge_runs(published, [describe_run(d, test, args.output) for d in evaluated])
    for run in kept:
        print(f"keeping seed {run['seed']} ({run['run']}) from {args.output}: its folder was not given")
    total = summary(runs)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"runs": runs, "summary": total}, indent=2) + "\n")
    print(f"wrote {args.output}\n")
    print(markdown(runs, total))


if __name__ == "__main__":
    main()
