"""Print the MNIST run folders under RUNS_DIR that train at the paper's settings, one per line.

    python scripts/find_paper_run.py RUNS_DIR          every such run, oldest first
    python scripts/find_paper_run.py RUNS_DIR SEED     the oldest such run of SEED (nothing if none)

A run counts when every flag that shapes training has its default (flags absent from an older config.json
count as default); the loop settings (logging, checkpoint intervals, data folder) may differ, since they do
not change the weights. Used by scripts/reproduce_mnist.sh to continue a seed's run instead of starting anew.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "code"))

from bidirectional_infogan import cli  # noqa: E402

PAPER_SETTINGS = {name: value for name, value in cli.COMMON_DEFAULTS.items()
                  if name not in cli.RESUMABLE_FLAGS + ("log_dir", "seed")}


def paper_settings_runs(runs_dir: Path, seed: int | None = None) -> list[Path]:
    """The run folders at the paper's settings (of `seed`, if given), oldest first."""
    found = []
    for config in sorted(Path(runs_dir).glob("mnist/*/config.json")):
        flags = json.loads(config.read_text()).get("flags", {})
        if seed is not None and flags.get("seed") != seed:
            continue
        if all(flags.get(k, v) == v for k, v in PAPER_SETTINGS.items()):
            found.append(config.parent)
    return found


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        sys.exit(0)
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and not sys.argv[2].isdigit()):
        print("usage: python scripts/find_paper_run.py RUNS_DIR [SEED]   (see --help)", file=sys.stderr)
        sys.exit(2)
    runs = paper_settings_runs(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) == 3 else None)
    for run_dir in runs[:1] if len(sys.argv) == 3 else runs:
        print(run_dir)
