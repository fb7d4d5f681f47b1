"""Agreement between runs (evaluate/agreement.py) and evaluate_model.py --compare: AMI against independent
computations, the outlier rule on made-up runs, split and merge named, bad input, the JSON; and, marked slow,
the categories of the published model and of a run folder (its code cache)."""

import io
import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bidirectional_infogan.evaluate import agreement
from bidirectional_infogan.evaluate.cli import main
from conftest import best_match_predictions

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "pretrained" / "mnist"
N = 10000


def mutual_information(a, b) -> float:
    """I(a; b) in nats, counted here with np.unique (not the project's contingency)."""
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    joint = np.zeros((ia.max() + 1, ib.max() + 1))
    for x, y in zip(ia, ib):
        joint[x, y] += 1
    joint /= len(a)
    outer = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
    nonzero = joint > 0
    return float(np.sum(joint[nonzero] * np.log(joint[nonzero] / outer[nonzero])))


def entropy(a) -> float:
    p = np.unique(a, return_counts=True)[1] / len(a)
    return float(-np.sum(p * np.log(p)))


def noisy_copy(truth, noise, rng, k=10):
    """`truth` with a share `noise` of the images given a random category, then relabelled at random."""
    copy = truth.copy()
    flip = rng.random(len(truth)) < noise
    copy[flip] = rng.integers(0, k, flip.sum())
    return rng.permutation(k)[copy]


def split_and_merge(truth, rng):
    """Category 0 split in two (half of it to 2), categories 1 and 2 merged (2 to 1): still 10 categories."""
    bad = truth.copy()
    bad[truth == 2] = 1
    bad[(truth == 0) & (rng.random(len(truth)) < 0.5)] = 2
    return bad


# ---------------------------------------------------------------------------------------------------------
# AMI and matched share

def test_ami_of_identical_and_relabelled_runs_is_one():
    rng = np.random.default_rng(0)
    run = rng.integers(0, 10, 3000)
    assert agreement.adjusted_mutual_information(run, run) == pytest.approx(1.0, abs=1e-12)
    relabelled = np.array([7, 3, 9, 0, 4, 1, 8, 2, 6, 5])[run] + 5  # other names, some never used (0-4)
    assert agreement.adjusted_mutual_information(run, relabelled) == pytest.approx(1.0, abs=1e-12)
    assert agreement.matched_share(run, relabelled) == 1.0
    assert agreement.adjusted_mutual_information(np.zeros(50, int), np.full(50, 3)) == 1.0  # one category each


def test_expected_mutual_information_is_the_mean_over_all_permutations():
    """The hypergeometric model is a random permutation of one labelling against the other: its expected MI is
    the plain mean over all 7! permutations of a tiny labelling, and AMI follows from it."""
    a = np.array([0, 0, 0, 1, 1, 2, 2])
    b = np.array([5, 5, 5, 5, 8, 8, 8])
    values = [mutual_information(a, b[list(order)]) for order in itertools.permutations(range(7))]
    expected = float(np.mean(values))
    assert agreement.expected_mutual_information([3, 2, 2], [4, 3]) == pytest.approx(expected, rel=1e-12)
    large = np.array([0, 0, 0, 0, 0, 1, 1])  # 5 + 4 > 7 + 1: every table puts at least 2 in the first cell
    values = [mutual_information(large, b[list(order)]) for order in itertools.permutations(range(7))]
    assert agreement.expected_mutual_information([5, 2], [4, 3]) == pytest.approx(np.mean(values), rel=1e-12)
    c = np.array([0, 1, 0, 1, 2, 2, 0])
    independent = (mutual_information(c, b) - expected) / (0.5 * (entropy(c) + entropy(b)) - expected)
    assert agreement.adjusted_mutual_information(c, b) == pytest.approx(independent, rel=1e-12)


def test_expected_mutual_information_against_monte_carlo():
    """Larger margins (too many permutations to list): the mean MI of 4,000 random permutations, within 4.5
    standard errors of the mean (a chance of about 1e-5 to fail if the exact value is right)."""
    rng = np.random.default_rng(1)
    a = rng.choice(4, 120, p=[0.4, 0.3, 0.2, 0.1])
    b = rng.choice(5, 120, p=[0.3, 0.3, 0.2, 0.1, 0.1])
    values = np.array([mutual_information(a, rng.permutation(b)) for _ in range(4000)])
    exact = agreement.expected_mutual_information(np.bincount(a), np.bincount(b))
    assert abs(values.mean() - exact) < 4.5 * values.std(ddof=1) / np.sqrt(len(values))


def test_independent_random_runs_score_near_zero():
    """Independent runs: 2N * MI is about chi-squared with (K-1)^2 = 81 degrees of freedom, so MI - E[MI] has a
    standard deviation of about sqrt(2 * 81) / (2N) and AMI one of that over ln 10: 2.8e-4 at N = 10,000;
    5 sigma is 1.4e-3. At N = 100 the unadjusted NMI of independent runs is far from 0 (E[MI] / ln 10 is
    about 81 / 200 / 2.3 = 0.18), the adjusted one is not: the mean of 40 such pairs, with a standard error of
    about 0.04 / sqrt(40), stays within 0.03 of 0."""
    rng = np.random.default_rng(2)
    for _ in range(3):
        a, b = rng.integers(0, 10, N), rng.integers(0, 10, N)
        assert abs(agreement.adjusted_mutual_information(a, b)) < 1.4e-3
    from bidirectional_infogan.evaluate.evaluation import normalized_mutual_information
    small = [(rng.integers(0, 10, 100), rng.integers(0, 10, 100)) for _ in range(40)]
    assert np.mean([normalized_mutual_information(a, b, 10, 10) for a, b in small]) > 0.1
    assert abs(np.mean([agreement.adjusted_mutual_information(a, b) for a, b in small])) < 0.03


def test_matched_share_is_the_best_one_to_one_matching():
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 6, 500), rng.integers(0, 5, 500)
    independent = np.mean(best_match_predictions(a, b, 6, 5) == b)
    assert agreement.matched_share(a, b) == pytest.approx(independent)
    assert agreement.matched_share([0, 0, 1, 1], [1, 1, 0, 2]) == 0.75


# ---------------------------------------------------------------------------------------------------------
# Several runs: the medoid, the outlier rule and what an outlier does differently

@pytest.mark.parametrize("noise", [0.0, 0.005, 0.01, 0.02])
def test_split_and_merge_among_near_copies_is_flagged_and_named(noise):
    rng = np.random.default_rng(4)
    truth = rng.integers(0, 10, N)
    perms = [rng.permutation(10) for _ in range(4)]
    runs = [p[np.where(rng.random(N) < noise, rng.integers(0, 10, N), truth)] for p in perms]
    runs.append(split_and_merge(np.where(rng.random(N) < noise, rng.integers(0, 10, N), truth), rng))
    names = ["a", "b", "c", "d", "bad"]
    report = agreement.compare_runs(runs, names)
    assert report["flagged"] == ["bad"]
    assert report["medoid"] != "bad"
    ranking = sorted(report["runs"], key=lambda run: run["mean_agreement"])
    assert ranking[0]["name"] == "bad"  # ranked last by agreement too
    medoid_perm = perms[names.index(report["medoid"])]  # medoid category = medoid_perm[true category]
    (found,) = report["runs"][4]["differences"]
    assert [(s["medoid_category"], sorted(s["into"])) for s in found["splits"]] == [(medoid_perm[0], [0, 2])]
    assert [(m["category"], sorted(m["takes"])) for m in found["merges"]] == [(1, sorted(medoid_perm[[1, 2]]))]
    for run in report["runs"][:4]:
        assert not run["flagged"] and run["differences"] == []
    lines = "\n".join(agreement.agreement_lines(report))
    assert f"splits the medoid's category {medoid_perm[0]} into its " in lines
    assert f"into its 1\n" in lines + "\n" and "FLAGGED" in lines.splitlines()[6]


def test_two_categories_shared_by_slant_is_flagged_and_named():
    """The robust mode's failure: two classes (4 and 9) mixed into two categories by another factor."""
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 10, N)
    runs = [noisy_copy(truth, 0.01, rng) for _ in range(4)]
    mixed = truth.copy()
    shared = np.isin(truth, [4, 9])
    mixed[shared] = np.where(rng.random(shared.sum()) < 0.5, 4, 9)
    report = agreement.compare_runs(runs + [mixed], ["a", "b", "c", "d", "mixed"])
    assert report["flagged"] == ["mixed"]
    (found,) = report["runs"][4]["differences"]
    assert sorted(s["medoid_category"] for s in found["splits"]) == sorted(
        found["merges"][0]["takes"]) == sorted(found["merges"][1]["takes"])
    assert sorted(m["category"] for m in found["merges"]) == [4, 9]


def test_two_runs_that_fail_alike_are_both_flagged():
    """Two runs that mix 4s and 9s by the same other factor agree with each other, which pulls the median of the
    mean agreements down to them; the matched share with the medoid still flags both (robust seeds 2 and 4)."""
    rng = np.random.default_rng(6)
    truth = rng.integers(0, 10, N)
    slant = rng.random(N) < 0.5  # the other factor, shared by both failures
    mixed = truth.copy()
    shared = np.isin(truth, [4, 9])
    mixed[shared] = np.where(slant[shared], 4, 9)
    runs = [noisy_copy(truth, 0.005, rng) for _ in range(3)] + [noisy_copy(mixed, 0.01, rng) for _ in range(2)]
    report = agreement.compare_runs(runs, ["a", "b", "c", "bad1", "bad2"])
    assert report["flagged"] == ["bad1", "bad2"]
    assert all(run["flagged_by"] == ["medoid_matched_share"] for run in report["runs"][3:])
    assert report["medoid"] in ("a", "b", "c")
    # two runs: the other run is the medoid's closest, so the medoid part flags nobody
    assert agreement.compare_runs([runs[0], runs[3]], ["a", "bad"])["flagged"] == []


@pytest.mark.parametrize("seed", range(4))
def test_near_identical_runs_flag_none(seed):
    """Good runs that differ by 0.5-4% of the images each, or not at all: nobody is flagged."""
    rng = np.random.default_rng(10 + seed)
    truth = rng.integers(0, 10, N)
    noise = [0.005, 0.01, 0.02, 0.02][seed]
    runs = [noisy_copy(truth, noise * factor, rng) for factor in (1, 1.5, 1, 2, 1.2)]
    assert agreement.compare_runs(runs, list("abcde"))["flagged"] == []
    assert agreement.compare_runs([truth] * 4, list("abcd"))["flagged"] == []


def test_several_variables_compare_with_the_best_matching_variable():
    """Table-2 models: the runs learn the same three factors in different variables; one run splits and merges
    the categories of one factor. Each variable is matched to its factor in every other run, and only that
    run is flagged, and its differences name that variable."""
    rng = np.random.default_rng(6)
    factors = rng.integers(0, 10, (N, 3))
    runs, orders = [], []
    for _ in range(5):
        order = rng.permutation(3)
        runs.append(np.stack([noisy_copy(factors[:, f], 0.01, rng) for f in order], axis=1))
        orders.append(order)
    bad_variable = int(np.flatnonzero(orders[4] == 1)[0])
    runs[4][:, bad_variable] = split_and_merge(factors[:, 1], rng)
    report = agreement.compare_runs(runs, list("abcdX"))
    for v, variable in enumerate(report["variables"]):
        for r in range(5):
            for s in range(5):
                matched = variable["best_match"][r][s] - 1
                assert orders[s][matched] == orders[r][v]  # the variable of s that holds the same factor
        assert variable["ami"][0][1] > 0.9
    assert report["flagged"] == ["X"]
    (found,) = report["runs"][4]["differences"]
    assert found["variable"] == bad_variable + 1 and len(found["splits"]) == len(found["merges"]) == 1


# ---------------------------------------------------------------------------------------------------------
# evaluate_model.py --compare

def run_main(argv):
    out = io.StringIO()
    try:
        code = main([str(a) for a in argv], out=out)
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue()


@pytest.fixture(scope="module")
def category_files(tmp_path_factory):
    """Four near-copies and a split-and-merge as saved category files (uint8), and what they were made from."""
    folder = tmp_path_factory.mktemp("categories")
    rng = np.random.default_rng(7)
    truth = rng.integers(0, 10, 2000)
    runs = [noisy_copy(truth, 0.01, rng) for _ in range(4)] + [split_and_merge(truth, rng)]
    paths = []
    for k, run in enumerate(runs):
        paths.append(folder / f"seed{k + 1}.npy")
        np.save(paths[-1], run.astype(np.uint8))
    return folder, paths, runs


def fake_folder(folder: Path, dataset: str = "mnist", exported: bool = False) -> Path:
    """A run folder without checkpoints, or an exported folder with empty .keras files: enough for every check
    that comes before TensorFlow."""
    folder.mkdir(parents=True)
    config = json.loads((PRETRAINED / "config.json").read_text())
    config["model"]["dataset"] = dataset
    (folder / "config.json").write_text(json.dumps(config))
    if exported:
        (folder / "encoder.keras").write_bytes(b"")
        (folder / "generator.keras").write_bytes(b"")
    return folder


@pytest.mark.parametrize("case,message", [
    ("one run", "--compare needs at least two runs to compare; got only"),
    ("lengths", "category files of different lengths: "),
    ("missing", "nothere.npy does not exist"),
    ("no checkpoint", "has no checkpoint"),
    ("data sets", "runs of different data sets: "),
    ("layouts", "runs of different layouts of categorical variables: "),
    ("folder layout", "runs of different layouts of categorical variables: "),
    ("not categories", "is not a category file: it holds a float64 array"),
    ("twice", "is given twice"),
    ("with model_dir", "--compare takes its runs as arguments"),
    ("json exists", "exists; choose another --json path"),
])
def test_bad_input_is_one_line(case, message, category_files, tmp_path, capsys):
    folder, paths, runs = category_files
    first = paths[0]
    argv = {"one run": lambda: [first],
            "lengths": lambda: [first, tmp_path / "short.npy"],
            "missing": lambda: [first, tmp_path / "nothere.npy"],
            "no checkpoint": lambda: [first, fake_folder(tmp_path / "run")],
            "data sets": lambda: [fake_folder(tmp_path / "m", exported=True),
                                  fake_folder(tmp_path / "s", "svhn", exported=True)],
            "layouts": lambda: [first, tmp_path / "two.npy"],
            "folder layout": lambda: [fake_folder(tmp_path / "m", exported=True), tmp_path / "two.npy"],
            "not categories": lambda: [first, tmp_path / "float.npy"],
            "twice": lambda: [first, paths[1], first],
            "with model_dir": lambda: [first, paths[1], "--model_dir", folder],
            "json exists": lambda: [first, paths[1], "--json", first]}[case]()
    np.save(tmp_path / "short.npy", runs[1][:1999].astype(np.uint8))
    np.save(tmp_path / "two.npy", np.stack([runs[1]] * 2, axis=1).astype(np.uint8))
    np.save(tmp_path / "float.npy", runs[1].astype(np.float64))
    code, out = run_main(["--compare"] + argv)
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert "Agreement" not in out


def test_json_and_table(category_files, tmp_path):
    folder, paths, runs = category_files
    json_path = tmp_path / "out" / "agreement.json"
    code, out = run_main(["--compare", *paths, "--json", json_path])
    assert code == 0, out
    result = json.loads(json_path.read_text())
    names = [str(p) for p in paths]
    assert [run["name"] for run in result["runs"]] == names
    assert all(run["source"] == "category file" for run in result["runs"])
    (variable,) = result["variables"]
    ami, share = np.array(variable["ami"]), np.array(variable["matched_share"])
    assert ami.shape == share.shape == (5, 5) and np.allclose(ami, ami.T) and np.allclose(np.diag(ami), 1)
    for r, s in [(0, 1), (2, 4), (3, 4)]:  # recomputed here: MI and entropies counted anew, matching by scipy
        assert share[r, s] == pytest.approx(np.mean(best_match_predictions(runs[r], runs[s], 10, 10) == runs[s]),
                                            abs=1e-4)
        nmi = mutual_information(runs[r], runs[s]) / (0.5 * (entropy(runs[r]) + entropy(runs[s])))
        assert ami[r, s] == pytest.approx(nmi, abs=0.005)  # N = 2,000: E[MI] is under 1% of H
    mean = (ami.sum(axis=1) - 1) / 4
    assert [run["mean_agreement"] for run in result["runs"]] == pytest.approx(mean, abs=1e-4)
    assert result["medoid"] == names[int(np.argmax(mean))]
    assert result["flagged"] == [names[4]] and result["runs"][4]["flagged_by"]
    (found,) = result["runs"][4]["differences"]
    assert len(found["splits"]) == len(found["merges"]) == 1
    assert result["rule"]["text"] == agreement.RULE
    assert set(result["thresholds"]) == set(agreement.FLOORS) | {"medoid_matched_share"}
    medoid = int(np.argmax(mean))
    assert [run["medoid_matched_share"] for run in result["runs"]] == pytest.approx(share[:, medoid], abs=1e-4)
    closest = max(share[r, medoid] for r in range(5) if r != medoid)
    assert result["thresholds"]["medoid_matched_share"] == pytest.approx(closest - agreement.MEDOID_GAP, abs=1e-4)
    table = out.splitlines()
    assert table[0].startswith("Agreement of 5 runs on the same 2000 images")
    for r, name in enumerate(names):
        row = next(line for line in table if line.split()[:2] == [str(r + 1), name])
        assert ("FLAGGED" in row) == (r == 4)
    assert f"Medoid, the run the others agree with most (the one to pick): {result['medoid']}" in table
    assert f"wrote {json_path}" in table


# ---------------------------------------------------------------------------------------------------------
# Categories of real models (slow: each encodes the 10,000 MNIST test images)

@pytest.mark.slow
def test_test_categories_of_the_published_model(mnist_dir):
    """inputs.test_categories of pretrained/mnist: uint8 (10000, 1), in test-file order, so that the labels
    classify it as results.json says (96.90%), mapped here by conftest's own Hungarian matching."""
    from bidirectional_infogan.data.mnist import load_mnist
    from bidirectional_infogan.evaluate import inputs
    categories = inputs.test_categories(PRETRAINED, data_dir=mnist_dir)
    assert categories.dtype == np.uint8 and categories.shape == (10000, 1)
    labels = load_mnist(mnist_dir).test.labels
    accuracy = np.mean(best_match_predictions(categories[:, 0], labels, 10, 10) == labels)
    assert accuracy == json.loads((PRETRAINED / "results.json").read_text())["accuracy"]


@pytest.mark.slow
def test_compare_reads_a_run_folder_through_its_code_cache(mnist_dir, tmp_path, category_files):
    """An untrained run folder (one checkpoint, iteration 7) against a category file: the folder is encoded
    once, its codes cached, and read from the cache the next time."""
    from bidirectional_infogan.model.config import RunConfig
    from bidirectional_infogan.model.gan import BidirectionalInfoGAN
    from bidirectional_infogan.runs.checkpoints import checkpoint_manager
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(PRETRAINED / "config.json", run_dir / "config.json")
    run = RunConfig.load(run_dir / "config.json")
    model = BidirectionalInfoGAN(run.model, run.train)
    model.step.assign(7)
    checkpoint_manager(model, run_dir).save(checkpoint_number=7)
    other = tmp_path / "other.npy"
    np.save(other, np.random.default_rng(8).integers(0, 10, 10000).astype(np.uint8))
    code, out = run_main(["--compare", run_dir, other, "--data_dir", mnist_dir, "--json", tmp_path / "a.json"])
    assert code == 0 and f"{run_dir}: Checkpoint: iteration 7 (test set encoded)" in out, out
    assert (run_dir / "test_codes" / "iteration-7.npz").is_file()
    assert json.loads((tmp_path / "a.json").read_text())["runs"][0]["source"] == "run folder, iteration 7"
    code, out = run_main(["--compare", run_dir, other, "--data_dir", mnist_dir])
    assert code == 0 and "(test codes from the cache)" in out, out
    code, out = run_main(["--compare", run_dir, category_files[1][0], "--data_dir", mnist_dir])
    assert code == 2
