"""How well a categorical code classifies labelled data: mappings from codes to labels and clustering scores.

All functions take integer arrays: `codes` (the argmax of a categorical variable) and `labels`.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def contingency(codes: np.ndarray, labels: np.ndarray, n_codes: int, n_labels: int) -> np.ndarray:
    """counts[c, l] = number of samples with code c and label l."""
    counts = np.zeros((n_codes, n_labels), dtype=np.int64)
    np.add.at(counts, (np.asarray(codes), np.asarray(labels)), 1)
    return counts


def hungarian_mapping(codes: np.ndarray, labels: np.ndarray, n_codes: int, n_labels: int) -> dict[int, int]:
    """The one-to-one code -> label mapping with the most correctly labelled samples (Hungarian algorithm).

    With more codes than labels, the codes left over map to -1 (counted as wrong).
    """
    counts = contingency(codes, labels, n_codes, n_labels)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    mapping = {code: -1 for code in range(n_codes)}
    mapping.update({int(r): int(c) for r, c in zip(rows, cols)})
    return mapping


def majority_mapping(codes: np.ndarray, labels: np.ndarray, n_codes: int, n_labels: int) -> dict[int, int]:
    """The many-to-one code -> label mapping: each code read as its most common label (-1 for a code no sample
    takes). With more codes than labels (over-clustering) a label may have several codes; two labels that share
    a code still lose the rarer one's samples, as in the one-to-one mapping."""
    counts = contingency(codes, labels, n_codes, n_labels)
    return {code: int(counts[code].argmax()) if counts[code].any() else -1 for code in range(n_codes)}


def encodings_from_mapping(mapping: dict[int, int], n_labels: int) -> list[int]:
    """The original's encodings.txt form: entry i is the code that stands for label i."""
    inverse = {label: code for code, label in mapping.items() if label >= 0}
    return [inverse[label] for label in range(n_labels)]


def mapping_from_encodings(encodings: list[int]) -> dict[int, int]:
    """encodings.txt form (entry i = code of label i) -> code -> label."""
    return {code: label for label, code in enumerate(encodings)}


def apply_mapping(codes: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    lookup = np.full(max(mapping) + 1, -1, dtype=np.int64)
    for code, label in mapping.items():
        lookup[code] = label
    return lookup[np.asarray(codes)]


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.asarray(predictions) == np.asarray(labels)))


def purity(codes: np.ndarray, labels: np.ndarray, n_codes: int, n_labels: int) -> float:
    """Fraction of samples whose label is the most common label of their code (codes may share labels)."""
    counts = contingency(codes, labels, n_codes, n_labels)
    return float(counts.max(axis=1).sum() / counts.sum())


def entropy(counts: np.ndarray) -> float:
    """Entropy in nats of the distribution that `counts` (one count per value) describe."""
    counts = np.asarray(counts, dtype=np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def mutual_information(counts: np.ndarray) -> float:
    """I(row; column) in nats of a contingency table of counts."""
    joint = np.asarray(counts, dtype=np.float64) / np.sum(counts)
    p_row, p_column = joint.sum(axis=1), joint.sum(axis=0)
    nonzero = joint > 0
    return float((joint[nonzero] * np.log(joint[nonzero] / np.outer(p_row, p_column)[nonzero])).sum())


def normalized_mutual_information(codes: np.ndarray, labels: np.ndarray, n_codes: int, n_labels: int) -> float:
    """I(code; label) / mean(H(code), H(label)) (arithmetic normalisation, as scikit-learn's default)."""
    counts = contingency(codes, labels, n_codes, n_labels)
    mutual = mutual_information(counts)
    h_code, h_label = entropy(counts.sum(axis=1)), entropy(counts.sum(axis=0))
    if h_code == 0 and h_label == 0:
        return 1.0
    denominator = 0.5 * (h_code + h_label)
    return mutual / denominator if denominator > 0 else 0.0


def adjusted_rand_index(codes: np.ndarray, labels: np.ndarray, n_codes: int, n_labels: int) -> float:
    """Rand index corrected for chance (Hubert & Arabie): 1 for identical partitions, about 0 for random."""
    counts = contingency(codes, labels, n_codes, n_labels).astype(np.float64)

    def pairs(x):
        return (x * (x - 1) / 2).sum()

    index = pairs(counts)
    rows, cols, n = pairs(counts.sum(axis=1)), pairs(counts.sum(axis=0)), pairs(np.array([counts.sum()]))
    expected = rows * cols / n if n > 0 else 0.0
    maximum = 0.5 * (rows + cols)
    if maximum == expected:
        return 1.0
    return float((index - expected) / (maximum - expected))


def score_categorical_variables(categorical_blocks, labels: np.ndarray, n_labels: int) -> list[dict]:
    """Each categorical variable as a classifier of `labels`, scored from the argmax of its block.

    categorical_blocks: one (N, n_values) array per variable (E's probabilities or one-hot codes, as
    `latent.split_latent(...).categorical`). Returns one dict per variable, in order: variable (1-based),
    accuracy (under the best one-to-one mapping of values to labels, Hungarian algorithm), nmi, mapping.
    """
    labels = np.asarray(labels)
    scores = []
    for v, block in enumerate(categorical_blocks):
        block = np.asarray(block)
        values, n_values = block.argmax(axis=1), block.shape[1]
        mapping = hungarian_mapping(values, labels, n_values, n_labels)
        scores.append({"variable": v + 1, "accuracy": accuracy(apply_mapping(values, mapping), labels),
                       "nmi": normalized_mutual_information(values, labels, n_values, n_labels),
                       "mapping": mapping})
    return scores


def correlation_ratio(values: np.ndarray, groups: np.ndarray) -> float:
    """The correlation ratio eta of a continuous variable and a grouping (a categorical factor).

    eta = sqrt(between-group sum of squares / total sum of squares): 0 when every group has the same mean,
    1 when the value is a function of the group. Unlike a correlation it needs no order of the groups. NaN
    for a constant `values`.
    """
    values = np.asarray(values, dtype=np.float64)
    _, group_index = np.unique(np.asarray(groups), return_inverse=True)
    centred = values - values.mean()
    total = float(np.sum(centred ** 2))
    if total == 0:
        return float("nan")
    sums = np.bincount(group_index, weights=centred)
    counts = np.bincount(group_index)
    between = float(np.sum(sums ** 2 / counts))
    return float(np.sqrt(min(between / total, 1.0)))


def classification_report(codes: np.ndarray, labels: np.ndarray, n_codes: int, n_labels: int,
                          mapping: dict[int, int]) -> dict:
    """Accuracy under `mapping`, per-class accuracy, the confusion matrix (rows: true label, columns:
    predicted label) and the mapping-free scores NMI, ARI and purity."""
    predictions = apply_mapping(codes, mapping)
    confusion = np.zeros((n_labels, n_labels), dtype=np.int64)
    valid = predictions >= 0
    np.add.at(confusion, (np.asarray(labels)[valid], predictions[valid]), 1)
    per_class = []
    for label in range(n_labels):
        members = np.asarray(labels) == label
        per_class.append(float(np.mean(predictions[members] == label)) if members.any() else float("nan"))
    return {
        "accuracy": accuracy(predictions, labels),
        "errors": int(np.sum(predictions != np.asarray(labels))),
        "per_class_accuracy": per_class,
        "confusion_matrix": confusion.tolist(),
        "nmi": normalized_mutual_information(codes, labels, n_codes, n_labels),
        "ari": adjusted_rand_index(codes, labels, n_codes, n_labels),
        "purity": purity(codes, labels, n_codes, n_labels),
        "encodings": encodings_from_mapping(mapping, n_labels) if n_codes >= n_labels else None,
    }


def auc_matrix(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Area under the ROC curve of every score column for every binary target column.

    scores (N, S) float, targets (N, A) in {0, 1} -> (A, S): the probability that a random positive scores
    higher than a random negative (ties count half), i.e. the Mann-Whitney U statistic / (n_pos * n_neg).
    A target with no positive or no negative sample gets NaN.
    """
    from scipy.stats import rankdata
    ranks = rankdata(scores, axis=0)  # average ranks for ties
    targets = np.asarray(targets, dtype=np.float64)
    positives = targets.sum(axis=0)
    negatives = len(targets) - positives
    rank_sums = targets.T @ ranks  # (A, S)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_sums - (positives * (positives + 1) / 2)[:, None]) / (positives * negatives)[:, None]
    auc[(positives == 0) | (negatives == 0)] = np.nan
    return auc
