"""The run folder: where one training run keeps its settings, TensorBoard events, figures and checkpoints.

    <log_dir>/<dataset>/<dataset>_<timestamp>/
        config.json                       model, optimisation, data and loop settings (rebuilds the networks)
        hyperparameters_<timestamp>.csv   the original's name,value file
        command.txt                       the command line that started (or resumed) the run
        events.out.tfevents.*             TensorBoard scalars and images
        samples_disc/<iteration>_d<v>.png max-activating validation images per categorical value
        samples_cont/<iteration>_c<j>.png largest / smallest value of each continuous variable per category
        checkpoints/iteration-<N>.*       the last checkpoints (G, E, D, optimisers, step, random state)
        timing.jsonl                      wall-clock time of each training session

Nothing in an existing folder is overwritten: a new run always gets a new folder.
"""

from __future__ import annotations

import datetime
import shlex
import sys
from pathlib import Path

from .config import ConfigError, RunConfig

CONFIG_FILE = "config.json"


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
