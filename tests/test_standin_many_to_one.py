"""A first categorical variable with more values than digits (--first_categorical_values, over-clustering) read
many-to-one: scripts/svhn_standin/standin_scores.py's reading and standin_table.py's table of it."""

import dataclasses

import numpy as np
import pytest

import standin_table  # each scripts/ folder is on pytest's pythonpath
from test_standin_scoring import CFG, made_up_factors, one_hot, score_standin


def test_an_over_clustered_first_variable_is_read_many_to_one_too():
    """--first_categorical_values 20: digit d split between values d and d + 10 except that 8s and 9s share
    value 8 (and value 9 is 9s' alone, a few). One-to-one maps ten values; the many-to-one reading makes the
    split digits whole and still loses the merged pair's rarer digit; a 10-valued variable has no such reading."""
    cfg = dataclasses.replace(CFG, categorical_dims=(20, 10, 10, 10))
    rng = np.random.default_rng(3)
    n = 3000
    f = made_up_factors(rng, n)
    digits = f["digit"]
    values = np.where(rng.random(n) < 0.5, digits, digits + 10)
    values[digits == 9] = np.where(rng.random(np.sum(digits == 9)) < 0.1, 9, 8)
    values[digits == 8] = 8
    codes = np.concatenate([rng.random((n, cfg.z_dim)), one_hot(values, 20)] + [one_hot(digits)] * 3
                           + [rng.random((n, 4))], axis=1)
    c1, c2 = score_standin.score_codes(cfg, codes, f)["categorical"][:2]
    assert "many_to_one" not in c2
    reading = c1["many_to_one"]
    expected = {v: (v % 10 if v not in (8, 18, 19) else 8 if v == 8 else -1) for v in range(20)}
    assert {int(k): m for k, m in reading["mapping"].items()} == expected
    recall = [float(np.mean(values[digits == d] % 10 == d)) if d < 8 else float(d == 8) for d in range(10)]
    recall[9] = float(np.mean(values[digits == 9] == 9))
    assert reading["per_digit_recall"] == pytest.approx(recall, abs=1e-12)
    assert reading["accuracy"] == pytest.approx(np.mean([recall[d] for d in digits]), abs=1e-12)
    assert c1["accuracy_digit"] < 0.6 < 0.8 < reading["accuracy"]  # one-to-one: about half of 0-7 lost
    assert any("many-to-one" in line for line in score_standin.table(
        {"iteration": 1, "n_test": n, "categorical": [c1, c2], "continuous": []}))


def test_many_to_one_table_rows():
    """A row per checkpoint in order of iteration: accuracy, recall, the lowest digit and how many values each
    digit has (unused values count for none); a run without the reading prints no such table."""
    recall = [0.5, 1.0, 0.9, 0.875, 1.0, 1.0, 1.0, 1.0, 0.25, 1.0]
    mapping = {str(v): v % 10 for v in range(20)}
    mapping.update({"18": 9, "19": -1})
    point = {"categorical": [{"many_to_one": {"accuracy": 0.85, "per_digit_recall": recall, "mapping": mapping}}]}
    rows = standin_table.many_to_one_table({"checkpoints": {"3000": point, "1000": point}}).splitlines()
    assert rows[0].startswith("| iteration | c1 accuracy, many-to-one |") and len(rows) == 4
    assert rows[2] == ("| 1000 | 85.0% | 50%, 100%, 90%, 88%, 100%, 100%, 100%, 100%, 25%, 100% | 25.0% (digit 8) | "
                       "2, 2, 2, 2, 2, 2, 2, 2, 1, 2 |") and rows[3].startswith("| 3000 |")
