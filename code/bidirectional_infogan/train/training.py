"""The training loop: batches, log steps, checkpoints, stop signals and timing; exact resume.

Randomness and exact resume: the batch order, z and c of step i are pure functions of (seed, i) (numpy
generators seeded with [seed, stream, i]), and the Gaussian-noise layers of D keep their random state in
variables that the checkpoint saves. With TF op determinism on (the run's --op_determinism, on by default), a
run stopped and resumed ends with exactly the weights of an uninterrupted run.

Divergence: the losses are checked after every step and the weights before every save; a NaN or an infinity
stops the run with TrainingDiverged, and no checkpoint with non-finite weights is ever saved.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from bidirectional_infogan.model import latent
from bidirectional_infogan.data.augment import augment
from bidirectional_infogan.runs.checkpoints import (DiskFullError, checkpoint_manager, is_disk_full,
                                                    restore_newest, save_checkpoint)
from bidirectional_infogan.model.config import RunConfig
from bidirectional_infogan.data.common import TrainingData, available_cpus, to_float
from bidirectional_infogan.train.log_step import log_figures, log_health
from bidirectional_infogan.model.gan import BidirectionalInfoGAN
from bidirectional_infogan.util.progress import Progress
from bidirectional_infogan.util.tf_setup import NO_GPU, describe_device, device_line

# Independent random streams, each seeded with [seed, stream, index].
LATENT_STREAM, DATA_ORDER_STREAM, FIGURE_STREAM, AUGMENT_STREAM = 1, 2, 3, 4


def stream_rng(seed: int, stream: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, index])


class ShuffledBatches:
    """Batches from a stream of shuffled epochs: epoch e is a permutation drawn from (seed, e); batch i is
    items [i*B, (i+1)*B) of the stream, so a batch may span the end of one epoch and the start of the next
    (as TF's old tutorial reader did). A pure function of (seed, i): resuming needs only the step."""

    def __init__(self, n_items: int, batch_size: int, seed: int):
        if batch_size > n_items:
            raise ValueError(f"batch size {batch_size} is larger than the {n_items} training images")
        self.n_items, self.batch_size, self.seed = n_items, batch_size, seed
        self._cache: dict[int, np.ndarray] = {}

    def _epoch(self, epoch: int) -> np.ndarray:
        if epoch not in self._cache:
            if len(self._cache) > 2:
                self._cache.pop(min(self._cache))
            self._cache[epoch] = stream_rng(self.seed, DATA_ORDER_STREAM, epoch).permutation(self.n_items)
        return self._cache[epoch]

    def indices(self, batch_index: int) -> np.ndarray:
        start = batch_index * self.batch_size
        epochs, offsets = np.divmod(np.arange(start, start + self.batch_size), self.n_items)
        return np.concatenate([self._epoch(int(e))[offsets[epochs == e]] for e in np.unique(epochs)])


@dataclass
class LoopSettings:
    """How often the loop logs and saves: a run's loop values (config.json's "loop", cli.LOOP_FLAGS)."""
    log_every: int
    checkpoint_every: int
    scalars_every: int
    keep_checkpoints: int
    stop_after: int | None  # stop (with a checkpoint) after this iteration; --resume continues


class TrainingDiverged(Exception):
    """The losses or the weights became non-finite (NaN or inf); training stopped without saving them.
    `iteration`: where it was found; `last_good`: the run's newest checkpoint, whose weights are finite (None if
    none was saved or the restored one was not finite)."""

    def __init__(self, message: str, iteration: int, last_good: int | None):
        super().__init__(message)
        self.iteration, self.last_good = iteration, last_good


def non_finite_variable(model: BidirectionalInfoGAN) -> str | None:
    """Which trainable variable of G, E or D holds a NaN or an infinity (the first one), or None."""
    for name, network in (("G", model.generator), ("E", model.encoder), ("D", model.discriminator)):
        for variable in network.trainable_variables:
            if not bool(tf.reduce_all(tf.math.is_finite(variable.value))):
                kind = "NaN" if bool(tf.reduce_any(tf.math.is_nan(variable.value))) else "inf"
                return f"{name}'s {variable.path} holds {kind}"
    return None


def check_losses(metrics: dict, step: int, last_good: int | None) -> None:
    """Raise TrainingDiverged if D_loss or G_loss of iteration `step` is not finite."""
    d_loss, g_loss = float(metrics["D_loss"]), float(metrics["G_loss"])
    if not (np.isfinite(d_loss) and np.isfinite(g_loss)):
        raise TrainingDiverged(f"the losses became non-finite at iteration {step} (D_loss {d_loss:.4g}, "
                               f"G_loss {g_loss:.4g})", step, last_good)


def check_weights(model: BidirectionalInfoGAN, step: int, last_good: int | None) -> None:
    """Raise TrainingDiverged if a trainable variable is not finite after iteration `step` (before a save)."""
    where = non_finite_variable(model)
    if where:
        raise TrainingDiverged(f"the weights were not finite after iteration {step} ({where})", step, last_good)


def train(run: RunConfig, data: TrainingData, run_dir: Path, settings: LoopSettings, *, resume: bool = False,
          out=None, started=None) -> BidirectionalInfoGAN:
    """Train from scratch (or from the run folder's newest whole checkpoint with `resume`) up to max_iter.
    `started()` is called once the resumed model is restored, before the first iteration."""
    out = out or sys.stdout
    print(device_line(), file=out, flush=True)
    cfg, tcfg = run.model, run.train
    if tcfg.precision == "mixed_float16" and describe_device() == NO_GPU:
        print("note: --precision mixed_float16 on a CPU: CPUs compute float16 slowly, often more slowly than float32 "
              "(mixed_bfloat16 is the fast 16-bit format there)", file=out, flush=True)
    print_code_line(out)
    set_op_determinism(run.flags.get("op_determinism", "on") == "on", double_backprop=tcfg.d_r1 > 0)
    start = 0
    if resume:
        model, start = restore_newest(lambda: BidirectionalInfoGAN(cfg, tcfg), run_dir,
                                      lambda text: print(text, file=out, flush=True))
        where = non_finite_variable(model)
        if where:  # saved before training checked for NaN: it would only go on with NaN
            raise TrainingDiverged(f"the weights of checkpoint iteration-{start} are not finite ({where})", start,
                                   None)
        print(f"Resuming {run_dir} from iteration {start}", file=out, flush=True)
    else:
        model = BidirectionalInfoGAN(cfg, tcfg)
    if started:
        started()
    manager = checkpoint_manager(model, run_dir, settings.keep_checkpoints)

    writer = tf.summary.create_file_writer(str(run_dir))
    batches = ShuffledBatches(len(data.train_images), tcfg.batch_size, tcfg.seed)
    last = min(tcfg.max_iter, settings.stop_after or tcfg.max_iter)
    progress = Progress(last, start, out=out)
    last_saved = start
    timing = SessionTiming(run_dir, start)
    try:
        with _stop_signals_interrupt():
            for step in range(start + 1, last + 1):
                images = to_float(data.train_images[batches.indices(step - 1)])
                z, c = latent.sample_latent(cfg, stream_rng(tcfg.seed, LATENT_STREAM, step), tcfg.batch_size,
                                            model.prior_values())
                augmented = (augment(images, tcfg.consistency_augment, stream_rng(tcfg.seed, AUGMENT_STREAM, step),
                                     tcfg.consistency_shear)
                             if tcfg.consistency_weight > 0 else None)
                metrics = model.train_step(images, z, c, augmented)
                check_losses(metrics, step, last_saved if last_saved > 0 else None)
                is_log_step = step % settings.log_every == 0
                if is_log_step or step % settings.scalars_every == 0:
                    values = {name: float(value) for name, value in metrics.items()}
                    with writer.as_default(step=step):
                        for name, value in {**values, **model.learning_rates(step)}.items():
                            tf.summary.scalar(name, value)
                    if is_log_step:
                        progress.message(f"Iteration: {step}; D_loss: {values['D_loss']:.4}; "
                                         f"G_loss: {values['G_loss']:.4}")
                        scores = log_figures(model, writer, step, images, data, run_dir,
                                             stream_rng(tcfg.seed, FIGURE_STREAM, step))
                        if scores:
                            progress.message(f"  {scores}")
                        progress.message(f"  {log_health(model, writer, step, data, run_dir, tcfg.seed)}")
                    writer.flush()
                if step % settings.checkpoint_every == 0 or step == last:
                    check_weights(model, step, last_saved if last_saved > 0 else None)  # never save NaN
                    path = save_checkpoint(manager, step, run_dir)
                    last_saved = step
                    timing.saved(step)
                    progress.message(f"Model saved in {path}")
                progress.update(step)
    except KeyboardInterrupt:
        # The step counter is the truth: a step either ran completely or not at all.
        done = int(model.step.numpy())
        if done > last_saved:
            check_weights(model, done, last_saved if last_saved > 0 else None)  # never save NaN
            path = save_checkpoint(manager, done, run_dir)
            timing.saved(done)
            progress.message(f"Interrupted: saved {path}; continue with --resume {shlex.quote(str(run_dir))}")
        raise
    except (OSError, tf.errors.ResourceExhaustedError) as err:  # the disk filled up outside a checkpoint save
        if not is_disk_full(err):
            raise
        raise DiskFullError(f"the disk is full ({str(err).splitlines()[0]})",
                            last_saved if last_saved > 0 else None) from None
    finally:
        progress.close()
        writer.close()
    return model


def set_op_determinism(on: bool, double_backprop: bool = False) -> None:
    """TensorFlow's op determinism (a process-wide switch): on for bitwise repeatable runs and exact resume.

    With a double backpropagation in the step (--d_r1), op determinism is not enough: TensorFlow's graph optimiser
    (Grappler) rewrote D's gradient differently in different processes (6 of 15 pairs of runs differed from
    iteration 1 on, 0 of 9 with it off; docs/repeatability.md), so it is switched off for such runs. The paper's
    step has none and keeps the optimiser (set back, since the switch too is process-wide)."""
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": on and double_backprop})
    if on:
        tf.config.experimental.enable_op_determinism()
    else:
        from tensorflow.python.framework import config as tf_config  # TensorFlow has no public "off"
        tf_config.disable_op_determinism()


@contextmanager
def _stop_signals_interrupt():
    """Turn SIGINT and SIGTERM into KeyboardInterrupt while training, so that Ctrl-C, `kill` and a scheduler's
    stop all save a checkpoint first (a background job may start with SIGINT ignored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class SessionTiming:
    """One line per training session in RUN_DIR/timing.jsonl: iterations, wall-clock time, machine, and the code
    that trained (the git commit of this package's checkout, "-dirty" if tracked files had changed).

    The session's line is rewritten at every checkpoint, so it always covers exactly the iterations that a
    resume keeps, even when the process is killed without warning (SIGKILL, a machine shut down)."""

    def __init__(self, run_dir: Path, first: int):
        self.path = Path(run_dir) / "timing.jsonl"
        self.first = first
        self.started = time.time()
        self.earlier = self.path.read_text() if self.path.exists() else ""
        self.device = describe_device()
        self.code = code_version(CODE_FOLDER)

    def saved(self, last: int) -> None:
        if last <= self.first:
            return
        seconds = time.time() - self.started
        record = {"from_iteration": self.first, "to_iteration": last, "seconds": round(seconds, 1),
                  "seconds_per_iteration": round(seconds / (last - self.first), 4), "machine": platform.node(),
                  "processor": _processor_name(), "vector_extensions": vector_extensions(),
                  "cpus": available_cpus(), "device": self.device,
                  "tensorflow": tf.__version__, "code": self.code}
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(self.earlier + json.dumps(record) + "\n")
        os.replace(partial, self.path)


CODE_FOLDER = Path(__file__).resolve().parents[2]  # code/: the package and the training scripts


def code_version(folder: Path) -> str | None:
    """The commit checked out in the git repository that tracks `folder`'s files, with "-dirty" appended when
    tracked files in `folder` differ from it (results or docs changed elsewhere in the checkout do not change the
    code that trains); None without git, outside a repository, or when the repository does not track `folder`
    (an installed copy inside someone else's repository). Results can then say which code made a run (a fix that
    changes the last bits of every run makes this matter)."""
    def git(*args) -> str:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True,
                              timeout=30).stdout.strip()
    try:
        if not git("ls-files", "--", "."):
            return None
        commit = git("rev-parse", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ".")
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if changed else "")


def vector_extensions(cpuinfo: str | None = None) -> str | None:
    """The widest x86 vector instructions the processor has ("AVX-512", "AVX2", "AVX"; None if unknown or
    another architecture): the same model name (a virtual "AMD EPYC") can be three times faster with AVX-512."""
    try:
        text = Path("/proc/cpuinfo").read_text() if cpuinfo is None else cpuinfo
    except OSError:
        return None
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX")):
        if flag in flags:
            return name
    return None


def print_code_line(out) -> None:
    """Say which commit trains (as timing.jsonl will record it), and warn before hours of training when the run
    will be recorded as "-dirty"; nothing outside a git checkout."""
    code = code_version(CODE_FOLDER)
    if code is not None:
        note = " (tracked files differ from this commit; commit them for a clean record)" if code.endswith("-dirty") \
            else ""
        print(f"code: {code}{note}", file=out, flush=True)


def _processor_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
