"""The per-checkpoint table of one run of a stand-in summary, as Markdown (the tables of docs/svhn-standin-runs.md).

    python scripts/svhn_standin/standin_table.py results/svhn_standin/summary.json RUN

RUN is the run folder's name (a key of the summary's "runs"; printed with the names there when it is not one).
Columns, per scored checkpoint: G's diversity and the health score of the health record (health.jsonl), the best
categorical variable's NMI with the digit and its accuracy under the best mapping, and the factor other than the
digit that a categorical variable (NMI) or a continuous one (|r|, or eta for a nominal factor) follows most.
Then, where the summary has them, the first categorical variable's per-digit recall under its best one-to-one
mapping and, for a variable with more values than digits, under the many-to-one reading (each value read as its
most common digit; the last column: how many values read as each digit).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from bidirectional_infogan.util.arguments import fail

PROGRAM = "standin_table.py"
HEADER = ("| iteration | G diversity | health | digit NMI (best var) | digit acc | best other factor, categorical (NMI) "
          "| best other factor, continuous (abs r or eta) |\n| --- | --- | --- | --- | --- | --- | --- |")


def _number(value, form: str) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, form)


def best_other(entries: list[dict], keys: tuple[str, ...]) -> tuple[float, str, str] | None:
    """(score, factor, variable) of the largest score with a factor other than the digit, |r| for "r"."""
    scores = [(abs(value), factor, entry["variable"]) for entry in entries for key in keys
              for factor, value in entry.get(key, {}).items()
              if factor != "digit" and value is not None and not math.isnan(value)]
    return max(scores) if scores else None


def row(iteration: str, point: dict) -> str:
    health = point.get("health") or {}
    cat = best_other(point["categorical"], ("nmi",))
    cont = best_other(point["continuous"], ("r", "eta"))
    cells = [iteration, _number(health.get("diversity"), ".3f"), _number(health.get("score"), ".3f"),
             f"{_number(point['digit_nmi_best'], '.3f')} ({point['digit_nmi_variable']})",
             _number(point["digit_accuracy_best"], ".1%"),
             f"{cat[1]} {cat[0]:.3f} ({cat[2]})" if cat else "-",
             f"{cont[1]} {cont[0]:.2f} ({cont[2]})" if cont else "-"]
    return "| " + " | ".join(cells) + " |"


def table(summary: dict) -> str:
    """The Markdown table of one run's summary (its "checkpoints", in order of iteration)."""
    points = sorted(summary["checkpoints"].items(), key=lambda item: int(item[0]))
    return "\n".join([HEADER] + [row(iteration, point) for iteration, point in points])


def _recall_cells(per_digit_recall: list) -> str:
    """The recall of 0, 1, ..., 9 and the lowest one with its digit (a digit without test images: '-')."""
    known = [r for r in per_digit_recall if r is not None]
    return (f"{', '.join(_number(r, '.0%') for r in per_digit_recall)} | "
            f"{min(known):.1%} (digit {per_digit_recall.index(min(known))})")


def recall_table(summary: dict) -> str:
    """The first categorical variable per checkpoint: its accuracy under the best one-to-one mapping and each
    digit's recall under that mapping (a digit split over two values or merged with another falls short)."""
    lines = ["| iteration | c1 accuracy | recall of 0, 1, ..., 9 | lowest |", "| --- | --- | --- | --- |"]
    for iteration, point in sorted(summary["checkpoints"].items(), key=lambda item: int(item[0])):
        first = point["categorical"][0]
        lines.append(f"| {iteration} | {first['accuracy_digit']:.1%} | {_recall_cells(first['per_digit_recall'])} |")
    return "\n".join(lines)


def many_to_one_table(summary: dict) -> str:
    """recall_table for a first variable with more values than digits, each value read as its most common
    digit: a digit split over several values is whole again; two digits that share a value still fall short."""
    lines = ["| iteration | c1 accuracy, many-to-one | recall of 0, 1, ..., 9 | lowest | values per digit |",
             "| --- | --- | --- | --- | --- |"]
    for iteration, point in sorted(summary["checkpoints"].items(), key=lambda item: int(item[0])):
        reading = point["categorical"][0]["many_to_one"]
        per_digit = [sum(1 for digit in reading["mapping"].values() if digit == d) for d in range(10)]
        lines.append(f"| {iteration} | {reading['accuracy']:.1%} | {_recall_cells(reading['per_digit_recall'])} | "
                     f"{', '.join(map(str, per_digit))} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, prog=PROGRAM, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("summary", type=Path, help="a summary JSON file of scripts/svhn_standin/standin_summary.py")
    parser.add_argument("run", help="the run folder's name, a key of the summary's runs")
    args = parser.parse_args(argv)
    try:
        runs = json.loads(args.summary.read_text())["runs"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        fail(f"cannot read the summary {args.summary}: {err}", PROGRAM)
    if args.run not in runs:
        fail(f"no run {args.run} in {args.summary}; it has {', '.join(runs) or 'none'}", PROGRAM)
    print(table(runs[args.run]))
    if runs[args.run]["checkpoints"] and all("per_digit_recall" in point["categorical"][0]
                                             for point in runs[args.run]["checkpoints"].values()):
        print()
        print(recall_table(runs[args.run]))
    if runs[args.run]["checkpoints"] and all("many_to_one" in point["categorical"][0]
                                             for point in runs[args.run]["checkpoints"].values()):
        print()
        print(many_to_one_table(runs[args.run]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
