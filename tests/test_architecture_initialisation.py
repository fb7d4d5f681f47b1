"""The built networks' initial weights are drawn as the paper and the original code draw them: the networks of
tables 1 and 2, their layers found by the graph walk of test_architecture.py."""

import math

import numpy as np
from scipy import stats

from bidirectional_infogan.model.config import mnist_model_config
from bidirectional_infogan.model.networks import build_discriminator
from test_architecture import discriminator_rows, encoder_rows, generator_rows

# ---------------------------------------------------------------------------------------------------------
# Initialisation. Paper: G's weights truncated normal (mean 0, stddev 0.02); D and E normal with stddev
# sqrt(2 / fan_in). The original code computed that stddev as sqrt(2 / shape[0]), which for a convolution
# kernel (height, width, in, out) is the kernel height (original-behaviour.md), and the project keeps the
# original by default for both tables (architectures/mnist.md, architectures/table2.md); biases start at 0.
#
# The kernels are drawn afresh on every build (unseeded), so these are statistical checks. For n independent
# draws with standard deviation sigma, the sample mean has standard error sigma / sqrt(n) and the sample
# standard deviation sigma * sqrt((kurtosis - 1) / (4 n)), which is sigma / sqrt(2 n) for a normal and less
# for the lighter-tailed truncated normal (kurtosis < 3). Bounds of 6 standard errors fail a correct
# initialisation with probability below 1e-8 per check; float32 rounding of the draws (relative 6e-8) is
# far below them.

def assert_drawn_with(kernel, sigma, truncated):
    w = np.asarray(kernel, dtype=np.float64).ravel()
    n = w.size
    assert abs(w.mean()) < 6 * sigma / math.sqrt(n)
    if truncated:  # TF's and Keras's truncated normal: redraw beyond 2 stddev, no rescaling
        expected_std = sigma * stats.truncnorm(-2, 2).std()
        assert np.abs(w).max() <= 2 * sigma * (1 + 1e-6)
    else:
        expected_std = sigma
        # a normal, not a truncated one: P(|w| > 2 sigma) = 2 * (1 - Phi(2)), binomial standard error
        p = 2 * stats.norm.sf(2)
        assert abs(np.mean(np.abs(w) > 2 * sigma) - p) < 6 * math.sqrt(p * (1 - p) / n)
    assert abs(w.std() - expected_std) < 6 * sigma / math.sqrt(2 * n), (w.std(), expected_std, n)


def test_initialisation_table_1(table1_networks):
    g, e, d = table1_networks
    _, g_rows, g_layers = generator_rows(g)
    _, e_rows, heads, _, e_layers = encoder_rows(e)
    _, _, x_rows, z_rows, _, joint_rows, d_layers = discriminator_rows(d)
    # G, first transposed conv: 4x4x64x128 kernel (Keras keeps transposed kernels as (h, w, out, in))
    deconv = g_layers[1][0]
    assert tuple(deconv.kernel.shape) == (4, 4, 128, 64)
    assert_drawn_with(deconv.kernel.numpy(), 0.02, truncated=True)
    # E, dense layer on the 5x5x128 maps: shape[0] = fan_in = 3200, true He
    e_dense = e_layers[3][0]
    assert tuple(e_dense.kernel.shape) == (3200, 1024)
    assert_drawn_with(e_dense.kernel.numpy(), math.sqrt(2 / 3200), truncated=False)
    # D(x), second conv: 3x3x64x128; shape[0] = 3 (the original's kernel height, not the fan-in 576)
    d_conv = d_layers[1][0]
    assert tuple(d_conv.kernel.shape) == (3, 3, 64, 128)
    assert_drawn_with(d_conv.kernel.numpy(), math.sqrt(2 / 3), truncated=False)
    # D(Z), second conv: 1x1x64x128; shape[0] = 1
    z_conv = d_layers[4][0]
    assert tuple(z_conv.kernel.shape) == (1, 1, 64, 128)
    assert_drawn_with(z_conv.kernel.numpy(), math.sqrt(2 / 1), truncated=False)
    for layer, _ in g_layers + e_layers + d_layers:
        assert not np.any(layer.bias.numpy()), layer.name


def test_initialisation_he_flag_uses_the_fan_in():
    """--init he (the paper's text for table 2): sqrt(2 / fan_in) with fan_in = 3 * 3 * 64 = 576."""
    d = build_discriminator(mnist_model_config(initialisation="he"))
    d_conv = discriminator_rows(d)[-1][1][0]
    assert tuple(d_conv.kernel.shape) == (3, 3, 64, 128)
    assert_drawn_with(d_conv.kernel.numpy(), math.sqrt(2 / 576), truncated=False)


def test_initialisation_table_2(table2_networks):
    g, e, _ = table2_networks
    _, _, g_layers = generator_rows(g)
    _, _, _, _, e_layers = encoder_rows(e)
    deconv = g_layers[2][0]  # 5x5, 512 -> 256
    assert tuple(deconv.kernel.shape) == (5, 5, 256, 512)
    assert_drawn_with(deconv.kernel.numpy(), 0.02, truncated=True)
    conv = e_layers[3][0]  # 3x3, 128 -> 256: the original's kernel height, shape[0] = 3
    assert tuple(conv.kernel.shape) == (3, 3, 128, 256)
    assert_drawn_with(conv.kernel.numpy(), math.sqrt(2 / 3), truncated=False)
