"""The label-free health (health.py): each number on made-up predictions and generators, against values worked
out by hand, and the health file a run writes."""

import json
import math

import numpy as np
import pytest

from bidirectional_infogan.evaluate import health
from bidirectional_infogan.model.config import mnist_model_config


def _one_hot(values, k=10):
    return np.eye(k)[np.asarray(values)]


def test_uniform_confident_predictions_are_healthy():
    p = _one_hot(np.arange(1000) % 10)
    assert health.usage(p) == pytest.approx(1.0) and health.information(p) == pytest.approx(1.0)


def test_all_in_one_value_uses_nothing():
    p = _one_hot(np.zeros(1000, int))
    assert health.usage(p) == pytest.approx(0.0) and health.information(p) == pytest.approx(0.0)


def test_two_merged_values_lower_the_information_not_the_usage():
    """Two kinds of image shared between two values (each image 50/50 between them), as seed 2 put 4s and 9s
    into two shared categories: usage stays 1, information falls by (2 * 0.1 * ln 2) / ln 10 by hand."""
    values = np.arange(1000) % 10
    p = _one_hot(values).astype(np.float64)
    merged = values >= 8
    p[merged] = 0.0
    p[merged, 8] = p[merged, 9] = 0.5
    assert health.usage(p) == pytest.approx(1.0)
    expected = 1.0 - 0.2 * math.log(2) / math.log(10)
    assert health.information(p) == pytest.approx(expected)
    # the order the issue asks for: uniform > merged > collapsed
    uniform, collapsed = _one_hot(values), _one_hot(np.zeros(1000, int))
    assert health.information(uniform) > health.information(p) > health.information(collapsed)


def test_stability_counts_kept_argmax():
    a = _one_hot([0, 1, 2, 3])
    b = _one_hot([0, 1, 5, 5])
    assert health.stability(a, b) == 0.5


def test_combined_is_the_geometric_mean():
    parts = {"usage": 1.0, "information": 0.5, "stability": 0.8, "agreement": 0.9}
    assert health.combined(parts) == pytest.approx((1.0 * 0.5 * 0.8 * 0.9) ** 0.25)
    assert health.combined(dict(parts, usage=0.0)) == 0.0


def test_diversity_is_the_mean_pairwise_rms_distance():
    rng = np.random.default_rng(0)
    images = rng.random((6, 4, 4, 1))
    expected = np.mean([np.sqrt(np.mean((images[i] - images[j]) ** 2)) for i in range(6) for j in range(i + 1, 6)])
    assert health.diversity(images) == pytest.approx(expected, rel=1e-9)


def test_colour_spread_is_the_spread_of_each_images_mean_colour():
    rng = np.random.default_rng(2)
    colours = rng.random((20, 3))  # each image's mean colour
    checkerboard = np.indices((8, 8)).sum(axis=0) % 2 * 0.2 - 0.1  # mean 0: it changes no image's mean colour
    images = colours[:, None, None, :] + checkerboard[None, :, :, None]
    expected = np.sqrt(np.mean([np.std(colours[:, channel]) ** 2 for channel in range(3)]))
    assert health.colour_spread(images) == pytest.approx(expected, rel=1e-9)
    assert health.colour_spread(np.repeat(images[:1], 5, axis=0)) == 0.0


class _MadeUpGenerator:
    """A 'model' whose G draws from `pool` by the code's first z value (a collapsed G has a pool of one image)
    and whose E reads the categorical value back from the image's first pixel."""

    def __init__(self, pool):
        self.cfg = mnist_model_config()
        self.pool = pool

    def generate(self, codes):
        index = ((codes[:, 0] + 1) / 2 * len(self.pool)).astype(int).clip(0, len(self.pool) - 1)
        return self.pool[index]

    def encode(self, images):
        codes = np.zeros((len(images), self.cfg.latent_dim), np.float32)
        values = (images[:, 0, 0, 0] * 10).astype(int).clip(0, 9)
        codes[np.arange(len(images)), self.cfg.z_dim + values] = 1.0
        return codes


def test_the_spread_falls_on_a_collapsing_generator():
    rng = np.random.default_rng(1)
    pool = rng.random((50, 28, 28, 1)).astype(np.float32)
    spread = [health.generator_spread(_MadeUpGenerator(pool[:n])) for n in (50, 5, 1)]
    diversities = [s["diversity"] for s in spread]
    assert diversities[0] > diversities[1] > diversities[2] == 0.0
    entropies = [s["sample_entropy_c1"] for s in spread]
    assert entropies[0] > entropies[2] == pytest.approx(0.0)
    # the colour spread against real images: a G that draws only the darkest few of a grey ramp, then one image
    ramp = np.linspace(0, 1, 50, dtype=np.float32)[:, None, None, None] * np.ones((50, 28, 28, 1), np.float32)
    palette = [health.generator_spread(_MadeUpGenerator(ramp[:n]), real_images=ramp)["colour_spread"]
               for n in (50, 5, 1)]
    assert 0.8 < palette[0] < 1.2 and palette[0] > 5 * palette[1] and palette[2] == 0.0
    assert "colour_spread" not in spread[0]  # without real images


def test_health_records_replace_later_iterations(tmp_path):
    path = tmp_path / "health.jsonl"
    for iteration, value in ((1000, 0.5), (2000, 0.6), (3000, 0.2)):
        health.append_record(path, {"iteration": iteration, "diversity": value})
    health.append_record(path, {"iteration": 2000, "diversity": 0.7})  # a resume from 1000 logs 2000 again
    path.write_text(path.read_text() + '{"iteration": 30')  # and a line cut short by a kill
    health.append_record(path, {"iteration": 3000, "diversity": 0.35})
    records = health.read_records(path)
    assert [(r["iteration"], r["diversity"]) for r in records] == [(1000, 0.5), (2000, 0.7), (3000, 0.35)]
    assert health.final_over_peak(records) == pytest.approx(0.5)
    assert all(json.loads(line) for line in path.read_text().splitlines())


def test_a_low_score_early_in_a_run_is_called_expected(monkeypatch, tmp_path):
    """Issue 43: before iteration health.EARLY_ITERATIONS a score under the threshold is said to be expected, in
    the training log's health line and in evaluate_model.py's verdict; later, or over the threshold, not."""
    from types import SimpleNamespace

    import tensorflow as tf

    from bidirectional_infogan.evaluate import scoring
    from bidirectional_infogan.train import log_step
    assert health.early_note(300, 0.36) == "a low score is expected before iteration 5,000"
    assert health.early_note(health.EARLY_ITERATIONS, 0.36) is None and health.early_note(300, 0.9) is None
    report = {"score": 0.36, "threshold": health.HEALTH_THRESHOLD, "healthy": False, "variables": []}
    monkeypatch.setattr(health, "model_health", lambda *args, **kwargs: report)
    monkeypatch.setattr(health, "generator_spread", lambda *args, **kwargs: {"diversity": 0.001})
    images = np.zeros((health.MIN_IMAGES, 28, 28, 1), np.uint8)

    def verdict(iteration):
        inputs = SimpleNamespace(iteration=iteration, model=None, test=SimpleNamespace(images=images))
        return scoring.health_outcome(inputs).lines[0]
    assert verdict(300) == ("Health without labels: 0.360 (low at iteration 300: a low score is expected before "
                            "iteration 5,000; threshold 0.8, docs/health.md)")
    assert verdict(20000) == "Health without labels: 0.360 (suspect; threshold 0.8, docs/health.md)"
    data = SimpleNamespace(validation_images=images)
    line = log_step.log_health(None, tf.summary.create_noop_writer(), 300, data, tmp_path, 0)
    assert line.startswith("health 0.360 (threshold 0.8; a low score is expected before iteration 5,000), ")
    line = log_step.log_health(None, tf.summary.create_noop_writer(), 20000, data, tmp_path, 0)
    assert line.startswith("health 0.360 (threshold 0.8), ")
