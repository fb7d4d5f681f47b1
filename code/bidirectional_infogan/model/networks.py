"""The three networks, G (generator), E (encoder) and D (discriminator), built from a `ModelConfig`.

One definition serves every data set: table 1 (MNIST) and table 2 (CelebA, SVHN) of the paper's
supplementary material differ only in their configs. Padding follows the original: VALID for the
convolutions of E and D, SAME for G's transposed convolutions. Every hidden layer is
layer -> batch norm -> activation (-> Gaussian noise in D), every layer keeps its bias.

Precision (--precision, `dtype_policy`): the hidden layers compute in the run's precision (float32, or bfloat16 or
float16 with float32 variables); the output layers (G's sigmoid image, E's heads with their softmaxes, D's sigmoid)
always compute in float32, so that the losses, log-probabilities and softmaxes see float32 values. Each layer gets
its policy here, none comes from Keras's process-wide policy.
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


def dtype_policy(precision: str) -> str:
    """The Keras dtype policy of the hidden layers for a run's precision (config.PRECISIONS): "float32", or
    "mixed_bfloat16" / "mixed_float16", which keep the variables in float32 and compute in 16 bits. The one place
    that maps a precision to Keras. Our names are Keras's policy names; layers take the name (a DTypePolicy object
    would make layers without their own get_config, such as ELU, unserialisable, and so unexportable)."""
    return keras.DTypePolicy(precision).name


OUTPUT_POLICY = "float32"  # the output layers: their activations feed the losses


def _he_init(cfg: ModelConfig):
    # A fresh instance per layer: a Keras 3 initializer instance returns the same values on every call.
    return OriginalHeNormal() if cfg.initialisation == "original" else HeNormalUntruncated()


def _generator_init(cfg: ModelConfig):
    return keras.initializers.TruncatedNormal(mean=0.0, stddev=0.02)


def activation_layer(name: str, layer_name: str, policy=None):
    """elu, relu or lrelu (leaky ReLU with slope 0.2, TF's default)."""
    if name == "elu":
        return layers.ELU(alpha=1.0, name=layer_name, dtype=policy)
    if name == "relu":
        return layers.ReLU(name=layer_name, dtype=policy)
    if name == "lrelu":
        return layers.LeakyReLU(negative_slope=0.2, name=layer_name, dtype=policy)
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
    Under a 16-bit policy the kernel takes 16-bit inputs with float32 gamma and beta (which are not autocast) and
    computes the batch statistics in float32; the moving averages stay float32.
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


def _bn(cfg: ModelConfig, name: str, policy):
    return FusedBatchNorm(momentum=cfg.bn_momentum, epsilon=cfg.bn_epsilon, name=name, dtype=policy)


def _bn_act_noise(x, cfg: ModelConfig, activation: str, name: str, noise_std: float, noise_seed, policy):
    x = _bn(cfg, f"{name}_bn", policy)(x)
    x = activation_layer(activation, f"{name}_act", policy)(x)
    if noise_std > 0:
        # Each noise layer gets its own seed; its random state is saved with the checkpoint
        # (model.random_state_variables) so that a resumed run draws the same noise.
        x = layers.GaussianNoise(noise_std, seed=noise_seed, name=f"{name}_noise", dtype=policy)(x)
    return x


def conv_bn_act(x, spec: ConvLayer, cfg: ModelConfig, activation: str, name: str, init, noise_seed=None,
                policy=None):
    """Convolution (VALID padding, as the original) -> batch norm -> activation (-> noise)."""
    x = layers.Conv2D(spec.filters, spec.kernel, strides=spec.stride, padding="valid",
                      kernel_initializer=init, name=name, dtype=policy)(x)
    return _bn_act_noise(x, cfg, activation, name, spec.noise_std, noise_seed, policy)


def deconv_bn_act(x, spec: ConvLayer, cfg: ModelConfig, activation: str, name: str, init, policy=None):
    """Transposed convolution (SAME padding, as the original) -> batch norm -> activation."""
    x = layers.Conv2DTranspose(spec.filters, spec.kernel, strides=spec.stride, padding="same",
                               kernel_initializer=init, name=name, dtype=policy)(x)
    return _bn_act_noise(x, cfg, activation, name, 0.0, None, policy)


def dense_bn_act(x, spec: DenseLayer, cfg: ModelConfig, activation: str, name: str, init, noise_seed=None,
                 policy=None):
    """Dense -> batch norm -> activation (-> noise)."""
    x = layers.Dense(spec.units, kernel_initializer=init, name=name, dtype=policy)(x)
    return _bn_act_noise(x, cfg, activation, name, spec.noise_std, noise_seed, policy)


def build_generator(cfg: ModelConfig, precision: str = "float32") -> keras.Model:
    """G(z, c): dense -> reshape -> transposed convolutions -> sigmoid image. All weights: truncated normal
    with stddev 0.02."""
    policy = dtype_policy(precision)
    latent = keras.Input((cfg.latent_dim,), name="latent")
    x = dense_bn_act(latent, DenseLayer(math.prod(cfg.generator_reshape)), cfg, cfg.g_activation,
                     "g_dense0", _generator_init(cfg), policy=policy)
    x = layers.Reshape(cfg.generator_reshape, name="g_reshape", dtype=policy)(x)
    *hidden, output = cfg.generator_convs
    for i, spec in enumerate(hidden):
        x = deconv_bn_act(x, spec, cfg, cfg.g_activation, f"g_deconv{i}", _generator_init(cfg), policy)
    image = layers.Conv2DTranspose(output.filters, output.kernel, strides=output.stride, padding="same",
                                   activation="sigmoid", kernel_initializer=_generator_init(cfg),
                                   name="g_output", dtype=OUTPUT_POLICY)(x)
    return keras.Model(latent, image, name="generator")


def build_encoder(cfg: ModelConfig, precision: str = "float32") -> keras.Model:
    """E(x): convolutions -> dense -> concat(z: tanh, each categorical variable: softmax, continuous: linear).

    The output has the latent layout of `latent.py`, so E(x) can be fed straight to G and D.
    """
    policy = dtype_policy(precision)
    image = keras.Input(cfg.image_shape, name="image")
    x = image
    for i, spec in enumerate(cfg.encoder_convs):
        x = conv_bn_act(x, spec, cfg, cfg.e_activation, f"e_conv{i}", _he_init(cfg), policy=policy)
    x = layers.Flatten(name="e_flatten", dtype=policy)(x)
    x = dense_bn_act(x, cfg.encoder_dense, cfg, cfg.e_activation, "e_dense0", _he_init(cfg), policy=policy)
    heads = [layers.Dense(cfg.z_dim, activation="tanh", kernel_initializer=_he_init(cfg), name="e_z",
                          dtype=OUTPUT_POLICY)(x)]
    for i, n in enumerate(cfg.categorical_dims):
        heads.append(layers.Dense(n, activation="softmax", kernel_initializer=_he_init(cfg),
                                  name=f"e_categorical{i}", dtype=OUTPUT_POLICY)(x))
    if cfg.continuous_dim:
        heads.append(layers.Dense(cfg.continuous_dim, kernel_initializer=_he_init(cfg),
                                  name="e_continuous", dtype=OUTPUT_POLICY)(x))
    code = layers.Concatenate(name="e_code", dtype=OUTPUT_POLICY)(heads)
    return keras.Model(image, code, name="encoder")


def build_discriminator(cfg: ModelConfig, seed: int = 0, precision: str = "float32") -> keras.Model:
    """D(x, latent): probability that the pair (image, code) came from (X, E(X)) rather than (G(z,c), (z,c)).

    The latent branch reshapes the code to 1x1xL and applies 1x1 convolutions, as in the original.
    `seed` seeds the Gaussian noise layers (one distinct seed each).
    """
    policy = dtype_policy(precision)
    noise_seeds = iter(range(seed * 1000 + 1, seed * 1000 + 1000))
    image = keras.Input(cfg.image_shape, name="image")
    latent = keras.Input((cfg.latent_dim,), name="latent")

    x = image
    for i, spec in enumerate(cfg.disc_image_convs):
        x = conv_bn_act(x, spec, cfg, cfg.d_activation, f"d_x_conv{i}", _he_init(cfg), next(noise_seeds), policy)
    x = layers.Flatten(name="d_x_flatten", dtype=policy)(x)
    x = dense_bn_act(x, cfg.disc_image_dense, cfg, cfg.d_activation, "d_x_dense0", _he_init(cfg),
                     next(noise_seeds), policy)

    z = layers.Reshape((1, 1, cfg.latent_dim), name="d_z_reshape", dtype=policy)(latent)
    for i, spec in enumerate(cfg.disc_latent_convs):
        z = conv_bn_act(z, spec, cfg, cfg.d_activation, f"d_z_conv{i}", _he_init(cfg), next(noise_seeds), policy)
    z = layers.Flatten(name="d_z_flatten", dtype=policy)(z)
    z = dense_bn_act(z, cfg.disc_latent_dense, cfg, cfg.d_activation, "d_z_dense0", _he_init(cfg),
                     next(noise_seeds), policy)

    joint = layers.Concatenate(name="d_joint", dtype=policy)([x, z])
    for i, spec in enumerate(cfg.disc_joint_dense):
        joint = dense_bn_act(joint, spec, cfg, cfg.d_activation, f"d_joint_dense{i}", _he_init(cfg),
                             next(noise_seeds), policy)
    probability = layers.Dense(1, activation="sigmoid", kernel_initializer=_he_init(cfg),
                               name="d_output", dtype=OUTPUT_POLICY)(joint)
    return keras.Model([image, latent], probability, name="discriminator")
