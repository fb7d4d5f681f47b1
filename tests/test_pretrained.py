"""scripts/run_tools/export_pretrained.py and evaluate_model.py --model_dir on an exported folder: the .keras files load
and classify in a Python that never imports this project, reproduce the training networks within float32
rounding, give the accuracy in results.json, and bad input is one line and exit code 2."""

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

import export_pretrained  # noqa: E402
from bidirectional_infogan.evaluate import export, pretrained  # noqa: E402
from bidirectional_infogan.model.config import mnist_model_config  # noqa: E402
from bidirectional_infogan.model.latent import latent_blocks, latent_from_dict, latent_to_dict  # noqa: E402


@pytest.mark.slow
def test_the_exported_folder(exported, trained_run):
    out, results = exported
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "encoder.keras", "encodings.txt",
                                                     "generator.keras", "results.json"]
    assert (out / "config.json").read_bytes() == (trained_run / "config.json").read_bytes()
    run = json.loads((trained_run / "config.json").read_text())
    assert (results["seed"], results["iteration"], results["dataset"]) == (run["train"]["seed"], 40, "mnist")
    assert results["exported_by"] == "scripts/run_tools/export_pretrained.py" and results["n_test"] == 10000
    assert results["chosen_by"] == "made up: the only run"
    assert 0 <= results["accuracy"] <= 1 and 0 <= results["nmi"] <= 1
    assert results["mapping_source"] == "test labels (Hungarian algorithm)"  # trained_run has no encodings.txt
    encodings = [int(v) for v in (out / "encodings.txt").read_text().split(",")]
    assert sorted(encodings) == list(range(10)) and encodings == results["encodings"]
    assert not list(out.parent.glob(".mnist.*"))  # no partial folder left behind


@pytest.mark.slow
def test_evaluate_model_on_the_exported_folder(exported, mnist_dir, tmp_path):
    """Every mode runs on the exported folder (no checkpoints), and --evaluate gives results.json's accuracy
    and NMI exactly."""
    from bidirectional_infogan.evaluate.cli import main
    out, results = exported
    assert not (out / "checkpoints").exists()
    printed = io.StringIO()
    figures = tmp_path / "figures"
    code = main([str(a) for a in ["--model_dir", out, "--evaluate", "--sample", "--reconstruct", "--generate",
                                  "--misclassified", "--data_dir", mnist_dir, "--output_dir", figures,
                                  "--json", tmp_path / "evaluation.json", "--columns", "5"]], out=printed)
    assert code == 0, printed.getvalue()
    text = printed.getvalue()
    assert "Exported model: iteration 40" in text and "mapping from encodings.txt" in text
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert (report["accuracy"], report["nmi"], report["iteration"]) == (results["accuracy"], results["nmi"], 40)
    assert sorted(p.name for p in figures.glob("*.png")) == sorted([
        "samples_categorical.png", "sample_cont_c1.png", "sample_cont_c2.png", "samples_reconstruction.png",
        "generated_imgs_categorical.png", "generated_imgs_cont_c1.png", "generated_imgs_cont_c2.png",
        "misclassified.png"])
    assert report["misclassified"] == report["errors"] == results["errors"]


@pytest.mark.slow
def test_figures_of_an_exported_model_go_where_the_user_is(exported, mnist_dir, tmp_path, monkeypatch):
    """Issue 43: without --output_dir the figures of an exported model go to ./samples/<its folder's name>/ in the
    current folder, and the output says so; the exported folder (e.g. the checkout's pretrained/mnist) is left
    as it is."""
    from bidirectional_infogan.evaluate.cli import main
    out, _ = exported
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    user = tmp_path / "user"
    user.mkdir()
    monkeypatch.chdir(user)
    printed = io.StringIO()
    assert main(["--model_dir", str(out), "--generate", "--data_dir", str(mnist_dir)], out=printed) == 0
    assert f"figures go to {Path('samples') / out.name}/" in printed.getvalue()
    assert (user / "samples" / out.name / "generated_imgs_categorical.png").is_file()
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


def run_script(argv, capsys):
    code = export_pretrained.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.err


@pytest.mark.slow
def test_export_errors(trained_run, exported, tmp_path, capsys):
    """A bad run folder, an OUT_DIR that exists and is not empty (also with --overwrite unless this script
    made it), a missing iteration: one line on stderr, exit code 2, nothing written."""
    out, _ = exported
    target = tmp_path / "new"
    for argv, says in [
        ([tmp_path, target], "is not a run folder (it has no config.json)"),
        ([tmp_path / "missing", target], "does not exist or is not a folder"),
        ([trained_run, target, "--iteration", 30], "has no checkpoint of iteration 30; it has 20, 40"),
    ]:
        code, err = run_script(argv, capsys)
        assert code == 2 and err.count("\n") == 1 and says in err, err
        assert not target.exists()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    for extra, says in (([], "exists and is not empty"), (["--overwrite"], "was not made by")):
        code, err = run_script([trained_run, busy] + extra, capsys)
        assert code == 2 and err.count("\n") == 1 and says in err, err
        assert [p.name for p in busy.iterdir()] == ["notes.txt"]
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    code, err = run_script([trained_run, out], capsys)
    assert code == 2 and "exists and is not empty" in err
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    export.check_output_folder(out, overwrite=True)  # a folder this script made may be replaced
    export.check_output_folder(tmp_path / "empty", overwrite=False)


@pytest.mark.slow
def test_evaluate_model_errors_on_exported_folders(exported, tmp_path, capsys):
    from bidirectional_infogan.evaluate.cli import main
    out, _ = exported
    code = main(["--model_dir", str(out), "--evaluate", "--iteration", "20"], out=io.StringIO())
    err = capsys.readouterr().err
    assert code == 2 and "is an exported model of iteration 40; it has no other" in err
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.json", "encoder.keras", "results.json"):
        (broken / name).write_bytes((out / name).read_bytes())
    code = main(["--model_dir", str(broken), "--evaluate"], out=io.StringIO())
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "is an exported model but has no generator.keras" in err


def test_the_mapping_of_a_run_folder_is_kept(tmp_path):
    """A run folder with its own encodings.txt: results.json scores under it and encodings.txt is a copy."""
    from bidirectional_infogan.model.config import RunConfig, TrainConfig
    from bidirectional_infogan.evaluate.evaluation_data import TestSet
    cfg = mnist_model_config()
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 10, 500)
    encodings = [3, 1, 4, 0, 5, 9, 2, 6, 8, 7]  # entry i: the category of digit i
    categories = np.array(encodings)[labels]
    categories[:50] = rng.integers(0, 10, 50)  # some wrong
    codes = np.concatenate([rng.uniform(-1, 1, (500, 16)), np.eye(10)[categories], rng.uniform(-1, 1, (500, 2))],
                           axis=1).astype(np.float32)
    (tmp_path / "encodings.txt").write_text(",".join(map(str, encodings)) + "\n")
    test = TestSet(np.zeros((500, 28, 28, 1), np.uint8), labels, 10, [str(d) for d in range(10)])
    results, written = export._score(RunConfig(cfg, TrainConfig()), cfg, codes, test, tmp_path, print)
    assert written == encodings and results["mapping_source"] == "encodings.txt of the run folder"
    assert results["accuracy"] == np.mean(np.argsort(encodings)[categories] == labels)


def test_the_latent_dict_round_trip():
    cfg = mnist_model_config(categorical_dims=(10, 4), continuous_dim=3)
    assert latent_blocks(cfg) == [("z", 16), ("categorical_1", 10), ("categorical_2", 4), ("continuous", 3)]
    code = np.arange(7 * cfg.latent_dim, dtype=np.float32).reshape(7, cfg.latent_dim)
    blocks = latent_to_dict(cfg, code)
    assert blocks["categorical_2"].tolist() == code[:, 26:30].tolist()
    assert np.array_equal(latent_from_dict(cfg, blocks), code)
    with pytest.raises(ValueError, match="keys"):
        latent_from_dict(cfg, {k: v for k, v in blocks.items() if k != "continuous"})
    assert [name for name, _ in latent_blocks(mnist_model_config(continuous_dim=0))] == ["z", "categorical_1"]


@pytest.mark.slow
def test_tools_take_an_exported_folder_or_a_run_folder(exported, trained_run, mnist_dir):
    """load_model_folder gives the exported networks for an exported folder and the checkpoint's for a run
    folder; they encode alike (within the export's float32 parity, checked above: argmax of the categorical
    head equal on most images); bench/encode_test_set.py runs on the published pretrained/mnist."""
    from bidirectional_infogan.data.mnist import load_mnist_test
    from bidirectional_infogan.model.gan import BidirectionalInfoGAN
    folder, _ = exported
    from_export, from_run = pretrained.load_model_folder(folder), pretrained.load_model_folder(trained_run)
    assert isinstance(from_export, pretrained.ExportedModel) and isinstance(from_run, BidirectionalInfoGAN)
    images = load_mnist_test(mnist_dir).images[:200]
    a, b = from_export.encode(images), from_run.encode(images)
    assert a.shape == b.shape == (200, from_run.cfg.latent_dim)
    assert np.mean(a[:, 16:26].argmax(1) == b[:, 16:26].argmax(1)) > 0.95
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "encode_test_set.py"), "--model_dir",
                           str(ROOT / "pretrained" / "mnist"), "--data_dir", str(mnist_dir), "--repeats", "1"],
                          capture_output=True, text=True, timeout=600,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT / "code")})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "images/s" in done.stdout
