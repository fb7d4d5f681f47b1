"""scripts/svhn_standin/score_standin.py and scripts/svhn_standin/standin_summary.py: scores of made-up codes whose answers are known by
construction, and both scripts end to end on a small stand-in and a 4-iteration run, against numbers
recomputed here from E's codes (NMI from entropies in a few lines of numpy, r with np.corrcoef)."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from scipy.optimize import linear_sum_assignment

from bidirectional_infogan.model.config import table2_model_config

import score_standin  # noqa: E402 (each scripts/ folder is on pytest's pythonpath)
import standin_summary  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CFG = table2_model_config("svhn")  # z 64, four categorical variables with 10 values, 4 continuous


def one_hot(values, n=10):
    return np.eye(n)[values]


def entropy(counts) -> float:
    p = np.asarray(counts, np.float64).ravel()
    p = p[p > 0] / p.sum()
    return float(-(p * np.log(p)).sum())


def own_nmi(a, b) -> float:
    """I(a; b) / mean(H(a), H(b)), from the joint counts (not the project's evaluation module)."""
    a = np.unique(a, return_inverse=True)[1].reshape(-1)
    b = np.unique(b, return_inverse=True)[1].reshape(-1)
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1)
    h_a, h_b = entropy(joint.sum(axis=1)), entropy(joint.sum(axis=0))
    return (h_a + h_b - entropy(joint)) / (0.5 * (h_a + h_b))


def rank_bins(values, n_bins=10):
    """Ten equal-count bins by rank (for values without ties)."""
    return np.argsort(np.argsort(values)) * n_bins // len(values)


def made_up_factors(rng, n):
    """Every factor score_standin reads, drawn independently (hue bins 0..9 here, so a 10-valued variable can
    equal one)."""
    f = {"digit": rng.integers(0, 10, n), "font": rng.integers(0, 32, n), "texture": rng.integers(0, 5, n),
         "background_hue_bin": rng.integers(0, 10, n), "foreground_hue_bin": rng.integers(0, 10, n),
         "digits_visible": rng.integers(1, 4, n), "dark_on_light": rng.random(n) < 0.5,
         "lighting_direction": rng.uniform(0, 2 * np.pi, n), "stroke": np.where(rng.random(n) < 0.6, 0.0,
                                                                                 rng.random(n))}
    for name in ("background_brightness", "foreground_luma", "background_luma", "background_saturation",
                 "foreground_saturation", "lighting_strength", "shadow", "texture_strength", "scale", "rotation",
                 "shear", "aspect", "shift_x", "shift_y", "tracking", "blur_radius", "noise_sigma", "jpeg_quality"):
        f[name] = rng.random(n)
    return score_standin.add_derived_factors(f)


# --- fast: answers known by construction --------------------------------------------------------------------

def test_quantile_bins_equal_counts_and_ties():
    values = np.random.default_rng(0).permutation(100).astype(float)
    bins = score_standin.quantile_bins(values)
    assert np.bincount(bins).tolist() == [10] * 10
    assert np.array_equal(bins, rank_bins(values))
    tied = np.concatenate([np.zeros(60), np.arange(1, 41)])  # 60% zeros: one bin for all of them
    bins = score_standin.quantile_bins(tied)
    assert len(np.unique(bins[:60])) == 1 and not np.isin(bins[60:], bins[:60]).any()
    assert len(np.unique(bins)) == 5  # the zeros and four bins of ten


def test_derived_factors():
    f = score_standin.add_derived_factors({"foreground_luma": np.array([0.9, 0.1]),
                                           "background_luma": np.array([0.2, 0.5]),
                                           "lighting_strength": np.array([0.2, 0.1]),
                                           "lighting_direction": np.array([0.0, np.pi / 2])})
    assert f["contrast"] == pytest.approx([0.7, -0.4])
    assert f["lighting_x"] == pytest.approx([0.2, 0.0]) and f["lighting_y"] == pytest.approx([0.0, 0.1])


def test_score_codes_finds_what_each_variable_is_made_of():
    rng = np.random.default_rng(1)
    n = 2000
    f = made_up_factors(rng, n)
    coloured = f["background_saturation"] >= score_standin.MIN_SATURATION
    categorical = [rng.permutation(10)[f["digit"]],  # the digit under another name
                   f["texture"],  # 5 of its 10 values used
                   rank_bins(f["scale"]),  # the scale's deciles
                   np.where(coloured, f["background_hue_bin"], rng.integers(0, 10, n))]  # the hue where it has one
    continuous = [2 * f["background_brightness"] + 1, -f["scale"], np.sin(f["digit"]),
                  f["lighting_strength"] * np.cos(f["lighting_direction"])]
    codes = np.concatenate([rng.random((n, CFG.z_dim))] + [one_hot(v) for v in categorical]
                           + [np.stack(continuous, axis=1)], axis=1)
    scores = score_standin.score_codes(CFG, codes, f)
    cat, cont = scores["categorical"], scores["continuous"]
    assert [c["variable"] for c in cat] == ["c1", "c2", "c3", "c4"]
    assert cat[0]["accuracy_digit"] == 1.0 and cat[0]["nmi"]["digit"] == pytest.approx(1.0)
    assert cat[1]["nmi"]["texture"] == pytest.approx(1.0) and cat[1]["values_used"] == 5
    assert cat[2]["nmi"]["scale"] == pytest.approx(1.0)
    assert cat[3]["nmi"]["background_hue_bin"] == pytest.approx(1.0)  # counted on the coloured images only
    assert [c["best_factor"] for c in cat] == ["digit", "texture", "scale", "background_hue_bin"]
    # the others near chance: a 10-valued variable and a 32-valued factor on 2,000 images
    assert cat[0]["nmi"]["font"] == pytest.approx(own_nmi(categorical[0], f["font"])) and cat[0]["nmi"]["font"] < 0.05
    assert cont[0]["r"]["background_brightness"] == pytest.approx(1.0)
    assert cont[1]["r"]["scale"] == pytest.approx(-1.0)
    assert cont[2]["eta"]["digit"] == pytest.approx(1.0)
    assert cont[3]["r"]["lighting_x"] == pytest.approx(1.0)
    assert [c["best_factor"] for c in cont] == ["background_brightness", "scale", "digit", "lighting_x"]
    assert cont[1]["best_score"] == pytest.approx(1.0)  # |r|
    assert cont[0]["r"]["scale"] == pytest.approx(np.corrcoef(continuous[0], f["scale"])[0, 1])


def test_score_codes_collapsed_variable_and_missing_factor():
    rng = np.random.default_rng(2)
    n = 300
    f = made_up_factors(rng, n)
    del f["font"]
    f["texture"] = np.zeros(n, int)  # constant: nothing to score against
    codes = np.concatenate([rng.random((n, CFG.z_dim))] + [one_hot(np.full(n, 3))] * 4
                           + [np.ones((n, 4))], axis=1)
    scores = score_standin.score_codes(CFG, codes, f)
    c1, cont1 = scores["categorical"][0], scores["continuous"][0]
    assert c1["values_used"] == 1 and c1["best_factor"] is None and c1["nmi"]["digit"] == pytest.approx(0.0, abs=1e-12)
    assert c1["nmi"]["font"] is None and c1["nmi"]["texture"] is None
    assert math.isnan(cont1["r"]["scale"]) and cont1["best_factor"] is None
    assert score_standin.no_nan(scores)["continuous"][0]["r"]["scale"] is None


def test_health_at_and_final_over_peak():
    records = [{"iteration": 2, "diversity": 1.0, "score": 0.1}, {"iteration": 4, "diversity": 3.0, "score": 0.2},
               {"iteration": 6, "diversity": 2.0, "score": 0.3}]
    summary = score_standin.health_summary(records)
    assert summary["diversity_final_over_peak"] == pytest.approx(2 / 3) and summary["curve"] == records
    at = score_standin.health_at(records, 5)  # the last log step before the checkpoint
    assert at["iteration"] == 4 and at["diversity_over_peak"] == 1.0
    assert score_standin.health_at(records, 6)["diversity_over_peak"] == pytest.approx(2 / 3)
    assert score_standin.health_at(records, 1) is None and score_standin.health_summary(None) is None


def test_run_flags_without_absolute_paths(tmp_path):
    run = tmp_path / "svhn_2026_01_01_00_00_00"
    run.mkdir()
    (run / "command.txt").write_text(
        f"2026_01_01_00_00_00 python3 {ROOT}/code/train_svhn.py --data_dir {tmp_path}/data/svhn_standin "
        f"--log_dir=/somewhere/logs --max_iter 4 --lr_g 5e-4\n"
        f"2026_01_01_01_00_00 python3 code/train_svhn.py --resume {run}\n")
    flags = standin_summary.run_flags(run)
    assert flags == ("python3 code/train_svhn.py --data_dir svhn_standin --log_dir=logs --max_iter 4 "
                     "--lr_g 5e-4")
    (run / "command.txt").unlink()  # no command.txt: config.json's flags
    assert standin_summary.run_flags(run, {"max_iter": 4, "data_dir": "/x/y/standin", "stop_after": None,
                                           "d_noise": False, "use_extra": True}) == \
        "--max_iter 4 --data_dir standin --use_extra"


def test_best_scores_of_a_point():
    def cat(v, digit, font):
        return {"variable": v, "accuracy_digit": digit / 2, "nmi": {"digit": digit, "font": font}}
    point = {"iteration": 10, "categorical": [cat("c1", 0.2, 0.5), cat("c2", 0.4, None)],
             "continuous": [{"variable": "cont1", "r": {"scale": -0.7, "rotation": None}, "eta": {"digit": 0.1}},
                            {"variable": "cont2", "r": {"scale": 0.3, "rotation": float("nan")}, "eta": {}}]}
    best = standin_summary.best_scores(point)
    assert best["digit_nmi_best"] == 0.4 and best["digit_nmi_variable"] == "c2"
    assert best["digit_accuracy_best"] == 0.2
    assert best["factor_nmi"]["font"] == 0.5 and best["factor_nmi"]["texture"] is None
    assert best["factor_r"]["scale"] == 0.7 and best["factor_r"]["rotation"] is None
    assert best["factor_eta"]["digit"] == 0.1


# --- end to end ---------------------------------------------------------------------------------------------

N_TEST, LIMIT = 200, 150


@pytest.fixture(scope="module")
def standin_run(tmp_path_factory):
    """A stand-in of 300 training (200 after the 100 validation images, the fewest health.py takes) and 200
    test images, and a 4-iteration code/train_svhn.py run on it (in a subprocess, so that command.txt holds
    its own command line) with checkpoints and health records at 2 and 4."""
    import make_svhn_standin
    root = tmp_path_factory.mktemp("standin_scoring")
    data = root / "data"
    assert make_svhn_standin.main(["--out", str(data), "--train_count", "300", "--test_count", str(N_TEST),
                                   "--workers", "1"]) == 0
    done = subprocess.run([sys.executable, str(ROOT / "code" / "train_svhn.py"), "--data_dir", str(data),
                           "--log_dir", str(root / "logs"), "--max_iter", "4", "--checkpoint_every", "2",
                           "--batch_size", "8", "--validation_size", "100", "--log_every", "2"],
                          capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = (root / "logs" / "svhn").iterdir()
    return run, data, root


def run_main(module, argv, capsys):
    """module.main in this process: (exit code, stdout, stderr)."""
    try:
        code = module.main([str(a) for a in argv])
    except SystemExit as exit_info:
        code = exit_info.code
    out = capsys.readouterr()
    return code, out.out, out.err


def strings(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, str):
        yield value


def assert_no_absolute_path(path: Path, root: Path):
    content = path.read_text()
    assert str(root) not in content and str(ROOT) not in content and "/tmp/" not in content
    assert not [s for s in strings(json.loads(content)) if os.path.isabs(s) or " /" in s]


@pytest.fixture(scope="module")
def scored(standin_run, tmp_path_factory):
    """score_standin.py on the run's checkpoints, first LIMIT test images: (exit code, stdout, stderr, json)."""
    run, _, _ = standin_run
    out_json = tmp_path_factory.mktemp("scores") / "scores.json"
    from contextlib import redirect_stderr, redirect_stdout
    from io import StringIO
    out, err = StringIO(), StringIO()  # capsys is for one test only: captured by hand
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = score_standin.main([str(run), "--json", str(out_json), "--limit", str(LIMIT)])
        except SystemExit as exit_info:
            code = exit_info.code
    return code, out.getvalue(), err.getvalue(), out_json


@pytest.mark.slow
def test_score_standin_against_own_computation(standin_run, scored):
    """c2's, c3's and cont1's numbers at iteration 4 recomputed here from E's codes of the first LIMIT test
    images read straight from the .mat file, with the factors file."""
    from bidirectional_infogan.runs.checkpoints import load_trained_model
    run, data, root = standin_run
    code, out, err, out_json = scored
    assert code == 0, err
    assert f"iteration 2: {LIMIT} test images" in out and f"iteration 4: {LIMIT} test images" in out
    assert "health.jsonl: 2 log steps" in out and "2/2 checkpoints" in err
    result = json.loads(out_json.read_text())
    assert {"run", "seed", "dataset", "data", "factors_file", "n_test", "test_images", "limit", "factors",
            "health", "iterations"} <= result.keys()
    assert result["run"] == run.name and result["data"] == "data" and result["n_test"] == LIMIT
    assert result["test_images"] == N_TEST and [p["iteration"] for p in result["iterations"]] == [2, 4]
    point = result["iterations"][1]
    assert set(point) == {"iteration", "n_test", "categorical", "continuous", "health"}
    assert len(point["categorical"]) == 4 and len(point["continuous"]) == 4
    assert set(point["categorical"][0]["nmi"]) == set(score_standin.NMI_FACTORS)
    assert set(point["continuous"][0]["r"]) == set(score_standin.R_FACTORS)
    assert_no_absolute_path(out_json, root)

    # health: the curve as written, diversity's last over its peak
    records = [json.loads(line) for line in (run / "health.jsonl").read_text().splitlines()]
    diversity = [r["diversity"] for r in records]
    assert result["health"]["curve"] == records
    assert all(0 < r["colour_spread"] < 10 for r in records)  # G's colour spread against the validation images
    assert result["health"]["diversity_final_over_peak"] == pytest.approx(diversity[-1] / max(diversity))
    assert point["health"]["iteration"] == 4 and point["health"]["score"] == pytest.approx(records[-1]["score"])

    model, _, _ = load_trained_model(run, 4)
    x = scipy.io.loadmat(str(data / "test_32x32.mat"))["X"].transpose(3, 0, 1, 2)[:LIMIT]
    codes = model.encode(x)
    with np.load(data / "factors_test.npz") as stored:
        f = {name: stored[name][:LIMIT] for name in stored.files if name not in ("font_names", "texture_names")}
    for v in (1, 2):  # c2, c3: after z (64) and the variables before
        values = codes[:, 64 + 10 * v:64 + 10 * (v + 1)].argmax(axis=1)
        c = point["categorical"][v]
        assert c["variable"] == f"c{v + 1}" and c["values_used"] == len(np.unique(values))
        counts = np.histogram2d(values, f["digit"], bins=[np.arange(11), np.arange(11)])[0]
        rows, cols = linear_sum_assignment(-counts)
        assert c["accuracy_digit"] == pytest.approx(counts[rows, cols].sum() / LIMIT)
        read = np.array([{int(k): m for k, m in c["mapping_digit"].items()}[value] for value in values])
        assert c["per_digit_recall"] == [pytest.approx(np.mean(read[f["digit"] == d] == d)) if np.any(f["digit"] == d)
                                         else None for d in range(10)]
        if len(np.unique(values)) > 1:
            assert c["nmi"]["digit"] == pytest.approx(own_nmi(values, f["digit"]))
            assert c["nmi"]["font"] == pytest.approx(own_nmi(values, f["font"]))
            assert c["nmi"]["scale"] == pytest.approx(own_nmi(values, rank_bins(f["scale"])))
            coloured = f["background_saturation"] >= 0.2
            assert c["nmi"]["background_hue_bin"] == pytest.approx(
                own_nmi(values[coloured], f["background_hue_bin"][coloured]))
        else:  # E gives every image the same value: it carries nothing
            assert c["nmi"]["digit"] == pytest.approx(0.0, abs=1e-12) and c["best_factor"] is None
    u = codes[:, 64 + 40].astype(np.float64)  # cont1: after z and the four categorical blocks
    cont1 = point["continuous"][0]
    assert cont1["r"]["background_brightness"] == pytest.approx(np.corrcoef(u, f["background_brightness"])[0, 1])
    lighting_x = f["lighting_strength"] * np.cos(f["lighting_direction"])
    assert cont1["r"]["lighting_x"] == pytest.approx(np.corrcoef(u, lighting_x)[0, 1])
    assert cont1["r"]["dark_on_light"] == pytest.approx(np.corrcoef(u, f["dark_on_light"].astype(float))[0, 1])
    # the printed row of c2's digit scores
    (row,) = [line for line in out.split("iteration 4:")[1].splitlines() if line.startswith("  acc digit")]
    assert row.split()[3] == f"{point['categorical'][1]['accuracy_digit']:.1%}"


@pytest.mark.slow
def test_standin_summary_from_scores_and_by_scoring(standin_run, scored, tmp_path, capsys):
    run, _, root = standin_run
    _, _, _, scores_json = scored
    scores = json.loads(scores_json.read_text())
    out = tmp_path / "svhn_standin" / "summary.json"
    code, printed, err = run_main(standin_summary, [run, "--scores", scores_json, "--out", out], capsys)
    assert code == 0, err
    assert f"{run.name}: checkpoint 4 of 4, digit NMI" in printed
    assert_no_absolute_path(out, root)
    (summary,) = json.loads(out.read_text())["runs"].values()
    assert {"run", "flags", "iterations", "digit_nmi_best", "factor_nmi", "factor_r", "factor_eta",
            "diversity_final_over_peak", "checkpoints"} <= summary.keys()
    assert summary["run"] == run.name and summary["iterations"] == 4 and summary["scored_iteration"] == 4
    assert summary["flags"] == (f"{Path(sys.executable).name} code/train_svhn.py --data_dir data --log_dir logs "
                                f"--max_iter 4 --checkpoint_every 2 --batch_size 8 --validation_size 100 --log_every 2")
    last = scores["iterations"][-1]
    assert summary["digit_nmi_best"] == pytest.approx(max(c["nmi"]["digit"] for c in last["categorical"]))
    assert summary["factor_nmi"]["font"] == pytest.approx(max(c["nmi"]["font"] for c in last["categorical"]))
    assert summary["factor_r"]["scale"] == pytest.approx(max(abs(c["r"]["scale"]) for c in last["continuous"]))
    assert summary["diversity_final_over_peak"] == pytest.approx(scores["health"]["diversity_final_over_peak"])
    assert list(summary["checkpoints"]) == ["2", "4"]
    assert summary["checkpoints"]["4"]["categorical"] == last["categorical"]
    assert summary["per_digit_recall"] == last["categorical"][0]["per_digit_recall"]
    assert (summary["label_prior"], summary["neighbours"], summary["test_categories"]) == ("uniform", "standin", None)
    assert summary["standin_command"] == ("python scripts/svhn_standin/make_svhn_standin.py --out data --seed 0 "
                                          f"--train_count 300 --test_count {N_TEST}")

    # an existing --out is kept without --overwrite
    written = out.read_bytes()
    code, _, err = run_main(standin_summary, [run, "--scores", scores_json, "--out", out], capsys)
    assert code == 2 and "exists" in err and out.read_bytes() == written

    # --update keeps the other runs of an earlier summary (their folders may be gone) and replaces this run's
    earlier = {"runs": {"gone_run": {"run": "gone_run", "digit_nmi_best": 0.5}, run.name: {"run": run.name}}}
    updated = tmp_path / "updated.json"
    updated.write_text(json.dumps(earlier))
    code, _, err = run_main(standin_summary, [run, "--scores", scores_json, "--out", updated, "--update"], capsys)
    assert code == 0, err
    runs = json.loads(updated.read_text())["runs"]
    assert list(runs) == ["gone_run", run.name] and runs["gone_run"] == earlier["runs"]["gone_run"]
    assert runs[run.name] == summary
    fresh = tmp_path / "fresh.json"  # nothing to update yet: a new file
    code, _, err = run_main(standin_summary, [run, "--scores", scores_json, "--out", fresh, "--update"], capsys)
    assert code == 0 and json.loads(fresh.read_text())["runs"] == {run.name: summary}, err
    other = tmp_path / "other.json"  # not a summary: left as it is
    other.write_text('{"a": 1}')
    code, _, err = run_main(standin_summary, [run, "--scores", scores_json, "--out", other, "--update"], capsys)
    assert code == 2 and "is not a summary" in err and err.count("\n") == 1 and other.read_text() == '{"a": 1}'

    # without --scores: scored now, the same numbers
    again = tmp_path / "again.json"
    code, printed, err = run_main(standin_summary, [run, "--out", again, "--iterations", "last", "--limit", LIMIT],
                                  capsys)
    assert code == 0, err
    assert f"scoring {run.name}" in printed and "iteration 4: 150 test images" in printed
    (rescored,) = json.loads(again.read_text())["runs"].values()
    assert list(rescored["checkpoints"]) == ["4"]
    assert rescored["factor_nmi"] == pytest.approx(summary["factor_nmi"], nan_ok=True)
    assert rescored["factor_r"] == pytest.approx(summary["factor_r"], nan_ok=True)


@pytest.mark.slow
def test_score_standin_refuses_what_it_cannot_score(standin_run, tmp_path, capsys):
    run, data, _ = standin_run
    plain = tmp_path / "plain_svhn"  # the same .mat files, no factors file
    plain.mkdir()
    for name in ("train_32x32.mat", "test_32x32.mat"):
        (plain / name).write_bytes((data / name).read_bytes())
    proxy = tmp_path / "proxy"  # a factors file without the stand-in's factors
    proxy.mkdir()
    np.savez(proxy / "factors_test.npz", digit=np.zeros(N_TEST, int))
    for argv, message in (([run, "--data_dir", plain], f"{plain} has no factors_test.npz: not a stand-in"),
                          ([run, "--data_dir", proxy], "not the factors file of a stand-in"),
                          ([tmp_path], "is not a run folder"),
                          ([run, "--iterations", "3"], "no checkpoint of iteration 3; the run has 2, 4"),
                          ([run, "--limit", "-1"], "--limit must be 0")):
        code, out, err = run_main(score_standin, argv, capsys)
        assert code == 2 and out == "", argv
        assert err.count("\n") == 1 and err.startswith("score_standin.py: error: ") and message in err, err
    code, out, err = run_main(standin_summary, [run, "--scores", tmp_path / "none.json", "--out", tmp_path / "s.json"],
                              capsys)
    assert code == 2 and err.startswith("standin_summary.py: error: cannot read --scores")

