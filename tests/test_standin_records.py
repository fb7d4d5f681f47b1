"""scripts/svhn_standin/standin_summary.py on a stand-in made with --label_prior svhn --neighbours svhn (issue 44):
the summary's record of how the stand-in was made and of the first variable's test categories, checked against
E's codes and the stand-in's factors."""

import json
import shlex
from pathlib import Path

import numpy as np
import pytest
import scipy.io

import standin_summary  # noqa: E402 (each scripts/ folder is on pytest's pythonpath)
from test_standin_scoring import LIMIT, N_TEST, run_main, standin_run  # noqa: F401 (standin_run: a fixture)


@pytest.mark.slow
def test_a_skewed_standin_is_summed_up_with_its_command_and_categories(standin_run, tmp_path, capsys):
    """The run scored on a stand-in made with --label_prior svhn --neighbours svhn (its factors file holds the two
    options as one value each): the summary names them and the command that makes the stand-in, and the saved
    test categories are the first variable's argmax of E's codes, from which the per-digit recall follows."""
    import make_svhn_standin
    from bidirectional_infogan.runs.checkpoints import load_trained_model
    run, _, _ = standin_run
    data = tmp_path / "skewed"
    assert make_svhn_standin.main(["--out", str(data), "--train_count", "300", "--test_count", str(N_TEST),
                                   "--workers", "1", "--label_prior", "svhn", "--neighbours", "svhn"]) == 0
    out, categories = tmp_path / "summary.json", tmp_path / "categories"
    code, _, err = run_main(standin_summary, [run, "--data_dir", data, "--iterations", "last", "--limit", LIMIT,
                                              "--categories_dir", categories, "--out", out], capsys)
    assert code == 0, err
    (summary,) = json.loads(out.read_text())["runs"].values()
    assert (summary["label_prior"], summary["neighbours"]) == ("svhn", "svhn")
    assert summary["standin_command"] == ("python scripts/svhn_standin/make_svhn_standin.py --out skewed --seed 0 "
                                          f"--train_count 300 --test_count {N_TEST} --label_prior svhn "
                                          "--neighbours svhn")
    saved = np.load(categories / f"{run.name}_iteration-4.npy")
    assert summary["test_categories"] == f"{run.name}_iteration-4.npy"  # outside the project: its name only
    x = scipy.io.loadmat(str(data / "test_32x32.mat"))["X"].transpose(3, 0, 1, 2)[:LIMIT]
    model, _, _ = load_trained_model(run, 4)
    assert saved.dtype == np.uint8 and np.array_equal(saved, model.encode(x)[:, 64:74].argmax(axis=1))
    with np.load(data / "factors_test.npz") as stored:
        digits = stored["digit"][:LIMIT]
    mapping = {int(k): m for k, m in summary["checkpoints"]["4"]["categorical"][0]["mapping_digit"].items()}
    read = np.array([mapping[v] for v in saved])
    assert summary["per_digit_recall"] == [pytest.approx(np.mean(read[digits == d] == d)) if np.any(digits == d)
                                           else None for d in range(10)]


ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = json.loads((ROOT / "results" / "svhn_standin" / "summary.json").read_text())["runs"]


@pytest.mark.slow
@pytest.mark.core
@pytest.mark.parametrize("name", [n for n, run in PUBLISHED.items() if run.get("test_categories")])
def test_the_published_runs_recall_is_what_their_categories_give(name, tmp_path):
    """A run of results/svhn_standin/summary.json with saved test categories (either stand-in): its test split made
    again from the summary's standin_command (the test split does not depend on --train_count), and the saved
    first-variable categories scored on its labels here (best one-to-one mapping by scipy; with more values than
    digits also each value read as its most common digit): the summary's accuracy and per-digit recall. The
    categories are those of the run's last scored checkpoint."""
    from scipy.optimize import linear_sum_assignment
    import make_svhn_standin
    run = PUBLISHED[name]
    argv = shlex.split(run["standin_command"])[2:]
    argv[argv.index("--out") + 1] = str(tmp_path / "data")
    argv[argv.index("--train_count") + 1] = "1"
    assert make_svhn_standin.main(argv + ["--workers", "1"]) == 0
    with np.load(tmp_path / "data" / "factors_test.npz") as stored:
        digits = stored["digit"].astype(np.int64)
    saved = np.load(ROOT / run["test_categories"])
    assert saved.dtype == np.uint8 and saved.shape == digits.shape == (run["n_test"],)
    categories = saved.astype(np.int64)
    last = run["checkpoints"][str(run["scored_iteration"])]["categorical"][0]
    counts = np.zeros((len(last["mapping_digit"]), 10))  # a row per value of the variable (20 if over-clustered)
    np.add.at(counts, (categories, digits), 1)
    values, matched = linear_sum_assignment(-counts)
    read = dict(zip(values, matched))
    predicted = np.array([read.get(v, -1) for v in categories])
    assert last["accuracy_digit"] == pytest.approx(np.mean(predicted == digits), abs=1e-4)
    assert run["per_digit_recall"] == pytest.approx([np.mean(predicted[digits == d] == d) for d in range(10)],
                                                    abs=1e-9)
    if "many_to_one" in run:  # each value read as its most common digit
        majority = counts.argmax(axis=1)
        predicted = np.array([majority[v] for v in categories])
        assert run["many_to_one"]["accuracy"] == pytest.approx(np.mean(predicted == digits), abs=1e-9)
        assert run["many_to_one"]["per_digit_recall"] == pytest.approx(
            [np.mean(predicted[digits == d] == d) for d in range(10)], abs=1e-9)
