"""One JSON file summing up runs trained on the SVHN stand-in of scripts/svhn_standin/make_svhn_standin.py.

    python scripts/svhn_standin/standin_summary.py RUN_DIR [RUN_DIR ...] --out results/svhn_standin/summary.json
                                      [--scores SCORES.json] ... [--iterations all | last | 1000,2000]
                                      [--limit 10000] [--data_dir DIR] [--overwrite | --update]
                                      [--categories_dir results/svhn_standin/categories]

The scores are those of scripts/svhn_standin/score_standin.py (see its --help for what each number is). A run whose
score_standin.py --json file is given with --scores (one file per --scores, matched to the RUN_DIR by the run
folder's name, its "run" entry) is not scored again; any other run is scored now, at --iterations (default:
every checkpoint) on the first --limit test images. With --update the --out file's other runs are kept as
they are (their run folders need not exist any more) and the RUN_DIRs' summaries added after them, or put in
place of their earlier ones.

{"runs": {run folder name: its summary, in the order given}}, each summary with:
  run                        the run folder's name
  flags                      the command line that started the run (command.txt's first line, without its
                             time stamp; config.json's flags if there is no command.txt), every absolute path
                             in it made relative to the project or cut to its last part
  data, n_test               the stand-in folder's name and the number of test images scored (the first n_test)
  label_prior, neighbours    how the stand-in was made (make_svhn_standin.py's options; uniform, standin: the
                             defaults), standin_command the command that makes it again (same fonts); null for
                             scores written before score_standin.py recorded them
  per_digit_recall           the first categorical variable's share of each digit's test images read as that
                             digit under its best one-to-one mapping, at scored_iteration
  many_to_one                only for a first variable with more values than digits: its accuracy,
                             per_digit_recall and mapping with each value read as its most common digit
  test_categories            with --categories_dir: the file of the first variable's value of each scored test
                             image at scored_iteration (uint8 .npy, test_32x32.mat order; null without one)
  iterations                 the run's last checkpoint
  scored_iteration           the last scored checkpoint (the scores below are of it)
  digit_nmi_best             the best categorical variable's NMI with the digit (digit_nmi_variable: which),
                             digit_accuracy_best its best accuracy under the Hungarian mapping
  factor_nmi                 per factor, the best categorical variable's NMI with it
  factor_r                   per ordinal or continuous factor, the best continuous variable's |r|
  factor_eta                 per nominal factor, the best continuous variable's eta
  diversity_final_over_peak  health.jsonl's diversity of G's images: last value over the highest (1.0: no
                             fall; null without health.jsonl)
  health_score_final         health.jsonl's last health score
  checkpoints                iteration -> the same best-of scores at that checkpoint, the health record, and
                             every variable's scores ("categorical", "continuous" as in score_standin.py)
The file holds no absolute path of the machine it was written on.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import sys
from pathlib import Path

import score_standin
from bidirectional_infogan.evaluate.factor_scores import ScoreError
from bidirectional_infogan.util.arguments import fail

PROGRAM = "standin_summary.py"
ROOT = Path(__file__).resolve().parents[2]  # the project: paths inside it are kept relative to it
TIME_STAMP = re.compile(r"^\d{4}(_\d{2}){5}$")  # run_folder.timestamp(), the first word of a command.txt line


def relative_path(value: str) -> str:
    """An absolute path (or ~/...) -> relative to the project if inside it, else its last part; anything
    else unchanged."""
    if not (os.path.isabs(value) or value.startswith("~")):
        return value
    path = Path(value).expanduser()
    try:
        return str(path.relative_to(ROOT)) or "."
    except ValueError:
        return path.name or "."


def without_absolute_paths(words: list[str]) -> list[str]:
    """Each word (and the value of each --flag=value) through relative_path."""
    out = []
    for word in words:
        if word.startswith("--") and "=" in word:
            flag, value = word.split("=", 1)
            out.append(f"{flag}={relative_path(value)}")
        else:
            out.append(relative_path(word))
    return out


def run_flags(run_dir: Path, config_flags: dict | None = None) -> str:
    """The command line that started the run, without absolute paths (see the module's text)."""
    path = run_dir / "command.txt"
    words = []
    if path.is_file():
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        if lines:
            words = shlex.split(lines[0])
            if words and TIME_STAMP.match(words[0]):
                words = words[1:]
    if not words:
        for flag, value in (config_flags or {}).items():
            if value is None or value is False:
                continue
            words += [f"--{flag}"] if value is True else [f"--{flag}", str(value)]
    return shlex.join(without_absolute_paths(words))


def _known(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _best(entries, key: str, names, absolute: bool = False) -> dict:
    """factor -> the largest score[key][factor] over the variables (|.| with absolute), None if none known."""
    out = {}
    for name in names:
        known = [abs(e[key][name]) if absolute else e[key][name] for e in entries
                 if _known(e[key].get(name))]
        out[name] = max(known) if known else None
    return out


def best_scores(point: dict) -> dict:
    """The best-of scores of one checkpoint's point (score_standin.score_codes plus "iteration")."""
    cat, cont = point["categorical"], point["continuous"]
    digit = [(e["nmi"]["digit"], e["variable"]) for e in cat if _known(e["nmi"].get("digit"))]
    accuracy = [e["accuracy_digit"] for e in cat if _known(e.get("accuracy_digit"))]
    best_digit = max(digit) if digit else (None, None)
    return {"digit_nmi_best": best_digit[0], "digit_nmi_variable": best_digit[1],
            "digit_accuracy_best": max(accuracy) if accuracy else None,
            "factor_nmi": _best(cat, "nmi", score_standin.NMI_FACTORS),
            "factor_r": _best(cont, "r", score_standin.R_FACTORS, absolute=True),
            "factor_eta": _best(cont, "eta", score_standin.ETA_FACTORS)}


def summarize(scores: dict, run_dir: Path, config_flags: dict | None = None,
              categories_dir: Path | None = None) -> dict:
    """The summary of one run from its score_standin.py scores (the --json content) and its folder."""
    from bidirectional_infogan.runs.run_folder import list_checkpoints
    points = sorted(scores["iterations"], key=lambda p: p["iteration"])
    if not points:
        raise ScoreError(f"the scores of {scores.get('run')} have no checkpoint")
    available = list_checkpoints(run_dir)
    health = scores.get("health") or {}
    curve = health.get("curve") or []
    last = points[-1]
    categories = None if categories_dir is None else \
        score_standin.categories_path(categories_dir, run_dir.name, last["iteration"])
    return {"run": run_dir.name, "flags": run_flags(run_dir, config_flags), "data": scores.get("data"),
            "n_test": scores.get("n_test"), "label_prior": scores.get("label_prior"),
            "neighbours": scores.get("neighbours"), "standin_command": scores.get("standin_command"),
            "iterations": max(available) if available else None,
            "scored_iteration": last["iteration"], **best_scores(last),
            "per_digit_recall": last["categorical"][0].get("per_digit_recall"),
            **({"many_to_one": last["categorical"][0]["many_to_one"]} if "many_to_one" in last["categorical"][0]
               else {}),
            "test_categories": relative_path(str(categories.resolve())) if categories and categories.is_file()
            else None,
            "diversity_final_over_peak": health.get("diversity_final_over_peak"),
            "health_score_final": curve[-1].get("score") if curve else None,
            "checkpoints": {str(p["iteration"]): {**best_scores(p), "health": p.get("health"),
                                                  "categorical": p["categorical"], "continuous": p["continuous"]}
                            for p in points}}


def read_scores(paths) -> dict:
    """run folder name -> the content of its score_standin.py --json file."""
    found = {}
    for path in paths:
        try:
            content = json.loads(Path(path).read_text())
        except (OSError, ValueError) as err:
            raise ScoreError(f"cannot read --scores {path}: {err}") from None
        if not isinstance(content, dict) or not {"run", "iterations", "factors"} <= content.keys():
            raise ScoreError(f"--scores {path} is not a --json file of score_standin.py")
        if content["run"] in found:
            raise ScoreError(f"two --scores files for the run {content['run']}")
        found[content["run"]] = content
    return found


def read_summary(path: Path) -> dict:
    """run folder name -> summary, of an earlier summary file (--update); {} if there is none yet."""
    if not path.exists():
        return {}
    try:
        content = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ScoreError(f"cannot read --out {path} to update it: {err}") from None
    if not isinstance(content, dict) or not isinstance(content.get("runs"), dict):
        raise ScoreError(f"--out {path} is not a summary of {PROGRAM}; nothing is changed")
    return content["runs"]


def overview(summary: dict) -> str:
    """One printed line per run."""
    def number(value, form):
        return score_standin.text(value, form, 0).strip()
    nmi = {k: v for k, v in summary["factor_nmi"].items() if _known(v)}
    top = max(nmi, key=nmi.get) if nmi else None
    return (f"{summary['run']}: checkpoint {summary['scored_iteration']} of {summary['iterations']}, "
            f"digit NMI {number(summary['digit_nmi_best'], '.3f')} "
            f"(acc {number(summary['digit_accuracy_best'], '.1%')}), "
            f"largest NMI {top or '-'} {number(nmi.get(top), '.3f')}, "
            f"diversity final/peak {number(summary['diversity_final_over_peak'], '.2f')}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, prog=PROGRAM, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR",
                        help="run folders of code/train_svhn.py trained on the stand-in")
    parser.add_argument("--out", type=Path, required=True, help="the summary JSON file to write (a new file)")
    replace = parser.add_mutually_exclusive_group()
    replace.add_argument("--overwrite", action="store_true", help="replace the --out file if it exists")
    replace.add_argument("--update", action="store_true",
                         help="keep the runs of the existing --out file and add the RUN_DIRs' to them (a run "
                              "already in it is replaced)")
    parser.add_argument("--scores", type=Path, action="append", default=[], metavar="SCORES.json",
                        help="a score_standin.py --json file to use instead of scoring its run again (repeat "
                             "for several runs)")
    parser.add_argument("--iterations", default="all",
                        help="checkpoints to score of the runs without --scores: 'all' (default), 'last' or "
                             "comma-separated iterations")
    parser.add_argument("--limit", type=int, default=score_standin.DEFAULT_LIMIT,
                        help=f"test images to score the runs without --scores on (default "
                             f"{score_standin.DEFAULT_LIMIT:,}; 0: all)")
    parser.add_argument("--data_dir", type=Path, default=None,
                        help="the stand-in's folder (default: each run's own, from its config.json)")
    parser.add_argument("--categories_dir", type=Path, default=None,
                        help="where the test categories go (runs scored now) or are (runs given with --scores, "
                             "scored with score_standin.py --categories_dir): test_categories")
    args = parser.parse_args(argv)

    from bidirectional_infogan.runs.errors import USER_ERRORS
    from bidirectional_infogan.runs.run_folder import load_run_config
    if args.out.is_dir() or (args.out.exists() and not (args.overwrite or args.update)):
        score_standin.write_json(args.out, {}, args.overwrite, PROGRAM)  # says why, before any scoring
    summaries = []
    try:
        kept = read_summary(args.out) if args.update else {}
        names = [run_dir.expanduser().name for run_dir in args.run_dirs]
        if len(set(names)) < len(names):
            raise ScoreError("two RUN_DIRs have the same folder name; the summary tells runs apart by it")
        given = read_scores(args.scores)
        unmatched = sorted(set(given) - set(names))
        if unmatched:
            raise ScoreError(f"--scores of {', '.join(unmatched)}, which is not one of the RUN_DIRs")
        for run_dir in args.run_dirs:
            run_dir = run_dir.expanduser()
            run = load_run_config(run_dir)
            scores = given.get(run_dir.name)
            if scores is None:
                print(f"scoring {run_dir.name}", flush=True)
                scores = score_standin.score_run(run_dir, args.iterations, args.data_dir, args.limit,
                                                 show=lambda line: print(line, flush=True),
                                                 categories_dir=args.categories_dir)
            summaries.append(summarize(scores, run_dir, run.flags, args.categories_dir))
    except USER_ERRORS + (ScoreError,) as err:
        fail(err, PROGRAM)
    for summary in summaries:
        print(overview(summary))
    runs = {**kept, **{summary["run"]: summary for summary in summaries}}
    score_standin.write_json(args.out, {"runs": runs}, args.overwrite or args.update, PROGRAM)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
