"""The losses against numpy computations of the formulas, and closed forms."""

import math

import numpy as np
import pytest
import tensorflow as tf

from bidirectional_infogan import losses


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
