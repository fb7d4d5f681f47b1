"""code/train_mnist.py end to end on real MNIST: the run folder contract, exact resume, and bad input."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
from bidirectional_infogan.runs.run_folder import create_run_folder  # noqa: E402

from conftest import FAST, best_match_predictions, only_run, run_cli  # noqa: E402


@pytest.fixture(scope="module")
def full_run(trained_run):
    return trained_run


def event_tags(run_dir: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    acc.Reload()
    return acc


@pytest.mark.slow
def test_run_folder_contract(full_run):
    names = {p.name for p in full_run.iterdir()}
    stamp = full_run.name.split("_", 1)[1]
    assert {"config.json", f"hyperparameters_{stamp}.csv", "command.txt", "samples_disc", "samples_cont",
            "checkpoints"} <= names
    assert any(n.startswith("events.out.tfevents") for n in names)
    config = json.loads((full_run / "config.json").read_text())
    assert config["model"]["z_dim"] == 16 and config["model"]["categorical_dims"] == [10]
    assert config["train"]["batch_size"] == 32 and config["train"]["lr_g"] == 5e-4
    with open(full_run / f"hyperparameters_{stamp}.csv") as f:
        rows = dict(csv.reader(f))
    assert rows["batch_size"] == "32" and rows["d_activation"] == "elu" and rows["num continuous"] == "2"
    assert rows["num categorical classes"] == "[10]"
    # checkpoints every 20 iterations, the last 2 kept
    ckpts = sorted(p.name for p in (full_run / "checkpoints").glob("*.index"))
    assert ckpts == ["iteration-20.index", "iteration-40.index"]
    # validation figures at every log step: 10x10 grid and 2x10 grid of 28x28 images with 1-px separators
    for step in (20, 40):
        disc = Image.open(full_run / "samples_disc" / f"{step}_d1.png")
        assert disc.size == (10 * 28 + 9, 10 * 28 + 9)
        for j in (1, 2):
            cont = Image.open(full_run / "samples_cont" / f"{step}_c{j}.png")
            assert cont.size == (10 * 28 + 9, 2 * 28 + 1)


@pytest.mark.slow
def test_tensorboard_scalars_and_images(full_run):
    acc = event_tags(full_run)
    tags = set(acc.Tags()["tensors"])
    scalars = {"D_loss", "G_loss", "D data accuracy", "D fake accuracy", "c gen cont", "c gen cat",
               "learning_rate/D", "learning_rate/G_E"}
    assert scalars <= tags
    assert [e.step for e in acc.Tensors("D_loss")] == [10, 20, 30, 40]
    # the rate each logged iteration used: iteration N runs with the schedule at N - 1 (decay over 40)
    for event in acc.Tensors("learning_rate/D"):
        expected = (1e-4 - 2e-5) * (1 - (event.step - 1) / 40) ** 0.5 + 2e-5
        assert float(tf.make_ndarray(event.tensor_proto)) == pytest.approx(expected, rel=1e-5)
    images = {"image_categorical_0": (289, 289), "image_continuous_0": (289, 289),
              "image_continuous_1": (289, 289), "image_reconstruction": (5 * 28 + 4, 20 * 28 + 19)}
    for tag, (h, w) in images.items():
        events = acc.Tensors(tag)
        assert [e.step for e in events] == [20, 40], tag
        width, height = (int(x) for x in tf.make_ndarray(events[0].tensor_proto)[:2])
        assert (height, width) == (h, w), tag


@pytest.mark.slow
def test_validation_accuracy_in_tensorboard(full_run, mnist_dir):
    """validation/accuracy_c1 at iteration 40 equals the Hungarian accuracy of the checkpoint's E on the
    5,000 validation images, computed here independently (conftest.best_match_predictions, not the
    evaluation module that the training logs with)."""
    from bidirectional_infogan.runs.checkpoints import load_trained_model
    from bidirectional_infogan.data.mnist import load_mnist
    acc = event_tags(full_run)
    logged = {e.step: float(tf.make_ndarray(e.tensor_proto)) for e in acc.Tensors("validation/accuracy_c1")}
    assert sorted(logged) == [20, 40] and "validation/nmi_c1" in acc.Tags()["tensors"]
    model, _, _ = load_trained_model(full_run, 40)
    validation = load_mnist(mnist_dir).validation
    values = model.encode(validation.images)[:, 16:26].argmax(axis=1)
    expected = np.mean(best_match_predictions(values, validation.labels, 10, 10) == validation.labels)
    assert logged[40] == pytest.approx(expected, abs=1e-6)


def _weights(prefix):
    reader = tf.train.load_checkpoint(prefix)
    # everything but bookkeeping: the object graph's layout and the number of saves differ legitimately
    names = [n for n in reader.get_variable_to_shape_map()
             if "save_counter" not in n and n != "_CHECKPOINTABLE_OBJECT_GRAPH"]
    return {n: reader.get_tensor(n) for n in names}


@pytest.mark.core
@pytest.mark.slow
def test_resume_equals_uninterrupted_run(full_run, mnist_dir, tmp_path):
    """13 iterations (not a checkpoint step), stop, resume for 27 more: the same weights, optimiser state and
    noise state as 40 in one go."""
    assert run_cli(FAST + ["--data_dir", mnist_dir, "--log_dir", tmp_path, "--stop_after", "13"]) == 0
    run_dir = only_run(tmp_path)
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("*.index")) == ["iteration-13.index"]
    assert run_cli(["--resume", run_dir]) == 0
    resumed = _weights(str(run_dir / "checkpoints" / "iteration-40"))
    straight = _weights(str(full_run / "checkpoints" / "iteration-40"))
    assert resumed.keys() == straight.keys() and len(resumed) > 100
    for part in ("generator/", "encoder/", "discriminator/", "d_optimizer/", "ge_optimizer/", "noise_state/",
                 "step/"):
        assert any(n.startswith(part) for n in straight), part
    different = [n for n in straight if not np.array_equal(resumed[n], straight[n])]
    assert different == []
    assert (run_dir / "command.txt").read_text().count("\n") == 2
    sessions = [json.loads(line) for line in (run_dir / "timing.jsonl").read_text().splitlines()]
    assert [(s["from_iteration"], s["to_iteration"]) for s in sessions] == [(0, 13), (13, 40)]
    for s in sessions:  # seconds are rounded to 0.1 s, seconds per iteration computed before rounding
        iterations = s["to_iteration"] - s["from_iteration"]
        assert s["seconds"] > 0 and abs(s["seconds_per_iteration"] - s["seconds"] / iterations) <= 0.05 / iterations + 1e-4


@pytest.mark.slow
def test_figures_and_logging_do_not_change_training(full_run, mnist_dir, tmp_path):
    """The shared run logged figures at 20 and 40 and scalars every 10; without them, the same weights."""
    quiet = FAST + ["--log_every", "1000", "--scalars_every", "1000"]  # later flags win
    assert run_cli(quiet + ["--data_dir", mnist_dir, "--log_dir", tmp_path]) == 0
    run_dir = only_run(tmp_path)
    assert not any((run_dir / "samples_disc").iterdir())
    quiet_weights = _weights(str(run_dir / "checkpoints" / "iteration-40"))
    logged_weights = _weights(str(full_run / "checkpoints" / "iteration-40"))
    assert [n for n in logged_weights if not np.array_equal(quiet_weights[n], logged_weights[n])] == []


@pytest.mark.slow
def test_resume_refuses_changed_settings(full_run, capsys):
    assert run_cli(["--resume", full_run, "--lr_d", "0.01"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--lr_d 0.01 differs from the run's 0.0001" in err and "\n" not in err


@pytest.mark.parametrize("argv,message", [
    (["--max_iter", "0"], "--max_iter: must be a positive integer"),
    (["--batch_size", "-3"], "--batch_size: must be a positive integer"),
    (["--num_z", "x"], "'x' is not an integer"),
    (["--d_activation", "tanh"], "invalid choice: 'tanh'"),
    (["--lr_g", "0"], "--lr_g: must be positive"),
    (["--real_terms_variables", "-1"], "--real_terms_variables: must be an integer of at least 0"),
    (["--real_terms_variables", "2"], "--real_terms_variables 2 asks for more categorical variables than this "
                                      "model's 1"),
    (["--consistency_shear", "1.5"], "consistency_shear must be in [0, 1], got 1.5"),
    (["--consistency_shear", "-0.1"], "--consistency_shear: must be at least 0"),
    (["--consistency_shear", "0.3"], "consistency_shear slants the geometric copies of the consistency term"),
    (["--consistency_shear", "0.3", "--consistency_weight", "1", "--consistency_augment", "colour"],
     "it needs --consistency_weight above 0"),
])
def test_bad_flags_give_one_line(argv, message, capsys, tmp_path):
    try:  # argparse exits; a setting that only the whole configuration can check returns 2
        code = run_cli(argv + ["--log_dir", tmp_path])
    except SystemExit as exit_info:
        code = exit_info.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "mnist").exists()


def _write_bad_mnist(folder: Path, magic: int):
    import gzip
    import struct
    folder.mkdir()
    for name, m, shape in (("train-images-idx3-ubyte", 2051, (10, 28, 28)), ("train-labels-idx1-ubyte", 2049, (10,)),
                           ("t10k-images-idx3-ubyte", 2051, (2, 28, 28)), ("t10k-labels-idx1-ubyte", 2049, (2,))):
        header = struct.pack(">I", magic if name.startswith("train-images") else m)
        header += b"".join(struct.pack(">I", d) for d in shape)
        (folder / (name + ".gz")).write_bytes(gzip.compress(header + bytes(int(np.prod(shape)))))


def test_bad_data_and_run_folders(tmp_path, capsys):
    logs = ["--log_dir", tmp_path / "logs"]
    cases = []
    cases.append((["--data_dir", tmp_path / "missing"] + logs, "does not exist"))
    (tmp_path / "empty").mkdir()
    cases.append((["--data_dir", tmp_path / "empty"] + logs, "MNIST file(s) missing"))
    _write_bad_mnist(tmp_path / "badmagic", magic=1234)
    cases.append((["--data_dir", tmp_path / "badmagic"] + logs, "magic number 1234, expected 2051"))
    (tmp_path / "notarun").mkdir()
    cases.append((["--resume", tmp_path / "notarun"], "is not a run folder"))
    norun = create_run_folder(tmp_path / "logs", "mnist")
    (norun / "config.json").write_text((ROOT / "tests" / "data" / "mnist_config.json").read_text())
    cases.append((["--resume", norun], "has no checkpoint to resume from"))
    for argv, message in cases:
        assert run_cli(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    # no run folder was made for the failed runs: only the one this test made itself
    assert [p.name for p in (tmp_path / "logs" / "mnist").iterdir()] == [norun.name]


def test_new_runs_never_reuse_a_folder(tmp_path):
    import datetime
    now = datetime.datetime(2026, 1, 2, 3, 4, 5)
    first = create_run_folder(tmp_path, "mnist", now)
    (first / "mine.txt").write_text("keep")
    second = create_run_folder(tmp_path, "mnist", now)
    assert first != second and second.name.endswith("_2")
    assert (first / "mine.txt").read_text() == "keep"


def test_script_errors_have_no_traceback(tmp_path):
    """As a user sees it: a separate process, one line on stderr, exit code 2."""
    result = subprocess.run([sys.executable, str(ROOT / "code" / "train_mnist.py"), "--data_dir",
                             str(tmp_path / "nowhere"), "--log_dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert "does not exist" in result.stderr


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint(mnist_dir, tmp_path):
    """`kill` (or a scheduler's stop) saves a checkpoint before the process ends, like Ctrl-C."""
    import signal
    process = subprocess.Popen([sys.executable, str(ROOT / "code" / "train_mnist.py"), "--data_dir", str(mnist_dir),
                                "--log_dir", str(tmp_path), "--batch_size", "8", "--max_iter", "100000"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stdout:  # the first progress line comes after the first iteration
            if "iter |" in line:
                break
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "Interrupted: saved" in out and "--resume" in out
    run_dir = only_run(tmp_path)
    saved = list((run_dir / "checkpoints").glob("iteration-*.index"))
    assert len(saved) == 1 and int(saved[0].stem.split("-")[1]) >= 1
    config = json.loads((run_dir / "config.json").read_text())
    assert config["data"]["data_dir"] == str(Path(mnist_dir).resolve())  # stored absolute


@pytest.mark.slow
def test_resume_problems_give_one_line(full_run, tmp_path, capsys):
    from conftest import writable_run_copy
    copy = tmp_path / full_run.name
    writable_run_copy(full_run, copy)
    assert run_cli(["--resume", copy, "--stop_after", "30"]) == 2  # the run is at 40 already
    err = capsys.readouterr().err
    assert "--stop_after 30: the run is already at iteration 40" in err and err.count("\n") == 1
    # damaged checkpoints are skipped, or refused in one line when none is whole: tests/test_run_faults.py


def test_unusable_data_folders_give_one_line(tmp_path, capsys, monkeypatch):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    assert run_cli(["--data_dir", a_file, "--log_dir", tmp_path / "logs"]) == 2
    err = capsys.readouterr().err
    assert f"MNIST folder {a_file} is a file, not a folder" in err and err.count("\n") == 1
    monkeypatch.setenv("XDG_CACHE_HOME", str(a_file))  # the download cache cannot be made under a file
    monkeypatch.delenv("MNIST_DIR", raising=False)  # else MNIST is read from there and a whole run trains
    assert run_cli(["--log_dir", tmp_path / "logs"]) == 2
    err = capsys.readouterr().err
    assert "cannot make the MNIST download folder" in err and err.count("\n") == 1
    assert not (tmp_path / "logs").exists()
