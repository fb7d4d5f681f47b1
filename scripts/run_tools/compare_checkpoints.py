"""Compare two checkpoints tensor by tensor, bitwise; print how many differ; exit 1 if any does.

    python scripts/run_tools/compare_checkpoints.py A B [--iteration N] [--show K]

A and B are checkpoint prefixes (RUN/checkpoints/iteration-30) or run folders (then their checkpoint of
iteration N, by default the newest one each has). Every tensor is read with plain TensorFlow
(tf.train.load_checkpoint): the weights, batch-norm statistics, both optimisers' slots and step counts, the
step, the noise layers' random state, save_counter and the object graph. Two tensors are equal when their dtype,
shape and bytes are. Exit 0: all equal; 1: some differ (or only one side has them); 2: a checkpoint is missing or
unreadable (one line on stderr).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path


def resolve(path: str, iteration: int | None) -> str:
    """The checkpoint prefix that `path` names (a prefix, or a run folder and an iteration)."""
    p = Path(path)
    if p.is_dir():
        folder = p / "checkpoints" if (p / "checkpoints").is_dir() else p
        numbers = sorted(int(m.group(1)) for f in folder.glob("iteration-*.index")
                         if (m := re.fullmatch(r"iteration-(\d+)\.index", f.name)))
        if not numbers:
            raise FileNotFoundError(f"{path}: no checkpoint (checkpoints/iteration-N.index)")
        number = numbers[-1] if iteration is None else iteration
        if number not in numbers:
            raise FileNotFoundError(f"{path}: no checkpoint of iteration {number} (it has {numbers})")
        return str(folder / f"iteration-{number}")
    if not Path(path + ".index").is_file():
        raise FileNotFoundError(f"{path}: neither a run folder nor a checkpoint prefix ({path}.index missing)")
    return path


def read_all(prefix: str) -> dict:
    from bidirectional_infogan.util.tf_setup import import_tensorflow  # quiet: its load notices hidden
    tf = import_tensorflow()
    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def differing(a: dict, b: dict) -> list[str]:
    import numpy as np
    names = sorted(set(a) ^ set(b))
    for name in sorted(set(a) & set(b)):
        x, y = np.asarray(a[name]), np.asarray(b[name])
        same = x.tobytes() == y.tobytes() if x.dtype.kind in "fiucb" else np.array_equal(x, y)
        if x.dtype != y.dtype or x.shape != y.shape or not same:
            names.append(name)
    return names


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, prog="compare_checkpoints.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="checkpoint prefix or run folder")
    parser.add_argument("b", help="checkpoint prefix or run folder")
    parser.add_argument("--iteration", type=int, help="with run folders: this iteration (default: the newest)")
    parser.add_argument("--show", type=int, default=10, help="name this many differing tensors (default 10)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        prefixes = [resolve(p, args.iteration) for p in (args.a, args.b)]
        a, b = (read_all(p) for p in prefixes)
    except Exception as err:  # noqa: BLE001 - one line for any unreadable input
        print(f"compare_checkpoints.py: error: {str(err).strip().splitlines()[0]}", file=sys.stderr)
        return 2
    names = differing(a, b)
    print(f"{len(names)} of {len(set(a) | set(b))} tensors differ ({prefixes[0]} vs {prefixes[1]})")
    for name in names[:args.show]:
        print(f"  {name}")
    return 1 if names else 0


if __name__ == "__main__":
    sys.exit(main())
