"""Accuracy under a mapping, the Hungarian mapping, NMI, ARI, purity and AUC on cases with known answers, and
on random cases against computations written here: contingency tables counted in Python loops, the best
mapping by brute force over every one-to-one assignment (and scipy's linear_sum_assignment called directly),
NMI and ARI from their textbook formulas, AUC by counting pairs. Nothing expected comes from evaluation.py."""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from bidirectional_infogan.evaluate import evaluation as ev
from bidirectional_infogan.evaluate.inputs import EncodingsError, parse_encodings

# the real MNIST test-label counts
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
LABELS = np.repeat(np.arange(10), TEST_COUNTS)


def test_perfect_encoder_scores_one_under_hungarian_and_encodings():
    codes = LABELS.copy()
    mapping = ev.hungarian_mapping(codes, LABELS, 10, 10)
    assert mapping == {k: k for k in range(10)}
    report = ev.classification_report(codes, LABELS, 10, 10, mapping)
    assert report["accuracy"] == 1.0 and report["nmi"] == pytest.approx(1.0) and report["ari"] == pytest.approx(1.0)
    assert report["purity"] == 1.0 and report["errors"] == 0
    assert np.array_equal(np.diag(report["confusion_matrix"]), TEST_COUNTS)
    encodings = list(range(10))
    assert ev.accuracy(ev.apply_mapping(codes, ev.mapping_from_encodings(encodings)), LABELS) == 1.0


def test_permuted_encoder_gives_the_permutation_back():
    permutation = np.array([6, 5, 9, 2, 1, 8, 3, 0, 4, 7])  # digit d is encoded as category permutation[d]
    codes = permutation[LABELS]
    mapping = ev.hungarian_mapping(codes, LABELS, 10, 10)
    assert ev.encodings_from_mapping(mapping, 10) == permutation.tolist()
    assert ev.classification_report(codes, LABELS, 10, 10, mapping)["accuracy"] == 1.0
    # the original's encodings.txt for this case, parsed and applied
    parsed = parse_encodings("6,5,9,2,1,8,3,0,4,7\n", 10)
    assert ev.accuracy(ev.apply_mapping(codes, ev.mapping_from_encodings(parsed)), LABELS) == 1.0
    # a wrong mapping is scored as such
    assert ev.accuracy(ev.apply_mapping(codes, {k: k for k in range(10)}), LABELS) < 0.2


def test_constant_encoder_scores_chance():
    codes = np.zeros_like(LABELS)
    mapping = ev.hungarian_mapping(codes, LABELS, 10, 10)
    report = ev.classification_report(codes, LABELS, 10, 10, mapping)
    assert report["accuracy"] == pytest.approx(1135 / 10000)  # everything called "1", the most common digit
    assert report["nmi"] == pytest.approx(0.0, abs=1e-12) and report["ari"] == pytest.approx(0.0, abs=1e-12)
    assert report["purity"] == pytest.approx(0.1135)


def test_scores_on_a_small_hand_computed_case():
    codes = np.array([0, 0, 1, 1, 1, 2])
    labels = np.array([0, 0, 0, 1, 1, 1])
    # contingency [[2,0],[1,2],[0,1]]: Hungarian picks 0->0, 1->1 (4 correct), code 2 left over
    mapping = ev.hungarian_mapping(codes, labels, 3, 2)
    assert mapping == {0: 0, 1: 1, 2: -1}
    assert ev.accuracy(ev.apply_mapping(codes, mapping), labels) == pytest.approx(4 / 6)
    assert ev.purity(codes, labels, 3, 2) == pytest.approx(5 / 6)
    # ARI by hand: sum C(n_ij,2) = 1 + 1 = 2; rows: C(2,2)+C(3,2)+0 = 4; cols: C(3,2)*2 = 6; C(6,2) = 15
    expected_ari = (2 - 4 * 6 / 15) / (0.5 * (4 + 6) - 4 * 6 / 15)
    assert ev.adjusted_rand_index(codes, labels, 3, 2) == pytest.approx(expected_ari)
    # NMI by hand (natural logs): I / mean(H(codes), H(labels))
    p = np.array([[2, 0], [1, 2], [0, 1]]) / 6
    pc, pl = p.sum(1), p.sum(0)
    mi = sum(p[i, j] * np.log(p[i, j] / (pc[i] * pl[j])) for i in range(3) for j in range(2) if p[i, j] > 0)
    h = lambda q: -sum(x * np.log(x) for x in q if x > 0)  # noqa: E731
    assert ev.normalized_mutual_information(codes, labels, 3, 2) == pytest.approx(mi / (0.5 * (h(pc) + h(pl))))


@pytest.mark.parametrize("text,message", [
    ("", "is empty"),
    ("1,2,3", "has 3 entries; it needs 10"),
    ("0,1,2,3,4,5,6,7,8,9,1", "has 11 entries"),
    ("0,1,2,3,4,5,6,7,8,x", "entry 9 ('x') is not an integer"),
    ("0,1,2,3,4,5,6,7,8,2.5", "entry 9 ('2.5') is not an integer"),
    ("0,1,2,3,,5,6,7,8,9", "entry 4 is empty"),
    ("0,1,2,3,4,5,6,7,8,10", "entry 9 is 10; categories are 0..9"),
    ("0,1,2,3,4,5,6,7,8,-1", "entry 9 is -1"),
    ("0,1,2,3,4,5,6,7,8,3", "category 3 appears more than once (entries 3, 9)"),
])
def test_parse_encodings_errors(text, message):
    with pytest.raises(EncodingsError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        parse_encodings(text, 10)


def test_parse_encodings_accepts_spaces_and_newlines():
    assert parse_encodings(" 6, 5,9,2 ,1,8,3,0,4,7 \n\n", 10) == [6, 5, 9, 2, 1, 8, 3, 0, 4, 7]


def test_auc_matrix_against_pair_counting():
    rng = np.random.default_rng(5)
    scores = np.round(rng.normal(size=(60, 3)), 1)  # rounded: ties happen
    targets = (rng.random((60, 2)) < 0.4).astype(int)
    targets[:, 1] = (scores[:, 0] > 0).astype(int)  # a perfectly predicted target
    auc = ev.auc_matrix(scores, targets)
    for a in range(2):
        pos, neg = scores[targets[:, a] == 1], scores[targets[:, a] == 0]
        for s in range(3):
            greater = (pos[:, s][:, None] > neg[:, s][None, :]).sum()
            ties = (pos[:, s][:, None] == neg[:, s][None, :]).sum()
            assert auc[a, s] == pytest.approx((greater + 0.5 * ties) / (len(pos) * len(neg)))
    assert auc[1, 0] == 1.0
    assert np.isnan(ev.auc_matrix(scores, np.zeros((60, 1)))[0, 0])  # no positives


# ---------------------------------------------------------------------------------------------------------
# Independent computations


def counts_by_loop(codes, labels, n_codes, n_labels):
    """counts[c][l]: samples with code c and label l, as nested lists of Python ints."""
    counts = [[0] * n_labels for _ in range(n_codes)]
    for c, label in zip(np.asarray(codes).tolist(), np.asarray(labels).tolist()):
        counts[c][label] += 1
    return counts


def best_by_brute_force(counts):
    """The most samples any one-to-one assignment of codes to labels gets right, trying every assignment.
    With more codes than labels each label gets its own code (the other codes label nothing); with fewer,
    each code gets its own label."""
    n_codes, n_labels = len(counts), len(counts[0])
    if n_codes >= n_labels:
        return max(sum(counts[code_of[label]][label] for label in range(n_labels))
                   for code_of in itertools.permutations(range(n_codes), n_labels))
    return max(sum(counts[code][label_of[code]] for code in range(n_codes))
               for label_of in itertools.permutations(range(n_labels), n_codes))


def textbook_nmi(counts):
    """I(C; L) / ((H(C) + H(L)) / 2) in float64, natural logs:
    I = sum_cl p_cl ln(p_cl / (p_c p_l)), H(C) = -sum_c p_c ln p_c."""
    n = sum(map(sum, counts))
    rows = [sum(r) for r in counts]
    cols = [sum(r[j] for r in counts) for j in range(len(counts[0]))]
    mutual = sum(n_cl / n * math.log(n_cl * n / (rows[c] * cols[j]))
                 for c, r in enumerate(counts) for j, n_cl in enumerate(r) if n_cl)
    h_c = -sum(k / n * math.log(k / n) for k in rows if k)
    h_l = -sum(k / n * math.log(k / n) for k in cols if k)
    return mutual / ((h_c + h_l) / 2)


def textbook_ari(counts):
    """Hubert & Arabie's adjusted Rand index, exactly (rational arithmetic on pair counts):
    (sum_cl C(n_cl, 2) - E) / ((a + b) / 2 - E), a = sum_c C(n_c, 2), b = sum_l C(n_l, 2), E = a b / C(n, 2)."""
    n = sum(map(sum, counts))
    rows = [sum(r) for r in counts]
    cols = [sum(r[j] for r in counts) for j in range(len(counts[0]))]
    index = sum(math.comb(n_cl, 2) for r in counts for n_cl in r)
    a, b = sum(math.comb(k, 2) for k in rows), sum(math.comb(k, 2) for k in cols)
    expected = Fraction(a * b, math.comb(n, 2))
    return (index - expected) / (Fraction(a + b, 2) - expected)


# Float tolerances. textbook_nmi and evaluation's NMI each add at most 100 float64 terms of size at most
# ln(n) < 7 (n <= 300 samples), so each sum is off by at most about 100 * 7 * 2**-52 = 2e-13, the entropies
# in the denominator are at least ln(2) / 2 in every case below (two or more labels, asserted), and the ratio
# is then off by less than 1e-12. The ARI here is exact; evaluation's float64 version has a handful of
# operations on integers below 2**53, a relative error of some 2**-52 each on a value of size <= 1.
NMI_TOLERANCE = 1e-11
ARI_TOLERANCE = 1e-12


def random_case(n_codes, n_labels, n, seed):
    """Codes that follow the labels through a random assignment 60% of the time, random otherwise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_labels, n)
    code_of_label = (rng.permutation(n_codes)[:n_labels] if n_codes >= n_labels
                     else rng.integers(0, n_codes, n_labels))
    codes = np.where(rng.random(n) < 0.6, code_of_label[labels], rng.integers(0, n_codes, n))
    return codes, labels


# (codes, labels, samples, seed): as many codes as labels, more codes than labels (some codes unused at
# n = 40), fewer codes than labels
CASES = [(4, 4, 60, 1), (6, 6, 300, 2), (7, 4, 40, 3), (10, 3, 120, 4), (6, 5, 200, 5), (3, 5, 150, 6)]


@pytest.mark.parametrize("n_codes,n_labels,n,seed", CASES)
def test_hungarian_mapping_and_report_against_brute_force(n_codes, n_labels, n, seed):
    codes, labels = random_case(n_codes, n_labels, n, seed)
    counts = counts_by_loop(codes, labels, n_codes, n_labels)
    best = best_by_brute_force(counts)
    rows, cols = linear_sum_assignment(np.array(counts), maximize=True)  # scipy directly, on our own counts
    assert sum(counts[r][c] for r, c in zip(rows, cols)) == best

    mapping = ev.hungarian_mapping(codes, labels, n_codes, n_labels)
    assert sorted(mapping) == list(range(n_codes))
    assigned = {code: label for code, label in mapping.items() if label != -1}
    assert len(assigned) == min(n_codes, n_labels) and len(set(assigned.values())) == len(assigned)  # 1-to-1
    assert set(assigned.values()) <= set(range(n_labels))
    assert sum(counts[code][label] for code, label in assigned.items()) == best
    assert ev.accuracy(ev.apply_mapping(codes, mapping), labels) == best / n

    report = ev.classification_report(codes, labels, n_codes, n_labels, mapping)
    assert report["accuracy"] == best / n and report["errors"] == n - best
    confusion = [[0] * n_labels for _ in range(n_labels)]  # rows: true label, columns: predicted label
    for c, label in zip(codes.tolist(), labels.tolist()):
        if c in assigned:
            confusion[label][assigned[c]] += 1
    assert report["confusion_matrix"] == confusion
    for label in range(n_labels):
        members = [c for c, true in zip(codes.tolist(), labels.tolist()) if true == label]
        right = sum(assigned.get(c) == label for c in members)
        assert report["per_class_accuracy"][label] == right / len(members)
    assert report["purity"] == sum(max(r) for r in counts) / n
    assert len([k for k in map(sum, zip(*counts)) if k]) >= 2  # two labels or more (NMI_TOLERANCE)
    assert report["nmi"] == pytest.approx(textbook_nmi(counts), abs=NMI_TOLERANCE)
    assert report["ari"] == pytest.approx(float(textbook_ari(counts)), abs=ARI_TOLERANCE)
    if n_codes >= n_labels:  # entry i: the code that stands for label i
        assert report["encodings"] == [next(c for c, lab in assigned.items() if lab == i) for i in range(n_labels)]
    else:
        assert report["encodings"] is None


def test_more_codes_than_labels_by_hand():
    """Counts [[5, 4], [4, 0], [0, 1]] (codes x labels): taking each label's largest count greedily
    (code 0 -> label 0, then code 2 -> label 1) gets 6 of 14 right; the best assignment is code 0 -> label 1,
    code 1 -> label 0, code 2 unused: 8 of 14."""
    codes = np.array([0] * 9 + [1] * 4 + [2])
    labels = np.array([0] * 5 + [1] * 4 + [0] * 4 + [1])
    mapping = ev.hungarian_mapping(codes, labels, 3, 2)
    assert mapping == {0: 1, 1: 0, 2: -1}
    report = ev.classification_report(codes, labels, 3, 2, mapping)
    assert report["accuracy"] == 8 / 14 and report["errors"] == 6
    # rows: true label; code 2's one sample (label 1) is predicted as nothing, so row 1 holds 4 of its 5
    assert report["confusion_matrix"] == [[4, 5], [0, 4]]
    assert report["per_class_accuracy"] == [4 / 9, 4 / 5]
    assert report["encodings"] == [1, 0]
    assert report["purity"] == (5 + 4 + 1) / 14


@pytest.mark.parametrize("n_codes,n_labels,n,seed", CASES)
def test_nmi_and_ari_against_textbook_formulas(n_codes, n_labels, n, seed):
    codes, labels = random_case(n_codes, n_labels, n, seed + 100)
    counts = counts_by_loop(codes, labels, n_codes, n_labels)
    assert ev.normalized_mutual_information(codes, labels, n_codes, n_labels) == pytest.approx(
        textbook_nmi(counts), abs=NMI_TOLERANCE)
    assert ev.adjusted_rand_index(codes, labels, n_codes, n_labels) == pytest.approx(
        float(textbook_ari(counts)), abs=ARI_TOLERANCE)
    # both are symmetric in the two partitions
    assert ev.normalized_mutual_information(labels, codes, n_labels, n_codes) == pytest.approx(
        textbook_nmi(counts), abs=NMI_TOLERANCE)
    assert ev.adjusted_rand_index(labels, codes, n_labels, n_codes) == pytest.approx(
        float(textbook_ari(counts)), abs=ARI_TOLERANCE)


def test_nmi_and_ari_of_identical_and_relabelled_partitions():
    labels = np.array([0, 0, 1, 1, 1, 2, 2, 3])
    relabelled = np.array([3, 0, 2, 1])[labels]  # the same partition under other names
    assert ev.normalized_mutual_information(relabelled, labels, 4, 4) == pytest.approx(1.0, abs=NMI_TOLERANCE)
    assert ev.adjusted_rand_index(relabelled, labels, 4, 4) == pytest.approx(1.0, abs=ARI_TOLERANCE)
    # splitting every class in two keeps all the information about the labels but not the normalised NMI:
    # I = H(L), H(C) = H(L) + ln 2 for classes split evenly, so NMI = 2 H(L) / (2 H(L) + ln 2)
    balanced = np.repeat(np.arange(4), 4)
    split = 2 * balanced + np.tile([0, 0, 1, 1], 4)
    h = math.log(4)
    assert ev.normalized_mutual_information(split, balanced, 8, 4) == pytest.approx(2 * h / (2 * h + math.log(2)),
                                                                                  abs=NMI_TOLERANCE)


def test_score_categorical_variables_with_more_values_than_labels():
    """One dict per variable: accuracy under the best one-to-one mapping (brute force), NMI (textbook), and a
    mapping that gives that accuracy; a block of probabilities counts by its argmax."""
    codes7, labels = random_case(7, 4, 80, 11)
    codes4, _ = random_case(4, 4, 80, 12)
    rng = np.random.default_rng(13)
    probabilities = rng.dirichlet(np.ones(5), 80)
    blocks = [np.eye(7)[codes7], np.eye(4)[codes4], probabilities]
    scores = ev.score_categorical_variables(blocks, labels, 4)
    assert [s["variable"] for s in scores] == [1, 2, 3]
    for score, values, n_values in zip(scores, (codes7, codes4, probabilities.argmax(axis=1)), (7, 4, 5)):
        counts = counts_by_loop(values, labels, n_values, 4)
        assert score["accuracy"] == best_by_brute_force(counts) / 80
        assert score["nmi"] == pytest.approx(textbook_nmi(counts), abs=NMI_TOLERANCE)
        predicted = [score["mapping"][v] for v in values.tolist()]
        assert sum(p == label for p, label in zip(predicted, labels.tolist())) / 80 == score["accuracy"]


def test_auc_matrix_edge_cases_by_counting():
    scores = np.array([[0.1], [0.4], [0.4], [0.9]])
    # target 0: positives {0.4, 0.9} against negatives {0.1, 0.4}: pairs won 1 + 0.5 (tie) + 1 + 1 of 4
    # target 1: the reverse order: positive {0.1} below every negative, AUC 0; target 2: no negative, NaN
    targets = np.array([[0, 1, 1], [0, 0, 1], [1, 0, 1], [1, 0, 1]])
    auc = ev.auc_matrix(scores, targets)
    assert auc.shape == (3, 1)
    assert auc[0, 0] == pytest.approx(3.5 / 4, abs=1e-12) and auc[1, 0] == pytest.approx(0.0, abs=1e-12)
    assert np.isnan(auc[2, 0])


def test_an_over_clustered_variable_is_read_many_to_one():
    """20 values, digit k split evenly between values 2k and 2k+1: one-to-one maps only ten values (half the images
    right), purity reads each value as its most common digit (all right), and the lines say which is which."""
    from types import SimpleNamespace

    from bidirectional_infogan.evaluate import scoring
    labels = np.repeat(np.arange(10), 100)
    values = 2 * labels + np.tile([0, 1], 500)
    one_hot = np.eye(20)[values]
    inputs = SimpleNamespace(test=SimpleNamespace(labels=labels, n_classes=10), iteration=7,
                             parts=SimpleNamespace(categorical=[one_hot, np.eye(10)[labels]]))
    result = scoring.variable_scores(inputs)
    over, plain = result["variables"]
    assert (over["n_values"], plain["n_values"], over["n_classes"]) == (20, 10, 10)
    assert over["accuracy"] == pytest.approx(0.5) and over["purity"] == 1.0
    lines = scoring.variable_lines(result)
    assert any("many-to-one accuracy" in line for line in lines)
    result["variables"] = [plain]
    assert not any("many-to-one" in line for line in scoring.variable_lines(result))


@pytest.mark.parametrize("n_codes, n_labels, n, seed", [(20, 10, 500, 0), (7, 10, 60, 1), (12, 3, 40, 2), (30, 3, 20, 3)])
def test_majority_mapping_reads_each_code_as_its_most_common_label(n_codes, n_labels, n, seed):
    """Counted per code by hand: the mapped label is one of the most common labels of the code's samples (ties
    may go either way), a code no sample takes maps to -1; the reading's accuracy is then the purity."""
    rng = np.random.default_rng(seed)
    codes, labels = rng.integers(0, n_codes, n), rng.integers(0, n_labels, n)
    mapping = ev.majority_mapping(codes, labels, n_codes, n_labels)
    assert sorted(mapping) == list(range(n_codes))
    right = 0
    for code in range(n_codes):
        members = [int(label) for c, label in zip(codes, labels) if c == code]
        if not members:
            assert mapping[code] == -1
            continue
        most = max(members.count(label) for label in set(members))
        assert members.count(mapping[code]) == most
        right += most
    assert np.mean(ev.apply_mapping(codes, mapping) == labels) == pytest.approx(right / n, abs=1e-12)
    assert ev.purity(codes, labels, n_codes, n_labels) == pytest.approx(right / n, abs=1e-12)
