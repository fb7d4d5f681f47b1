"""GPU users (issue 17): the GPU requirements file, the device line, GPU memory on demand, --op_determinism."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from bidirectional_infogan.util import tf_setup
from bidirectional_infogan.train.training import set_op_determinism

from conftest import only_run, run_cli  # noqa: E402
from test_train_mnist_cli import _weights  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CPU_LINE = "device: CPU (no GPU visible; for a GPU install see README)"


def _requirements(name: str) -> list[str]:
    lines = (ROOT / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def test_gpu_requirements_are_the_cpu_ones_with_cuda():
    """requirements-gpu.txt = requirements.txt + tensorflow[and-cuda] in requirements.txt's version range."""
    from packaging.requirements import Requirement
    cpu = {Requirement(line).name: Requirement(line) for line in _requirements("requirements.txt")
           if not line.startswith("-")}
    gpu = _requirements("requirements-gpu.txt")
    assert gpu[0] == "-r requirements.txt" and len(gpu) == 2
    tensorflow = Requirement(gpu[1])
    assert tensorflow.name == "tensorflow" and tensorflow.extras == {"and-cuda"}
    assert tensorflow.specifier == cpu["tensorflow"].specifier
    readme = (ROOT / "README.md").read_text()
    assert "pip install -r requirements-gpu.txt" in readme and "## Training on a GPU" in readme


def test_gpu_memory_grows_unless_the_user_says_otherwise(monkeypatch):
    monkeypatch.delenv("TF_FORCE_GPU_ALLOW_GROWTH", raising=False)
    tf_setup.import_tensorflow()
    assert tf_setup.os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    monkeypatch.setenv("TF_FORCE_GPU_ALLOW_GROWTH", "false")
    tf_setup.import_tensorflow()
    assert tf_setup.os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] == "false"


def test_device_line(monkeypatch):
    """No GPU: the CPU line; GPUs: the first one's number and model (TensorFlow places every op on it)."""
    gpus = []
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: list(gpus) if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "get_device_details",
                        lambda device: {"device_name": "NVIDIA A100-SXM4-40GB", "compute_capability": (8, 0)})
    assert tf_setup.device_line() == CPU_LINE
    gpus.append(tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU"))
    assert tf_setup.device_line() == "device: GPU 0 NVIDIA A100-SXM4-40GB"
    gpus.append(tf.config.PhysicalDevice(name="/physical_device:GPU:1", device_type="GPU"))
    assert tf_setup.device_line() == ("device: GPU 0 NVIDIA A100-SXM4-40GB (the first of 2 visible GPUs; only it "
                                      "is used)")


@pytest.fixture
def keep_op_determinism():
    """The tests below switch TensorFlow's process-wide op determinism; put it back as it was."""
    before = tf_config.is_op_determinism_enabled()
    yield
    set_op_determinism(before)


def test_only_a_double_backpropagation_switches_the_graph_optimiser_off(keep_op_determinism):
    """--d_r1 under op determinism turns Grappler off (its rewrite of R1's gradient differed between processes);
    every other run, the paper's step among them, gets it back, since the switch is process-wide."""
    def grappler_off():
        return tf.config.optimizer.get_experimental_options().get("disable_meta_optimizer", False)
    try:
        set_op_determinism(True, double_backprop=True)
        assert grappler_off()
        set_op_determinism(True)
        assert not grappler_off()
        set_op_determinism(True, double_backprop=True)
        set_op_determinism(False, double_backprop=True)  # no determinism asked for: nothing to protect
        assert not grappler_off()
    finally:
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": False})


def _tiny(mnist_dir, log_dir):
    return ["--batch_size", "8", "--max_iter", "4", "--checkpoint_every", "100", "--log_every", "1000",
            "--scalars_every", "1000", "--data_dir", mnist_dir, "--log_dir", log_dir]


def _sessions(run_dir):
    return [json.loads(line) for line in (run_dir / "timing.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_op_determinism_off_trains_and_resumes(mnist_dir, tmp_path, capsys, keep_op_determinism):
    """--op_determinism off: the run trains without determinism, prints where it computes, records both, and
    a resume keeps "off" (refusing a change to "on"). Not bitwise: only that it works."""
    set_op_determinism(True)  # the run must switch it off itself
    assert run_cli(_tiny(mnist_dir, tmp_path) + ["--op_determinism", "off", "--stop_after", "2"]) == 0
    assert not tf_config.is_op_determinism_enabled()
    out = capsys.readouterr().out
    device = tf_setup.describe_device()
    assert f"device: {device}\n" in out
    from bidirectional_infogan.train import training
    code = training.code_version(training.CODE_FOLDER)  # and which code trains (none outside git)
    assert (f"\ncode: {code}" in out) == (code is not None) and ("differ from this commit" in out) == (
        code is not None and code.endswith("-dirty"))
    if not tf.config.list_physical_devices("GPU"):  # this machine: the CPU line
        assert re.search(f"^{re.escape(CPU_LINE)}$", out, flags=re.MULTILINE), out
    run_dir = only_run(tmp_path)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["flags"]["op_determinism"] == "off" and config["device"] == device

    assert run_cli(["--resume", run_dir, "--op_determinism", "on"]) == 2
    err = capsys.readouterr().err
    assert "--op_determinism on differs from the run's off" in err and err.count("\n") == 1

    set_op_determinism(True)
    assert run_cli(["--resume", run_dir]) == 0
    assert not tf_config.is_op_determinism_enabled()
    assert f"device: {device}\n" in capsys.readouterr().out
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("*.index")) == ["iteration-2.index",
                                                                                 "iteration-4.index"]
    assert json.loads((run_dir / "config.json").read_text())["flags"]["op_determinism"] == "off"
    sessions = _sessions(run_dir)
    assert [(s["from_iteration"], s["to_iteration"], s["device"]) for s in sessions] == [(0, 2, device),
                                                                                         (2, 4, device)]


@pytest.mark.slow
def test_op_determinism_on_resumes_bitwise_and_old_runs_resume_as_on(mnist_dir, tmp_path, capsys,
                                                                      keep_op_determinism):
    """--op_determinism on: 2 iterations, stop, resume for 2 more give exactly the weights of 4 in one go. The
    stopped run is made to look like one from before the flag, --d_batch_statistics and the device were recorded
    (config.json without them): it resumes, as "on" and "separate", and refuses "off" and "joint"."""
    assert run_cli(_tiny(mnist_dir, tmp_path / "straight") + ["--op_determinism", "on"]) == 0
    assert run_cli(_tiny(mnist_dir, tmp_path / "stopped") + ["--stop_after", "2"]) == 0
    run_dir = only_run(tmp_path / "stopped")
    config = json.loads((run_dir / "config.json").read_text())
    assert config["flags"]["op_determinism"] == "on"  # the default
    assert config["flags"]["d_batch_statistics"] == config["train"]["d_batch_statistics"] == "separate"
    del config["flags"]["op_determinism"], config["device"]
    del config["flags"]["d_batch_statistics"], config["train"]["d_batch_statistics"]  # also from before that flag
    (run_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    capsys.readouterr()

    assert run_cli(["--resume", run_dir, "--d_batch_statistics", "joint"]) == 2
    err = capsys.readouterr().err
    assert "--d_batch_statistics joint differs from the run's separate" in err and err.count("\n") == 1

    assert run_cli(["--resume", run_dir, "--op_determinism", "off"]) == 2
    err = capsys.readouterr().err
    assert "--op_determinism off differs from the run's on" in err and err.count("\n") == 1

    set_op_determinism(False)  # the resumed run must switch it on itself
    assert run_cli(["--resume", run_dir]) == 0
    assert tf_config.is_op_determinism_enabled()
    resumed = _weights(str(run_dir / "checkpoints" / "iteration-4"))
    straight = _weights(str(only_run(tmp_path / "straight") / "checkpoints" / "iteration-4"))
    assert resumed.keys() == straight.keys() and len(resumed) > 100
    assert [n for n in straight if not np.array_equal(resumed[n], straight[n])] == []
