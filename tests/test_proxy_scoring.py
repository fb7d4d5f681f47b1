"""Per-variable scoring (evaluation.score_categorical_variables, correlation_ratio) against independent
computations, and scripts/investigations/score_proxy.py end to end on a small proxy SVHN trained for four iterations."""

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from scipy import stats
from scipy.optimize import linear_sum_assignment

from bidirectional_infogan.evaluate import evaluation as ev
from bidirectional_infogan.model.config import table2_model_config
from bidirectional_infogan.model.latent import split_latent

ROOT = Path(__file__).resolve().parents[1]

import score_proxy  # noqa: E402
from bidirectional_infogan.evaluate import factor_scores  # noqa: E402

CFG = table2_model_config("svhn")  # z 64, four categorical variables with 10 values, 4 continuous


def one_hot(values, n):
    return np.eye(n)[values]


def brute_force_accuracy(values, labels, n_values, n_labels):
    """Best share of correctly labelled samples over every one-to-one assignment of labels to values."""
    best = 0
    for chosen in itertools.permutations(range(n_values), n_labels):  # chosen[l] = the value that means label l
        lookup = np.full(n_values, -1)
        lookup[list(chosen)] = np.arange(n_labels)
        best = max(best, int(np.sum(lookup[values] == labels)))
    return best / len(labels)


def entropy_nmi(values, labels):
    """NMI from scipy.stats.entropy: (H(x) + H(y) - H(x, y)) / mean(H(x), H(y))."""
    joint = stats.contingency.crosstab(values, labels).count
    h_joint = stats.entropy(joint.ravel())
    h_x, h_y = stats.entropy(joint.sum(axis=1)), stats.entropy(joint.sum(axis=0))
    return (h_x + h_y - h_joint) / (0.5 * (h_x + h_y))


def test_score_categorical_variables_against_brute_force():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 80)
    # variable 1 follows the labels through a permutation, with noise; variable 2 has 5 values for 3 labels;
    # variable 3 is E-like probabilities (argmax taken)
    v1 = np.where(rng.random(80) < 0.7, np.array([2, 0, 1])[labels], rng.integers(0, 3, 80))
    v2 = rng.integers(0, 5, 80)
    probabilities = rng.dirichlet(np.ones(4), 80)
    blocks = [one_hot(v1, 3), one_hot(v2, 5), probabilities]
    scores = ev.score_categorical_variables(blocks, labels, 3)
    assert [s["variable"] for s in scores] == [1, 2, 3]
    for score, block in zip(scores, blocks):
        values = block.argmax(axis=1)
        assert score["accuracy"] == pytest.approx(brute_force_accuracy(values, labels, block.shape[1], 3))
        assert score["nmi"] == pytest.approx(entropy_nmi(values, labels))
        predicted = np.array([score["mapping"][v] for v in values])
        assert np.mean(predicted == labels) == pytest.approx(score["accuracy"])
    assert scores[0]["accuracy"] > 0.75  # the noisy permutation is found


def test_correlation_ratio_by_hand():
    # groups {1, 2, 3} and {4, 5, 6}: overall mean 3.5, group means 2 and 5;
    # between = 3 * 1.5^2 * 2 = 13.5, total = 2.5^2 + 1.5^2 + 0.5^2 (times 2) = 17.5
    values = np.array([1.0, 2, 3, 4, 5, 6])
    assert ev.correlation_ratio(values, [7, 7, 7, 3, 3, 3]) == pytest.approx(math.sqrt(13.5 / 17.5))
    assert ev.correlation_ratio([1.0, 1, 5, 5, 9, 9], [0, 0, 1, 1, 2, 2]) == pytest.approx(1.0)  # a function
    assert ev.correlation_ratio([1.0, 3, 1, 3], [0, 0, 1, 1]) == pytest.approx(0.0)  # equal group means
    assert math.isnan(ev.correlation_ratio([2.0, 2, 2], [0, 1, 1]))


def test_correlation_ratio_of_two_groups_is_the_point_biserial_correlation():
    rng = np.random.default_rng(4)
    groups = rng.integers(0, 2, 200)
    values = rng.normal(size=200) + 0.8 * groups
    assert ev.correlation_ratio(values, groups) == pytest.approx(abs(stats.pearsonr(values, groups)[0]))
    # and with ten groups: sqrt of the one-way ANOVA's between / total sums of squares, from group lists
    groups = rng.integers(0, 10, 300)
    values = rng.normal(size=300) + 0.3 * (groups % 3)
    members = [values[groups == g] for g in range(10)]
    between = sum(len(m) * (m.mean() - values.mean()) ** 2 for m in members)
    total = np.var(values) * len(values)
    assert ev.correlation_ratio(values, groups) == pytest.approx(math.sqrt(between / total))


def test_log_validation_scores_keeps_tags_and_text(tmp_path):
    """log_step.log_validation_scores (through score_categorical_variables): the same TensorBoard tags and
    printed line as before, with values recomputed by brute force."""
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from bidirectional_infogan.train.log_step import log_validation_scores
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 4, 60)
    v1 = np.where(rng.random(60) < 0.8, (labels + 1) % 4, rng.integers(0, 4, 60))
    v2 = rng.integers(0, 4, 60)
    parts = split_latent(table2_model_config("svhn", categorical_dims=(4, 4), continuous_dim=1, z_dim=2),
                         np.concatenate([rng.random((60, 2)), one_hot(v1, 4), one_hot(v2, 4), rng.random((60, 1))],
                                        axis=1))
    writer = tf.summary.create_file_writer(str(tmp_path))
    line = log_validation_scores(parts, labels, writer, step=7)
    writer.flush()
    expected = [brute_force_accuracy(v, labels, 4, 4) for v in (v1, v2)]
    assert line == f"validation accuracy (Hungarian mapping): c1 {expected[0]:.2%}, c2 {expected[1]:.2%}"
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    assert sorted(acc.Tags()["tensors"]) == ["validation/accuracy_c1", "validation/accuracy_c2",
                                             "validation/nmi_c1", "validation/nmi_c2"]
    for v, values in enumerate((v1, v2)):
        (accuracy,), (nmi,) = acc.Tensors(f"validation/accuracy_c{v + 1}"), acc.Tensors(f"validation/nmi_c{v + 1}")
        assert accuracy.step == 7 and float(tf.make_ndarray(accuracy.tensor_proto)) == pytest.approx(expected[v])
        assert float(tf.make_ndarray(nmi.tensor_proto)) == pytest.approx(entropy_nmi(values, labels), abs=1e-6)


def test_parse_iterations():
    assert factor_scores.parse_iterations("all", [4, 2]) == [2, 4]
    assert factor_scores.parse_iterations("4", [2, 4]) == [4]
    assert factor_scores.parse_iterations("4,2", [2, 4]) == [4, 2]
    for text, message in (("3", "no checkpoint of iteration 3; the run has 2, 4"), ("x", "comma-separated"),
                          ("", "no checkpoint of iteration")):
        with pytest.raises(factor_scores.ScoreError, match=message):
            factor_scores.parse_iterations(text, [2, 4])


def test_visible_change_ratio_and_other_values():
    base, changed = np.zeros((2, 4)), np.array([[0.5, -0.5, 0.5, 0.5], [0.5, 0.5, -0.5, 0.5]])
    assert score_proxy.visible_change_ratio(base, changed, 0.25) == pytest.approx(2.0)
    assert score_proxy.visible_change_ratio(base, base, 0.25) == 0.0
    assert math.isnan(score_proxy.visible_change_ratio(base, changed, 0.0))
    values = np.repeat(np.arange(10), 500)
    others = score_proxy.other_values(values, 10, np.random.default_rng(0))
    assert np.all(others != values) and others.min() == 0 and others.max() == 9
    counts = np.bincount(others[values == 3], minlength=10)
    assert counts[3] == 0 and counts.min(initial=500, where=np.arange(10) != 3) > 30  # every other value drawn


def test_score_generator_on_a_known_generator():
    """A fake G whose images are z's first 5 entries, c1's and c2's one-hot blocks and 0.5 * cont1 (c3, c4
    and cont2..cont4 unused), and a fake E that reads c1, c2 and cont1 back exactly and returns 0 for the rest."""
    z_dim = CFG.z_dim
    generated = []

    def generate(codes):
        generated.append(len(codes))
        parts = split_latent(CFG, codes)
        return np.concatenate([codes[:, :5], parts.categorical[0], parts.categorical[1],
                               0.5 * parts.continuous[:, :1]], axis=1)

    def encode(images):
        codes = np.zeros((len(images), CFG.latent_dim), np.float32)
        codes[:, z_dim:z_dim + 20] = images[:, 5:25]
        codes[:, z_dim + 40] = images[:, 25] / 0.5
        return codes

    n = 18000  # 2,000 per variable and for the new z
    scores = score_proxy.score_generator(CFG, generate, encode, n, seed=1)
    cat, cont = scores["categorical"], scores["continuous"]
    assert sum(generated) == 2 * n  # the cost: G(z, c) and one changed copy of each code
    assert cat[0]["recovered"] == 1.0 and cat[1]["recovered"] == 1.0
    for v in (2, 3):  # E gives value 0 for these: right for the tenth of codes that have it
        assert cat[v]["recovered"] == pytest.approx(0.1, abs=0.03) and cat[v]["visible_change"] == 0.0
    for j in (1, 2, 3):
        assert cont[j]["visible_change"] == 0.0 and math.isnan(cont[j]["recovered_r"])
    assert cont[0]["recovered_r"] == pytest.approx(1.0)
    # expected mean |differences| over the 26 pixels: a new z changes 5 of them by E|u - u'| = 2/3;
    # another value of c1 or c2 changes 2 by exactly 1; a new cont1 changes 1 by 0.5 * 2/3
    z_change = 5 * (2 / 3) / 26
    assert scores["z_mean_abs_difference"] == pytest.approx(z_change, rel=0.03)
    for v in (0, 1):
        assert cat[v]["visible_change"] == pytest.approx((2 / 26) / z_change, rel=0.03)
    assert cont[0]["visible_change"] == pytest.approx((0.5 * 2 / 3 / 26) / z_change, rel=0.05)


def test_score_codes_finds_the_factor_each_variable_carries():
    rng = np.random.default_rng(6)
    n = 500
    factors = {"digit": rng.integers(0, 10, n), "stroke_colour": rng.integers(0, 10, n),
               "background_colour": rng.integers(0, 10, n), "neighbour_side": rng.integers(0, 3, n),
               "brightness": rng.uniform(0.9, 1.1, n)}
    permutation = rng.permutation(10)
    categorical = [permutation[factors["digit"]], factors["stroke_colour"], factors["neighbour_side"],
                   np.full(n, 7)]  # c4 collapsed: E gives every image the same value
    continuous = [factors["brightness"] * 3, (factors["background_colour"] == 4) + 0.01 * rng.normal(size=n),
                  np.sin(factors["digit"]), rng.normal(size=n)]
    codes = np.concatenate([rng.random((n, CFG.z_dim))] + [one_hot(v, 10) for v in categorical]
                           + [np.stack(continuous, axis=1)], axis=1)
    scores = score_proxy.score_codes(CFG, codes, factors)
    cat, cont = scores["categorical"], scores["continuous"]
    assert cat[0]["accuracy_digit"] == 1.0 and cat[0]["nmi"]["digit"] == pytest.approx(1.0)
    assert [c["best_factor"] for c in cat] == ["digit", "stroke_colour", "neighbour_side", None]
    assert [c["values_used"] for c in cat] == [10, 10, 3, 1]
    assert cat[1]["nmi"]["stroke_colour"] == pytest.approx(1.0)
    assert cont[0]["r_brightness"] == pytest.approx(1.0) and cont[0]["best_factor"] == "brightness"
    assert cont[1]["best_factor"] == "background_colour" and cont[2]["best_factor"] == "digit"
    assert cont[2]["eta"]["digit"] == pytest.approx(1.0)
    # a factor the file lacks, or a constant one, is not scored
    del factors["stroke_colour"]
    factors["neighbour_side"] = np.zeros(n, int)
    scores = score_proxy.score_codes(CFG, codes, factors)
    assert scores["categorical"][1]["nmi"]["stroke_colour"] is None
    assert scores["categorical"][2]["nmi"]["neighbour_side"] is None
    assert scores["continuous"][0]["eta"]["stroke_colour"] is None


def test_load_test_factors_of_celeba_takes_the_test_partition(tmp_path):
    """factors.npz is in the order of list_eval_partition.txt; the test set is its partition-2 rows."""
    partition = np.array([0, 2, 1, 2, 0, 2])
    np.savez(tmp_path / "factors.npz", digit=np.arange(6), partition=partition,
             neighbour_side=np.zeros(6, int), palette=np.zeros((10, 3), np.uint8))
    factors = score_proxy.load_test_factors("celeba", tmp_path)
    assert factors["digit"].tolist() == [1, 3, 5] and "palette" not in factors
    assert factor_scores.usable(factors, "neighbour_side") is None  # constant: not scored
    with pytest.raises(score_proxy.ScoreError, match="has no factors_test.npz: not a proxy"):
        score_proxy.load_test_factors("svhn", tmp_path)


# --- end to end ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def proxy_run(mnist_dir, tmp_path_factory):
    """A proxy SVHN of 300 training (250 after the validation images) and 50 test images, and a 4-iteration
    code/train_svhn.py run on it with checkpoints at 2 and 4."""
    import make_proxy_data
    import train_svhn
    from bidirectional_infogan.train import cli
    root = tmp_path_factory.mktemp("proxy")
    assert make_proxy_data.main(["--mnist_dir", str(mnist_dir), "--out", str(root / "data"), "--limit", "300",
                                 "--datasets", "svhn"]) == 0
    data = root / "data" / "svhn"
    assert cli.main(train_svhn.SCRIPT, ["--data_dir", str(data), "--log_dir", str(root / "logs"), "--max_iter", "4",
                                        "--checkpoint_every", "2", "--batch_size", "8", "--validation_size", "50",
                                        "--log_every", "2"]) == 0
    (run,) = (root / "logs" / "svhn").iterdir()
    return run, data


def run_script(argv, capsys):
    """score_proxy.main in this process: (exit code, stdout, stderr)."""
    try:
        code = score_proxy.main([str(a) for a in argv])
    except SystemExit as exit:
        code = exit.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.slow
def test_score_proxy_end_to_end(proxy_run, tmp_path, capsys):
    """The table and the JSON for both checkpoints; c2's and cont3's numbers at iteration 4 recomputed here
    from E's codes of the test images read straight from the .mat file, with the factors file."""
    from bidirectional_infogan.runs.checkpoints import load_trained_model
    run, data = proxy_run
    out_json = tmp_path / "scores.json"
    code, out, err = run_script([run, "--json", out_json, "--samples", "40"], capsys)
    assert code == 0, err
    assert "iteration 2: 50 test images, 40 sampled codes" in out and "iteration 4:" in out
    assert "2/2 checkpoints" in err  # progress with ETA
    result = json.loads(out_json.read_text())
    assert result["run"] == run.name and result["seed"] == 12345 and result["dataset"] == "svhn"
    assert [p["iteration"] for p in result["iterations"]] == [2, 4]
    point = result["iterations"][1]
    assert len(point["categorical"]) == 4 and len(point["continuous"]) == 4
    # an existing --json file is kept unless --overwrite
    written = out_json.read_bytes()
    again, _, again_err = run_script([run, "--json", out_json, "--iterations", "2", "--samples", "40"], capsys)
    assert again == 2 and "exists" in again_err and len(again_err.strip().splitlines()) == 1
    assert out_json.read_bytes() == written
    again, _, again_err = run_script([run, "--json", tmp_path / "scores.json", "--iterations", "2", "--samples", "40",
                                      "--overwrite"], capsys)
    assert again == 0 and [p["iteration"] for p in json.loads(out_json.read_text())["iterations"]] == [2]
    out_json.write_bytes(written)

    model, _, _ = load_trained_model(run, 4)
    x = scipy.io.loadmat(str(data / "test_32x32.mat"))["X"].transpose(3, 0, 1, 2)
    codes = model.encode(x)
    factors = np.load(data / "factors_test.npz")
    values = codes[:, 64 + 10:64 + 20].argmax(axis=1)  # c2: after z (64) and c1 (10 values)
    digit = factors["digit"]
    counts = np.histogram2d(values, digit, bins=[np.arange(11), np.arange(11)])[0]
    rows, cols = linear_sum_assignment(-counts)
    c2 = point["categorical"][1]
    assert c2["variable"] == "c2"
    assert c2["accuracy_digit"] == pytest.approx(counts[rows, cols].sum() / len(digit))
    for name in ("digit", "stroke_colour", "background_colour", "neighbour_side"):
        assert c2["nmi"][name] == pytest.approx(entropy_nmi(values, factors[name])), name
    best = max(c2["nmi"], key=c2["nmi"].get)
    if c2["nmi"][best] > 1e-9:
        assert c2["best_factor"] == best and c2["best_score"] == pytest.approx(c2["nmi"][best])
    else:  # E gives every test image the same value of c2: it carries nothing
        assert c2["best_factor"] is None and c2["values_used"] == 1
    assert c2["values_used"] == len(np.unique(values))
    (row,) = [line.split() for line in out.split("iteration 4:")[1].splitlines() if line.startswith("  c2 ")]
    assert row[2:5] == [f"{c2['accuracy_digit']:.1%}", f"{c2['nmi']['digit']:.3f}", f"{c2['nmi']['stroke_colour']:.3f}"]

    cont3 = point["continuous"][2]
    u = codes[:, 64 + 40 + 2].astype(np.float64)  # cont3: after z and the four categorical blocks
    for name in ("digit", "stroke_colour", "background_colour"):
        groups = [u[factors[name] == g] for g in np.unique(factors[name])]
        between = sum(len(g) * (g.mean() - u.mean()) ** 2 for g in groups)
        assert cont3["eta"][name] == pytest.approx(math.sqrt(between / ((u - u.mean()) ** 2).sum()), rel=1e-5)
    assert cont3["r_brightness"] == pytest.approx(stats.pearsonr(u, factors["brightness"])[0], rel=1e-5)
    for g in point["generator"]["categorical"]:
        assert 0 <= g["recovered"] <= 1 and g["visible_change"] >= 0



@pytest.mark.slow
def test_score_proxy_refuses_what_is_not_a_proxy_run(proxy_run, tmp_path, capsys):
    run, data = proxy_run
    plain = tmp_path / "plain_svhn"  # the same .mat files, no factors file: SVHN, not a proxy
    plain.mkdir()
    for name in ("train_32x32.mat", "test_32x32.mat"):
        (plain / name).write_bytes((data / name).read_bytes())
    for argv, message in (([run, "--data_dir", plain], f"{plain} has no factors_test.npz: not a proxy"),
                          ([tmp_path], "is not a run folder"),
                          ([tmp_path / "missing"], "does not exist"),
                          ([run, "--iterations", "3"], "no checkpoint of iteration 3; the run has 2, 4"),
                          ([run, "--samples", "8"], "--samples must be at least 9")):
        code, out, err = run_script(argv, capsys)
        assert code == 2 and out == "", argv
        assert err.count("\n") == 1 and err.startswith("score_proxy.py: error: ") and message in err, err
