"""Accuracy under a mapping, the Hungarian mapping, NMI, ARI and purity on cases with known answers."""

import numpy as np
import pytest

from bidirectional_infogan import evaluation as ev
from bidirectional_infogan.evaluate_cli import EncodingsError, parse_encodings

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
