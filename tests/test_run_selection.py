"""scripts/mnist/run_selection.py on made-up sets of saved test categories: a run that splits one digit and merges
two is flagged and ranked last, the good ones are not, the accuracies and the Spearman correlations are the
ones recomputed here from the labels, and the set's command reruns the comparison from the files alone."""

import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from conftest import hungarian_accuracy, mnist_test_labels

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "mnist" / "run_selection.py"


def made_up_run(labels, rng, noise: float, failed: bool = False) -> np.ndarray:
    """The labels under a random relabelling, with a share `noise` of images moved to random categories; a
    failed run also puts 4s and 9s into two categories split at random (as the slant split) and merges 3 into
    5's category."""
    categories = labels.astype(np.int64).copy()
    if failed:
        four_or_nine = np.flatnonzero((labels == 4) | (labels == 9))
        categories[four_or_nine] = np.where(rng.random(len(four_or_nine)) < 0.5, 4, 9)
        categories[labels == 3] = 5
        # the value left unused by the merge takes half of the 0s: ten values stay in use
        zeros = np.flatnonzero(labels == 0)
        categories[zeros[rng.random(len(zeros)) < 0.5]] = 3
    moved = rng.random(len(labels)) < noise
    categories[moved] = rng.integers(0, 10, moved.sum())
    return rng.permutation(10)[categories].astype(np.uint8)


def write_set(folder: Path, labels, rng, failed_seed: int | None) -> dict:
    runs = {}
    for seed in (1, 2, 3, 4, 5):
        final = made_up_run(labels, rng, 0.02 + 0.005 * seed, failed=seed == failed_seed)
        np.save(folder / f"seed{seed}_run{seed}.npy", final)
        (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
        for iteration, extra in ((1000, 0.3), (2000, 0.1)):
            early = made_up_run(labels, rng, extra + 0.01 * seed, failed=seed == failed_seed)
            np.save(folder / "checkpoints" / f"seed{seed}_run{seed}_iteration-{iteration}.npy", early)
        runs[seed] = final
    return runs


def run_script(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=300)


def test_a_failed_run_is_flagged_and_the_set_reruns(mnist_dir, tmp_path):
    labels = mnist_test_labels(mnist_dir)
    rng = np.random.default_rng(0)
    folder = tmp_path / "set"
    folder.mkdir()
    runs = write_set(folder, labels, rng, failed_seed=3)
    output = tmp_path / "run_selection.json"
    done = run_script("robust", folder, "--output", output, "--data_dir", mnist_dir)
    assert done.returncode == 0, done.stderr[-2000:]
    (entry,) = json.loads(output.read_text())["sets"]
    by_seed = {run["seed"]: run for run in entry["runs"]}
    assert entry["flagged"] == [3] and by_seed[3]["flagged"]
    assert min(by_seed, key=lambda s: by_seed[s]["mean_agreement"]) == 3  # ranked last
    assert entry["medoid"] != 3 and not any(by_seed[s]["flagged"] for s in (1, 2, 4, 5))
    for seed, final in runs.items():  # the accuracies, recomputed from the files and labels
        assert by_seed[seed]["accuracy"] == pytest.approx(hungarian_accuracy(final, labels), abs=5e-5)
    assert by_seed[3]["accuracy"] < 0.9 < min(by_seed[s]["accuracy"] for s in (1, 2, 4, 5))
    # the split of 4s and 9s is named: one of the medoid's categories goes into two of the run's
    assert by_seed[3]["differences"][0]["splits"] and by_seed[3]["differences"][0]["merges"]
    # Spearman's rho per checkpoint, recomputed from the reported agreements and the files' accuracies
    assert [p["iteration"] for p in entry["by_iteration"]] == [1000, 2000]
    for point in entry["by_iteration"]:
        accuracies = [hungarian_accuracy(np.load(folder / "checkpoints" / f"seed{s}_run{s}_iteration-"
                                                 f"{point['iteration']}.npy"), labels) for s in (1, 2, 3, 4, 5)]
        assert point["accuracy"] == pytest.approx(accuracies, abs=5e-5)
        rho = stats.spearmanr(point["mean_agreement"], accuracies).statistic
        assert point["spearman"] == pytest.approx(rho, abs=1e-4)
    # the command recomputes the comparison from the saved files alone (no labels, no checkpoints)
    command = entry["command"].replace("{json}", str(tmp_path / "again.json"))
    assert command.startswith("python evaluate_model.py --compare ")
    again = subprocess.run([sys.executable] + shlex.split(command)[1:], capture_output=True, text=True,
                           timeout=300, cwd=ROOT)
    assert again.returncode == 0, again.stderr[-2000:]
    rerun = json.loads((tmp_path / "again.json").read_text())
    assert [r["mean_agreement"] for r in rerun["runs"]] == [by_seed[s]["mean_agreement"] for s in (1, 2, 3, 4, 5)]
    # a second set joins the file; the first stays
    good = tmp_path / "good"
    good.mkdir()
    write_set(good, labels, rng, failed_seed=None)
    assert run_script("reliable", good, "--output", output, "--data_dir", mnist_dir).returncode == 0
    sets = {s["name"]: s for s in json.loads(output.read_text())["sets"]}
    assert sorted(sets) == ["reliable", "robust"] and sets["reliable"]["flagged"] == []


def test_bad_sets_give_one_line(mnist_dir, tmp_path):
    (tmp_path / "one").mkdir()
    np.save(tmp_path / "one" / "seed1_a.npy", np.zeros(10000, np.uint8))
    (tmp_path / "short").mkdir()
    for seed in (1, 2):
        np.save(tmp_path / "short" / f"seed{seed}_a.npy", np.zeros(100, np.uint8))
    for folder, message in ((tmp_path / "one", "a set needs two or more"), (tmp_path / "none", "is not a folder"),
                            (tmp_path / "short", "not the 10,000 MNIST test images")):
        done = run_script("x", folder, "--output", tmp_path / "out.json", "--data_dir", mnist_dir)
        assert done.returncode == 2 and message in done.stderr and done.stderr.count("\n") == 1
    assert not (tmp_path / "out.json").exists()


def test_category_files_are_named_from_the_folder_that_holds_results(tmp_path):
    """A results file anywhere under a results/ folder (results/run_selection/<set>.json too) names its category
    files relative to the folder that holds results/, as the committed records do; elsewhere, absolutely."""
    sys.path.insert(0, str(ROOT / "scripts" / "mnist"))
    from mnist_results import save_test_categories
    categories = np.arange(10, dtype=np.uint8)
    for output, expected in ((tmp_path / "results" / "mnist.json", "results/mnist/a.npy"),
                             (tmp_path / "results" / "run_selection" / "set.json", "results/run_selection/set/a.npy")):
        saved = save_test_categories(categories, output.with_suffix("") / "a.npy", output)
        assert saved == expected
        assert np.array_equal(np.load(tmp_path / saved), categories)
    outside = tmp_path / "elsewhere" / "set.json"
    assert save_test_categories(categories, tmp_path / "elsewhere" / "a.npy", outside) == str(tmp_path / "elsewhere" / "a.npy")
