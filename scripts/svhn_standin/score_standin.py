"""Score the checkpoints of an SVHN run trained on the house-number stand-in of scripts/svhn_standin/make_svhn_standin.py
against the factors each test image was rendered from.

    python scripts/svhn_standin/score_standin.py RUN_DIR [--iterations all | last | 1000,2000] [--limit 10000]
                                    [--data_dir DIR] [--json OUT.json] [--overwrite] [--categories_dir DIR]

Each checkpoint is scored on the first --limit images of the stand-in's test set (test_32x32.mat, with
factors_test.npz; default 10,000 of them, 0: all), from E's codes in inference mode.

categorical variable (its value: the argmax of E's softmax); "used" is the number of values E gives the images:
  acc digit  accuracy against the digit under the best one-to-one mapping of its values to digits (Hungarian
             algorithm; evaluation.score_categorical_variables); in --json also per_digit_recall, each digit's
             share of images read as that digit under the same mapping; a variable with more values than
             digits (--first_categorical_values) is read many-to-one as well (each value as its most common
             digit: "acc digit (many-to-one)", in --json many_to_one with its accuracy, per_digit_recall, mapping)
  NMI        normalised mutual information (evaluation.normalized_mutual_information: I / mean of the two
             entropies) with every factor below: the discrete ones as they are, the continuous ones and the
             angle cut into 10 quantile bins of the scored images (fewer where values tie: most crops have no
             extra stroke or no shadow)
continuous variable:
  eta        the correlation ratio (evaluation.correlation_ratio; 0: the same mean for every value of the
             factor, 1: the variable is a function of it) with each nominal factor
  r          Pearson's r (np.corrcoef) with each ordinal and continuous factor
"best" names the factor a variable carries most of (largest NMI; continuous: largest eta or |r|; '-' if all are
0): a mean over variables would hide a variable that carries the background instead of the digit. Neither
NMI nor eta is 0 by chance on a finite sample: with n images and a factor of k values, eta's chance level is
about sqrt((k - 1) / n) (0.06 for the 32 fonts on 10,000 images) and a K-valued variable's NMI about
(K - 1)(k - 1) / (n ln(K k)) (under 0.01 there), more on few images: read small numbers against these.

The factors (the stand-in's README.txt describes each field):
  nominal     digit, font, texture, background_hue_bin, foreground_hue_bin          NMI, eta
  ordinal     digits_visible, dark_on_light                                         NMI, r
  continuous  background_brightness, foreground_luma, contrast, background_saturation, foreground_saturation,
              lighting_strength, lighting_x, lighting_y, shadow, texture_strength, scale, rotation, shear,
              aspect, shift_x, shift_y, stroke, tracking, blur_radius, noise_sigma, jpeg_quality
                                                                                    NMI (10 bins), r
  angle       lighting_direction                                                    NMI (10 bins)
Three are derived here: contrast = foreground_luma - background_luma (> 0: light digits on a dark ground);
lighting_x, lighting_y = lighting_strength * (cos, sin) of lighting_direction, the brightness ramp's slope to
the right and upwards (an angle has no linear correlation; its components do). A hue bin is scored only on the
images whose colour has an HLS saturation of at least 0.2 (the hue of a grey is meaningless). Left out: the
neighbour digits (mostly cut off), the HLS luma of the background (background_brightness is it as drawn) and
the raw hues (the bins stand for them). A factor missing from the factors file or constant over the scored
images is shown as '-'.

Health, from RUN_DIR/health.jsonl if training wrote one (bidirectional_infogan/evaluate/health.py): at each checkpoint
the record of the last log step at or before it (health score, per variable, G's diversity and that
diversity over its peak so far); for the run, the curve and diversity_final_over_peak (last diversity over
the highest).

--json writes every number, per iteration, with the run folder's and the data folder's names (no absolute
paths). E's codes of the whole test set are cached in the run folder (test_codes/, as by score_proxy.py and
evaluate_model.py); a --limit below the test set's size encodes just those images, without the cache.
--categories_dir DIR saves the first categorical variable's value of each scored test image (uint8 .npy, in the
order of test_32x32.mat) per checkpoint, as DIR/<run folder>_iteration-<N>.npy, so that its scores can be
recomputed from the stand-in's labels without the checkpoints.
scripts/svhn_standin/standin_summary.py gathers the scores of several runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from bidirectional_infogan.evaluate.factor_scores import (ScoreError, check_alignment, checkpoint_models,
                                                           encode_test_images, no_nan, parse_iterations, text)
from bidirectional_infogan.evaluate.inputs import categories_from_codes
from bidirectional_infogan.util.arguments import fail
# the factors and the scores of codes (score_standin.X stays the interface of both: "as" re-exports)
from standin_scores import (ANGLES, BINNED, CONTINUOUS, ETA_FACTORS, FACTORS_FILE, HUE_SATURATION, MIN_SATURATION,
                            N_BINS, NMI_FACTORS, NOMINAL, ORDINAL, R_FACTORS, load_standin_factors, score_codes,
                            standin_command, standin_options,
                            add_derived_factors as add_derived_factors, quantile_bins as quantile_bins)

PROGRAM = "score_standin.py"
HEALTH_FILE = "health.jsonl"
DEFAULT_LIMIT = 10_000


# --- health.jsonl ------------------------------------------------------------------------------------------

def load_health(run_dir: Path) -> list[dict] | None:
    """The records of RUN_DIR/health.jsonl with a diversity, in iteration order; None without the file (or
    with a file that cannot be read: a warning on stderr)."""
    from bidirectional_infogan.evaluate.health import read_records
    path = run_dir / HEALTH_FILE
    if not path.is_file():
        return None
    try:
        records = read_records(path)
    except (OSError, ValueError, KeyError, TypeError) as err:
        print(f"{PROGRAM}: warning: cannot read {path} ({err}); no health scores", file=sys.stderr)
        return None
    return [r for r in records if isinstance(r.get("diversity"), (int, float))] or None


def health_summary(records: list[dict] | None) -> dict | None:
    """{"curve": the records, "diversity_final_over_peak": ...} of a run, or None without records."""
    from bidirectional_infogan.evaluate.health import final_over_peak
    if not records:
        return None
    return {"curve": records, "diversity_final_over_peak": final_over_peak(records)}


def health_at(records: list[dict] | None, iteration: int) -> dict | None:
    """The record of the last log step at or before `iteration` (its own "iteration" says which), with
    "diversity_over_peak": its diversity over the highest up to then; None if there is none."""
    from bidirectional_infogan.evaluate.health import final_over_peak
    before = [r for r in records or () if r["iteration"] <= iteration]
    if not before:
        return None
    return {**before[-1], "diversity_over_peak": final_over_peak(before)}


# --- the printed table -------------------------------------------------------------------------------------

LABEL_WIDTH = 34  # "eta background_hue_bin (coloured)"

def _row(label: str, entries, form: str) -> str:
    return f"  {label:<{LABEL_WIDTH}}" + "".join(text(value, form, 8) for value in entries)


def _best(entries) -> str:
    return ", ".join(f"{e['variable']} {e['best_factor']} {e['best_score']:.3f}" if e["best_factor"]
                     else f"{e['variable']} -" for e in entries)


def table(point: dict) -> list[str]:
    """The printed table of one iteration's scores: a row per score, a column per variable."""
    cat, cont = point["categorical"], point["continuous"]
    lines = [f"iteration {point['iteration']}: {point['n_test']} test images",
             f"  {'categorical':<{LABEL_WIDTH}}" + "".join(f"{e['variable']:>8}" for e in cat),
             f"  {'values used':<{LABEL_WIDTH}}" + "".join(f"{e['values_used']:>8}" for e in cat),
             _row("acc digit", [e["accuracy_digit"] for e in cat], ".1%")]
    if any("many_to_one" in e for e in cat):  # more values than digits: each value read as its most common digit
        lines.append(_row("acc digit (many-to-one)", [e.get("many_to_one", {}).get("accuracy") for e in cat], ".1%"))
    for name in NMI_FACTORS:
        label = f"NMI {name}" + (" (coloured)" if name in HUE_SATURATION else " (bins)" if name in BINNED else "")
        lines.append(_row(label, [e["nmi"][name] for e in cat], ".3f"))
    lines.append(f"  best (NMI): {_best(cat)}")
    if cont:
        lines.append(f"  {'continuous':<{LABEL_WIDTH}}" + "".join(f"{e['variable']:>8}" for e in cont))
        for name in ETA_FACTORS:
            label = f"eta {name}" + (" (coloured)" if name in HUE_SATURATION else "")
            lines.append(_row(label, [e["eta"][name] for e in cont], ".3f"))
        for name in R_FACTORS:
            lines.append(_row(f"r {name}", [e["r"][name] for e in cont], "+.3f"))
        lines.append(f"  best (eta, |r|): {_best(cont)}")
    health = point.get("health")
    if health is not None:
        per_variable = ", ".join(f"c{v + 1} {health[f'score_c{v + 1}']:.3f}" for v in range(len(cat))
                                 if isinstance(health.get(f"score_c{v + 1}"), (int, float)))
        score = health.get("score")
        lines.append(f"  health.jsonl at iteration {health['iteration']}: score "
                     f"{text(score, '.3f', 0).strip()}" + (f" ({per_variable})" if per_variable else "")
                     + f"; diversity {health['diversity']:.4g} = {text(health['diversity_over_peak'], '.2f', 0)} "
                       f"of its peak so far")
    return lines


def health_lines(health: dict | None) -> list[str]:
    """The printed health curve of the run."""
    if health is None:
        return [f"no {HEALTH_FILE} in the run folder: no health curve"]
    curve = health["curve"]
    peak = max(curve, key=lambda r: r["diversity"])
    lines = [f"{HEALTH_FILE}: {len(curve)} log steps; diversity final / peak "
             f"{text(health['diversity_final_over_peak'], '.2f', 0)} (peak {peak['diversity']:.4g} at "
             f"{peak['iteration']}, final {curve[-1]['diversity']:.4g} at {curve[-1]['iteration']})",
             f"  {'iteration':>10}{'diversity':>11}{'score':>8}"]
    for record in curve:
        lines.append(f"  {record['iteration']:>10}{record['diversity']:>11.4g}{text(record.get('score'), '.3f', 8)}")
    return lines


# --- scoring a run -----------------------------------------------------------------------------------------

def choose_iterations(text_: str, available) -> list[int]:
    """'last', 'all' or comma-separated iterations (score_proxy.parse_iterations)."""
    if text_.strip() == "last":
        return [max(available)]
    return parse_iterations(text_, available)


_TEST_SETS: dict = {}  # data folder -> its test set, read once per process (several runs share a stand-in)


def load_standin_test(run, data_dir: Path):
    from bidirectional_infogan.evaluate.evaluation_data import load_test_set
    key = str(data_dir.resolve())
    if key not in _TEST_SETS:
        _TEST_SETS[key] = load_test_set(run, data_dir)
    return _TEST_SETS[key]


def categories_path(categories_dir: Path, run_name: str, iteration: int) -> Path:
    return Path(categories_dir) / f"{run_name}_iteration-{iteration}.npy"


def score_run(run_dir: Path, iterations: str = "all", data_dir: Path | None = None, limit: int = DEFAULT_LIMIT,
              show=print, categories_dir: Path | None = None) -> dict:
    """Every score of the chosen checkpoints of a stand-in run (the --json content; NaN not yet replaced).
    `show(line)` is called with each printed line (None: print nothing). Raises ScoreError or one of
    cli.USER_ERRORS for what the user must fix."""
    from bidirectional_infogan.runs.run_folder import list_checkpoints, load_run_config
    run_dir = Path(run_dir).expanduser()
    run = load_run_config(run_dir)
    if run.model.dataset != "svhn":
        raise ScoreError(f"{run_dir} is a {run.model.dataset} run; the stand-in stands in for SVHN only")
    if data_dir is None:
        if run.data.get("data_dir") is None:
            raise ScoreError(f"{run_dir} was trained on SVHN from the download cache, not on a stand-in; pass the "
                             f"stand-in's folder with --data_dir")
        data_dir = Path(run.data["data_dir"])
    data_dir = Path(data_dir).expanduser()
    if limit < 0:
        raise ScoreError(f"--limit must be 0 (all test images) or more, got {limit}")
    factors = load_standin_factors(data_dir)
    available = list_checkpoints(run_dir)
    if not available:
        raise ScoreError(f"{run_dir} has no checkpoint")
    chosen = choose_iterations(iterations, available)
    if categories_dir is not None and Path(categories_dir).exists() and not Path(categories_dir).is_dir():
        raise ScoreError(f"--categories_dir {categories_dir} is a file, not a folder")

    from bidirectional_infogan.util.tf_setup import import_tensorflow
    import_tensorflow()
    from bidirectional_infogan.util.progress import Progress

    test = load_standin_test(run, data_dir)
    check_alignment(factors, len(test.images), test.labels, data_dir / FACTORS_FILE)
    n = len(test.images) if limit == 0 else min(limit, len(test.images))
    images = test.images[:n]
    factors = {name: values[:n] for name, values in factors.items()}
    records = load_health(run_dir)
    health = health_summary(records)
    say = show or (lambda line: None)
    for line in health_lines(health):
        say(line)
    progress = Progress(len(chosen), out=sys.stderr, label="checkpoints", interval=0, line_interval=0)
    points = []
    for done, (iteration, model) in enumerate(checkpoint_models(run_dir, chosen, available)):
        codes = encode_test_images(model, run_dir, iteration, images, cache=n == len(test.images))
        point = {"iteration": iteration, "n_test": n}
        point.update(score_codes(run.model, codes, factors))
        if categories_dir is not None:
            Path(categories_dir).mkdir(parents=True, exist_ok=True)
            np.save(categories_path(categories_dir, run_dir.name, iteration),
                    categories_from_codes(run.model, codes)[:, 0])
        point["health"] = health_at(records, iteration)
        points.append(point)
        for line in table(point):
            say(line)
        if len(chosen) > 1:
            progress.update(done + 1)
    if len(chosen) > 1:
        progress.close()
    return {"run": run_dir.name, "seed": run.train.seed, "dataset": run.model.dataset, "data": data_dir.name,
            "factors_file": FACTORS_FILE, "n_test": n, "test_images": len(test.images), "limit": limit,
            **standin_options(data_dir), "standin_command": standin_command(data_dir),
            "factors": {"nominal": list(NOMINAL), "ordinal": list(ORDINAL), "continuous": list(CONTINUOUS),
                        "angles": list(ANGLES), "quantile_bins": N_BINS, "hue_min_saturation": MIN_SATURATION},
            "health": health, "iterations": points}


def write_json(path: Path, content: dict, overwrite: bool, program: str = PROGRAM) -> None:
    """Write `content` (NaN as null) to a new file, or over an existing one with `overwrite`."""
    if path.is_dir():
        fail(f"{path} is a folder", program)
    if path.exists() and not overwrite:
        fail(f"{path} exists; choose another path or pass --overwrite (nothing is overwritten without it)", program)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(no_nan(content), indent=1) + "\n")
    except OSError as err:
        fail(f"cannot write {path}: {err}", program)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, prog=PROGRAM, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="run folder of code/train_svhn.py trained on the stand-in")
    parser.add_argument("--iterations", default="all",
                        help="checkpoints to score: 'all' (default), 'last' or comma-separated iterations, "
                             "e.g. 1000,2000")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT,
                        help=f"score the first N test images (default {DEFAULT_LIMIT:,}; 0: all)")
    parser.add_argument("--data_dir", type=Path, default=None,
                        help="the stand-in's folder (default: the run's own, from its config.json)")
    parser.add_argument("--json", type=Path, default=None,
                        help="also write every number to this JSON file (a new file: an existing one is kept)")
    parser.add_argument("--overwrite", action="store_true", help="replace the --json file if it exists")
    parser.add_argument("--categories_dir", type=Path, default=None,
                        help="save the first categorical variable's test categories of each checkpoint here")
    args = parser.parse_args(argv)

    from bidirectional_infogan.runs.errors import USER_ERRORS
    if args.json is not None and (args.json.is_dir() or (args.json.exists() and not args.overwrite)):
        write_json(args.json, {}, args.overwrite)  # says why, before the scoring
    try:
        result = score_run(args.run_dir, args.iterations, args.data_dir, args.limit,
                           show=lambda line: print(line, flush=True), categories_dir=args.categories_dir)
    except USER_ERRORS + (ScoreError,) as err:
        fail(err, PROGRAM)
    if args.json is not None:
        write_json(args.json, result, args.overwrite)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
