"""code/train_svhn.py and code/train_celeba.py end to end on small files in the published formats, and
evaluate_model.py on the runs they make."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
import train_celeba  # noqa: E402
import train_svhn  # noqa: E402

from bidirectional_infogan.train import cli  # noqa: E402
from bidirectional_infogan.evaluate.cli import main as evaluate_main  # noqa: E402
from conftest import best_match_predictions  # noqa: E402
from test_celeba_data import attribute_values, names, write_attributes, write_partition  # noqa: E402


def write_celeba(folder, partition):
    """img_align_celeba/*.jpg (178x218) with both text files, as published."""
    (folder / "img_align_celeba").mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name in names(len(partition)):
        pixels = np.full((218, 178, 3), rng.integers(0, 256, 3), dtype=np.uint8)
        top, left = rng.integers(40, 150), rng.integers(30, 120)
        pixels[top:top + 30, left:left + 30] = 255
        Image.fromarray(pixels).save(folder / "img_align_celeba" / name, quality=90)
    write_partition(folder, partition)
    write_attributes(folder, attribute_values(len(partition)))
    return folder


def write_svhn(folder, n_train, n_test):
    """train_32x32.mat and test_32x32.mat as published: X (32, 32, 3, N) uint8, y (N, 1) in 1..10."""
    import scipy.io
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        y = (np.arange(n) % 10 + 1).reshape(n, 1).astype(np.uint8)
        scipy.io.savemat(folder / f"{name}_32x32.mat", {"X": x, "y": y})
    return folder


def textbook_nmi(values, labels):
    """I(value; label) / ((H(value) + H(label)) / 2) in float64 from the joint frequencies (natural logs; the
    arithmetic normalisation, scikit-learn's default)."""
    values, labels = np.asarray(values), np.asarray(labels)
    joint = np.zeros((values.max() + 1, labels.max() + 1), np.float64)
    np.add.at(joint, (values, labels), 1.0)
    joint /= joint.sum()
    p_value, p_label = joint.sum(axis=1), joint.sum(axis=0)
    nz = joint > 0
    mutual = np.sum(joint[nz] * np.log(joint[nz] / np.outer(p_value, p_label)[nz]))

    def entropy(p):
        return -np.sum(p[p > 0] * np.log(p[p > 0]))

    return mutual / ((entropy(p_value) + entropy(p_label)) / 2)


FAST = ["--batch_size", "8", "--max_iter", "6", "--log_every", "3", "--checkpoint_every", "3",
        "--scalars_every", "3"]


def grid_size(rows, cols, size=32):
    return (cols * size + cols - 1, rows * size + rows - 1)


@pytest.fixture(scope="module")
def svhn_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("svhn")
    data = write_svhn(root / "data", n_train=60, n_test=30)
    code = cli.main(train_svhn.SCRIPT, FAST + ["--data_dir", str(data), "--log_dir", str(root / "logs"),
                                               "--validation_size", "20"])
    assert code == 0
    (run,) = (root / "logs" / "svhn").iterdir()
    return run, data


@pytest.fixture(scope="module")
def celeba_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("celeba")
    partition = [0] * 24 + [1] * 8 + [2] * 8
    data = write_celeba(root / "data", partition)
    code = cli.main(train_celeba.SCRIPT, FAST + ["--data_dir", str(data), "--log_dir", str(root / "logs"),
                                                 "--validation_size", "8", "--cache_dir", str(root / "cache")])
    assert code == 0
    (run,) = (root / "logs" / "celeba").iterdir()
    return run, data


@pytest.mark.slow
@pytest.mark.parametrize("which", ["svhn", "celeba"])
def test_run_folder(which, svhn_run, celeba_run):
    run, _ = svhn_run if which == "svhn" else celeba_run
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["z_dim"] == 64 and config["model"]["categorical_dims"] == [10, 10, 10, 10]
    assert config["model"]["continuous_dim"] == 4 and config["train"]["lr_g"] == 1e-4
    assert config["train"]["max_iter"] == 6 and config["model"]["dataset"] == which
    assert sorted(p.name for p in (run / "checkpoints").glob("*.index")) == ["iteration-3.index",
                                                                            "iteration-6.index"]
    for v in range(1, 5):  # one max-activation figure per categorical variable: 10 values x 10 images
        assert Image.open(run / "samples_disc" / f"6_d{v}.png").size == grid_size(10, 10)
    for j in range(1, 5):  # two rows of small values, two rows of large values
        assert Image.open(run / "samples_cont" / f"6_c{j}.png").size == grid_size(4, 10)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(run), size_guidance={"tensors": 0})
    acc.Reload()
    tags = set(acc.Tags()["tensors"])
    assert {f"image_categorical_{v}" for v in range(4)} <= tags
    assert {f"image_continuous_{j}" for j in range(4)} <= tags and "c gen cat" in tags


@pytest.mark.slow
def test_celeba_default_crop_is_recorded(celeba_run):
    run, _ = celeba_run
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["crop"] == "108"


def evaluate(argv):
    out = io.StringIO()
    code = evaluate_main([str(a) for a in argv], out=out)
    return code, out.getvalue()


@pytest.mark.slow
def test_svhn_evaluation(svhn_run, tmp_path):
    run, data = svhn_run
    code, out = evaluate(["--model_dir", run, "--evaluate", "--sample", "--reconstruct", "--generate",
                          "--json", tmp_path / "svhn.json"])
    assert code == 0, out
    figures = json.loads((tmp_path / "svhn.json").read_text())
    assert [v["variable"] for v in figures["variables"]] == ["c1", "c2", "c3", "c4"]
    # 30 test images are too few for the label-free health: left out with a line, the scores still given
    assert figures["health"] is None and "Health without labels: not computed" in out
    codes = np.load(run / "test_codes" / "iteration-6.npz")["codes"]
    labels = np.arange(30) % 10 + 1
    labels[labels == 10] = 0
    for v, report in enumerate(figures["variables"]):  # recomputed here, not with the evaluation module
        values = codes[:, 64 + 10 * v:74 + 10 * v].argmax(axis=1)
        assert report["accuracy"] == pytest.approx(np.mean(best_match_predictions(values, labels, 10, 10) == labels))
        assert report["nmi"] == pytest.approx(textbook_nmi(values, labels))
    samples = run / "samples"
    for v in range(1, 5):
        assert Image.open(samples / f"samples_categorical_c{v}.png").size == grid_size(10, 20)
        assert Image.open(samples / f"generated_imgs_categorical_c{v}.png").size == grid_size(10, 10)
    for j in range(1, 5):
        assert Image.open(samples / f"sample_cont_c{j}.png").size == grid_size(4, 20)
        assert Image.open(samples / f"generated_imgs_cont_c{j}.png").size == grid_size(10, 10)
    assert Image.open(samples / "samples_reconstruction.png").size == grid_size(20, 20)


@pytest.mark.slow
def test_svhn_misclassified_is_refused(svhn_run, capsys):
    run, _ = svhn_run
    assert evaluate_main(["--model_dir", str(run), "--misclassified"], out=io.StringIO()) == 2
    assert "needs a run with one categorical variable" in capsys.readouterr().err


@pytest.mark.slow
def test_celeba_evaluation(celeba_run, tmp_path):
    run, data = celeba_run
    code, out = evaluate(["--model_dir", run, "--evaluate", "--sample", "--reconstruct", "--generate",
                          "--json", tmp_path / "celeba.json"])
    assert code == 0, out
    figures = json.loads((tmp_path / "celeba.json").read_text())
    assert len(figures["attributes"]) == 40 and len(figures["predictors"]) == 40 + 8
    # recompute one attribute's best AUC by counting pairs
    codes = np.load(run / "test_codes" / "iteration-6.npz")["codes"]
    targets = (attribute_values(40)[32:] == 1).astype(int)  # the 8 test images
    row = next(r for r in figures["attributes"] if r["attribute"] == "Smiling")
    a = 31  # Smiling is the 32nd attribute
    best = 0.0
    scores = [codes[:, 64 + i] for i in range(40)] + [s * codes[:, 104 + j] for j in range(4) for s in (1, -1)]
    for score in scores:
        pos, neg = score[targets[:, a] == 1], score[targets[:, a] == 0]
        auc = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg))
        best = max(best, auc)
    assert row["auc"] == pytest.approx(best)
    assert "Smiling" in out and "AUC" in out
    samples = run / "samples"
    assert Image.open(samples / "samples_reconstruction.png").size == grid_size(20, 20)
    assert Image.open(samples / "samples_categorical_c1.png").size == grid_size(10, 20)


@pytest.mark.parametrize("script,argv,message", [
    (train_svhn, [], "could not download train_32x32.mat"),  # from the closed port below
    (train_svhn, ["--data_dir", "MISSING"], "does not exist"),
    (train_celeba, ["--data_dir", "MISSING"], "does not exist"),
    (train_celeba, [], "pass --data_dir"),
])
def test_missing_data(script, argv, message, tmp_path, capsys, monkeypatch):
    import socket

    from bidirectional_infogan.data import svhn
    with socket.socket() as probe:  # SVHN's download goes to a port nobody listens on, never to the internet
        probe.bind(("127.0.0.1", 0))
        monkeypatch.setattr(svhn, "URL", f"http://127.0.0.1:{probe.getsockname()[1]}/")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    argv = [str(tmp_path / "nowhere") if a == "MISSING" else a for a in argv]
    assert cli.main(script.SCRIPT, argv + ["--log_dir", str(tmp_path / "logs")]) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert message in lines[-1] and err.endswith("\n")
    assert len(lines) == (2 if script is train_svhn and not argv else 1)  # the first: "downloading ..."
    assert not (tmp_path / "logs").exists()  # no run folder
