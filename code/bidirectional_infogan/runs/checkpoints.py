"""Checkpoints of a run (tf.train.Checkpoint + CheckpointManager) and loading a trained model back.

A checkpoint holds G, E, D (weights and batch-norm statistics), both optimisers (step counts and slots),
the iteration counter and the random state of D's noise layers.
"""

from __future__ import annotations

import errno
import logging
import os
import re
from pathlib import Path

import tensorflow as tf

from bidirectional_infogan.model.config import RunConfig
from bidirectional_infogan.model.gan import BidirectionalInfoGAN
from bidirectional_infogan.runs.run_folder import (DAMAGED_FOLDER, RunFolderError, checkpoint_numbers_with_files,
                                                   choose_checkpoint, list_checkpoints, load_run_config,
                                                   move_checkpoint_aside, remove_unfinished_saves)


class CheckpointError(Exception):
    """A missing or unusable checkpoint (the message is meant for the user)."""


class DiskFullError(CheckpointError):
    """A checkpoint could not be saved for lack of disk space; `last_good` is the newest saved one (or None)."""

    def __init__(self, message: str, last_good: int | None):
        super().__init__(message)
        self.last_good = last_good


def _reason(err: BaseException) -> str:
    """The first line of a TensorFlow error, without its op decoration ({{function_node ...}}, [Op:...])."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    text = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", text)
    return re.sub(r"\s*\[Op:\w+\]$", "", text)


class _UnrestoredValuesFilter(logging.Filter):
    """Drops TensorFlow's 'deleted with unrestored values' warnings, which a failed restore leaves behind (the
    half-restored objects warn when they are collected, often after our error line, at exit)."""

    PREFIXES = ("Detecting that an object or model or tf.train.Checkpoint is being deleted with unrestored",
                "Value in checkpoint could not be found in the restored object",
                "An attribute in the restored object could not be found in the checkpoint")

    def filter(self, record):
        return not str(record.getMessage()).startswith(self.PREFIXES)


def _silence_unrestored_value_warnings() -> None:
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _UnrestoredValuesFilter) for f in logger.filters):
        logger.addFilter(_UnrestoredValuesFilter())


def checkpoint_manager(model, run_dir: Path, keep: int = 2) -> tf.train.CheckpointManager:
    return tf.train.CheckpointManager(model.checkpoint, str(Path(run_dir) / "checkpoints"), max_to_keep=keep,
                                      checkpoint_name="iteration")


def find_checkpoint(run_dir: Path, iteration: int | None = None) -> tuple[int, str]:
    """(iteration, prefix) of the requested checkpoint, by default the newest one."""
    try:
        return choose_checkpoint(run_dir, iteration)
    except RunFolderError as err:
        raise CheckpointError(str(err)) from None


def restore(model, prefix: str, *, expect_partial: bool = False) -> int:
    """Restore a checkpoint into `model` and return its iteration. Errors surface; none is swallowed."""
    try:
        status = model.checkpoint.restore(prefix)
        if expect_partial:
            status.expect_partial()
        else:
            status.assert_consumed()
    # A truncated or damaged file fails inside TensorFlow's reader with IndexError or OSError.
    except (tf.errors.OpError, AssertionError, ValueError, IndexError, OSError) as err:
        _silence_unrestored_value_warnings()
        raise CheckpointError(f"cannot restore {prefix}: {_reason(err)}") from None
    return int(model.step.numpy())


# What TensorFlow's reader says about a damaged checkpoint, and what it means.
DAMAGE_MEANINGS = (
    ("Checksum does not match", "its .data file fails a checksum (bytes changed)"),
    ("checksum does not match", "its .data file fails a checksum (bytes changed)"),
    ("Read less bytes than requested", "its .data file is truncated"),
    ("not an sstable", "its .index file is unreadable"),
    ("Unable to read file", "its .index file is unreadable"),
)


def verify_checkpoint(prefix: str, iteration: int | None = None) -> int:
    """Read every tensor of a checkpoint, which checks each one's CRC32C checksum against the .index, and
    return the iteration it holds. Raises CheckpointError saying what is wrong (a truncated, zeroed or
    bit-flipped .data file, an unreadable .index, a missing shard, a file named for another iteration)."""
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
        step = int(reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE"))
    except (tf.errors.OpError, ValueError, IndexError, OSError, RuntimeError) as err:
        reason = _reason(err)
        for known, meaning in DAMAGE_MEANINGS:
            if known in reason:
                raise CheckpointError(meaning) from None
        raise CheckpointError(reason) from None
    if iteration is not None and step != iteration:
        raise CheckpointError(f"it holds iteration {step}, not {iteration}")
    return step


def write_checkpoint_index(run_dir: Path, iterations) -> None:
    """Rewrite checkpoints/checkpoint (the index that tf.train.CheckpointManager reads) to name exactly these
    checkpoints, the newest last; written atomically."""
    folder = Path(run_dir) / "checkpoints"
    names = [f"iteration-{i}" for i in sorted(iterations)]
    stamps = [(folder / f"{name}.index").stat().st_mtime for name in names]
    lines = [f'model_checkpoint_path: "{names[-1]}"']
    lines += [f'all_model_checkpoint_paths: "{name}"' for name in names]
    lines += [f"all_model_checkpoint_timestamps: {stamp}" for stamp in stamps]
    lines += [f"last_preserved_timestamp: {min(stamps) - 1}"]  # older ones would be kept forever, untracked
    partial = folder / "checkpoint.partial"
    partial.write_text("\n".join(lines) + "\n")
    os.replace(partial, folder / "checkpoint")


def _indexed_iterations(run_dir: Path) -> list[int]:
    """The iterations that checkpoints/checkpoint names (empty if the file is missing or unreadable)."""
    try:
        state = tf.train.get_checkpoint_state(str(Path(run_dir) / "checkpoints"))
    except (tf.errors.OpError, ValueError):
        return []
    names = list(state.all_model_checkpoint_paths) + [state.model_checkpoint_path] if state else []
    numbers = {Path(n).name.split("-", 1)[1] for n in names if Path(n).name.startswith("iteration-")}
    return sorted(int(n) for n in numbers if n.isdigit())


def restore_newest(model_factory, run_dir: Path, say=print):
    """Resume: restore the newest checkpoint that is whole, found from the files themselves (not from
    checkpoints/checkpoint, which may be missing or name files that are gone). Returns (model, iteration).

    The caller holds the run folder's lock. Unfinished saves (iteration-<N>_temp/) are deleted. A damaged
    checkpoint (unreadable, failing a checksum, or with files missing) is skipped with one line and its files
    are moved into checkpoints/damaged/; the next older one is tried. A whole checkpoint that does not fit the
    model (a config.json that disagrees with it) is an error, not damage: nothing is moved. Afterwards
    checkpoints/checkpoint names the checkpoints that are left, so that CheckpointManager keeps and deletes
    the right ones."""
    run_dir = Path(run_dir)
    for name, size in remove_unfinished_saves(run_dir):
        say(f"Removed checkpoints/{name}/, a save that never finished ({size / 1e6:.0f} MB)")
    complete = list_checkpoints(run_dir)
    skipped, moved_any = [], []

    def skip(iteration: int, why: str) -> None:
        moved = move_checkpoint_aside(run_dir, iteration)
        where = f"; its files are in {moved.relative_to(run_dir)}/" if moved else ""
        say(f"Skipped checkpoint iteration-{iteration}: {why}{where}")
        skipped.append(f"iteration-{iteration} ({why})")
        moved_any.extend([moved] if moved else [])

    with_files = checkpoint_numbers_with_files(run_dir)
    for iteration in sorted(set(_indexed_iterations(run_dir)) | with_files, reverse=True):
        if iteration in complete:
            continue
        skip(iteration, "its files are missing" if iteration not in with_files else
             "its .index file is missing" if not (run_dir / "checkpoints" / f"iteration-{iteration}.index").exists()
             else "its .data file is missing")
    model = None
    for iteration, prefix in sorted(complete.items(), reverse=True):
        try:
            verify_checkpoint(prefix, iteration)
        except CheckpointError as err:
            skip(iteration, str(err))
            continue
        model = model_factory()
        start = restore(model, prefix)  # a checkpoint that reads but does not fit: an error, nothing moved
        kept = sorted(i for i in list_checkpoints(run_dir) if i <= iteration)
        if kept != _indexed_iterations(run_dir):
            write_checkpoint_index(run_dir, kept)
        return model, start
    if skipped:
        kept = f"; the damaged files are kept in checkpoints/{DAMAGED_FOLDER}/" if moved_any else ""
        raise CheckpointError(f"no checkpoint in {run_dir} restores: {'; '.join(skipped)}{kept}")
    raise CheckpointError(f"{run_dir} holds no checkpoint to resume from")


def is_disk_full(err: BaseException) -> bool:
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return isinstance(err, tf.errors.ResourceExhaustedError) and any(
        text in str(err) for text in ("No space left", "Disk quota exceeded", "ENOSPC"))


def save_checkpoint(manager: tf.train.CheckpointManager, iteration: int, run_dir: Path) -> str:
    """manager.save(iteration), or, when the disk is full, a DiskFullError after deleting the partial files
    (iteration-<N>_temp/ and any iteration-<N>.*); the previous checkpoint stays the one the index names."""
    try:
        return manager.save(checkpoint_number=iteration)
    except (tf.errors.ResourceExhaustedError, OSError) as err:
        if not is_disk_full(err):
            raise
        folder = Path(run_dir) / "checkpoints"
        remove_unfinished_saves(run_dir)
        for partial in folder.glob(f"iteration-{iteration}.*"):
            partial.unlink()
        latest = tf.train.latest_checkpoint(str(folder))
        last_good = int(latest.rsplit("-", 1)[1]) if latest else None
        raise DiskFullError(f"the disk is full: checkpoint iteration-{iteration} could not be saved in {folder} "
                            f"({_reason(err)}); its partial files were removed", last_good) from None


def model_from_checkpoint(run: RunConfig, prefix: str) -> BidirectionalInfoGAN:
    """The networks that the run's config describes, with the weights of the checkpoint `prefix`."""
    model = BidirectionalInfoGAN(run.model, run.train)
    restore(model, prefix)
    return model


def intact_checkpoint(run_dir, iteration: int | None = None, say=None) -> tuple[int, str]:
    """(iteration, prefix) of the newest checkpoint that reads back whole (every tensor's checksum), or of
    `iteration`, which must be whole. A damaged newer one is skipped with a line to `say` (default: stderr),
    as --resume skips it, but nothing in the run folder is moved or changed: reading is all evaluation does."""
    import sys
    say = say or (lambda text: print(text, file=sys.stderr, flush=True))
    run_dir = Path(run_dir)
    if iteration is not None:
        iteration, prefix = find_checkpoint(run_dir, iteration)
        try:
            verify_checkpoint(prefix, iteration)
        except CheckpointError as err:
            raise CheckpointError(f"checkpoint iteration-{iteration} of {run_dir} is damaged: {err}") from None
        return iteration, prefix
    skipped = []
    for number, prefix in sorted(list_checkpoints(run_dir).items(), reverse=True):
        try:
            verify_checkpoint(prefix, number)
        except CheckpointError as err:
            skipped.append(f"iteration-{number} ({err})")
            continue
        for text in skipped:
            say(f"Skipped checkpoint {text}; using iteration-{number}")
        return number, prefix
    if skipped:
        raise CheckpointError(f"no checkpoint of {run_dir} reads back whole: {'; '.join(skipped)}")
    return find_checkpoint(run_dir)  # none at all: its one-line error


def load_trained_model(run_dir, iteration: int | None = None, say=None):
    """Rebuild the networks from the run's config.json and restore a checkpoint (by default the newest that
    reads back whole; see intact_checkpoint). Returns (model, iteration, run config).
    """
    run = load_run_config(run_dir)
    iteration, prefix = intact_checkpoint(Path(run_dir), iteration, say)
    return model_from_checkpoint(run, prefix), iteration, run
