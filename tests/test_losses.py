"""The losses against numpy computations of the formulas, and closed forms."""

import math

import numpy as np
import pytest
import tensorflow as tf

from bidirectional_infogan.model import losses


def np_log(x):
    return np.log(x + 1e-8)


D_REAL = np.array([[0.9], [0.6], [0.999], [0.0]], np.float32)
D_FAKE = np.array([[0.1], [0.5], [1.0], [0.3]], np.float32)


def test_discriminator_loss():
    expected = -np.mean(np_log(D_REAL.astype(np.float64)) + np_log(1 - D_FAKE.astype(np.float64)))
    assert float(losses.discriminator_loss(tf.constant(D_REAL), tf.constant(D_FAKE))) == pytest.approx(expected, rel=1e-5)
    # D(real) = 0 and D(fake) = 1 are finite thanks to the 1e-8
    assert expected == pytest.approx(-(math.log(0.9 + 1e-8) + math.log(0.6 + 1e-8) + math.log(0.999 + 1e-8)
                                       + math.log(1e-8) + math.log(0.9 + 1e-8) + math.log(0.5 + 1e-8)
                                       + math.log(1e-8) + math.log(0.7 + 1e-8)) / 4, rel=1e-9)


def test_generator_adversarial_loss_swaps_the_labels():
    expected = -np.mean(np_log(D_FAKE.astype(np.float64)) + np_log(1 - D_REAL.astype(np.float64)))
    got = float(losses.generator_adversarial_loss(tf.constant(D_REAL), tf.constant(D_FAKE)))
    assert got == pytest.approx(expected, rel=1e-5)


def test_categorical_information_loss_sums_variables():
    c1 = np.eye(3, dtype=np.float32)[[0, 2]]
    p1 = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], np.float32)
    c2 = np.eye(2, dtype=np.float32)[[1, 1]]
    p2 = np.array([[0.5, 0.5], [0.9, 0.1]], np.float32)
    expected = (-(np.log(0.7 + 1e-8) + np.log(0.8 + 1e-8)) / 2) + (-(np.log(0.5 + 1e-8) + np.log(0.1 + 1e-8)) / 2)
    got = float(losses.categorical_information_loss([tf.constant(c1), tf.constant(c2)],
                                                    [tf.constant(p1), tf.constant(p2)]))
    assert got == pytest.approx(expected, rel=1e-5)


def test_continuous_information_loss():
    c = np.array([[0.5, -1.0], [0.0, 0.25]], np.float32)
    c_hat = np.array([[0.0, -1.0], [1.0, 0.5]], np.float32)
    per_sample = (0.5 * np.log(2 * np.pi) * 2 + 0.5 * ((c - c_hat) ** 2).sum(axis=1))
    got = float(losses.continuous_information_loss(tf.constant(c), tf.constant(c_hat)))
    assert got == pytest.approx(per_sample.mean(), rel=1e-6)
    # a perfect prediction costs 0.5 ln(2 pi) per variable
    perfect = float(losses.continuous_information_loss(tf.constant(c), tf.constant(c)))
    assert perfect == pytest.approx(2 * 0.5 * math.log(2 * math.pi), rel=1e-6)


# Logits as D's sigmoid output layer sees them; 30 gives a sigmoid of exactly 1.0 in float32 (1 - 1e-13 rounds
# to 1), as happens in training when D is very sure.
LOGITS_REAL = np.array([[30.0], [2.0], [0.0], [-1.0]], np.float32)
LOGITS_FAKE = np.array([[30.0], [-3.0], [0.5], [1.0]], np.float32)


def _sigmoid64(x):
    return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))


def _expected_value_and_gradients(loss_name):
    """Loss and its gradients with respect to both logit vectors, in float64, from the formulas with the 1e-8."""
    p_real, p_fake = _sigmoid64(LOGITS_REAL), _sigmoid64(LOGITS_FAKE)
    p_real[0], p_fake[0] = 1.0, 1.0  # float32's sigmoid(30)
    n = len(p_real)
    slope_real, slope_fake = p_real * (1 - p_real), p_fake * (1 - p_fake)  # d sigmoid / d logit
    if loss_name == "discriminator_loss":  # -mean(ln(p_real + eps) + ln(1 - p_fake + eps))
        value = -np.mean(np_log(p_real) + np_log(1 - p_fake))
        return value, -slope_real / (p_real + 1e-8) / n, slope_fake / (1 - p_fake + 1e-8) / n
    value = -np.mean(np_log(p_fake) + np_log(1 - p_real))  # generator_adversarial_loss
    return value, slope_real / (1 - p_real + 1e-8) / n, -slope_fake / (p_fake + 1e-8) / n


@pytest.mark.parametrize("loss_name", ["discriminator_loss", "generator_adversarial_loss"])
def test_adversarial_losses_keep_the_epsilon_inside_a_tf_function(loss_name):
    """The training step runs the losses in a tf.function, where Grappler once folded (1 - p) + 1e-8 into
    (1 + 1e-8) - p = 1 - p: a sigmoid of exactly 1.0 then gave an infinite loss and NaN gradients (a table-2 run
    went NaN at iteration 437). Compute the loss and its gradients in a graph, against float64 formulas."""
    loss = getattr(losses, loss_name)

    @tf.function(autograph=False)
    def value_and_gradients(logits_real, logits_fake):
        with tf.GradientTape() as tape:
            tape.watch([logits_real, logits_fake])
            value = loss(tf.sigmoid(logits_real), tf.sigmoid(logits_fake))
        return (value,) + tuple(tape.gradient(value, [logits_real, logits_fake]))

    value, grad_real, grad_fake = (t.numpy() for t in value_and_gradients(tf.constant(LOGITS_REAL),
                                                                          tf.constant(LOGITS_FAKE)))
    expected_value, expected_real, expected_fake = _expected_value_and_gradients(loss_name)
    assert np.isfinite(value) and np.all(np.isfinite(grad_real)) and np.all(np.isfinite(grad_fake))
    # ln(1e-8) = -18.4 is one of the four terms: without the epsilon the loss is infinite
    assert float(value) == pytest.approx(expected_value, rel=1e-5)
    # float32 sigmoid and log: a few ulps relative to the largest gradient (at most 1/4 / n)
    np.testing.assert_allclose(grad_real, expected_real, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grad_fake, expected_fake, rtol=1e-5, atol=1e-7)
