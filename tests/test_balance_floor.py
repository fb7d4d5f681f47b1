"""--balance_target floor (issue 44): the balance term penalises only the values E uses less than prior_floor / K,
so a skewed use of the values (SVHN's digit frequencies) costs nothing while a fading value costs much; checked
against numpy, its gradient by a finite difference, its flags and its wiring into a training step."""

import numpy as np
import pytest
import tensorflow as tf

from bidirectional_infogan.data.svhn import LABEL_COUNTS
from bidirectional_infogan.model import latent, losses
from bidirectional_infogan.model.config import ConfigError, TrainConfig, table2_model_config
from bidirectional_infogan.model.gan import BidirectionalInfoGAN

from conftest import run_cli

SVHN_TEST = np.asarray(LABEL_COUNTS["test"], np.float64) / np.sum(LABEL_COUNTS["test"])


def _by_hand(p: np.ndarray, floor: float) -> float:
    """The penalty in float64: each value whose batch mean m is under floor / K adds (floor / K) ln((floor / K) / m)."""
    level = floor / p.shape[1]
    mean = p.astype(np.float64).mean(axis=0)
    under = mean < level
    return float(np.sum(level * np.log(level / mean[under])))


def _loss(p: np.ndarray, floor: float) -> float:
    return float(losses.balance_floor_loss([tf.constant(p, tf.float32)], floor))


def test_the_penalty_is_the_sum_over_the_values_under_the_floor():
    rng = np.random.default_rng(0)
    skewed = np.r_[0.02, 0.05, 0.1, np.full(7, 0.3)]
    for alpha, floor in ((skewed, 0.5), (np.full(10, 0.1), 0.8), (np.full(10, 1.0), 1.0)):
        p = rng.dirichlet(alpha, 32)
        under = p.mean(axis=0) < floor / 10
        assert 0 < under.sum() < 10  # some values under the floor, some above: the test compares something
        # float32 means of 32 numbers and a log: relative error a few 1e-7; the 1e-8 inside safe_log shifts ln m by
        # at most 1e-8 / m, under 1e-5 for the means here (all above 1e-3)
        assert p.mean(axis=0).min() > 1e-3
        assert _loss(p, floor) == pytest.approx(_by_hand(p, floor), rel=1e-4)


def test_a_skewed_use_of_the_values_costs_nothing_where_the_uniform_term_does():
    """E reads a batch as SVHN's test frequencies (one-hot predictions, 1s 19.6%, 9s 6.1%): above 0.5 / 10 = 5%
    for every digit, so the floor term is 0 and pushes nowhere; the uniform balance term is not 0 there."""
    counts = np.round(SVHN_TEST * 1000).astype(int)
    p = np.repeat(np.eye(10), counts, axis=0).astype(np.float32)
    assert p.mean(axis=0).min() > 0.05
    skewed = tf.Variable(p)
    with tf.GradientTape() as tape:
        floor_term = losses.balance_floor_loss([skewed], 0.5)
    assert float(floor_term) == 0.0
    gradient = tape.gradient(floor_term, skewed)
    assert gradient is None or not np.any(gradient.numpy())
    uniform_term = float(losses.balance_loss([tf.constant(p)]))
    expected_uniform = np.log(10) + np.sum(p.mean(0) * np.log(p.mean(0)))  # the uniform term: ln K - H(mean)
    assert uniform_term == pytest.approx(expected_uniform, rel=1e-4) and expected_uniform > 0.04


def test_a_fading_value_is_penalised_and_pushed_back():
    """Value 7 used by no image: KL(mean || target) gives it a term near 0, the floor term a large one; one gradient
    step on the logits raises E's mean prediction for that value."""
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(32, 10))
    logits[:, 7] = -8.0
    logits = tf.Variable(logits.astype(np.float32))
    p = tf.nn.softmax(logits)
    faded = float(tf.reduce_mean(p[:, 7]))
    assert faded < 1e-4
    assert _loss(p.numpy(), 0.5) == pytest.approx(_by_hand(p.numpy().astype(np.float64), 0.5), rel=1e-3)
    assert _loss(p.numpy(), 0.5) > 0.05 * np.log(0.05 / 1e-4)  # value 7's term alone
    with tf.GradientTape() as tape:
        loss = losses.balance_floor_loss([tf.nn.softmax(logits)], 0.5)
    gradient = tape.gradient(loss, logits)
    stepped = tf.nn.softmax(logits - 1000.0 * gradient)  # value 7's logits rise by about 1.5
    assert float(tf.reduce_mean(stepped[:, 7])) > 2 * faded
    # the gradient against a finite difference on one logit of the faded value
    probe = np.zeros((32, 10), np.float32)
    probe[3, 7] = 1e-2
    changed = float(losses.balance_floor_loss([tf.nn.softmax(logits + probe)], 0.5))
    assert changed - float(loss) == pytest.approx(1e-2 * float(gradient[3, 7]), rel=0.05)


def test_the_floor_needs_its_flags_right(capsys, tmp_path):
    TrainConfig(balance_target="floor", balance_weight=1.0).validate()
    TrainConfig(balance_target="floor", balance_weight=1.0, prior_floor=0.8).validate()  # no learned prior needed
    with pytest.raises(ConfigError, match="needs --balance_weight above 0"):
        TrainConfig(balance_target="floor").validate()
    with pytest.raises(ConfigError, match="penalises nothing"):
        TrainConfig(balance_target="floor", balance_weight=1.0, prior_floor=0.0).validate()
    with pytest.raises(ConfigError, match="needs --categorical_prior learned or --balance_target floor"):
        TrainConfig(prior_floor=0.8).validate()
    with pytest.raises(SystemExit) as stop:
        run_cli(["--balance_target", "floors", "--log_dir", tmp_path])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'floor'" in err


@pytest.mark.slow
def test_a_step_with_the_floor_logs_it_as_the_balance_term():
    """The step's balance metric is the floor penalty of E's training-mode prediction before the step."""
    cfg = table2_model_config("svhn", z_dim=8, categorical_dims=(4, 4), continuous_dim=2, initialisation="he")
    model = BidirectionalInfoGAN(cfg, TrainConfig(batch_size=8, seed=3, real_terms_variables=1,
                                                  balance_weight=1.0, balance_target="floor", prior_floor=1.0))
    rng = np.random.default_rng(5)
    images = rng.random((8,) + cfg.image_shape, dtype=np.float32)
    z, c = latent.sample_latent(cfg, rng, 8, model.prior_values())
    first = latent.split_latent(cfg, model.encoder(images, training=True)).categorical[0].numpy()
    metrics = model.train_step(images, z, c)
    expected = _by_hand(first.astype(np.float64), 1.0)  # floor 1: every value under 1 / K counts
    assert expected > 0
    assert float(metrics["balance"]) == pytest.approx(expected, rel=1e-3)
