"""How well several runs of one data set agree with each other, without labels: which run to pick, which failed.

Good runs agree with each other; failed runs each fail in their own way (the idea behind UDR, Duan et al.,
ICLR 2020, and behind the medoid of a cluster ensemble, Strehl & Ghosh, JMLR 2002). Each run is given as its
categories of the same real images: an integer array (N, V), the most probable value of each of its V
categorical variables for every image.

  AMI             adjusted mutual information of two runs' categories: (I - E[I]) / (mean(H1, H2) - E[I]),
                  with E[I] the exact expected mutual information of two random partitions with the same
                  category sizes (hypergeometric model; Vinh, Epps & Bailey, JMLR 2010), the arithmetic-mean
                  normalisation of scikit-learn's default. 1 for the same partition under any relabelling,
                  about 0 for independent ones.
  matched share   the share of images in matched categories under the one-to-one matching of the two runs'
                  categories that matches the most images (Hungarian algorithm).
  mean agreement  a run's mean AMI with the other runs. The medoid, the run with the highest, is the one to pick.
  outlier         a run far below the others in mean AMI or in mean matched share, robust (the median and the
                  MAD of the runs) with a floor so that a tight set of good runs flags nobody; or a run whose
                  matched share with the medoid is MEDOID_GAP or more below that of the medoid's closest run
                  (RULE). Mean AMI and mean matched share, because AMI is lenient with a split (a category cut in
                  two loses no information). The medoid part, because two runs that fail alike (4s and 9s split
                  by slant) agree with each other and so pull the median of the means down to them; on MNIST
                  the good runs matched about 99% of the images with the medoid, and none was more than 0.005
                  below the medoid's closest run (docs/health.md).
  differences     what a run does differently from the medoid, read off their contingency table (SUBSTANTIAL).

With several categorical variables (table-2 models) each variable of a run is compared with the best-matching
variable (highest AMI) of every other run; a run's mean agreement is the mean over its variables, and runs are
flagged as a whole (variable v of one run need not hold the factor that variable v of another holds, so there is
no set of "variable v" over the runs to find outliers in); the differences name the variable.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from bidirectional_infogan.evaluate import evaluation

OUTLIER_K = 3.0  # robust standard deviations (1.4826 * MAD) below the median
FLOORS = {"mean_agreement": 0.05, "mean_matched_share": 0.03}  # ... but never closer to the median than this
SUBSTANTIAL = 0.20  # a share of a medoid category this large counts in a split or a merge
MEDOID_GAP = 0.03  # ... or this much further from the medoid (matched share) than the medoid's closest run
RULE = (f"flagged: mean AMI below median - max({OUTLIER_K:g} * 1.4826 * MAD, {FLOORS['mean_agreement']:g}) "
        f"or mean matched share below median - max({OUTLIER_K:g} * 1.4826 * MAD, "
        f"{FLOORS['mean_matched_share']:g}), median and MAD (median absolute deviation) of each over the runs; or "
        f"matched share with the medoid below that of the medoid's closest run - {MEDOID_GAP:g}")


def _table(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Contingency table of two category arrays: counts[i, j] = images in category i of a and j of b."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    return evaluation.contingency(a, b, int(a.max()) + 1, int(b.max()) + 1)


def expected_mutual_information(row_sums, column_sums) -> float:
    """E[I] in nats over all contingency tables with these margins, each as likely as under random assignment
    of the images to categories of the given sizes (Vinh, Epps & Bailey 2010, eq. 24a)."""
    rows = np.asarray(row_sums, np.int64)
    columns = np.asarray(column_sums, np.int64)
    rows, columns = rows[rows > 0], columns[columns > 0]
    n = int(rows.sum())
    log_factorial = gammaln(np.arange(n + 1) + 1.0)
    total = 0.0
    for a in rows:
        for b in columns:
            nij = np.arange(max(1, a + b - n), min(a, b) + 1)  # every possible count of the cell
            log_probability = (log_factorial[a] + log_factorial[b] + log_factorial[n - a] + log_factorial[n - b]
                               - log_factorial[n] - log_factorial[nij] - log_factorial[a - nij]
                               - log_factorial[b - nij] - log_factorial[n - a - b + nij])
            total += float(np.sum(nij / n * np.log(n * nij / float(a * b)) * np.exp(log_probability)))
    return total


def adjusted_mutual_information(a, b) -> float:
    """AMI of two category arrays of the same images (see the module's docstring); 1.0 when both put every
    image in one category."""
    counts = _table(a, b)
    h_a, h_b = evaluation.entropy(counts.sum(axis=1)), evaluation.entropy(counts.sum(axis=0))
    if h_a == 0 and h_b == 0:
        return 1.0
    expected = expected_mutual_information(counts.sum(axis=1), counts.sum(axis=0))
    denominator = max(0.5 * (h_a + h_b) - expected, np.finfo(np.float64).eps)
    return float((evaluation.mutual_information(counts) - expected) / denominator)


def matched_share(a, b) -> float:
    """Share of images in matched categories under the one-to-one matching of a's categories to b's with the
    most images (Hungarian algorithm)."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    mapping = evaluation.hungarian_mapping(a, b, int(a.max()) + 1, int(b.max()) + 1)
    return evaluation.accuracy(evaluation.apply_mapping(a, mapping), b)


def outlier_threshold(means, floor: float) -> float:
    """The value of a per-run mean below which a run is flagged: median - max(OUTLIER_K * 1.4826 * MAD, floor)."""
    values = np.asarray(means, np.float64)
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median)))
    return median - max(OUTLIER_K * 1.4826 * mad, floor)


def outliers(means: dict, to_medoid, medoid: int) -> tuple[dict, list[list[str]]]:
    """RULE: the threshold of each statistic in FLOORS (means[name]: one value per run) and of the matched share
    with the medoid (to_medoid: one value per run), and for each run the statistics it falls below (flagged if
    any). With two runs the other run is the medoid's closest, so only the means can flag."""
    thresholds = {name: outlier_threshold(means[name], floor) for name, floor in FLOORS.items()}
    closest = max(float(to_medoid[r]) for r in range(len(to_medoid)) if r != medoid)
    thresholds["medoid_matched_share"] = closest - MEDOID_GAP
    values = {**means, "medoid_matched_share": to_medoid}
    return thresholds, [[name for name in thresholds if r != medoid and values[name][r] < thresholds[name]]
                        for r in range(len(to_medoid))]


def differences(run, medoid) -> dict:
    """What `run` does differently from `medoid` (category arrays of the same images). share[k, j] = the share of
    the medoid's category k that the run puts in its category j. splits: medoid categories with a share of at
    least SUBSTANTIAL in each of two or more of the run's categories; merges: run categories that take at least
    SUBSTANTIAL of each of two or more medoid categories."""
    counts = _table(medoid, run)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    large = share >= SUBSTANTIAL
    splits = []
    for k in np.flatnonzero(large.sum(axis=1) >= 2):
        into = sorted(np.flatnonzero(large[k]), key=lambda j: -share[k, j])
        splits.append({"medoid_category": int(k), "into": [int(j) for j in into],
                       "shares": [round(float(share[k, j]), 4) for j in into]})
    merges = []
    for j in np.flatnonzero(large.sum(axis=0) >= 2):
        takes = sorted(np.flatnonzero(large[:, j]), key=lambda k: -share[k, j])
        merges.append({"category": int(j), "takes": [int(k) for k in takes],
                       "shares": [round(float(share[k, j]), 4) for k in takes]})
    return {"splits": splits, "merges": merges}


def compare_runs(categories, names) -> dict:
    """The agreement of several runs: `categories` one integer array per run, (N,) or (N, V), of the same N
    images; `names` one name per run. Returns everything as plain JSON-ready values (see docs/health.md)."""
    runs = [np.asarray(c, np.int64).reshape(len(c), -1) for c in categories]
    n_runs, n_variables = len(runs), runs[0].shape[1]
    if n_runs < 2 or any(r.shape != runs[0].shape for r in runs):
        raise ValueError("compare_runs needs two or more category arrays of one shape")
    # ami[r, s, v, w]: variable v of run r against variable w of run s (symmetric: ami[s, r, w, v])
    ami = np.ones((n_runs, n_runs, n_variables, n_variables))
    share = np.ones_like(ami)
    for r in range(n_runs):
        for s in range(r + 1, n_runs):
            for v in range(n_variables):
                for w in range(n_variables):
                    ami[r, s, v, w] = ami[s, r, w, v] = adjusted_mutual_information(runs[r][:, v], runs[s][:, w])
                    share[r, s, v, w] = share[s, r, w, v] = matched_share(runs[r][:, v], runs[s][:, w])
    off_diagonal = ~np.eye(n_runs, dtype=bool)
    variables, best = [], np.zeros((n_variables, n_runs, n_runs), np.int64)
    means = {name: np.zeros(n_runs) for name in FLOORS}
    for v in range(n_variables):
        best[v] = ami[:, :, v, :].argmax(axis=2)
        np.fill_diagonal(best[v], v)
        pick = best[v][:, :, None]
        ami_v = np.take_along_axis(ami[:, :, v, :], pick, axis=2)[:, :, 0]
        share_v = np.take_along_axis(share[:, :, v, :], pick, axis=2)[:, :, 0]
        means_v = {name: np.array([matrix[r, off_diagonal[r]].mean() for r in range(n_runs)])
                   for name, matrix in (("mean_agreement", ami_v), ("mean_matched_share", share_v))}
        for name in FLOORS:
            means[name] += means_v[name] / n_variables
        variables.append({"variable": v + 1, "ami": _rounded(ami_v), "matched_share": _rounded(share_v),
                          "best_match": (best[v] + 1).tolist(), **{k: _rounded(x) for k, x in means_v.items()}})
    medoid = int(np.argmax(means["mean_agreement"]))
    # each run's variables against their best matches among the medoid's, averaged over the variables
    to_medoid = np.array([np.mean([share[r, medoid, v, best[v][r, medoid]] for v in range(n_variables)])
                          for r in range(n_runs)])
    thresholds, below = outliers(means, to_medoid, medoid)
    per_run = []
    for r in range(n_runs):
        differs = []
        for v in range(n_variables if r != medoid else 0):
            found = differences(runs[r][:, v], runs[medoid][:, best[v][r, medoid]])
            if found["splits"] or found["merges"]:
                differs.append({"variable": v + 1, "medoid_variable": int(best[v][r, medoid]) + 1, **found})
        per_run.append({"name": names[r], **{k: round(float(x[r]), 4) for k, x in means.items()},
                        "medoid_matched_share": round(float(to_medoid[r]), 4),
                        "flagged": bool(below[r]), "flagged_by": below[r], "differences": differs})
    return {"n_images": len(runs[0]), "n_variables": n_variables, "runs": per_run, "medoid": names[medoid],
            "thresholds": {k: round(t, 4) for k, t in thresholds.items()},
            "flagged": [run["name"] for run in per_run if run["flagged"]],
            "rule": {"text": RULE, "k": OUTLIER_K, "floors": FLOORS, "medoid_gap": MEDOID_GAP,
                     "substantial_share": SUBSTANTIAL},
            "variables": variables}


def _rounded(values) -> list:
    return np.round(np.asarray(values, np.float64), 4).tolist()


def agreement_lines(report: dict) -> list[str]:
    """The comparison as a table for the terminal: per run its mean agreement and whether it is flagged, the
    medoid, what each run that differs from the medoid splits and merges, and the pairwise matrices."""
    runs, variables = report["runs"], report["variables"]
    several = len(variables) > 1
    width = max(len("run"), *(len(run["name"]) for run in runs))
    lines = [f"Agreement of {len(runs)} runs on the same {report['n_images']} images (labels not read; "
             f"docs/health.md, 'Choosing among several runs'):",
             f"  {'#':>2}  {'run':<{width}}  {'mean AMI':>8}  {'matched':>7}  {'medoid':>6}"
             + "".join(f"{'c' + str(v['variable']):>7}" for v in variables if several) + "  flagged"]
    names = {"mean_agreement": "AMI", "mean_matched_share": "matched share", "medoid_matched_share": "medoid"}
    for r, run in enumerate(runs):
        per_variable = "".join(f"{v['mean_agreement'][r]:>7.3f}" for v in variables if several)
        flag = f"FLAGGED ({', '.join(names[k] for k in run['flagged_by'])})" if run["flagged"] else ""
        lines.append(f"  {r + 1:>2}  {run['name']:<{width}}  {run['mean_agreement']:>8.3f}  "
                     f"{run['mean_matched_share']:>7.3f}  {run['medoid_matched_share']:>6.3f}{per_variable}  "
                     f"{flag}".rstrip())
    if several:
        lines.append("  (cV: mean AMI of the run's variable V with the best-matching variable of each other run)")
    lines.append("  (matched: mean matched share with the other runs; medoid: matched share with the medoid)")
    thresholds = report["thresholds"]
    lines += [f"Medoid, the run the others agree with most (the one to pick): {report['medoid']}",
              f"Outlier rule: {report['rule']['text']}; here mean AMI below {thresholds['mean_agreement']:.3f}, "
              f"mean matched share below {thresholds['mean_matched_share']:.3f} or matched share with the medoid "
              f"below {thresholds['medoid_matched_share']:.3f}"]
    for run in runs:
        if run["differences"]:
            lines.append(f"{run['name']}{' (flagged)' if run['flagged'] else ''} against the medoid:")
        for found in run["differences"]:
            where = f"c{found['variable']} (medoid's c{found['medoid_variable']}): " if several else ""
            for split in found["splits"]:
                parts = " and ".join(f"{j} ({s:.0%})" for j, s in zip(split["into"], split["shares"]))
                lines.append(f"  {where}splits the medoid's category {split['medoid_category']} into its {parts}")
            for merge in found["merges"]:
                parts = " and ".join(f"{k} ({s:.0%})" for k, s in zip(merge["takes"], merge["shares"]))
                lines.append(f"  {where}merges the medoid's categories {parts} into its {merge['category']}")
    for v in variables:
        title = f" of c{v['variable']} (rows: this run's c{v['variable']})" if several else ""
        lines.append(f"Pairwise AMI{title}, and matched share:")
        header = "".join(f"{s + 1:>7}" for s in range(len(runs)))
        lines.append(f"  {'#':>2} {header}   {header}")
        for r in range(len(runs)):
            lines.append(f"  {r + 1:>2} " + "".join(f"{x:>7.3f}" for x in v["ami"][r]) + "   "
                         + "".join(f"{x:>7.3f}" for x in v["matched_share"][r]))
    return lines
