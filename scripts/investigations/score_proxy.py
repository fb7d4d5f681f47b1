"""Score the checkpoints of an SVHN or CelebA run trained on a proxy of scripts/investigations/make_proxy_data.py against the
factors the proxy was made from.

    python scripts/investigations/score_proxy.py RUN_DIR [--iterations 1000,2000 | all] [--data_dir DIR] [--json OUT.json]
                                  [--samples N]

Each checkpoint is scored on the proxy's test images (SVHN: test_32x32.mat with factors_test.npz; CelebA: the
test partition of factors.npz), from E's codes in inference mode:
  categorical variable: accuracy against the digit under the best one-to-one mapping of its values to digits
      (Hungarian algorithm), and NMI against the digit, the stroke colour, the background colour and (SVHN) the
      side of the cut-off neighbour digit;
  continuous variable: the correlation ratio eta (sqrt of between-group over total variance; 0 = the mean
      is the same for every value of the factor, 1 = the variable is a function of it) against the digit,
      the stroke and the background colour, and the Pearson correlation r with the brightness factor.
"used" is the number of values E gives the test images (1: the variable is collapsed). "best" names the
factor each variable carries most of (largest NMI; for continuous ones largest eta or |r|; '-' if all are 0):
a mean over variables would hide a variable that carries the colours instead of the digit.

And what G does with the code, from N codes drawn as in training (fixed seed, the same for every checkpoint),
in inference mode:
  E(G)=c: categorical: share of G(z, c) whose E-argmax is the value given; continuous: r between the value
      given and E's value. Whether E recovers G's code.
  visible: mean |G(z, c) - G(z, c')| where c' changes only this variable (another value, drawn at random),
      divided by mean |G(z, c) - G(z', c)| (another z, the same c). Near 0: the variable changes nothing
      visible; 1: as much as a new z. The N codes are dealt in turn to the new z and to each variable (about
      N / 9 pairs each with table 2's 4 + 4 variables), so G makes 2N images whatever the number of variables.

A factor missing from the factors file, or constant over the test images (CelebA's neighbour side), is shown
as '-'. --json writes every number, per iteration, with the run folder's name, its seed and the data set.

Runs trained on the house-number stand-in of scripts/svhn_standin/make_svhn_standin.py are scored by scripts/svhn_standin/score_standin.py
(which imports its shared parts from here).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from bidirectional_infogan.evaluate import evaluation
from bidirectional_infogan.evaluate.factor_scores import (ScoreError, best_of, categorical_entry, check_alignment,
                                                           checkpoint_models, encode_test_images, no_nan,
                                                           parse_iterations, pearson, text, usable)
from bidirectional_infogan.util.arguments import fail
from bidirectional_infogan.model.latent import join_latent, sample_latent, split_latent

# factor in the factors file -> short name in the table; the categorical factors the variables are scored on
FACTORS = {"digit": "digit", "stroke_colour": "stroke", "background_colour": "backgr", "neighbour_side": "neighb"}
ETA_FACTORS = ("digit", "stroke_colour", "background_colour")
PROGRAM = "score_proxy.py"
SAMPLE_SEED = 0  # seed of the sampled codes of the generator scores


def factors_file(dataset: str, data_dir: Path) -> Path:
    return data_dir / ("factors_test.npz" if dataset == "svhn" else "factors.npz")


def load_test_factors(dataset: str, data_dir: Path) -> dict:
    """The factors of the proxy's test images, in the order the test set is loaded: name -> array.

    SVHN: factors_test.npz is in the order of test_32x32.mat. CelebA: factors.npz is in the order of
    list_eval_partition.txt, and the test set is its partition-2 rows in that order.
    """
    path = factors_file(dataset, data_dir)
    if not path.is_file():
        raise ScoreError(f"{data_dir} has no {path.name}: not a proxy written by make_proxy_data.py "
                         f"(only proxies have known factors to score against)")
    try:
        with np.load(path) as stored:
            factors = {name: stored[name] for name in stored.files if name not in ("palette", "palette_names")}
    except (OSError, ValueError) as err:
        raise ScoreError(f"cannot read {path}: {err}") from None
    if "digit" not in factors:
        raise ScoreError(f"{path} has no 'digit' entry: not a factors file of make_proxy_data.py")
    if dataset == "celeba":
        if "partition" not in factors:
            raise ScoreError(f"{path} has no 'partition' entry: not a CelebA proxy's factors file")
        test = factors["partition"] == 2
        factors = {name: values[test] for name, values in factors.items()}
    return factors


def score_codes(cfg, codes: np.ndarray, factors: dict) -> dict:
    """Scores of E's test codes against the factors: {'categorical': [...], 'continuous': [...]}."""
    parts = split_latent(cfg, codes)
    digit = np.asarray(factors["digit"])
    categorical = []
    for score in evaluation.score_categorical_variables(parts.categorical, digit, 10):
        values = parts.categorical[score["variable"] - 1].argmax(axis=1)
        n_values = parts.categorical[score["variable"] - 1].shape[1]
        nmi = {}
        for name in FACTORS:
            factor = usable(factors, name)
            nmi[name] = None if factor is None else evaluation.normalized_mutual_information(
                values, factor, n_values, int(factor.max()) + 1)
        categorical.append(categorical_entry(score, values, nmi))
    continuous = []
    brightness = usable(factors, "brightness")
    for j in range(parts.continuous.shape[1]):
        values = parts.continuous[:, j]
        eta = {}
        for name in ETA_FACTORS:
            factor = usable(factors, name)
            eta[name] = None if factor is None else evaluation.correlation_ratio(values, factor)
        r = None if brightness is None else pearson(values, brightness)
        best, best_score = best_of({**eta, "brightness": r})
        continuous.append({"variable": f"cont{j + 1}", "eta": eta, "r_brightness": r, "best_factor": best,
                           "best_score": best_score})
    return {"categorical": categorical, "continuous": continuous}


def mean_abs_difference(a, b) -> float:
    return float(np.mean(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def visible_change_ratio(base, changed, z_difference: float) -> float:
    """mean |G(z, c) - G(z, c')| / z_difference, where z_difference = mean |G(z, c) - G(z', c)|: how much
    changing one variable changes the images, in units of what a new z changes. NaN if a new z changes
    nothing either."""
    return mean_abs_difference(base, changed) / z_difference if z_difference > 0 else float("nan")


def other_values(values: np.ndarray, n_values: int, rng: np.random.Generator) -> np.ndarray:
    """For each value, another of 0..n_values-1 drawn uniformly from the n_values - 1 others."""
    return (values + rng.integers(1, n_values, len(values))) % n_values


def minimum_samples(cfg) -> int:
    """One code for a new z and one for each variable."""
    return 1 + len(cfg.categorical_dims) + cfg.continuous_dim


def score_generator(cfg, generate, encode, n: int, seed: int = SAMPLE_SEED) -> dict:
    """E(G)=c and visible-change scores of each variable from n codes drawn as in training.

    generate: (n, latent) codes -> images, encode: images -> (n, latent) codes (the model's, in inference
    mode). G makes 2n images: G(z, c) of all n codes (E(G)=c is measured on all of them), and one changed
    copy of each code, the codes dealt in turn to a new z, then to each variable (so each difference is a
    mean over about n / (1 + number of variables) pairs): the cost stays that of generating 2n images
    however many variables there are. The draws depend only on `seed`: every checkpoint is scored on the
    same codes.
    """
    rng = np.random.default_rng(seed)
    z, c = sample_latent(cfg, rng, n)
    given = split_latent(cfg, np.concatenate([z, c], axis=1))
    values = np.stack([block.argmax(axis=1) for block in given.categorical], axis=1)
    continuous = given.continuous
    n_categorical = len(cfg.categorical_dims)
    if n < minimum_samples(cfg):
        raise ValueError(f"{n} codes are too few: at least {minimum_samples(cfg)} needed")
    group = np.arange(n) % minimum_samples(cfg)  # 0: a new z; 1, 2, ...: one variable each
    changed_z, changed_values, changed_continuous = z.copy(), values.copy(), continuous.copy()
    rows = group == 0
    changed_z[rows] = rng.uniform(-1.0, 1.0, size=(rows.sum(), cfg.z_dim))
    for v, n_values in enumerate(cfg.categorical_dims):
        rows = group == 1 + v
        changed_values[rows, v] = other_values(values[rows, v], n_values, rng)
    for j in range(cfg.continuous_dim):
        rows = group == 1 + n_categorical + j
        changed_continuous[rows, j] = rng.uniform(-1.0, 1.0, rows.sum())
    base = generate(join_latent(cfg, z, values, continuous))
    changed = generate(join_latent(cfg, changed_z, changed_values, changed_continuous))
    recovered = split_latent(cfg, encode(base))
    z_difference = mean_abs_difference(base[group == 0], changed[group == 0])

    def visible(g):
        return visible_change_ratio(base[group == g], changed[group == g], z_difference)

    categorical = [{"variable": f"c{v + 1}",
                    "recovered": float(np.mean(recovered.categorical[v].argmax(axis=1) == values[:, v])),
                    "visible_change": visible(1 + v)} for v in range(n_categorical)]
    continuous_scores = [{"variable": f"cont{j + 1}",
                          "recovered_r": pearson(continuous[:, j], recovered.continuous[:, j]),
                          "visible_change": visible(1 + n_categorical + j)} for j in range(cfg.continuous_dim)]
    return {"categorical": categorical, "continuous": continuous_scores, "z_mean_abs_difference": z_difference}


def table(point: dict) -> list[str]:
    """The printed table of one iteration's scores."""
    short = {**FACTORS, "brightness": "bright"}

    def best(e):
        return f"{short[e['best_factor']]} {e['best_score']:.3f}" if e["best_factor"] else "-"

    lines = [f"iteration {point['iteration']}: {point['n_test']} test images, {point['samples']} sampled codes",
             f"  {'categorical':<12}{'used':>4}{'acc digit':>10}{'NMI digit':>10}{'stroke':>8}{'backgr':>8}"
             f"{'neighb':>8}   {'best (NMI)':<16}{'E(G)=c':>8}{'visible':>9}"]
    for e, g in zip(point["categorical"], point["generator"]["categorical"]):
        nmi = e["nmi"]
        lines.append(f"  {e['variable']:<12}{e['values_used']:>4}{text(e['accuracy_digit'], '.1%', 10)}"
                     f"{text(nmi['digit'], '.3f', 10)}{text(nmi['stroke_colour'], '.3f', 8)}"
                     f"{text(nmi['background_colour'], '.3f', 8)}{text(nmi['neighbour_side'], '.3f', 8)}   "
                     f"{best(e):<16}{text(g['recovered'], '.1%', 8)}{text(g['visible_change'], '.2f', 9)}")
    lines.append(f"  {'continuous':<16}{'eta digit':>10}{'stroke':>10}{'backgr':>8}{'r bright':>10}   "
                 f"{'best (eta, |r|)':<16}{'E(G)=c r':>10}{'visible':>9}")
    for e, g in zip(point["continuous"], point["generator"]["continuous"]):
        eta = e["eta"]
        lines.append(f"  {e['variable']:<16}{text(eta['digit'], '.3f', 10)}{text(eta['stroke_colour'], '.3f', 10)}"
                     f"{text(eta['background_colour'], '.3f', 8)}{text(e['r_brightness'], '+.3f', 10)}   "
                     f"{best(e):<16}{text(g['recovered_r'], '+.3f', 10)}{text(g['visible_change'], '.2f', 9)}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        allow_abbrev=False, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="run folder of code/train_svhn.py or code/train_celeba.py")
    parser.add_argument("--iterations", default="all",
                        help="checkpoints to score: 'all' (default) or comma-separated iterations, e.g. 1000,2000")
    parser.add_argument("--data_dir", type=Path, default=None,
                        help="the proxy's folder (default: the run's own, from its config.json)")
    parser.add_argument("--json", type=Path, default=None,
                        help="also write every number to this JSON file (a new file: an existing one is kept)")
    parser.add_argument("--overwrite", action="store_true", help="replace the --json file if it exists")
    parser.add_argument("--samples", type=int, default=2000,
                        help="codes drawn for the generator scores (E(G)=c, visible; G makes twice as many "
                             "images); default 2000")
    args = parser.parse_args(argv)

    from bidirectional_infogan.runs.errors import USER_ERRORS
    from bidirectional_infogan.runs.run_folder import list_checkpoints, load_run_config
    try:
        run_dir = args.run_dir.expanduser()
        run = load_run_config(run_dir)
        dataset = run.model.dataset
        if dataset not in ("svhn", "celeba"):
            raise ScoreError(f"{run_dir} is a {dataset} run; proxies stand in for SVHN and CelebA only")
        data_dir = args.data_dir if args.data_dir is not None else run.data.get("data_dir")
        if data_dir is None:
            raise ScoreError(f"{run_dir} was trained on {dataset} from the download cache, not on a proxy; "
                             f"pass the proxy's folder with --data_dir")
        data_dir = Path(data_dir).expanduser()
        factors = load_test_factors(dataset, data_dir)
        available = list_checkpoints(run_dir)
        if not available:
            raise ScoreError(f"{run_dir} has no checkpoint")
        iterations = parse_iterations(args.iterations, available)
        if args.samples < minimum_samples(run.model):
            raise ScoreError(f"--samples must be at least {minimum_samples(run.model)} (one code for a new z and "
                             f"one for each variable), got {args.samples}")
        if args.json is not None and args.json.is_dir():
            raise ScoreError(f"--json {args.json} is a folder")
        if args.json is not None and args.json.exists() and not args.overwrite:
            raise ScoreError(f"--json {args.json} exists; choose another path or pass --overwrite (nothing is "
                             f"overwritten without it)")

        from bidirectional_infogan.util.tf_setup import import_tensorflow
        import_tensorflow()
        from bidirectional_infogan.evaluate.evaluation_data import load_test_set
        from bidirectional_infogan.util.progress import Progress

        test = load_test_set(run, data_dir)
        check_alignment(factors, len(test.images), test.labels, factors_file(dataset, data_dir))
        progress = Progress(len(iterations), out=sys.stderr, label="checkpoints", interval=0, line_interval=0)
        points = []
        for done, (iteration, model) in enumerate(checkpoint_models(run_dir, iterations, available)):
            codes = encode_test_images(model, run_dir, iteration, test.images)
            point = {"iteration": iteration, "n_test": len(test.images), "samples": args.samples}
            point.update(score_codes(run.model, codes, factors))
            point["generator"] = score_generator(run.model, model.generate, model.encode, args.samples)
            points.append(point)
            print("\n".join(table(point)), flush=True)
            if len(iterations) > 1:
                progress.update(done + 1)
                progress.close()
    except USER_ERRORS + (ScoreError,) as err:
        fail(err, PROGRAM)
    if args.json is not None:
        # folder names only: a results file must not carry the paths of the machine that made it
        result = {"run": run_dir.name, "seed": run.train.seed, "dataset": dataset,
                  "data": Path(data_dir).name, "factors_file": factors_file(dataset, data_dir).name,
                  "sample_seed": SAMPLE_SEED, "samples": args.samples, "iterations": points}
        try:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(no_nan(result), indent=1) + "\n")
        except OSError as err:
            fail(f"cannot write {args.json}: {err}", PROGRAM)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
