"""The training loop: batches, log steps, checkpoints, stop signals and timing; exact resume.

Randomness and exact resume: the batch order, z and c of step i are pure functions of (seed, i) (numpy
generators seeded with [seed, stream, i]), and the Gaussian-noise layers of D keep their random state in
variables that the checkpoint saves. With TF op determinism on (the run's --op_determinism, on by default), a
run stopped and resumed ends with exactly the weights of an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from . import latent, visualization
from .checkpoints import DiskFullError, checkpoint_manager, is_disk_full, restore_newest, save_checkpoint
from .config import RunConfig
from .data.common import TrainingData, available_cpus, to_float
from .model import BidirectionalInfoGAN
from .progress import Progress
from .tf_setup import describe_device, device_line

# Independent random streams, each seeded with [seed, stream, index].
LATENT_STREAM, DATA_ORDER_STREAM, FIGURE_STREAM = 1, 2, 3


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


def train(run: RunConfig, data: TrainingData, run_dir: Path, settings: LoopSettings, *, resume: bool = False,
          out=None, started=None) -> BidirectionalInfoGAN:
    """Train from scratch (or from the run folder's newest whole checkpoint with `resume`) up to max_iter.
    `started()` is called once the resumed model is restored, before the first iteration."""
    out = out or sys.stdout
    print(device_line(), file=out, flush=True)
    set_op_determinism(run.flags.get("op_determinism", "on") == "on")
    cfg, tcfg = run.model, run.train
    start = 0
    if resume:
        model, start = restore_newest(lambda: BidirectionalInfoGAN(cfg, tcfg), run_dir,
                                      lambda text: print(text, file=out, flush=True))
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
                z, c = latent.sample_latent(cfg, stream_rng(tcfg.seed, LATENT_STREAM, step), tcfg.batch_size)
                metrics = model.train_step(images, z, c)
                is_log_step = step % settings.log_every == 0
                if is_log_step or step % settings.scalars_every == 0:
                    values = {name: float(value) for name, value in metrics.items()}
                    with writer.as_default(step=step):
                        for name, value in {**values, **model.learning_rates(step)}.items():
                            tf.summary.scalar(name, value)
                    if is_log_step:
                        progress.message(f"Iteration: {step}; D_loss: {values['D_loss']:.4}; "
                                         f"G_loss: {values['G_loss']:.4}")
                        scores = log_figures(model, writer, step, images, data, run_dir)
                        if scores:
                            progress.message(f"  {scores}")
                    writer.flush()
                if step % settings.checkpoint_every == 0 or step == last:
                    path = save_checkpoint(manager, step, run_dir)
                    last_saved = step
                    timing.saved(step)
                    progress.message(f"Model saved in {path}")
                progress.update(step)
    except KeyboardInterrupt:
        # The step counter is the truth: a step either ran completely or not at all.
        done = int(model.step.numpy())
        if done > last_saved:
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


def set_op_determinism(on: bool) -> None:
    """TensorFlow's op determinism (a process-wide switch): on for bitwise repeatable runs and exact resume."""
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
    """One line per training session in RUN_DIR/timing.jsonl: iterations, wall-clock time, machine.

    The session's line is rewritten at every checkpoint, so it always covers exactly the iterations that a
    resume keeps, even when the process is killed without warning (SIGKILL, a machine shut down)."""

    def __init__(self, run_dir: Path, first: int):
        self.path = Path(run_dir) / "timing.jsonl"
        self.first = first
        self.started = time.time()
        self.earlier = self.path.read_text() if self.path.exists() else ""
        self.device = describe_device()

    def saved(self, last: int) -> None:
        if last <= self.first:
            return
        seconds = time.time() - self.started
        record = {"from_iteration": self.first, "to_iteration": last, "seconds": round(seconds, 1),
                  "seconds_per_iteration": round(seconds / (last - self.first), 4), "machine": platform.node(),
                  "processor": _processor_name(), "cpus": available_cpus(), "device": self.device,
                  "tensorflow": tf.__version__}
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(self.earlier + json.dumps(record) + "\n")
        os.replace(partial, self.path)


def _processor_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def log_figures(model: BidirectionalInfoGAN, writer, step: int, batch_images: np.ndarray,
                data: TrainingData, run_dir: Path) -> str:
    """The log-step figures: generated grids and reconstructions to TensorBoard (networks in inference
    mode), max-activating validation samples to samples_disc/ and samples_cont/, and, where the validation
    images have labels, how well each categorical variable classifies them. Returns a line for the log."""
    cfg = model.cfg
    rng = stream_rng(model.train_cfg.seed, FIGURE_STREAM, step)
    with writer.as_default(step=step):
        for v, n in enumerate(cfg.categorical_dims):
            images = model.generate(latent.categorical_grid_latent(cfg, rng, v))
            tf.summary.image(f"image_categorical_{v}", visualization.image_grid(images, 10, n)[None])
        for j in range(cfg.continuous_dim):
            images = model.generate(latent.continuous_grid_latent(cfg, rng, j))
            rows = cfg.categorical_dims[0]
            tf.summary.image(f"image_continuous_{j}",
                             visualization.image_grid(images, rows, len(latent.CONTINUOUS_SWEEP))[None])
        originals = batch_images[:50]
        reconstructions = model.generate(model.encode(originals))
        tf.summary.image("image_reconstruction", visualization.pair_grid(originals, reconstructions, 5, 10)[None])
    parts = latent.split_latent(cfg, model.encode(data.validation_images))
    save_validation_samples(parts, data.validation_images, step, run_dir)
    if data.validation_labels is None or len(data.validation_labels) == 0:
        return ""
    return log_validation_scores(parts, data.validation_labels, writer, step)


def log_validation_scores(parts: latent.LatentParts, labels: np.ndarray, writer, step: int) -> str:
    """TensorBoard scalars validation/accuracy_c<v> (best one-to-one mapping of the values of categorical
    variable v to the labels, Hungarian algorithm) and validation/nmi_c<v>. Labels are not used in training."""
    from . import evaluation
    n_labels = int(labels.max()) + 1
    scores = []
    with writer.as_default(step=step):
        for score in evaluation.score_categorical_variables(parts.categorical, labels, n_labels):
            v = score["variable"]
            tf.summary.scalar(f"validation/accuracy_c{v}", score["accuracy"])
            tf.summary.scalar(f"validation/nmi_c{v}", score["nmi"])
            scores.append(f"c{v} {score['accuracy']:.2%}")
    return "validation accuracy (Hungarian mapping): " + ", ".join(scores)


def save_validation_samples(parts: latent.LatentParts, validation_images: np.ndarray, step: int,
                            run_dir: Path) -> None:
    """Max-activating validation images.

    samples_disc/<step>_d<v>.png: row k = the 10 validation images most confidently put in category k of
    categorical variable v.
    samples_cont/<step>_c<j>.png, with one categorical variable (MNIST, as the original): for each category
    (columns), the image with the largest (top row) and the smallest (bottom row) value of continuous
    variable j. With several categorical variables (CelebA, SVHN, as the original's result pages): two rows
    of the 20 images with the smallest values, then two rows of the 20 with the largest.
    """
    for v, probabilities in enumerate(parts.categorical):
        chosen = visualization.most_confident_per_value(probabilities, 10)
        grid = visualization.image_grid(visualization.pick(validation_images, chosen, 10), len(chosen), 10)
        _save_new(Path(run_dir) / "samples_disc" / f"{step}_d{v + 1}.png", grid)
    per_category = len(parts.categorical) == 1
    groups = parts.categorical[0].argmax(axis=1) if per_category else np.zeros(len(validation_images), int)
    n_groups = parts.categorical[0].shape[1] if per_category else 1
    for j in range(parts.continuous.shape[1]):
        if per_category:
            largest, smallest = visualization.extremes_per_value(parts.continuous[:, j], groups, n_groups)
            cells = visualization.pick(validation_images, largest, 1) + visualization.pick(validation_images, smallest, 1)
            grid = visualization.image_grid(cells, 2, n_groups)
        else:
            largest, smallest = visualization.extremes_per_value(parts.continuous[:, j], groups, 1, 20)
            rows = [smallest[0][:10], smallest[0][10:], largest[0][:10], largest[0][10:]]
            grid = visualization.image_grid(visualization.pick(validation_images, rows, 10), 4, 10)
        _save_new(Path(run_dir) / "samples_cont" / f"{step}_c{j + 1}.png", grid)


def _save_new(path: Path, grid) -> None:
    """Write a PNG unless the file exists (a resumed run recomputes identical figures; keep the first)."""
    if not path.exists():
        visualization.save_png(path, grid)
