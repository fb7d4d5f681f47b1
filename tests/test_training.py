"""The training step, the learning-rate schedule and the batch order."""

import json
import math

import numpy as np
import pytest
import tensorflow as tf

from bidirectional_infogan import latent, training
from bidirectional_infogan.config import TrainConfig, mnist_model_config
from bidirectional_infogan.training import BidirectionalInfoGAN, ShuffledBatches, learning_rate_schedule

tf.config.experimental.enable_op_determinism()


def _state(model):
    variables = model.generator.variables + model.encoder.variables + model.discriminator.variables
    return variables, [v.numpy().copy() for v in variables]


def test_one_step_updates_d_from_d_loss_and_g_e_from_g_loss():
    """Recompute the gradients independently (same forward pass, same noise), then check every weight
    against Adam's first step: w - lr * g / (|g| + eps / sqrt(1 - beta2))."""
    cfg = mnist_model_config()
    tcfg = TrainConfig(batch_size=16, seed=7)
    model = BidirectionalInfoGAN(cfg, tcfg)
    rng = np.random.default_rng(0)
    images = rng.random((16, 28, 28, 1), dtype=np.float32)
    z, c = latent.sample_latent(cfg, rng, 16)
    variables, before = _state(model)

    metrics = model.train_step(images, z, c)
    assert all(np.isfinite(float(v)) for v in metrics.values())
    assert int(model.step.numpy()) == 1
    assert int(model.d_optimizer.iterations.numpy()) == 1 and int(model.ge_optimizer.iterations.numpy()) == 1
    after = {v.path: v.numpy().copy() for v in variables}

    for v, value in zip(variables, before):  # back to the state before the step, noise state included
        v.assign(value)
    eps = 1e-8
    images, z, c = tf.constant(images), tf.constant(z), tf.constant(c)
    with tf.GradientTape(persistent=True) as tape:
        code = tf.concat([z, c], axis=1)
        fake = model.generator(code, training=True)
        real_code = model.encoder(images, training=True)
        d_real = model.discriminator([images, real_code], training=True)
        d_fake = model.discriminator([fake, code], training=True)
        recovered = model.encoder(fake, training=True)
        d_loss = -tf.reduce_mean(tf.math.log(d_real + eps) + tf.math.log(1 - d_fake + eps))
        cat = tf.reduce_mean(-tf.reduce_sum(c[:, :10] * tf.math.log(recovered[:, 16:26] + eps), axis=1))
        cont = tf.reduce_mean(tf.reduce_sum(0.5 * math.log(2 * math.pi) + 0.5 * (c[:, 10:] - recovered[:, 26:]) ** 2, axis=1))
        g_loss = -tf.reduce_mean(tf.math.log(d_fake + eps) + tf.math.log(1 - d_real + eps)) + cat + cont
    assert float(metrics["D_loss"]) == pytest.approx(float(d_loss), rel=1e-5)
    assert float(metrics["G_loss"]) == pytest.approx(float(g_loss), rel=1e-5)
    assert float(metrics["c gen cat"]) == pytest.approx(float(cat), rel=1e-5)

    checked = []
    bn_layers = {layer.name for m in (model.generator, model.encoder, model.discriminator) for layer in m.layers
                 if layer.name.endswith("_bn")}

    def check(var_list, loss, lr):
        grads = tape.gradient(loss, var_list)
        for v, g in zip(var_list, grads):
            g = g.numpy()
            assert np.any(g != 0), f"{v.path} gets no gradient"
            expected = v.numpy() - lr * g / (np.abs(g) + 1e-8 / math.sqrt(1 - 0.999))
            # A bias followed by batch norm has an exactly-zero gradient in exact arithmetic; what is left is
            # round-off, which Adam's normalised step turns into arbitrary moves of at most lr. Compare the
            # other weights exactly (where the gradient is not tiny), and bound the moves of all.
            layer = v.path.split("/")[0]
            before_bn = v.path.endswith("/bias") and f"{layer}_bn" in bn_layers
            real = (np.abs(g) > 1e-6) & (not before_bn)
            np.testing.assert_allclose(after[v.path][real], expected[real], atol=3e-6, rtol=0, err_msg=v.path)
            assert np.all(np.abs(after[v.path] - v.numpy()) <= lr + 1e-6), v.path  # float32 round-off
            checked.append((real.sum(), real.size))

    check(model.discriminator.trainable_variables, d_loss, 1e-4)
    check(model.generator.trainable_variables + model.encoder.trainable_variables, g_loss, 5e-4)
    assert sum(n for n, _ in checked) > 0.95 * sum(size for _, size in checked)  # most weights compared exactly
    # batch-norm moving statistics of all three networks moved
    for v in variables:
        if "moving_mean" in v.path:
            assert not np.array_equal(after[v.path], np.zeros_like(after[v.path])), v.path


def test_encoder_batch_norm_statistics_are_updated_once_per_call():
    """E is applied twice per step (to X and to G(z, c)); each call moves its moving averages."""
    cfg = mnist_model_config()
    model = BidirectionalInfoGAN(cfg, TrainConfig(batch_size=8, seed=1))
    rng = np.random.default_rng(1)
    images = rng.random((8, 28, 28, 1), dtype=np.float32)
    z, c = latent.sample_latent(cfg, rng, 8)
    fake = model.generator(tf.concat([z, c], 1), training=True)  # as in the step: batch statistics
    bn = model.encoder.get_layer("e_conv0_bn")
    pre = model.encoder.get_layer("e_conv0")
    mean_real = pre(images).numpy().mean(axis=(0, 1, 2))
    mean_fake = pre(fake).numpy().mean(axis=(0, 1, 2))
    model.train_step(images, z, c)
    expected = (0.999 * (0.999 * 0 + 0.001 * mean_real) + 0.001 * mean_fake)
    np.testing.assert_allclose(bn.moving_mean.numpy(), expected, rtol=1e-3, atol=1e-7)


def test_polynomial_decay_schedule():
    schedule = learning_rate_schedule(5e-4, 30000, 5.0)
    end = 5e-4 / 5
    for step in (0, 1, 7500, 15000, 29999, 30000, 45000):
        expected = (5e-4 - end) * (1 - min(step, 30000) / 30000) ** 0.5 + end
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-5)


def test_shuffled_batches_are_epochs_and_pure():
    batches = ShuffledBatches(n_items=10, batch_size=4, seed=3)
    stream = np.concatenate([batches.indices(i) for i in range(5)])  # 20 items = 2 epochs
    assert sorted(stream[:10]) == list(range(10)) and sorted(stream[10:]) == list(range(10))
    assert not np.array_equal(stream[:10], stream[10:])  # each epoch reshuffled
    fresh = ShuffledBatches(n_items=10, batch_size=4, seed=3)
    assert np.array_equal(fresh.indices(2), batches.indices(2))  # a batch spanning two epochs
    assert not np.array_equal(ShuffledBatches(10, 4, seed=4).indices(0), batches.indices(0))
    with pytest.raises(ValueError):
        ShuffledBatches(n_items=3, batch_size=4, seed=0)


def test_session_timing_line_follows_the_checkpoints(tmp_path):
    """The session's line is rewritten at each checkpoint, so a process killed without warning leaves a line
    that covers exactly the checkpointed iterations; earlier sessions' lines are kept as they were."""
    earlier = '{"from_iteration": 0, "to_iteration": 10, "seconds": 5.0}\n'
    (tmp_path / "timing.jsonl").write_text(earlier)
    timing = training.SessionTiming(tmp_path, first=10)
    timing.saved(10)  # nothing trained yet in this session
    assert (tmp_path / "timing.jsonl").read_text() == earlier
    timing.saved(20)
    timing.saved(30)
    lines = (tmp_path / "timing.jsonl").read_text().splitlines()
    assert lines[0] == earlier.strip() and len(lines) == 2
    record = json.loads(lines[1])
    assert (record["from_iteration"], record["to_iteration"]) == (10, 30)
    assert record["cpus"] >= 1 and record["tensorflow"] == tf.__version__
    assert not list(tmp_path.glob("*.partial"))
