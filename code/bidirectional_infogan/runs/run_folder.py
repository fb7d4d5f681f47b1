"""The run folder: where one training run keeps its settings, TensorBoard events, figures and checkpoints.

    <log_dir>/<dataset>/<dataset>_<timestamp>/
        config.json                       model, optimisation, data and loop settings (rebuilds the networks)
        hyperparameters_<timestamp>.csv   the original's name,value file
        command.txt                       the command line that started (or resumed) the run
        events.out.tfevents.*             TensorBoard scalars and images
        samples_disc/<iteration>_d<v>.png max-activating validation images per categorical value
        samples_cont/<iteration>_c<j>.png largest / smallest value of each continuous variable per category
        checkpoints/iteration-<N>.*       the last checkpoints (G, E, D, optimisers, step, random state)
        checkpoints/damaged/              checkpoints that a resume found damaged (kept, never deleted)
        timing.jsonl                      wall-clock time of each training session
        .lock                             locked (flock) by the process that trains in the folder

Nothing in an existing folder is overwritten: a new run always gets a new folder. One process at a time
trains in a folder: it holds an flock on .lock, which the kernel releases when the process ends, however it
ends (kill -9, a crash, a machine restart), so a lock is never left behind.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import os
import shlex
import shutil
import socket
import sys
from pathlib import Path

from bidirectional_infogan.model.config import ConfigError, RunConfig

CONFIG_FILE = "config.json"
LOCK_FILE = ".lock"
DAMAGED_FOLDER = "damaged"


class RunFolderError(Exception):
    """A path that is not a usable run folder (the message is meant for the user)."""


def timestamp(now: datetime.datetime | None = None) -> str:
    return (now or datetime.datetime.now()).strftime("%Y_%m_%d_%H_%M_%S")


def create_run_folder(log_dir, dataset: str, now: datetime.datetime | None = None) -> Path:
    """Make a fresh `<log_dir>/<dataset>/<dataset>_<timestamp>` folder (a suffix _2, _3, ... if taken)."""
    parent = Path(log_dir).expanduser() / dataset
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunFolderError(f"cannot create {parent}: {err.strerror or err}") from None
    base = f"{dataset}_{timestamp(now)}"
    for attempt in range(1, 1000):
        run_dir = parent / (base if attempt == 1 else f"{base}_{attempt}")
        try:
            run_dir.mkdir()
        except FileExistsError:
            continue
        except OSError as err:
            raise RunFolderError(f"cannot create {run_dir}: {err.strerror}") from None
        for sub in ("samples_disc", "samples_cont", "checkpoints"):
            (run_dir / sub).mkdir()
        return run_dir
    raise RunFolderError(f"could not find a free run folder name under {parent}")


def write_run_files(run_dir: Path, run: RunConfig, hyperparameters: dict) -> None:
    """config.json and the original's hyperparameters_<timestamp>.csv (name,value rows)."""
    run.save(run_dir / CONFIG_FILE)
    stamp = run_dir.name.split("_", 1)[1]
    rows = dict(hyperparameters)
    rows["num categorical classes"] = list(run.model.categorical_dims)
    rows["num categorical"] = run.model.categorical_total
    rows["num continuous"] = run.model.continuous_dim
    with open(run_dir / f"hyperparameters_{stamp}.csv", "w") as f:
        for name, value in rows.items():
            f.write(f"{name},{value}\n")
    record_command(run_dir)


def record_command(run_dir: Path) -> None:
    """Append the command line to command.txt (a resumed run adds a line)."""
    with open(run_dir / "command.txt", "a") as f:
        f.write(f"{timestamp()} {shlex.join([Path(sys.executable).name] + sys.argv)}\n")


def load_run_config(run_dir) -> RunConfig:
    """The RunConfig of an existing run folder, or a RunFolderError saying why it is not one."""
    run_dir = Path(run_dir).expanduser()
    if not run_dir.is_dir():
        raise RunFolderError(f"{run_dir} does not exist or is not a folder")
    if not (run_dir / CONFIG_FILE).is_file():
        raise RunFolderError(f"{run_dir} is not a run folder (it has no {CONFIG_FILE})")
    try:
        return RunConfig.load(run_dir / CONFIG_FILE)
    except ConfigError as err:
        raise RunFolderError(str(err)) from None


def list_checkpoints(run_dir) -> dict[int, str]:
    """Iteration -> checkpoint prefix of every complete checkpoint in the run folder, oldest first."""
    found = {}
    for index_file in (Path(run_dir) / "checkpoints").glob("iteration-*.index"):
        number = index_file.stem.split("-", 1)[1]
        if number.isdigit() and any(index_file.parent.glob(f"iteration-{number}.data-*")):
            found[int(number)] = str(index_file.with_suffix(""))
    return dict(sorted(found.items()))


def choose_checkpoint(run_dir, iteration: int | None = None) -> tuple[int, str]:
    """(iteration, prefix) of the requested complete checkpoint, by default the newest; RunFolderError if none."""
    available = list_checkpoints(run_dir)
    if not available:
        raise RunFolderError(f"{run_dir} has no checkpoint")
    if iteration is None:
        iteration = max(available)
    if iteration not in available:
        raise RunFolderError(f"{run_dir} has no checkpoint of iteration {iteration}; it has "
                             f"{', '.join(str(i) for i in available)}")
    return iteration, available[iteration]


class RunFolderLock:
    """The exclusive flock on RUN_DIR/.lock that a training process holds (a context manager; `release()`).

    Why flock and not a pid file: the kernel drops the lock when the process ends, however it ends (kill -9,
    out of memory, a crash, a machine restart), so a dead process never blocks the next resume, with no pid
    liveness check (which cannot see processes on another machine, and can be fooled by a reused pid). The
    file holds the holder's pid and host only so that a refused process can name it."""

    def __init__(self, run_dir, fd: int | None):
        self.run_dir, self._fd = Path(run_dir), fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file releases the lock
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def lock_run_folder(run_dir, warn=None) -> RunFolderLock:
    """Take the run folder's lock, or raise a RunFolderError naming the process that holds it."""
    path = Path(run_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise RunFolderError(f"cannot write in {run_dir}: {err.strerror or err}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        holder = os.pread(fd, 1000, 0).decode(errors="replace").strip()
        os.close(fd)
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise RunFolderError(f"{run_dir} is in use by {holder or 'another process'}: one process at a time "
                                 f"may train in a run folder (wait for it to end, or stop it)") from None
        # A file system without locks (ENOLCK, EOPNOTSUPP): go on, but say that nothing guards the folder.
        (warn or (lambda text: print(text, file=sys.stderr, flush=True)))(
            f"warning: cannot lock {run_dir} ({err.strerror or err}); make sure no other process trains in it")
        return RunFolderLock(run_dir, None)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"process {os.getpid()} on {socket.gethostname()} (since {timestamp()})\n".encode(), 0)
    return RunFolderLock(run_dir, fd)


def remove_unfinished_saves(run_dir) -> list[tuple[str, int]]:
    """Delete the checkpoints/iteration-<N>_temp/ folders of saves that never finished (a process killed while
    saving); (name, bytes) of each. Only with the run folder's lock held: no other process is saving."""
    removed = []
    for temp in sorted((Path(run_dir) / "checkpoints").glob("iteration-*_temp")):
        size = sum(f.stat().st_size for f in temp.rglob("*") if f.is_file()) if temp.is_dir() else 0
        if temp.is_dir():
            shutil.rmtree(temp)
        else:
            temp.unlink()
        removed.append((temp.name, size))
    return removed


def checkpoint_numbers_with_files(run_dir) -> set[int]:
    """The iteration numbers that have any file in checkpoints/, complete or not."""
    numbers = set()
    for path in (Path(run_dir) / "checkpoints").glob("iteration-*"):
        number = path.name.split("-", 1)[1].split(".", 1)[0]
        if number.isdigit() and path.is_file():
            numbers.add(int(number))
    return numbers


def move_checkpoint_aside(run_dir, iteration: int) -> Path | None:
    """Move the files of checkpoint `iteration` into checkpoints/damaged/ (a fresh subfolder if that name is
    taken there), keeping them for a look; the folder they went to, or None if there were none."""
    folder = Path(run_dir) / "checkpoints"
    files = [p for p in folder.glob(f"iteration-{iteration}.*") if p.is_file()]
    if not files:
        return None
    target = folder / DAMAGED_FOLDER
    if any(target.glob(f"iteration-{iteration}.*")):
        target = target / timestamp()
        for attempt in range(2, 1000):
            if not target.exists():
                break
            target = target.with_name(f"{timestamp()}_{attempt}")
    target.mkdir(parents=True, exist_ok=True)
    for path in files:
        os.replace(path, target / path.name)
    return target
