"""The model: G, E and D, their two Adam optimisers and the training step.

One iteration is the original's: one forward pass on one batch, then D and (G, E) are updated from it
together (simultaneous, not alternating).

Precision (TrainConfig.precision): the networks' hidden layers compute in it, their output layers and everything
here (losses, information terms, R1 penalty, optimiser updates) in float32. mixed_float16 wraps each Adam in
Keras's LossScaleOptimizer (dynamic loss scaling: float16 gradients would underflow); float32 is the paper's step,
op for op.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from bidirectional_infogan.model import latent, losses
from bidirectional_infogan.model.config import ModelConfig, TrainConfig
from bidirectional_infogan.data.common import as_float
from bidirectional_infogan.model.networks import build_discriminator, build_encoder, build_generator


def random_state_variables(model: keras.Model) -> list:
    """The state variables of the model's random layers (D's Gaussian noise). tf.train.Checkpoint does not
    save them as part of the model, so the checkpoint lists them explicitly."""
    return [v for v in model.variables if "seed_generator_state" in v.path]


def learning_rate_schedule(initial: float, max_iter: int, reduction: float):
    """Polynomial decay with power 0.5 from `initial` to `initial / reduction` over `max_iter` steps."""
    return keras.optimizers.schedules.PolynomialDecay(
        initial_learning_rate=initial, decay_steps=max_iter, end_learning_rate=initial / reduction, power=0.5)


def discriminate(discriminator: keras.Model, real_pairs, generated_pairs, batch_statistics: str = "separate"):
    """D(X, E(X)) and D(G(z, c), (z, c)) in training mode, each pair given as (images, codes).

    "separate" (the original) calls D once per kind of pair, so batch norm normalises each with its own batch
    statistics; "joint" (--d_batch_statistics joint) calls D once on both, with one set of statistics.
    """
    if batch_statistics == "joint":
        n_real = tf.shape(real_pairs[0])[0]
        both = discriminator([tf.concat([real_pairs[0], generated_pairs[0]], 0),
                              tf.concat([real_pairs[1], generated_pairs[1]], 0)], training=True)
        return both[:n_real], both[n_real:]
    return discriminator(list(real_pairs), training=True), discriminator(list(generated_pairs), training=True)


def discriminator_logit_function(discriminator: keras.Model):
    """A function pair -> D's output before its sigmoid, in training mode: the last hidden layer's output times
    d_output's kernel, plus its bias (d_output applies the sigmoid itself, so the logit is no tensor of D). It
    shares D's layers and weights."""
    output_layer = discriminator.get_layer("d_output")
    hidden_model = keras.Model(discriminator.inputs, output_layer.input)

    def logits(pair):
        hidden = tf.cast(hidden_model(pair, training=True), output_layer.kernel.dtype)  # d_output is float32
        return tf.matmul(hidden, output_layer.kernel) + output_layer.bias
    return logits


class BidirectionalInfoGAN:
    """G, E, D, their two Adam optimisers and the compiled training step."""

    def __init__(self, model_cfg: ModelConfig, train_cfg: TrainConfig):
        self.cfg, self.train_cfg = model_cfg, train_cfg
        keras.utils.set_random_seed(train_cfg.seed)  # weight initialisation
        precision = train_cfg.precision
        self.generator = build_generator(model_cfg, precision)
        self.encoder = build_encoder(model_cfg, precision)
        self.discriminator = build_discriminator(model_cfg, seed=train_cfg.seed, precision=precision)
        self.d_schedule = learning_rate_schedule(train_cfg.lr_d, train_cfg.max_iter, train_cfg.lr_red)
        self.ge_schedule = learning_rate_schedule(train_cfg.lr_g, train_cfg.max_iter, train_cfg.lr_red)
        self.d_optimizer = keras.optimizers.Adam(self.d_schedule, beta_1=train_cfg.beta1_d, beta_2=0.999,
                                                 epsilon=train_cfg.adam_epsilon, name="d_adam")
        self.ge_optimizer = keras.optimizers.Adam(self.ge_schedule, beta_1=train_cfg.beta1_g, beta_2=0.999,
                                                  epsilon=train_cfg.adam_epsilon, name="ge_adam")
        self.loss_scaling = precision == "mixed_float16"
        if self.loss_scaling:  # unscales the gradients, skips a step whose gradients overflowed, adapts the scale
            self.d_optimizer = keras.optimizers.LossScaleOptimizer(self.d_optimizer, name="d_loss_scale")
            self.ge_optimizer = keras.optimizers.LossScaleOptimizer(self.ge_optimizer, name="ge_loss_scale")
        # Slots are created now, in the order the step uses, so that a checkpoint restores into them.
        self.d_optimizer.build(self.d_variables)
        self.ge_optimizer.build(self.ge_variables)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        # --categorical_prior learned: the prior of each variable the real-image terms act on, uniform at first
        self.categorical_priors = [] if train_cfg.categorical_prior == "uniform" else [
            tf.Variable(tf.fill([n], 1.0 / n), trainable=False, name=f"categorical_prior_{i + 1}")
            for i, n in enumerate(model_cfg.categorical_dims[slice(train_cfg.real_terms_variables or None)])]
        extra_state = {"categorical_priors": self.categorical_priors} if self.categorical_priors else {}
        self.checkpoint = tf.train.Checkpoint(
            generator=self.generator, encoder=self.encoder, discriminator=self.discriminator,
            d_optimizer=self.d_optimizer, ge_optimizer=self.ge_optimizer, step=self.step,
            noise_state=random_state_variables(self.discriminator), **extra_state)
        if train_cfg.d_r1 > 0:
            self._d_logits = discriminator_logit_function(self.discriminator)
        # autograph=False: the step has no tensor-dependent Python control flow to convert (and autograph
        # would re-read this file from disk)
        self._train_step = tf.function(self._step_fn, autograph=False)
        self._encode = tf.function(self._encode_fn, autograph=False)
        self._generate = tf.function(self._generate_fn, autograph=False)

    @property
    def d_variables(self) -> list:
        return self.discriminator.trainable_variables

    @property
    def ge_variables(self) -> list:
        return self.generator.trainable_variables + self.encoder.trainable_variables

    def _step_fn(self, images, z, c, augmented=None):
        cfg, tcfg = self.cfg, self.train_cfg
        with tf.GradientTape(persistent=True) as tape:
            code = tf.concat([z, c], axis=1)
            fake_images = self.generator(code, training=True)
            real_code = self.encoder(images, training=True)
            d_real, d_fake = discriminate(self.discriminator, (images, real_code), (fake_images, code),
                                          tcfg.d_batch_statistics)
            recovered = latent.split_latent(cfg, self.encoder(fake_images, training=True))
            given = latent.split_latent(cfg, code)
            info_cat = losses.categorical_information_loss(given.categorical, recovered.categorical)
            info_cont = losses.continuous_information_loss(given.continuous, recovered.continuous)
            d_loss = losses.discriminator_loss(d_real, d_fake)
            g_loss = (losses.generator_adversarial_loss(d_real, d_fake)
                      + tcfg.info_weight * (info_cont + info_cat))
            # The opt-in terms; with each at its default 0 the graph is the paper's step, op for op.
            extra = {}
            if tcfg.consistency_weight > 0 or tcfg.balance_weight > 0 or tcfg.confidence_weight > 0 \
                    or self.categorical_priors:
                acted_on = slice(tcfg.real_terms_variables or None)  # 0: every categorical variable
                real_categorical = latent.split_latent(cfg, real_code).categorical[acted_on]
            if tcfg.consistency_weight > 0:
                augmented_code = self.encoder(augmented, training=True)
                extra["consistency"] = losses.consistency_loss(
                    real_categorical, latent.split_latent(cfg, augmented_code).categorical[acted_on])
                g_loss += tcfg.consistency_weight * extra["consistency"]
            if tcfg.balance_weight > 0:
                extra["balance"] = (
                    losses.balance_floor_loss(real_categorical, tcfg.prior_floor) if tcfg.balance_target == "floor"
                    else losses.balance_loss(
                        real_categorical, self.categorical_priors if tcfg.balance_target == "learned" else None))
                g_loss += tcfg.balance_weight * extra["balance"]
            if tcfg.confidence_weight > 0:
                extra["confidence"] = losses.confidence_loss(real_categorical)
                g_loss += tcfg.confidence_weight * extra["confidence"]
            if tcfg.d_r1 > 0:
                extra["D_r1"] = self._r1_penalty(images, tf.stop_gradient(real_code))
                d_loss += 0.5 * tcfg.d_r1 * extra["D_r1"]
            # mixed_float16: the gradients of the scaled losses (inside the tape); apply_gradients unscales them
            d_target, g_target = ((self.d_optimizer.scale_loss(d_loss), self.ge_optimizer.scale_loss(g_loss))
                                  if self.loss_scaling else (d_loss, g_loss))
        d_gradients = tape.gradient(d_target, self.d_variables)
        ge_gradients = tape.gradient(g_target, self.ge_variables)
        del tape
        # Both updates use gradients from the same forward pass.
        self.d_optimizer.apply_gradients(zip(d_gradients, self.d_variables))
        self.ge_optimizer.apply_gradients(zip(ge_gradients, self.ge_variables))
        # After the updates: this step drew c from the old prior. (Under mixed_float16 a step whose gradients
        # overflowed is skipped by the optimisers, but the prior still follows E's prediction: harmless.)
        for i, prior in enumerate(self.categorical_priors):
            prior.assign(losses.updated_prior(prior, real_categorical[i], tcfg.prior_floor))
            extra[f"prior_entropy_c{i + 1}"] = -tf.reduce_sum(prior * losses.safe_log(prior))  # ln K when uniform
        self.step.assign_add(1)
        return {"D_loss": d_loss, "G_loss": g_loss,
                "D data accuracy": tf.reduce_mean(d_real), "D fake accuracy": tf.reduce_mean(1.0 - d_fake),
                "c gen cont": info_cont, "c gen cat": info_cat, **extra}

    def _r1_penalty(self, images, codes):
        """|grad of D's logit with respect to the real pair (image and code)|^2, batch mean (--d_r1). D is
        called once more, on the real pairs alone, in training mode."""
        with tf.GradientTape() as inner:
            inner.watch([images, codes])
            total = tf.reduce_sum(self._d_logits([images, codes]))  # inside the tape: it is differentiated
        return losses.gradient_penalty(inner.gradient(total, [images, codes]))

    def _encode_fn(self, images):
        return self.encoder(images, training=False)

    def _generate_fn(self, code):
        return self.generator(code, training=False)

    def train_step(self, images, z, c, augmented=None) -> dict:
        """One iteration on float32 images in [0, 1], z (B, z_dim) and c (B, c_dim); returns the metrics.
        `augmented`: the images' augmented copies, needed with --consistency_weight (augment.py)."""
        if self.train_cfg.consistency_weight > 0:
            if augmented is None:
                raise ValueError("the consistency term needs the augmented copies of the images")
            return self._train_step(tf.convert_to_tensor(images), tf.convert_to_tensor(z), tf.convert_to_tensor(c),
                                    tf.convert_to_tensor(augmented))
        return self._train_step(tf.convert_to_tensor(images), tf.convert_to_tensor(z), tf.convert_to_tensor(c))

    def prior_values(self) -> list:
        """The learned priors as float64 arrays, for drawing the next batch's c ([] for the uniform prior)."""
        return [prior.numpy().astype(np.float64) for prior in self.categorical_priors]

    def learning_rates(self, step: int) -> dict:
        """The learning rates that iteration `step` (counted from 1) used: the schedules at step - 1."""
        return {"learning_rate/D": float(self.d_schedule(step - 1)),
                "learning_rate/G_E": float(self.ge_schedule(step - 1))}

    def encode(self, images, batch_size: int = 1000) -> np.ndarray:
        """E(x) in inference mode (moving batch-norm statistics, no noise), in batches. uint8 or float."""
        out = []
        for start in range(0, len(images), batch_size):
            chunk = images[start:start + batch_size]
            out.append(self._encode(tf.convert_to_tensor(as_float(chunk), tf.float32)).numpy())
        return np.concatenate(out) if out else np.zeros((0, self.cfg.latent_dim), np.float32)

    def generate(self, codes, batch_size: int = 1000) -> np.ndarray:
        """G(code) in inference mode, in batches."""
        out = [self._generate(tf.convert_to_tensor(codes[s:s + batch_size], tf.float32)).numpy()
               for s in range(0, len(codes), batch_size)]
        return np.concatenate(out) if out else np.zeros((0,) + self.cfg.image_shape, np.float32)
