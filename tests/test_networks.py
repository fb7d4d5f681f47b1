"""G, E and D against table 1 of the paper: output shapes, parameter counts derived by hand from the table,
and the initialisers' standard deviations."""

import math

import numpy as np
import pytest

from bidirectional_infogan.model.config import mnist_model_config
from bidirectional_infogan.model.networks import (HeNormalUntruncated, OriginalHeNormal, build_discriminator,
                                                  build_encoder, build_generator)


def conv(k, cin, cout, bn=True):
    """(trainable, batch-norm statistics) of a k x k convolution with bias, plus batch norm."""
    return k * k * cin * cout + cout + (2 * cout if bn else 0), (2 * cout if bn else 0)


def dense(nin, nout, bn=True):
    return nin * nout + nout + (2 * nout if bn else 0), (2 * nout if bn else 0)


def total(*layers):
    return sum(t for t, _ in layers), sum(s for _, s in layers)


# Table 1, restated independently of the code: latent 16 + 10 + 2 = 28.
TABLE1_G = total(dense(28, 3136), conv(4, 64, 128), conv(4, 128, 64), conv(4, 64, 1, bn=False))
# E: 28 -> 26 (3x3 s1 VALID) -> 12 (s2) -> 5 (s2); 5*5*128 = 3200
TABLE1_E = total(conv(3, 1, 32), conv(3, 32, 64), conv(3, 64, 128), dense(3200, 1024),
                 dense(1024, 16, bn=False), dense(1024, 10, bn=False), dense(1024, 2, bn=False))
# D: image 28 -> 13 -> 6, 6*6*128 = 4608; latent 1x1x28 with 1x1 convolutions; joint 512 + 512 = 1024
TABLE1_D = total(conv(3, 1, 64), conv(3, 64, 128), dense(4608, 512),
                 conv(1, 28, 64), conv(1, 64, 128), dense(128, 512),
                 dense(1024, 1024), dense(1024, 1, bn=False))


def counts(model):
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    statistics = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return trainable, statistics


@pytest.fixture(scope="module")
def nets():
    cfg = mnist_model_config()
    return cfg, build_generator(cfg), build_encoder(cfg), build_discriminator(cfg)


def test_parameter_counts_match_table_1(nets):
    _, g, e, d = nets
    assert counts(g) == TABLE1_G == (360961, 6656)
    assert counts(e) == TABLE1_E == (3401692, 2496)
    assert counts(d) == TABLE1_D == (3566017, 4864)


def test_output_shapes_and_ranges(nets):
    cfg, g, e, d = nets
    rng = np.random.default_rng(0)
    code = rng.uniform(-1, 1, (5, 28)).astype(np.float32)
    images = g(code, training=False).numpy()
    assert images.shape == (5, 28, 28, 1)
    assert images.min() >= 0 and images.max() <= 1  # sigmoid
    out = e(images, training=False).numpy()
    assert out.shape == (5, 28)
    assert np.all(np.abs(out[:, :16]) <= 1)  # tanh
    np.testing.assert_allclose(out[:, 16:26].sum(axis=1), 1.0, rtol=1e-5)  # softmax
    assert np.all(out[:, 16:26] >= 0)
    prob = d([images, code], training=False).numpy()
    assert prob.shape == (5, 1) and np.all((prob >= 0) & (prob <= 1))


def test_intermediate_shapes_and_padding(nets):
    _, g, e, d = nets
    shapes = {layer.name: tuple(layer.output.shape[1:]) for m in (g, e, d) for layer in m.layers}
    assert shapes["g_deconv0"] == (14, 14, 128) and shapes["g_deconv1"] == (14, 14, 64)
    assert shapes["e_conv0"] == (26, 26, 32) and shapes["e_conv2"] == (5, 5, 128)  # VALID
    assert shapes["d_x_conv1"] == (6, 6, 128) and shapes["d_z_conv1"] == (1, 1, 128)


def test_original_init_uses_kernel_height_for_convolutions():
    init = OriginalHeNormal(seed=1)
    conv3 = init((3, 3, 64, 128)).numpy()
    conv1 = init((1, 1, 28, 4096)).numpy()
    dense_kernel = init((4608, 512)).numpy()
    assert conv3.std() == pytest.approx(math.sqrt(2 / 3), rel=0.01)
    assert conv1.std() == pytest.approx(math.sqrt(2), rel=0.02)
    assert dense_kernel.std() == pytest.approx(math.sqrt(2 / 4608), rel=0.01)
    # a normal, not a truncated normal: values beyond 2 standard deviations exist (~4.6%)
    assert np.mean(np.abs(conv3) > 2 * math.sqrt(2 / 3)) == pytest.approx(0.0455, abs=0.01)


def test_true_he_init_uses_fan_in():
    w = HeNormalUntruncated(seed=2)((3, 3, 64, 128)).numpy()
    assert w.std() == pytest.approx(math.sqrt(2 / (3 * 3 * 64)), rel=0.01)


def test_built_networks_use_the_original_initialisation(nets):
    _, g, e, d = nets
    # G: truncated normal 0.02 -> std 0.02 * 0.8796, nothing beyond 2 stddev
    kernel = g.get_layer("g_deconv1").kernel.numpy()
    assert kernel.std() == pytest.approx(0.02 * 0.8796, rel=0.02)
    assert np.abs(kernel).max() <= 0.04 + 1e-6
    assert e.get_layer("e_conv1").kernel.numpy().std() == pytest.approx(math.sqrt(2 / 3), rel=0.02)
    assert d.get_layer("d_x_dense0").kernel.numpy().std() == pytest.approx(math.sqrt(2 / 4608), rel=0.02)
    for model in (g, e, d):
        for layer in model.layers:
            if hasattr(layer, "bias") and layer.bias is not None:
                assert not np.any(layer.bias.numpy()), layer.name
    # every layer gets its own draw (a shared Keras initializer instance would repeat its values)
    a = e.get_layer("e_z").kernel.numpy()
    b = e.get_layer("e_categorical0").kernel.numpy()[:, :10]
    assert not np.allclose(a[:, :10], b)


def test_he_flag_changes_only_d_and_e():
    cfg = mnist_model_config(initialisation="he")
    e = build_encoder(cfg)
    assert e.get_layer("e_conv1").kernel.numpy().std() == pytest.approx(math.sqrt(2 / (9 * 32)), rel=0.03)
    g = build_generator(cfg)
    assert g.get_layer("g_deconv1").kernel.numpy().std() == pytest.approx(0.02 * 0.8796, rel=0.02)


def test_batch_norm_settings_and_noise(nets):
    _, g, e, d = nets
    bn = d.get_layer("d_x_conv0_bn")
    assert bn.momentum == 0.999 and bn.epsilon == 1e-3
    stddevs = {layer.name: layer.stddev for layer in d.layers if "noise" in layer.name}
    assert stddevs == {"d_x_conv0_noise": 0.3, "d_x_conv1_noise": 0.5, "d_x_dense0_noise": 0.5,
                       "d_z_conv0_noise": 0.3, "d_z_conv1_noise": 0.5, "d_z_dense0_noise": 0.5,
                       "d_joint_dense0_noise": 0.5}
    assert not any("noise" in layer.name for layer in list(g.layers) + list(e.layers))


def test_fused_batch_norm_matches_the_batch_norm_formula():
    """Training mode: normalise with batch mean and biased variance; moving averages with momentum, of the
    unbiased variance."""
    import tensorflow as tf
    from bidirectional_infogan.model.networks import FusedBatchNorm
    rng = np.random.default_rng(3)
    for shape in [(8, 5, 5, 3), (16, 7)]:
        x = rng.normal(2.0, 3.0, shape).astype(np.float32)
        layer = FusedBatchNorm(momentum=0.9, epsilon=1e-3)
        layer.build(shape)
        layer.gamma.assign(np.array([1.5] * shape[-1], np.float32))
        layer.beta.assign(np.array([0.25] * shape[-1], np.float32))
        y = layer(tf.constant(x), training=True).numpy()
        axes = tuple(range(len(shape) - 1))
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        n = x.size // shape[-1]
        np.testing.assert_allclose(y, 1.5 * (x - mean) / np.sqrt(var + 1e-3) + 0.25, atol=1e-4)
        np.testing.assert_allclose(layer.moving_mean.numpy(), 0.1 * mean, rtol=1e-5)
        # the moving variance averages the unbiased batch variance, as TF1's fused batch norm did
        np.testing.assert_allclose(layer.moving_variance.numpy(), 0.9 + 0.1 * var * n / (n - 1), rtol=1e-5)
        # inference uses the moving statistics
        y_inf = layer(tf.constant(x), training=False).numpy()
        mm, mv = layer.moving_mean.numpy(), layer.moving_variance.numpy()
        np.testing.assert_allclose(y_inf, 1.5 * (x - mm) / np.sqrt(mv + 1e-3) + 0.25, atol=1e-4)


# Table 2, restated independently of the code: latent 64 + 4 x 10 + 4 = 108; 32x32x3 images.
TABLE2_G = total(dense(108, 2048), conv(5, 512, 512), conv(5, 512, 256), conv(5, 256, 128), conv(5, 128, 64),
                 conv(5, 64, 32), conv(4, 32, 3, bn=False))
# E: 32 -> 30 (3x3 s1) -> 14 (s2) -> 12 (s1) -> 5 (s2) -> 2 (s2); 2*2*512 = 2048
TABLE2_E = total(conv(3, 3, 32), conv(3, 32, 64), conv(3, 64, 128), conv(3, 128, 256), conv(3, 256, 512),
                 dense(2048, 1024), dense(1024, 64, bn=False), *[dense(1024, 10, bn=False)] * 4,
                 dense(1024, 4, bn=False))
# D: image 32 -> 15 -> 6 -> 2 (4x4 s2 VALID), 2*2*256 = 1024; latent branch 1x1 convolutions on 108
TABLE2_D = total(conv(4, 3, 64), conv(4, 64, 128), conv(4, 128, 256), dense(1024, 1024),
                 conv(1, 108, 64), conv(1, 64, 128), conv(1, 128, 256), dense(256, 1024),
                 dense(2048, 1024), dense(1024, 1, bn=False))


def test_table_2_networks():
    from bidirectional_infogan.model.config import table2_model_config
    cfg = table2_model_config("svhn")
    g, e, d = build_generator(cfg), build_encoder(cfg), build_discriminator(cfg)
    assert counts(g) == TABLE2_G and counts(e) == TABLE2_E and counts(d) == TABLE2_D
    code = np.random.default_rng(0).uniform(-1, 1, (3, 108)).astype(np.float32)
    images = g(code, training=False).numpy()
    assert images.shape == (3, 32, 32, 3)
    out = e(images, training=False).numpy()
    assert out.shape == (3, 108)
    for v in range(4):  # one softmax per categorical variable
        np.testing.assert_allclose(out[:, 64 + 10 * v:74 + 10 * v].sum(axis=1), 1.0, rtol=1e-5)
    assert d([images, code], training=False).numpy().shape == (3, 1)
    shapes = {layer.name: tuple(layer.output.shape[1:]) for m in (g, e, d) for layer in m.layers}
    assert [shapes[f"g_deconv{i}"] for i in range(5)] == [(4, 4, 512), (8, 8, 256), (16, 16, 128), (32, 32, 64),
                                                          (32, 32, 32)]
    assert shapes["e_conv4"] == (2, 2, 512) and shapes["d_x_conv2"] == (2, 2, 256)
    assert not any("noise" in layer.name for layer in d.layers)  # table 2 has no noise column
    noisy = build_discriminator(table2_model_config("svhn", d_noise=True))
    stddevs = sorted(layer.stddev for layer in noisy.layers if "noise" in layer.name)
    assert stddevs == [0.3, 0.3] + [0.5] * 7


def test_table_2_sizes_are_flags():
    from bidirectional_infogan.model.config import table2_model_config
    cfg = table2_model_config("celeba", z_dim=54)  # the printed 98-value latent
    assert cfg.latent_dim == 98
    assert build_generator(cfg).input.shape[1] == 98
