"""The scripts behind the README's results: finding the paper-settings runs, the stroke-width and rotation
measures, and the results table."""

import io
import os
import json
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]

import find_paper_run  # noqa: E402
import mnist_results  # noqa: E402

from conftest import hungarian_accuracy, mnist_test_labels as mnist_labels  # noqa: E402


def sheared_line(lean: float, width: int = 1) -> np.ndarray:
    """A 28x28 stroke from row 4 to row 23 whose column moves `lean` pixels right per row upwards.

    Each row's ink is split between two neighbouring columns so that the row's centre of mass is exactly
    14 + lean * (13.5 - row): the image's slant -mu11 / mu02 is then exactly `lean`."""
    image = np.zeros((28, 28), np.float64)
    for row in range(4, 24):
        centre = 14 + lean * (13.5 - row)
        for offset in range(width):
            c = centre + offset - (width - 1) / 2
            left = int(np.floor(c))
            image[row, left] += 255 * (1 - (c - left))
            image[row, left + 1] += 255 * (c - left)
    return image[..., None]


def test_slant_and_ink_of_known_strokes():
    images = np.stack([sheared_line(0.0), sheared_line(0.3), sheared_line(-0.2), sheared_line(0.3, width=3)])
    ink, slant = mnist_results.ink_and_slant(images)
    np.testing.assert_allclose(slant, [0.0, 0.3, -0.2, 0.3], atol=1e-9)
    np.testing.assert_allclose(ink, images[..., 0].mean(axis=(1, 2)) / 255)
    assert ink[3] == pytest.approx(3 * ink[1])


def test_within_class_correlation_is_the_mean_over_classes():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 50)
    feature = rng.normal(size=500)
    assert mnist_results.within_class_correlation(3 * feature + 1, feature, labels) == pytest.approx(1.0)
    assert mnist_results.within_class_correlation(-feature, feature, labels) == pytest.approx(-1.0)
    noisy = feature + rng.normal(size=500)
    expected = np.mean([stats.pearsonr(noisy[labels == k], feature[labels == k])[0] for k in range(10)])
    assert mnist_results.within_class_correlation(noisy, feature, labels) == pytest.approx(expected)


def test_stroke_and_rotation_are_named_one_to_one():
    def var(name, ink, slant):
        return {"variable": name, "corr_ink": ink, "corr_slant": slant}
    # continuous 1 correlates most with both; the best one-to-one naming still gives rotation to continuous 2
    assert mnist_results.assign_stroke_and_rotation(
        [var("continuous 1", 0.42, 0.73), var("continuous 2", 0.11, 0.90)]) == ("continuous 1", "continuous 2")
    assert mnist_results.assign_stroke_and_rotation(
        [var("continuous 1", 0.1, -0.8), var("continuous 2", -0.5, 0.2)]) == ("continuous 2", "continuous 1")
    assert mnist_results.assign_stroke_and_rotation(
        [var("continuous 1", 0.1, 0.1), var("continuous 2", 0.2, 0.1), var("continuous 3", 0.0, 0.9)]) == (
        "continuous 2", "continuous 3")
    assert mnist_results.assign_stroke_and_rotation([var("continuous 1", 0.3, 0.2)]) == ("continuous 1",) * 2


def _fake_run(runs_dir: Path, name: str, flags: dict) -> Path:
    run_dir = runs_dir / "mnist" / name
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"flags": flags}))
    return run_dir


def test_find_paper_runs(tmp_path):
    paper = dict(find_paper_run.PAPER_SETTINGS)
    a = _fake_run(tmp_path, "mnist_1", {**paper, "seed": 12345, "log_every": 1000, "checkpoint_every": 1000})
    _fake_run(tmp_path, "mnist_2", {**paper, "seed": 12345, "batch_size": 32})   # not the paper's settings
    _fake_run(tmp_path, "mnist_3", {**paper, "seed": 12345, "init": "he"})        # not the paper's settings
    c = _fake_run(tmp_path, "mnist_4", {"seed": 7})                               # absent flags: defaults
    d = _fake_run(tmp_path, "mnist_5", {**paper, "seed": 12345})
    assert find_paper_run.paper_settings_runs(tmp_path, 12345) == [a, d]
    assert find_paper_run.paper_settings_runs(tmp_path) == [a, c, d]
    assert find_paper_run.paper_settings_runs(tmp_path, 99) == []
    assert paper["batch_size"] == 128 and paper["max_iter"] == 30000 and "log_every" not in paper


def test_find_runs_of_a_recipe(tmp_path):
    """A recipe's runs are found by the values it sets (so also a run that was given them flag by flag), the
    schedule included; recipe_of names the recipe of each."""
    paper = dict(find_paper_run.PAPER_SETTINGS)
    reliable = {"consistency_weight": 1.0, "balance_weight": 1.0, "confidence_weight": 1.0, "consistency_shear": 0.3,
                "max_iter": 6000}
    plain = _fake_run(tmp_path, "mnist_1", {**paper, "seed": 1})
    named = _fake_run(tmp_path, "mnist_2", {**paper, **reliable, "seed": 1, "log_every": 1000, "recipe": "reliable"})
    by_flags = _fake_run(tmp_path, "mnist_3", {**paper, **reliable, "seed": 1})
    _fake_run(tmp_path, "mnist_4", {**paper, **reliable, "seed": 1, "balance_weight": 2.0})
    _fake_run(tmp_path, "mnist_5", {**paper, **reliable, "seed": 1, "max_iter": 30000})
    assert find_paper_run.paper_settings_runs(tmp_path, 1, extra_flags="--recipe reliable") == [named, by_flags]
    assert find_paper_run.paper_settings_runs(tmp_path, 1) == [plain]
    flags = {p.parent.name: json.loads(p.read_text())["flags"] for p in sorted(tmp_path.glob("mnist/*/config.json"))}
    assert [find_paper_run.recipe_of(f) for f in flags.values()] == ["paper", "reliable", "reliable", None, None]
    with pytest.raises(ValueError, match="--log_every"):
        find_paper_run.paper_settings("mnist", "--balance_weight 1 --log_every 10")
    # the script reads the recipe from EXTRA_FLAGS
    script = str(ROOT / "scripts" / "mnist" / "find_paper_run.py")
    found = subprocess.run([sys.executable, script, str(tmp_path), "1"], capture_output=True, text=True,
                           timeout=60, env={**os.environ, "EXTRA_FLAGS": "--recipe reliable"})
    assert found.returncode == 0 and found.stdout.split() == [str(named)]


@pytest.mark.slow
def test_results_of_an_evaluated_run(trained_run, mnist_dir, tmp_path, monkeypatch):
    from bidirectional_infogan.data.mnist import load_mnist
    from bidirectional_infogan.evaluate.cli import main as evaluate
    from conftest import writable_run_copy
    run_dir = tmp_path / trained_run.name
    writable_run_copy(trained_run, run_dir)
    assert evaluate(["--model_dir", str(run_dir), "--evaluate", "--json", str(run_dir / "evaluation.json"),
                     "--data_dir", str(mnist_dir)], out=io.StringIO()) == 0
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    test = load_mnist(mnist_dir).test
    result = mnist_results.describe_run(run_dir, test, tmp_path / "results" / "mnist.json")

    assert (result["seed"], result["iteration"]) == (12345, 40)
    assert result["recipe"] == "paper"  # the recipe it started from; the flags it changed below
    saved = np.load(tmp_path / result["test_categories"])
    assert result["test_categories"] == f"results/mnist/seed12345_{run_dir.name}.npy"
    assert saved.dtype == np.uint8 and saved.shape == (10000,)
    assert hungarian_accuracy(saved, mnist_labels(mnist_dir)) == pytest.approx(evaluation["accuracy"], abs=1e-9)
    assert result["accuracy"] == evaluation["accuracy"] and result["misclassified"] == evaluation["errors"]
    # MNIST's one categorical variable's health, as evaluate_model.py reported it
    (reported,) = evaluation["health"]["variables"]
    assert result["health"] == {key: pytest.approx(reported[key], abs=5e-5)
                                for key in ("score", "usage", "information", "stability", "agreement")}
    # the flags it changed from train_mnist.py's defaults: FAST's training flags, not its loop settings
    assert result["flags"] == {"batch_size": 32, "max_iter": 40}
    assert result["misclassified"] == round((1 - result["accuracy"]) * 10000)
    sessions = [json.loads(line) for line in (run_dir / "timing.jsonl").read_text().splitlines()]
    assert result["train_seconds"] == pytest.approx(sum(s["seconds"] for s in sessions), abs=0.05)
    from bidirectional_infogan.train import training
    assert result["code"] == [training.code_version(training.CODE_FOLDER)]  # trained by this checkout

    # the correlations, recomputed with scipy from the cached codes of the test images
    codes = np.load(run_dir / "test_codes" / "iteration-40.npz")["codes"]
    ink = test.images[..., 0].mean(axis=(1, 2)) / 255
    for j, variable in enumerate(result["continuous"]):
        values = codes[:, 16 + 10 + j]
        expected = np.mean([stats.pearsonr(values[test.labels == k], ink[test.labels == k])[0] for k in range(10)])
        assert variable["corr_ink"] == pytest.approx(expected, abs=0.0005)
    c1, c2 = result["continuous"]
    one_two = abs(c1["corr_ink"]) + abs(c2["corr_slant"]) >= abs(c2["corr_ink"]) + abs(c1["corr_slant"])
    assert (result["stroke_width_variable"], result["rotation_variable"]) == (
        ("continuous 1", "continuous 2") if one_two else ("continuous 2", "continuous 1"))

    other = dict(result, seed=1, accuracy=0.5, nmi=0.25, ari=0.125)
    total = mnist_results.summary([result, other])
    assert total["runs"] == 2
    assert total["accuracy"]["mean"] == pytest.approx((result["accuracy"] + 0.5) / 2)
    assert total["accuracy"]["std"] == pytest.approx(statistics.stdev([result["accuracy"], 0.5]))
    table = mnist_results.markdown([result, other], total).splitlines()
    assert len(table) == 2 + 2 + 1 + 1  # header, 2 runs, mean row, the original's row
    assert table[2].startswith(f"| 12345 | 40 | {result['accuracy']:.2%} |")
    score = result["health"]["score"]  # (the cell shows the stored 4-digit value; its closeness to the report is checked above)
    assert f"| {result['misclassified']} | {score:.3f}{' (suspect)' if score < 0.8 else ''} |" in table[2]
    assert f"| {other['misclassified']} | 0.500 (suspect) |" in mnist_results.markdown(
        [dict(other, health=dict(result["health"], score=0.5))], total).splitlines()[2]
    assert f"| {other['misclassified']} | n/a |" in mnist_results.markdown(
        [dict(other, health=None)], total).splitlines()[2]
    # the machine and the commit that trained it, from timing.jsonl
    commit, simd = sessions[-1]["code"], sessions[-1]["vector_extensions"]
    processor = sessions[-1]["processor"] + (f" ({simd})" if simd else "")
    assert table[2].endswith(f"| {processor}, {sessions[-1]['cpus']} cores | "
                             + (f"`{commit[:7]}{'-dirty' if commit.endswith('-dirty') else ''}` |" if commit
                                else "not recorded |"))
    assert mnist_results.markdown([dict(result, code=[None])], total).splitlines()[2].endswith("| not recorded |")
    assert "mean ± std (2 runs)" in table[4] and "96.99%" in table[5]

    # The script itself: a published run whose folder is gone stays, unless --fresh.
    output = tmp_path / "mnist.json"
    output.write_text(json.dumps({"runs": [dict(result, run="mnist_gone", seed=7)]}))
    for flags, seeds in (([], [7, 12345]), (["--fresh"], [12345])):
        monkeypatch.setattr(sys, "argv", ["mnist_results.py", str(run_dir), "--output", str(output),
                                          "--data_dir", str(mnist_dir)] + flags)
        mnist_results.main()
        written = json.loads(output.read_text())
        assert [r["seed"] for r in written["runs"]] == seeds and written["summary"]["runs"] == len(seeds)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["--figures", "--recipe"])
def test_reproduce_script_on_a_finished_run(trained_run, mnist_dir, tmp_path, mode):
    """scripts/mnist/reproduce_mnist.sh after training: it finds the seed's run at the paper's settings (with
    --recipe reliable: at the recipe's values; here the short test run, relabelled as such a finished run),
    evaluates it and writes the figures, results and test categories where told."""
    from conftest import writable_run_copy
    run_dir = tmp_path / "runs" / "mnist" / trained_run.name
    writable_run_copy(trained_run, run_dir)  # the checkpoint files are renamed below, never written
    config = json.loads((run_dir / "config.json").read_text())
    recipe = "reliable" if mode == "--recipe" else "paper"
    config["flags"].update(find_paper_run.paper_settings("mnist", f"--recipe {recipe}"), recipe=recipe)
    (run_dir / "config.json").write_text(json.dumps(config))
    config["train"]["max_iter"] = config["flags"]["max_iter"]  # (only the config's flags are matched)
    (run_dir / "config.json").write_text(json.dumps(config))
    for part in (run_dir / "checkpoints").glob("iteration-40.*"):
        last = config["flags"]["max_iter"]
        part.rename(part.with_name(part.name.replace("iteration-40.", f"iteration-{last}.")))
    # A results file from earlier: a stale entry of this very run (replaced) and a run whose folder is gone (kept).
    published = json.loads((ROOT / "results" / "mnist.json").read_text())["runs"][0]
    gone = dict(published, run="mnist_gone", seed=7, accuracy=0.9, nmi=0.8, ari=0.7)
    stale = dict(published, run=run_dir.name, accuracy=0.1)
    results_file = tmp_path / "out" / "results" / ("mnist_reliable.json" if mode == "--recipe" else "mnist.json")
    results_file.parent.mkdir(parents=True)
    results_file.write_text(json.dumps({"runs": [stale, gone]}))
    env = dict(os.environ, RUNS_DIR=str(tmp_path / "runs"), OUTPUT_ROOT=str(tmp_path / "out"),
               MNIST_DIR=str(mnist_dir))
    argv = [mode, "reliable"] if mode == "--recipe" else [mode]
    result = subprocess.run(["bash", str(ROOT / "scripts" / "mnist" / "reproduce_mnist.sh"), "12345"] + argv,
                            env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"run: {run_dir}" in result.stdout
    assert "keeping seed 7 (mnist_gone)" in result.stdout
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    results = json.loads(results_file.read_text())
    categories_dir = results_file.with_suffix("")
    assert sorted(p.name for p in results_file.parent.iterdir()) == [categories_dir.name, results_file.name]
    assert [(r["seed"], r["run"]) for r in results["runs"]] == [(7, "mnist_gone"), (12345, run_dir.name)]
    assert results["runs"][0] == gone
    assert results["runs"][1]["accuracy"] == evaluation["accuracy"]
    assert results["summary"]["runs"] == 2
    assert results["summary"]["accuracy"]["mean"] == pytest.approx((0.9 + evaluation["accuracy"]) / 2)
    assert results["runs"][1]["recipe"] == recipe
    assert results["runs"][1]["flags"] == ({"balance_weight": 1.0, "confidence_weight": 1.0, "consistency_weight": 1.0,
                                            "consistency_shear": 0.3, "max_iter": 6000} if mode == "--recipe" else {})
    # the test categories: 10,000 uint8 in test-file order, whose Hungarian accuracy is the evaluation's
    saved = results["runs"][1]["test_categories"]
    assert saved == f"results/{categories_dir.name}/seed12345_{run_dir.name}.npy"
    categories = np.load(tmp_path / "out" / saved)
    labels = mnist_labels(mnist_dir)
    assert categories.dtype == np.uint8 and categories.shape == labels.shape == (10000,)
    assert hungarian_accuracy(categories, labels) == pytest.approx(evaluation["accuracy"], abs=1e-9)
    figures = {p.name for p in (tmp_path / "out" / "imgs" / "mnist").glob("*.png")}
    if mode == "--recipe":
        assert figures == set()  # the figures of imgs/mnist are the defaults'
        return
    assert figures == {"samples_categorical.png", "sample_cont_c1.png", "sample_cont_c2.png",
                       "samples_reconstruction.png", "generated_imgs_categorical.png", "generated_imgs_cont_c1.png",
                       "generated_imgs_cont_c2.png", "misclassified.png"}


@pytest.mark.parametrize("argv", [[], ["seven"], ["1", "--figure"], ["1", "--figures", "x"], ["1", "--robust"],
                                  ["1", "--recipe"], ["1", "--figures", "--recipe", "reliable"],
                                  ["1", "--recipes", "reliable"]])
def test_reproduce_script_usage_errors(argv):
    result = subprocess.run(["bash", str(ROOT / "scripts" / "mnist" / "reproduce_mnist.sh")] + argv, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.startswith("usage: scripts/mnist/reproduce_mnist.sh SEED")
    assert result.stdout == ""


def test_reproduce_script_names_the_recipes_for_an_unknown_one():
    result = subprocess.run(["bash", str(ROOT / "scripts" / "mnist" / "reproduce_mnist.sh"), "1", "--recipe", "best"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "reproduce_mnist.sh: 'best' is not a recipe of train_mnist.py; its recipes: paper, reliable\n"


@pytest.mark.slow
def test_trajectory_script_bad_folder_is_one_line(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "mnist" / "mnist_trajectory.py"), str(tmp_path / "nope")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "does not exist" in result.stderr
    assert not (tmp_path / "results").exists()


def test_reproduce_script_refuses_training_flags_before_training(tmp_path):
    env = {**os.environ, "RUNS_DIR": str(tmp_path / "runs"), "TRAIN_FLAGS": "--log_every 10 --max_iter 2"}
    result = subprocess.run(["bash", str(ROOT / "scripts" / "mnist" / "reproduce_mnist.sh"), "5"], capture_output=True,
                            text=True, timeout=120, env=env)
    assert result.returncode == 2 and "TRAIN_FLAGS may hold loop settings only" in result.stderr
    assert "--max_iter" in result.stderr and "--log_every" not in result.stderr.split("not ")[-1]
    assert not (tmp_path / "runs").exists()  # nothing trained, no run folder


def test_find_paper_run_help_and_usage():
    script = str(ROOT / "scripts" / "mnist" / "find_paper_run.py")
    helped = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "RUNS_DIR" in helped.stdout
    wrong = subprocess.run([sys.executable, script, "runs", "x"], capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and wrong.stderr.startswith("usage:") and wrong.stdout == ""


@pytest.mark.slow
def test_results_script_bad_data_folder_is_one_line(trained_run, tmp_path):
    (tmp_path / "run").mkdir()
    for name in ("config.json", "evaluation.json"):
        (tmp_path / "run" / name).write_text((trained_run / name).read_text() if name == "config.json" else "{}")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "mnist" / "mnist_results.py"), str(tmp_path / "run"),
                             "--data_dir", str(tmp_path / "nope"), "--output", str(tmp_path / "r.json")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"mnist_results.py: error: MNIST folder {tmp_path / 'nope'} does not exist"
    assert not (tmp_path / "r.json").exists()


def test_results_merge_keeps_runs_whose_folders_are_gone():
    old = [{"run": "a", "seed": 3, "accuracy": 0.1}, {"run": "b", "seed": 1, "accuracy": 0.2}]
    new = [{"run": "a", "seed": 3, "accuracy": 0.9}, {"run": "c", "seed": 2, "accuracy": 0.5}]
    runs, kept = mnist_results.merge_runs(old, new)
    assert [(r["run"], r["accuracy"]) for r in runs] == [("b", 0.2), ("c", 0.5), ("a", 0.9)]
    assert kept == [{"run": "b", "seed": 1, "accuracy": 0.2}]


@pytest.mark.slow
@pytest.mark.parametrize("content", ["not json", '{"runs": [{"seed": 1, "accuracy": 0.9}]}'])
def test_results_script_unreadable_results_file_is_one_line(trained_run, tmp_path, content):
    (tmp_path / "run").mkdir()
    for name in ("config.json", "evaluation.json"):
        (tmp_path / "run" / name).write_text((trained_run / name).read_text() if name == "config.json" else "{}")
    (tmp_path / "r.json").write_text(content)
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "mnist" / "mnist_results.py"), str(tmp_path / "run"),
                             "--output", str(tmp_path / "r.json")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"mnist_results.py: error: cannot read the runs of {tmp_path / 'r.json'}")
    assert (tmp_path / "r.json").read_text() == content  # left as it was


@pytest.mark.slow
def test_trajectory_script_accuracy_health_and_where_it_writes(trained_run, mnist_dir, tmp_path):
    """Each checkpoint's accuracy and health (the last as evaluate_model.py reports it; usage and information
    recomputed from E's cached test codes); a recipe's trajectory does not replace the defaults' of its
    seed; a file holding another run's trajectory is refused and left as it was."""
    import mnist_trajectory
    from bidirectional_infogan.evaluate.cli import main as evaluate
    from conftest import writable_run_copy
    run_dir = tmp_path / trained_run.name
    writable_run_copy(trained_run, run_dir)
    script = [sys.executable, str(ROOT / "scripts" / "mnist" / "mnist_trajectory.py"), str(run_dir), "--data_dir", str(mnist_dir)]
    output = tmp_path / "trajectory.json"
    done = subprocess.run(script + ["--output", str(output)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    points = json.loads(output.read_text())["points"]
    assert [p["iteration"] for p in points] == [20, 40]
    labels = mnist_labels(mnist_dir)
    for point in points:  # each checkpoint's test categories, beside the output, scoring its accuracy
        name = f"seed12345_{run_dir.name}_iteration-{point['iteration']}.npy"
        assert point["test_categories"] == str(tmp_path / "trajectory" / "checkpoints" / name)  # not in results/
        categories = np.load(tmp_path / "trajectory" / "checkpoints" / name)
        assert categories.dtype == np.uint8 and categories.shape == (10000,)
        assert hungarian_accuracy(categories, labels) == pytest.approx(point["accuracy"], abs=1e-9)
    assert evaluate(["--model_dir", str(run_dir), "--evaluate", "--json", str(tmp_path / "evaluation.json"),
                     "--data_dir", str(mnist_dir)], out=io.StringIO()) == 0
    evaluation = json.loads((tmp_path / "evaluation.json").read_text())
    (reported,) = evaluation["health"]["variables"]
    assert points[1]["accuracy"] == evaluation["accuracy"]
    assert points[1]["health"] == {key: pytest.approx(reported[key], abs=5e-5)
                                   for key in ("score", "usage", "information", "stability", "agreement")}
    for point in points:
        p = np.load(run_dir / "test_codes" / f"iteration-{point['iteration']}.npz")["codes"][:, 16:26].astype(np.float64)
        marginal = p.mean(axis=0)
        h_marginal = -np.sum(marginal * np.log(marginal))
        h_each = -np.sum(p * np.log(np.clip(p, 1e-300, None)), axis=1).mean()
        assert point["health"]["usage"] == pytest.approx(h_marginal / np.log(10), abs=5e-5)
        assert point["health"]["information"] == pytest.approx((h_marginal - h_each) / np.log(10), abs=5e-5)

    paper = find_paper_run.paper_settings("mnist")
    assert mnist_trajectory.default_output(3, paper) == ROOT / "results" / "mnist_trajectory_seed3.json"
    assert (mnist_trajectory.default_output(3, find_paper_run.paper_settings("mnist", "--recipe reliable"))
            == ROOT / "results" / "mnist_reliable_trajectory_seed3.json")
    assert mnist_trajectory.default_output(3, dict(paper, batch_size=32)) is None
    refused = subprocess.run(script, capture_output=True, text=True, timeout=300)  # batch 32: neither mode
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "--output" in refused.stderr
    other = json.dumps({"run": "mnist_other", "seed": 3, "points": []})
    output.write_text(other)
    refused = subprocess.run(script + ["--output", str(output)], capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "mnist_other" in refused.stderr and "Traceback" not in refused.stderr
    assert output.read_text() == other
    (tmp_path / "a_file").write_text("mine")  # the output cannot be written: one line, nothing changed
    refused = subprocess.run(script + ["--output", str(tmp_path / "a_file" / "t.json")], capture_output=True,
                             text=True, timeout=300)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "cannot write" in refused.stderr
    assert (tmp_path / "a_file").read_text() == "mine"
