"""Print the run folders under RUNS_DIR that train at the paper's settings, one per line.

    python scripts/mnist/find_paper_run.py RUNS_DIR          every such MNIST run, oldest first
    python scripts/mnist/find_paper_run.py RUNS_DIR SEED     the oldest such MNIST run of SEED (nothing if none)
    DATASET=svhn python scripts/mnist/find_paper_run.py ...  the same for SVHN (or celeba): that script's defaults
    EXTRA_FLAGS="--balance_weight 1" python ...         the runs at the defaults with these flags changed
    EXTRA_FLAGS="--recipe reliable" python ...          the runs at a recipe's values

A run counts when every flag that shapes training has its default (flags absent from an older config.json
count as default, and a recipe counts by the values it sets, not by its name); the loop settings (logging, checkpoint intervals, data folder) may differ, since they do
not change the weights. Used by scripts/mnist/reproduce_mnist.sh and scripts/investigations/reproduce_proxy.sh to continue a run
instead of starting anew.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

from bidirectional_infogan.train import cli
from bidirectional_infogan.datasets import DATASETS


def paper_settings(dataset: str = "mnist", extra_flags: str = "") -> dict:
    """The defaults of code/train_<dataset>.py that shape training (not the loop, data folder, log folder, seed),
    with those that `extra_flags` (command-line flags, e.g. an opt-in mode's) sets taking its values."""
    ignored = cli.RESUMABLE_FLAGS + ("log_dir", "seed", "cache_dir", "recipe", "resume")
    parsed = vars(cli.build_parser(DATASETS[dataset]).parse_args(shlex.split(extra_flags)))
    given = {name: value for name, value in parsed.items() if value is not None}
    unknown = [name for name in given if name in ignored and name != "recipe"]
    if unknown:
        raise ValueError(f"not a flag that shapes training: {', '.join('--' + name for name in unknown)}")
    return {name: value for name, value in cli.resolve_flags(DATASETS[dataset], given).items() if name not in ignored}


def recipe_of(flags: dict, dataset: str = "mnist") -> str | None:
    """The recipe whose values a run's flags hold (the name its config.json records, or else the recipe whose
    settings all match, for runs started with the same flags given one by one); None if none matches."""
    if flags.get("recipe"):
        return flags["recipe"]
    for name in DATASETS[dataset].recipes:
        settings = paper_settings(dataset, f"--recipe {name}")
        if all(flags.get(k, v) == v for k, v in settings.items()):
            return name
    return None


PAPER_SETTINGS = paper_settings("mnist")


def paper_settings_runs(runs_dir: Path, seed: int | None = None, dataset: str = "mnist",
                        extra_flags: str = "") -> list[Path]:
    """The run folders at the paper's settings (changed by `extra_flags`; of `seed`, if given), oldest first."""
    found = []
    settings = paper_settings(dataset, extra_flags)
    for config in sorted(Path(runs_dir).glob(f"{dataset}/*/config.json")):
        flags = json.loads(config.read_text()).get("flags", {})
        if seed is not None and flags.get("seed") != seed:
            continue
        if all(flags.get(k, v) == v for k, v in settings.items()):
            found.append(config.parent)
    return found


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        sys.exit(0)
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and not sys.argv[2].isdigit()):
        print("usage: python scripts/mnist/find_paper_run.py RUNS_DIR [SEED]   (see --help)", file=sys.stderr)
        sys.exit(2)
    dataset = os.environ.get("DATASET", "mnist")
    if dataset not in DATASETS:
        *others, last = DATASETS
        print(f"find_paper_run.py: DATASET must be {', '.join(others)} or {last}, not '{dataset}'", file=sys.stderr)
        sys.exit(2)
    try:
        runs = paper_settings_runs(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) == 3 else None, dataset,
                                   os.environ.get("EXTRA_FLAGS", ""))
    except ValueError as err:
        print(f"find_paper_run.py: EXTRA_FLAGS: {err}", file=sys.stderr)
        sys.exit(2)
    for run_dir in runs[:1] if len(sys.argv) == 3 else runs:
        print(run_dir)
