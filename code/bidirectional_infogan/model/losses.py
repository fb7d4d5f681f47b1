"""Losses of Bidirectional-InfoGAN, as pure functions of tensors.

All logarithms are ln(x + 1e-8), as in the original (it keeps log(0) finite without clipping).
"""

from __future__ import annotations

import math

import tensorflow as tf

LOG_EPSILON = 1e-8
HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def safe_log(x):
    """ln(x + 1e-8) for x >= 0.

    The maximum with 0 changes no value (x is a probability or 1 minus one); it is there because inside a
    tf.function, Grappler's constant folding rewrites (1 - p) + 1e-8 as (1 + 1e-8) - p, and 1 + 1e-8 rounds to 1
    in float32: the epsilon vanished, and a D output of exactly 1.0 (a sigmoid of a logit above about 17) gave
    ln(0) = -inf and NaN gradients. Grappler does not move constants across a maximum.
    """
    return tf.math.log(tf.maximum(x, 0.0) + LOG_EPSILON)


def discriminator_loss(d_real, d_fake):
    """-mean(log D(X, E(X)) + log(1 - D(G(z,c), (z,c))))."""
    return -tf.reduce_mean(safe_log(d_real) + safe_log(1.0 - d_fake))


def generator_adversarial_loss(d_real, d_fake):
    """The adversarial part of the G/E loss, with the labels swapped: -mean(log D(fake) + log(1 - D(real)))."""
    return -tf.reduce_mean(safe_log(d_fake) + safe_log(1.0 - d_real))


def categorical_information_loss(true_one_hots, predicted_probabilities):
    """Cross-entropy between the categorical codes given to G and E's softmax on G's images.

    Takes lists (one entry per categorical variable); returns the sum over variables of the batch mean of
    -sum_k c_k log(c_hat_k).
    """
    total = 0.0
    for c, c_hat in zip(true_one_hots, predicted_probabilities):
        total += tf.reduce_mean(-tf.reduce_sum(c * safe_log(c_hat), axis=1))
    return total


def continuous_information_loss(c, c_hat):
    """Negative log-likelihood of c under a unit-variance Gaussian centred on E's prediction c_hat:
    batch mean of sum_i (0.5 ln(2 pi) + 0.5 (c_i - c_hat_i)^2). A perfect prediction costs 0.5 ln(2 pi)
    per variable."""
    if c.shape[-1] == 0:
        return tf.constant(0.0)
    return tf.reduce_mean(tf.reduce_sum(HALF_LOG_2PI + 0.5 * tf.square(c - c_hat), axis=1))


# ---------------------------------------------------------------------------------------------------------
# Opt-in terms (each off by default; the paper's step has none of them)

def consistency_loss(probabilities, augmented_probabilities):
    """How differently E classifies real images and their augmented copies (--consistency_weight).

    Per categorical variable, the batch mean of KL(p || q) + KL(q || p), halved, where p is E's softmax on an image
    and q on its copy, each KL pulling only its second argument (the first is held fixed), so both predictions
    move towards each other. Summed over the variables; 0 when E gives both the same prediction.
    """
    total = 0.0
    for p, q in zip(probabilities, augmented_probabilities):
        p_fixed, q_fixed = tf.stop_gradient(p), tf.stop_gradient(q)
        kl_pq = tf.reduce_sum(p_fixed * (safe_log(p_fixed) - safe_log(q)), axis=1)
        kl_qp = tf.reduce_sum(q_fixed * (safe_log(q_fixed) - safe_log(p)), axis=1)
        total += 0.5 * tf.reduce_mean(kl_pq + kl_qp)
    return total


def balance_loss(probabilities, targets=None):
    """How unequally E uses the values of each categorical variable on a batch of real images
    (--balance_weight): per variable ln K - H(mean prediction over the batch), summed. 0 when the batch uses
    every value equally often on average, ln K when it puts everything in one value. With `targets` (one prior
    per variable, --balance_target learned) the KL divergence KL(mean prediction || target) instead, which is
    the same thing for a uniform target."""
    total = 0.0
    for i, p in enumerate(probabilities):
        mean = tf.reduce_mean(p, axis=0)
        if targets is None:
            k = tf.cast(tf.shape(p)[1], p.dtype)
            total += tf.math.log(k) + tf.reduce_sum(mean * safe_log(mean))
        else:
            total += tf.reduce_sum(mean * (safe_log(mean) - safe_log(tf.stop_gradient(targets[i]))))
    return total


def balance_floor_loss(probabilities, floor: float):
    """--balance_target floor: E's mean prediction over the batch penalised only where a value gets less than
    floor / K: per variable, the sum over those values of (floor / K) * ln((floor / K) / mean), the positive terms of
    KL(floor / K everywhere || mean). 0 for any use of the values that gives each floor / K or more, a skewed one
    such as SVHN's digit frequencies included; large when a value fades, where the term of KL(mean || target)
    for that value tends to 0 (--balance_target learned let a value fade to 1.7% of the images)."""
    total = 0.0
    for p in probabilities:
        mean = tf.reduce_mean(p, axis=0)
        level = floor / tf.cast(tf.shape(p)[1], p.dtype)
        total += tf.reduce_sum(level * tf.nn.relu(tf.math.log(level) - safe_log(mean)))
    return total


PRIOR_RATE = 0.01  # the learned prior's moving average: about the last 100 batches' mean prediction


def updated_prior(prior, probabilities, floor: float, rate: float = PRIOR_RATE):
    """The learned categorical prior after one batch (--categorical_prior learned): the moving average
    (1 - rate) * prior + rate * (E's mean prediction on the batch), then mixed with the uniform distribution just
    enough that every value keeps at least floor / K: so it cannot collapse onto one value, whatever E does
    (with E putting every image into one value it settles at (1 - floor) * one-hot + floor / K)."""
    average = (1.0 - rate) * prior + rate * tf.reduce_mean(tf.stop_gradient(probabilities), axis=0)
    average /= tf.reduce_sum(average)
    k = tf.cast(tf.size(average), average.dtype)
    lowest = tf.reduce_min(average)
    mix = tf.clip_by_value((floor / k - lowest) / tf.maximum(1.0 / k - lowest, 1e-12), 0.0, 1.0)
    return (1.0 - mix) * average + mix / k


def confidence_loss(probabilities):
    """How unsure E is of each real image's categorical value (--confidence_weight): per variable the batch mean
    of H(prediction), summed. 0 when every image is given one value with certainty, ln K per variable when every
    prediction is uniform. With balance_loss it is IMSAT's mutual information on the real images:
    balance + confidence = ln K - I(c; x) per variable."""
    total = 0.0
    for p in probabilities:
        total -= tf.reduce_mean(tf.reduce_sum(p * safe_log(p), axis=1))
    return total


def gradient_penalty(gradients):
    """R1: the batch mean of the squared norm of D's gradient with respect to its real inputs (a list of
    tensors whose first axis is the batch), summed over the inputs."""
    total = 0.0
    for g in gradients:
        total += tf.reduce_mean(tf.reduce_sum(tf.reshape(tf.square(g), (tf.shape(g)[0], -1)), axis=1))
    return total
