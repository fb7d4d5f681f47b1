"""Importing TensorFlow for the command-line tools: fast CPU kernels on, GPU memory on demand, start-up notices
off; and the one line that says which device computes."""

from __future__ import annotations

import os
import sys
import tempfile


def import_tensorflow():
    """Import TensorFlow with oneDNN kernels on and its start-up notices hidden; returns the module.

    oneDNN is what makes training fast on a CPU (about 3x faster convolutions than TensorFlow's default
    kernels on the AMD CPUs we measured, where TensorFlow leaves it off). Set TF_ENABLE_ONEDNN_OPTS=0 to turn
    it off. On a GPU, TensorFlow would reserve almost all of its memory at start; TF_FORCE_GPU_ALLOW_GROWTH=true
    makes it take memory as needed instead (a value the user set is kept). TensorFlow writes notices ("CUDA
    drivers not found", "oneDNN custom operations are on") straight to file descriptor 2 before its logging is
    set up; they are shown only if the import fails (`describe_device` says instead whether a GPU is used).
    """
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")  # read when TensorFlow first sets up a GPU
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf
            single_inter_op_thread(tf)
            tf.config.list_physical_devices()  # device discovery prints its notices now, into the capture
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return tf


def single_inter_op_thread(tf) -> None:
    """Run the independent branches of a graph one after the other (each op still uses every core).

    With TensorFlow's default pool of inter-op threads, a training step whose graph has several branches (the
    opt-in terms add an encoder call and a discriminator call) was not bitwise repeatable even with op
    determinism on: two identical runs in one process differed in 223 of their tensors after 24 iterations, and
    none with one inter-op thread (docs/repeatability.md). It must be set before TensorFlow runs its first op;
    later it is left as it is."""
    try:
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow is already running
        pass


NO_GPU = "CPU (no GPU visible; for a GPU install see README)"


def describe_device() -> str:
    """Where TensorFlow computes: 'GPU 0 <model>' (the first visible GPU, which it places every op on), or
    NO_GPU. The training and evaluation scripts print it as `device_line()`; config.json and timing.jsonl
    record it."""
    tf = import_tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return NO_GPU
    try:
        model = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "")
    except (RuntimeError, ValueError):
        model = ""
    text = f"GPU {gpus[0].name.rsplit(':', 1)[-1]} {model or '(model unknown)'}"
    if len(gpus) > 1:
        text += f" (the first of {len(gpus)} visible GPUs; only it is used)"
    return text


def device_line() -> str:
    """The line a training or evaluation run prints, e.g. 'device: GPU 0 NVIDIA A100-SXM4-40GB'."""
    return f"device: {describe_device()}"
