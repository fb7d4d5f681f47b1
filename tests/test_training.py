"""The training step, the learning-rate schedule and the batch order."""

import json
import math
import shutil
import subprocess

import numpy as np
import pytest
import tensorflow as tf

from bidirectional_infogan.model import latent
from bidirectional_infogan.train import training
from bidirectional_infogan.model.config import TrainConfig, mnist_model_config
from bidirectional_infogan.model.gan import BidirectionalInfoGAN, learning_rate_schedule
from bidirectional_infogan.train.training import ShuffledBatches

tf.config.experimental.enable_op_determinism()


# Adam's first step is u(g) = lr * g / (|g| + eps_hat), eps_hat = eps / sqrt(1 - beta2): m_hat = g, v_hat = g^2.
EPS_HAT = 1e-8 / math.sqrt(1 - 0.999)
# Keras computes the step in float32. Its constants carry a relative error: beta2 = 0.999 rounds to within
# 2^-25 (half an ulp), i.e. 3e-5 relative to 1 - beta2, halved by the square root in the bias correction
# (1.5e-5); a dozen float32 operations add about 1e-6. So |u_keras - u(g)| <= 2e-5 |u(g)|.
ADAM_CONSTANTS_REL = 2e-5
# The step computes its gradients inside tf.function (fused oneDNN kernels), the test recomputes them eagerly,
# so the two differ by float32 round-off. That round-off is not relative to each element: batch norm's
# backward pass subtracts per-channel means, and a weight's gradient sums products whose size is set by the
# largest gradients of its tensor. So we bound the error of every element by GRADIENT_REL times the largest
# |g| of its tensor. The test builds its networks with He initialisation: the step's wiring does not depend on
# the initialisation, and the original one (stddev sqrt(2 / kernel height), weights near 0.8) makes
# pre-batch-norm values so large that float32 cancellation moves gradients by up to 2.5e-3 of that scale
# (measured on an AMD EPYC Zen 4), where He initialisation gives 4e-5. 1e-3 (about 2^14 float32 ulps) leaves a
# factor 25 for other processors and still bounds 95% of the weights to within 1% of the step (checked below),
# so a wrong learning rate, epsilon, loss or variable list fails.
GRADIENT_REL = 1e-3


def adam_first_step(g, lr):
    g = g.astype(np.float64)
    return lr * g / (np.abs(g) + EPS_HAT)


def adam_first_step_tolerance(g, w_after, lr):
    """The largest |u_keras(g') - u(g)| for a gradient g' within delta = GRADIENT_REL * max|g| of g.

    u is monotonic with slope u'(x) = lr * eps_hat / (|x| + eps_hat)^2, largest where |x| is smallest, so
    |u(g') - u(g)| <= delta * lr * eps_hat / (max(|g| - delta, 0) + eps_hat)^2, and never more than 2 lr. Add
    Keras's float32 constants (ADAM_CONSTANTS_REL) and the rounding of w - u to float32 (half an ulp of the
    result; we allow one).
    """
    g = np.abs(g.astype(np.float64))
    delta = GRADIENT_REL * g.max()
    slope_bound = lr * EPS_HAT / (np.maximum(g - delta, 0) + EPS_HAT) ** 2
    from_gradient = np.minimum(delta * slope_bound, 2 * lr)
    return from_gradient + ADAM_CONSTANTS_REL * lr * g / (g + EPS_HAT) + np.spacing(np.abs(w_after)).astype(np.float64)


def _state(model):
    variables = model.generator.variables + model.encoder.variables + model.discriminator.variables
    return variables, [v.numpy().copy() for v in variables]


@pytest.mark.parametrize("d_batch_statistics", ["separate", "joint"])
def test_one_step_updates_d_from_d_loss_and_g_e_from_g_loss(d_batch_statistics):
    """Recompute the gradients independently (same forward pass, same noise), then check every weight
    against Adam's first step, w - lr * g / (|g| + eps / sqrt(1 - beta2)), within the error that float32
    gradients from another code path can cause (adam_first_step_tolerance). 'separate' calls D once on the real
    pairs and once on the generated ones (the original); 'joint' calls it once on both."""
    cfg = mnist_model_config(initialisation="he")  # see GRADIENT_REL
    tcfg = TrainConfig(batch_size=16, seed=7, d_batch_statistics=d_batch_statistics)
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
        if d_batch_statistics == "joint":
            both = model.discriminator([tf.concat([images, fake], 0), tf.concat([real_code, code], 0)],
                                       training=True)
            d_real, d_fake = both[:16], both[16:]
        else:
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

    bn_layers = {layer.name for m in (model.generator, model.encoder, model.discriminator) for layer in m.layers
                 if layer.name.endswith("_bn")}
    tight = total = 0

    def check(var_list, loss, lr):
        nonlocal tight, total
        grads = tape.gradient(loss, var_list)
        for v, g in zip(var_list, grads):
            g = g.numpy()
            assert np.any(g != 0), f"{v.path} gets no gradient"
            moved = after[v.path].astype(np.float64) - v.numpy()
            layer = v.path.split("/")[0]
            if v.path.endswith("/bias") and f"{layer}_bn" in bn_layers:
                # A bias followed by batch norm has an exactly-zero gradient in exact arithmetic; what is left
                # is round-off, which Adam's normalised step turns into an arbitrary move of at most lr.
                assert np.all(np.abs(moved) <= lr * (1 + ADAM_CONSTANTS_REL) + np.spacing(lr)), v.path
                continue
            tolerance = adam_first_step_tolerance(g, after[v.path], lr)
            expected = -adam_first_step(g, lr)
            np.testing.assert_array_less(np.abs(moved - expected), tolerance, err_msg=v.path)
            tight += int(np.sum(tolerance < 0.01 * lr))
            total += g.size

    check(model.discriminator.trainable_variables, d_loss, 1e-4)
    check(model.generator.trainable_variables + model.encoder.trainable_variables, g_loss, 5e-4)
    assert tight > 0.95 * total  # the bound is tight (under 1% of the step) for almost every weight
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
    pre_real, pre_fake = pre(images).numpy().astype(np.float64), pre(fake).numpy().astype(np.float64)
    model.train_step(images, z, c)
    expected = 0.999 * (0.999 * 0 + 0.001 * pre_real.mean(axis=(0, 1, 2))) + 0.001 * pre_fake.mean(axis=(0, 1, 2))
    # The step sums the same N float32 values in another order (and its convolution may round differently):
    # each of the two means is off by at most about N * u * mean(|x|) (u = 2^-24), here weighted by 0.001.
    n, u = pre_real[..., 0].size, 2.0 ** -24
    tolerance = 0.001 * 2 * n * u * (np.abs(pre_real).mean(axis=(0, 1, 2)) + np.abs(pre_fake).mean(axis=(0, 1, 2)))
    np.testing.assert_array_less(np.abs(bn.moving_mean.numpy() - expected), tolerance)
    # the bound is far smaller than what it checks (the fake batch's share), so a missed update fails
    assert np.mean(tolerance < 0.01 * np.abs(0.001 * pre_fake.mean(axis=(0, 1, 2)))) > 0.9


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
    assert record["code"] == training.code_version(training.CODE_FOLDER)
    assert record["vector_extensions"] == training.vector_extensions()
    assert not list(tmp_path.glob("*.partial"))


def test_vector_extensions_name_the_widest():
    line = "flags\t\t: fpu sse2 avx {} fma"
    assert training.vector_extensions(line.format("avx2 avx512f avx512bw")) == "AVX-512"
    assert training.vector_extensions(line.format("avx2 avx512_bf16")) == "AVX2"  # avx512_bf16 alone is not AVX-512F
    assert training.vector_extensions(line.format("")) == "AVX"
    assert training.vector_extensions("processor\t: 0\nFeatures\t: fp asimd") is None  # an ARM cpuinfo


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_code_version_names_the_commit_and_a_changed_checkout(tmp_path, monkeypatch):
    """The commit of a repository made here (read back with git log, not with the function), "-dirty" once a
    tracked file changes (an untracked file does not count), None outside any repository and for an untracked
    copy inside one."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # git finds no repository above tmp_path
    outside = tmp_path / "not_a_repo"
    outside.mkdir()
    assert training.code_version(outside) is None
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "a.py").write_text("x = 1\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "first"]):
        subprocess.run(git + args, check=True)
    commit = subprocess.run(git + ["log", "-1", "--format=%H"], check=True, capture_output=True,
                            text=True).stdout.strip()
    assert len(commit) == 40
    assert training.code_version(repo / "pkg") == commit
    (repo / "pkg" / "new.py").write_text("untracked\n")
    assert training.code_version(repo / "pkg") == commit
    (repo / "results.json").write_text("{}\n")  # a tracked file outside the folder: not the code
    subprocess.run(git + ["add", "results.json"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "results"], check=True)
    commit = subprocess.run(git + ["log", "-1", "--format=%H"], check=True, capture_output=True,
                            text=True).stdout.strip()
    (repo / "results.json").write_text('{"changed": 1}\n')
    assert training.code_version(repo / "pkg") == commit
    (repo / "pkg" / "a.py").write_text("x = 2\n")
    assert training.code_version(repo / "pkg") == commit + "-dirty"
    installed = repo / "venv" / "site-packages" / "pkg"  # a copy inside the repository that git does not track
    installed.mkdir(parents=True)
    (installed / "a.py").write_text("x = 1\n")
    assert training.code_version(installed) is None
