"""The three networks, G (generator), E (encoder) and D (discriminator), built from a `ModelConfig`.

One definition serves every data set: table 1 (MNIST) and table 2 (CelebA, SVHN) of the paper's
supplementary material differ only in their configs. Padding follows the original: VALID for the
convolutions of E and D, SAME for G's transposed convolutions. Every hidden layer is
layer -> batch norm -> activation (-> Gaussian noise in D), every layer keeps its bias.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import layers

from bidirectional_infogan.model.config import ConvLayer, DenseLayer, ModelConfig


class OriginalHeNormal(keras.initializers.RandomNormal):
    """Normal init with stddev sqrt(2 / shape[0]), as the original code computed it for D and E.

    For a dense kernel (fan_in, units) this is true He initialisation. For a convolution kernel
    (height, width, in, out) shape[0] is the kernel *height*, so a 3x3 kernel gets stddev sqrt(2/3) and a
    1x1 kernel sqrt(2), whatever the number of input maps. We keep this quirk by default because the
    published results were trained with it; `initialisation="he"` selects `HeNormalUntruncated`.
    """

    def __call__(self, shape, dtype=None):
        stddev = math.sqrt(2.0 / shape[0])
        return keras.random.normal(shape, mean=0.0, stddev=stddev, seed=self.seed, dtype=dtype)


class HeNormalUntruncated(keras.initializers.RandomNormal):
    """True He initialisation: normal with stddev sqrt(2 / fan_in), fan_in = product of all but the last dim.

    (Keras's own HeNormal draws from a truncated normal; the paper's tables say normal.)
    """

    def __call__(self, shape, dtype=None):
        fan_in = math.prod(shape[:-1])
        return keras.random.normal(shape, mean=0.0, stddev=math.sqrt(2.0 / fan_in), seed=self.seed,
                                   dtype=dtype)


def _he_init(cfg: ModelConfig):
    # A fresh instance per layer: a Keras 3 initializer instance returns the same values on every call.
    return OriginalHeNormal() if cfg.initialisation == "original" else HeNormalUntruncated()


def _generator_init(cfg: ModelConfig):
    return keras.initializers.TruncatedNormal(mean=0.0, stddev=0.02)


def activation_layer(name: str, layer_name: str):
    """elu, relu or lrelu (leaky ReLU with slope 0.2, TF's default)."""
    if name == "elu":
        return layers.ELU(alpha=1.0, name=layer_name)
    if name == "relu":
        return layers.ReLU(name=layer_name)
    if name == "lrelu":
        return layers.LeakyReLU(negative_slope=0.2, name=layer_name)
    raise ValueError(f"unknown activation '{name}'")


class FusedBatchNorm(layers.BatchNormalization):
    """Batch normalisation as the original's TF1 `contrib.layers.batch_norm`, on Keras's BatchNormalization
    variables (gamma, beta, moving mean and variance).

    Training: normalise with the batch mean and the biased batch variance (TensorFlow's fused kernel, about
    twice as fast on a CPU as Keras 3's generic moments), then
    moving = momentum * moving + (1 - momentum) * batch statistic, where the variance that enters the moving
    average is the unbiased one (n / (n - 1) times the biased), as in the original: TF1's batch_norm used the
    fused kernel, which returns the Bessel-corrected variance for the moving average, for dense (rank-2) and
    convolution (rank-4) inputs alike. Inference: Keras's own code path on the moving statistics.
    """

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable) or mask is not None or self.axis not in (-1, len(inputs.shape) - 1):
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        as_4d = tf.reshape(inputs, (-1, 1, 1, channels)) if len(inputs.shape) == 2 else inputs
        # in training the kernel returns the batch mean and the Bessel-corrected batch variance
        outputs, mean, unbiased_variance = tf.compat.v1.nn.fused_batch_norm(
            as_4d, self.gamma, self.beta, epsilon=self.epsilon, is_training=True)
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum
                                    + unbiased_variance * (1.0 - self.momentum))
        return tf.reshape(outputs, tf.shape(inputs)) if len(inputs.shape) == 2 else outputs


def _bn(cfg: ModelConfig, name: str):
    return FusedBatchNorm(momentum=cfg.bn_momentum, epsilon=cfg.bn_epsilon, name=name)


def _bn_act_noise(x, cfg: ModelConfig, activation: str, name: str, noise_std: float, noise_seed):
    x = _bn(cfg, f"{name}_bn")(x)
    x = activation_layer(activation, f"{name}_act")(x)
    if noise_std > 0:
        # Each noise layer gets its own seed; its random state is saved with the checkpoint
        # (model.random_state_variables) so that a resumed run draws the same noise.
        x = layers.GaussianNoise(noise_std, seed=noise_seed, name=f"{name}_noise")(x)
    return x


def conv_bn_act(x, spec: ConvLayer, cfg: ModelConfig, activation: str, name: str, init, noise_seed=None):
    """Convolution (VALID padding, as the original) -> batch norm -> activation (-> noise)."""
    x = layers.Conv2D(spec.filters, spec.kernel, strides=spec.stride, padding="valid",
                      kernel_initializer=init, name=name)(x)
    return _bn_act_noise(x, cfg, activation, name, spec.noise_std, noise_seed)


def deconv_bn_act(x, spec: ConvLayer, cfg: ModelConfig, activation: str, name: str, init):
    """Transposed convolution (SAME padding, as the original) -> batch norm -> activation."""
    x = layers.Conv2DTranspose(spec.filters, spec.kernel, strides=spec.stride, padding="same",
                               kernel_initializer=init, name=name)(x)
    return _bn_act_noise(x, cfg, activation, name, 0.0, None)


def dense_bn_act(x, spec: DenseLayer, cfg: ModelConfig, activation: str, name: str, init, noise_seed=None):
    """Dense -> batch norm -> activation (-> noise)."""
    x = layers.Dense(spec.units, kernel_initializer=init, name=name)(x)
    return _bn_act_noise(x, cfg, activation, name, spec.noise_std, noise_seed)


def build_generator(cfg: ModelConfig) -> keras.Model:
    """G(z, c): dense -> reshape -> transposed convolutions -> sigmoid image. All weights: truncated normal
    with stddev 0.02."""
    latent = keras.Input((cfg.latent_dim,), name="latent")
    x = dense_bn_act(latent, DenseLayer(math.prod(cfg.generator_reshape)), cfg, cfg.g_activation,
                     "g_dense0", _generator_init(cfg))
    x = layers.Reshape(cfg.generator_reshape, name="g_reshape")(x)
    *hidden, output = cfg.generator_convs
    for i, spec in enumerate(hidden):
        x = deconv_bn_act(x, spec, cfg, cfg.g_activation, f"g_deconv{i}", _generator_init(cfg))
    image = layers.Conv2DTranspose(output.filters, output.kernel, strides=output.stride, padding="same",
                                   activation="sigmoid", kernel_initializer=_generator_init(cfg),
                                   name="g_output")(x)
    return keras.Model(latent, image, name="generator")


def build_encoder(cfg: ModelConfig) -> keras.Model:
    """E(x): convolutions -> dense -> concat(z: tanh, each categorical variable: softmax, continuous: linear).

    The output has the latent layout of `latent.py`, so E(x) can be fed straight to G and D.
    """
    image = keras.Input(cfg.image_shape, name="image")
    x = image
    for i, spec in enumerate(cfg.encoder_convs):
        x = conv_bn_act(x, spec, cfg, cfg.e_activation, f"e_conv{i}", _he_init(cfg))
    x = layers.Flatten(name="e_flatten")(x)
    x = dense_bn_act(x, cfg.encoder_dense, cfg, cfg.e_activation, "e_dense0", _he_init(cfg))
    heads = [layers.Dense(cfg.z_dim, activation="tanh", kernel_initializer=_he_init(cfg), name="e_z")(x)]
    for i, n in enumerate(cfg.categorical_dims):
        heads.append(layers.Dense(n, activation="softmax", kernel_initializer=_he_init(cfg),
                                  name=f"e_categorical{i}")(x))
    if cfg.continuous_dim:
        heads.append(layers.Dense(cfg.continuous_dim, kernel_initializer=_he_init(cfg),
                                  name="e_continuous")(x))
    code = layers.Concatenate(name="e_code")(heads)
    return keras.Model(image, code, name="encoder")


def build_discriminator(cfg: ModelConfig, seed: int = 0) -> keras.Model:
    """D(x, latent): probability that the pair (image, code) came from (X, E(X)) rather than (G(z,c), (z,c)).

    The latent branch reshapes the code to 1x1xL and applies 1x1 convolutions, as in the original.
    `seed` seeds the Gaussian noise layers (one distinct seed each).
    """
    noise_seeds = iter(range(seed * 1000 + 1, seed * 1000 + 1000))
    image = keras.Input(cfg.image_shape, name="image")
    latent = keras.Input((cfg.latent_dim,), name="latent")

    x = image
    for i, spec in enumerate(cfg.disc_image_convs):
        x = conv_bn_act(x, spec, cfg, cfg.d_activation, f"d_x_conv{i}", _he_init(cfg), next(noise_seeds))
    x = layers.Flatten(name="d_x_flatten")(x)
    x = dense_bn_act(x, cfg.disc_image_dense, cfg, cfg.d_activation, "d_x_dense0", _he_init(cfg),
                     next(noise_seeds))

    z = layers.Reshape((1, 1, cfg.latent_dim), name="d_z_reshape")(latent)
    for i, spec in enumerate(cfg.disc_latent_convs):
        z = conv_bn_act(z, spec, cfg, cfg.d_activation, f"d_z_conv{i}", _he_init(cfg), next(noise_seeds))
    z = layers.Flatten(name="d_z_flatten")(z)
    z = dense_bn_act(z, cfg.disc_latent_dense, cfg, cfg.d_activation, "d_z_dense0", _he_init(cfg),
                     next(noise_seeds))

    joint = layers.Concatenate(name="d_joint")([x, z])
    for i, spec in enumerate(cfg.disc_joint_dense):
        joint = dense_bn_act(joint, spec, cfg, cfg.d_activation, f"d_joint_dense{i}", _he_init(cfg),
                             next(noise_seeds))
    probability = layers.Dense(1, activation="sigmoid", kernel_initializer=_he_init(cfg),
                               name="d_output")(joint)
    return keras.Model([image, latent], probability, name="discriminator")
