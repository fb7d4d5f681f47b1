"""The published MNIST results files against their saved test categories: every run that names a category file
has the accuracy that the file and the test labels give (recomputed here, not by the package)."""

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import hungarian_accuracy, mnist_test_labels

ROOT = Path(__file__).resolve().parents[1]
# the results tables of mnist_results.py: results/mnist*.json and the sets of results/run_selection/
RESULTS = sorted((ROOT / "results").glob("mnist*.json")) + sorted((ROOT / "results" / "run_selection").glob("*.json"))


def runs_with_categories():
    for path in RESULTS:
        data = json.loads(path.read_text())
        for run in data.get("runs", []) if isinstance(data, dict) else []:
            if isinstance(run, dict) and run.get("test_categories"):
                yield path, run


@pytest.mark.parametrize("path,run", list(runs_with_categories()),
                         ids=lambda x: x.name if isinstance(x, Path) else str(x.get("seed")))
def test_each_run_scores_what_its_categories_give(path, run, mnist_dir):
    categories = np.load(ROOT / run["test_categories"])
    assert categories.dtype == np.uint8 and categories.shape == (10000,)
    assert run["test_categories"].startswith(f"{path.with_suffix('').relative_to(ROOT).as_posix()}/")  # beside it
    accuracy = hungarian_accuracy(categories, mnist_test_labels(mnist_dir))
    assert abs(100 * accuracy - 100 * run["accuracy"]) <= 0.01
    assert round((1 - accuracy) * 10000) == run["misclassified"]


def checkpoints_with_categories():
    for path in sorted((ROOT / "results").rglob("*trajectory_seed*.json")):
        for point in json.loads(path.read_text())["points"]:
            if point.get("test_categories"):
                yield path, point


@pytest.mark.parametrize("path,point", list(checkpoints_with_categories()),
                         ids=lambda x: x.name if isinstance(x, Path) else str(x.get("iteration")))
def test_each_checkpoint_scores_what_its_categories_give(path, point, mnist_dir):
    """The trajectories' checkpoints (mnist_trajectory.py): each names its category file relative to the checkout,
    and the file's accuracy on the test labels is the point's."""
    assert point["test_categories"].startswith("results/")
    categories = np.load(ROOT / point["test_categories"])
    assert categories.dtype == np.uint8 and categories.shape == (10000,)
    assert abs(hungarian_accuracy(categories, mnist_test_labels(mnist_dir)) - point["accuracy"]) <= 0.00005


def test_the_reliable_results_cover_distinct_seeds():
    """results/mnist_reliable.json: distinct seeds, each at the reliable recipe and at most 10,000 iterations."""
    path = ROOT / "results" / "mnist_reliable.json"
    if not path.exists():
        pytest.skip("no reliable-mode results yet")
    runs = json.loads(path.read_text())["runs"]
    assert len({r["seed"] for r in runs}) == len(runs) >= 1
    for run in runs:
        assert run["recipe"] == "reliable" and run["iteration"] <= 10000 and run["test_categories"]


def test_the_reliable_table_is_the_results_file():
    """docs/mnist-results.md's table of the reliable mode has one row per run of results/mnist_reliable.json, with
    its seed, iterations, accuracy, NMI and health."""
    path = ROOT / "results" / "mnist_reliable.json"
    if not path.exists():
        pytest.skip("no reliable-mode results yet")
    doc = (ROOT / "docs" / "mnist-results.md").read_text()
    table = doc.split("<!-- reliable-table -->", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines()[3:] if line.startswith("|")]
    runs = json.loads(path.read_text())["runs"]
    assert len(rows) == len(runs)
    for row, run in zip(rows, sorted(runs, key=lambda r: r["seed"])):
        assert row.startswith(f"| {run['seed']} | {run['iteration']:,} | {run['accuracy']:.2%} | {run['nmi']:.3f} | "
                              f"{run['health']['score']:.3f} |")


def test_the_reliable_course_table_is_the_trajectories():
    """docs/mnist-results.md's course of the reliable seeds (test accuracy at each checkpoint) has a column per
    results/mnist_reliable_trajectory_seed<SEED>.json and a row per checkpoint, each cell that file's accuracy."""
    files = sorted((ROOT / "results").glob("mnist_reliable_trajectory_seed*.json"))
    if not files:
        pytest.skip("no reliable-mode trajectories yet")
    courses = {}
    for path in files:
        data = json.loads(path.read_text())
        courses[data["seed"]] = {point["iteration"]: point["accuracy"] for point in data["points"]}
    doc = (ROOT / "docs" / "mnist-results.md").read_text()
    table = doc.split("<!-- reliable-course -->", 1)[1].strip().split("\n\n", 1)[0].splitlines()
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    assert header == ["iteration"] + [f"seed {seed}" for seed in sorted(courses)]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table[2:]]
    iterations = sorted(set().union(*courses.values()))
    assert [int(row[0].replace(",", "")) for row in rows] == iterations
    for row, iteration in zip(rows, iterations):
        assert row[1:] == [f"{courses[seed][iteration]:.2%}" if iteration in courses[seed] else ""
                           for seed in sorted(courses)], iteration


def test_the_reliable_pretrained_model_is_the_medoid_of_the_published_seeds():
    """pretrained/mnist_reliable is one of results/mnist_reliable.json's runs, the one results/run_selection.json
    names as the medoid of the set (chosen without labels), with that run's accuracy; its results.json says how it
    was chosen."""
    folder = ROOT / "pretrained" / "mnist_reliable"
    exported = json.loads((folder / "results.json").read_text())
    runs = {run["run"]: run for run in json.loads((ROOT / "results" / "mnist_reliable.json").read_text())["runs"]}
    source = runs[exported["source_run"]]
    assert (exported["seed"], exported["iteration"]) == (source["seed"], source["iteration"])
    # the exported encoder (loaded back from its file) against the trained one: the same argmax for all but a few
    assert abs(exported["accuracy"] - source["accuracy"]) <= 0.0003
    sets = {s["name"]: s for s in json.loads((ROOT / "results" / "run_selection.json").read_text())["sets"]}
    assert sets["reliable"]["medoid"] == exported["seed"]
    assert "medoid" in exported["chosen_by"] and "run_selection.json" in exported["chosen_by"]
    assert json.loads((folder / "config.json").read_text())["flags"]["recipe"] == "reliable"


@pytest.mark.parametrize("name", ["reliable", "robust_5000"])
def test_the_agreement_tables_are_the_selection_file(name):
    """docs/health.md's per-checkpoint table of each set (after its marker) is results/run_selection.json's set:
    accuracies, mean AMIs, Spearman's rho and the flagged seeds of each checkpoint."""
    sets = {s["name"]: s for s in json.loads((ROOT / "results" / "run_selection.json").read_text())["sets"]}
    doc = (ROOT / "docs" / "health.md").read_text().split(f"<!-- agreement-table {name} -->", 1)[1]
    table = doc.split("| iteration | accuracy of seeds 1-5 |", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    points = sets[name]["by_iteration"]
    assert len(table) == len(points) >= 5
    for line, point in zip(table, points):
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert cells[0] == f"{point['iteration']:,}"
        assert [float(a) for a in cells[1].rstrip("%").split(",")] == [round(100 * a, 2) for a in point["accuracy"]]
        assert [float(a) for a in cells[2].split(",")] == pytest.approx(point["mean_agreement"], abs=0.0006)
        assert float(cells[3]) == pytest.approx(point["spearman"], abs=0.005)
        assert cells[4] == (", ".join(f"seed {s}" for s in point["flagged"]) or "none")


def test_the_precision_table_is_the_results_files():
    """docs/training.md's MNIST rows of float32 against mixed_bfloat16 (reliable seed 1) are the two results files'
    runs and trajectories."""
    table = (ROOT / "docs" / "training.md").read_text().split("<!-- precision-mnist -->", 1)[1]
    rows = [line for line in table.strip().split("\n\n", 1)[0].splitlines()[2:]]
    assert len(rows) == 2
    for row, name in zip(rows, ("mnist_reliable", "mnist_reliable_bf16")):
        (run,) = [r for r in json.loads((ROOT / "results" / f"{name}.json").read_text())["runs"] if r["seed"] == 1]
        course = json.loads((ROOT / "results" / f"{name}_trajectory_seed1.json").read_text())["points"]
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert (name == "mnist_reliable_bf16") == ("mixed_bfloat16" in cells[0])
        assert (run.get("flags", {}).get("precision", "float32") in cells[0]) and run["iteration"] == 6000
        assert cells[1:4] == [f"{run['accuracy']:.2%}", f"{run['nmi']:.3f}", f"{run['health']['score']:.3f}"]
        assert cells[4] == " / ".join(f"{100 * p['accuracy']:.2f}" for p in course[:5]) + "%"
        assert cells[5] == f"{run['train_seconds']:,.0f} s"


def test_the_standin_precision_table_is_the_summary():
    """docs/training.md's stand-in rows (float32 against mixed_bfloat16) are results/svhn_standin/precision.json's runs:
    the first variable's accuracy and NMI at 1,000 and 2,000, the health at 2,000, and each run's precision."""
    runs = json.loads((ROOT / "results" / "svhn_standin" / "precision.json").read_text())["runs"]
    table = (ROOT / "docs" / "training.md").read_text().split("| table 2 on the stand-in |", 1)[1]
    rows = table.split("\n\n", 1)[0].splitlines()[2:]
    assert len(rows) == 2
    for row, precision in zip(rows, ("float32", "mixed_bfloat16")):
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        run = runs[cells[0].split("`")[1]]
        assert cells[0].startswith(precision) and f"--precision {precision}" in run["flags"]
        points = [run["checkpoints"][i]["categorical"][0] for i in ("1000", "2000")]
        assert cells[1:3] == [f"{p['accuracy_digit']:.1%} ({p['nmi']['digit']:.3f})" for p in points]
        assert cells[3] == f"{run['checkpoints']['2000']['health']['score']:.3f}"
        # its first variable's test categories at 2,000 are kept (the stand-in's labels are not in the repository)
        categories = np.load(ROOT / run["test_categories"])
        assert run["test_categories"].endswith("_iteration-2000.npy") and categories.dtype == np.uint8
        assert categories.shape == (run["n_test"],) and len(np.unique(categories)) == 10
