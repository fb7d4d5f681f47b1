"""The opt-in terms (--consistency_weight, --balance_weight, --confidence_weight, --real_terms_variables, --d_r1) and the augmentation: their defaults leave the
paper's step bit for bit as it was, each term is what its docstring says (checked against numpy), and a run with
them on resumes exactly."""

import math

import numpy as np
import pytest
import tensorflow as tf

from bidirectional_infogan.data import augment
from bidirectional_infogan.model import latent, losses
from bidirectional_infogan.model.config import TrainConfig, mnist_model_config, table2_model_config
from bidirectional_infogan.model.gan import BidirectionalInfoGAN, discriminate, discriminator_logit_function

from conftest import FAST, only_run, run_cli

tf.config.experimental.enable_op_determinism()


class PaperStep(BidirectionalInfoGAN):
    """The training step as it was before the opt-in terms existed (commit 7c9350f), kept here as the reference
    that the default step must equal bit for bit."""

    def _step_fn(self, images, z, c, augmented=None):
        cfg = self.cfg
        with tf.GradientTape(persistent=True) as tape:
            code = tf.concat([z, c], axis=1)
            fake_images = self.generator(code, training=True)
            real_code = self.encoder(images, training=True)
            d_real, d_fake = discriminate(self.discriminator, (images, real_code), (fake_images, code),
                                          self.train_cfg.d_batch_statistics)
            recovered = latent.split_latent(cfg, self.encoder(fake_images, training=True))
            given = latent.split_latent(cfg, code)
            info_cat = losses.categorical_information_loss(given.categorical, recovered.categorical)
            info_cont = losses.continuous_information_loss(given.continuous, recovered.continuous)
            d_loss = losses.discriminator_loss(d_real, d_fake)
            g_loss = (losses.generator_adversarial_loss(d_real, d_fake)
                      + self.train_cfg.info_weight * (info_cont + info_cat))
        d_gradients = tape.gradient(d_loss, self.d_variables)
        ge_gradients = tape.gradient(g_loss, self.ge_variables)
        del tape
        self.d_optimizer.apply_gradients(zip(d_gradients, self.d_variables))
        self.ge_optimizer.apply_gradients(zip(ge_gradients, self.ge_variables))
        self.step.assign_add(1)
        return {"D_loss": d_loss, "G_loss": g_loss,
                "D data accuracy": tf.reduce_mean(d_real), "D fake accuracy": tf.reduce_mean(1.0 - d_fake),
                "c gen cont": info_cont, "c gen cat": info_cat}


def _weights_after(model_class, cfg, tcfg, steps=3, augment_kind=None):
    model = model_class(cfg, tcfg)
    rng = np.random.default_rng(1)
    for _ in range(steps):
        images = rng.random((tcfg.batch_size,) + cfg.image_shape, dtype=np.float32)
        z, c = latent.sample_latent(cfg, rng, tcfg.batch_size)
        augmented = augment.augment(images, augment_kind, rng) if augment_kind else None
        model.train_step(images, z, c, augmented)
    return [v.numpy() for v in model.generator.variables + model.encoder.variables + model.discriminator.variables]


def _small_table2():
    # table 2's layout with small G and D (the step does not depend on the sizes)
    return table2_model_config("svhn", z_dim=8, categorical_dims=(4, 4), continuous_dim=2, initialisation="he")


@pytest.mark.core
@pytest.mark.slow
@pytest.mark.parametrize("which", ["mnist", "table2 joint"])
def test_defaults_are_the_paper_step_bit_for_bit(which):
    """With every opt-in term at its default 0, three steps give exactly the weights of the old step."""
    if which == "mnist":
        cfg, tcfg = mnist_model_config(), TrainConfig(batch_size=8, seed=3)
    else:
        cfg, tcfg = _small_table2(), TrainConfig(batch_size=8, seed=3, d_batch_statistics="joint")
    ours = _weights_after(BidirectionalInfoGAN, cfg, tcfg)
    paper = _weights_after(PaperStep, cfg, tcfg)
    assert len(ours) == len(paper) > 50
    assert all(np.array_equal(a, b) for a, b in zip(ours, paper))


@pytest.mark.slow
@pytest.mark.parametrize("setting", [dict(consistency_weight=1.0), dict(balance_weight=1.0),
                                     dict(confidence_weight=1.0), dict(d_r1=1.0)])
def test_each_term_changes_the_step(setting):
    """Each term, turned on, changes the weights (it is wired into the loss of the networks it names)."""
    cfg = _small_table2()
    tcfg = TrainConfig(batch_size=8, seed=3, **setting)
    kind = "both" if "consistency_weight" in setting else None
    ours = _weights_after(BidirectionalInfoGAN, cfg, tcfg, augment_kind=kind)
    paper = _weights_after(PaperStep, cfg, TrainConfig(batch_size=8, seed=3), augment_kind=kind)
    changed = [not np.array_equal(a, b) for a, b in zip(ours, paper)]
    assert any(changed)
    if "d_r1" in setting:  # a term of D's loss: D's own weights move differently
        assert any(changed[-len(BidirectionalInfoGAN(cfg, tcfg).discriminator.variables):])


def test_consistency_and_balance_match_numpy():
    rng = np.random.default_rng(0)
    p = [rng.dirichlet(np.ones(5), 16).astype(np.float32) for _ in range(2)]
    q = [rng.dirichlet(np.ones(5), 16).astype(np.float32) for _ in range(2)]
    kl = lambda a, b: np.sum(a * (np.log(a + 1e-8) - np.log(b + 1e-8)), axis=1)  # noqa: E731
    expected = sum(0.5 * np.mean(kl(a.astype(np.float64), b) + kl(b.astype(np.float64), a)) for a, b in zip(p, q))
    assert float(losses.consistency_loss(p, q)) == pytest.approx(expected, rel=1e-5)
    assert float(losses.consistency_loss(p, p)) == pytest.approx(0.0, abs=1e-6)
    mean = [np.mean(a.astype(np.float64), axis=0) for a in p]
    expected = sum(math.log(5) + np.sum(m * np.log(m + 1e-8)) for m in mean)
    assert float(losses.balance_loss(p)) == pytest.approx(expected, rel=1e-5)
    one_value = [np.eye(5, dtype=np.float32)[np.zeros(16, int)]]
    assert float(losses.balance_loss(one_value)) == pytest.approx(math.log(5), rel=1e-5)


def test_confidence_is_the_mean_entropy_and_completes_the_mutual_information():
    rng = np.random.default_rng(1)
    p = [rng.dirichlet(np.full(6, 0.5), 20).astype(np.float32) for _ in range(3)]
    entropy = lambda a: -np.sum(a * np.log(a + 1e-8), axis=-1)  # noqa: E731
    expected = sum(np.mean(entropy(a.astype(np.float64))) for a in p)
    assert float(losses.confidence_loss(p)) == pytest.approx(expected, rel=1e-5)
    assert float(losses.confidence_loss([np.full((4, 6), 1 / 6, np.float32)])) == pytest.approx(math.log(6), rel=1e-5)
    assert float(losses.confidence_loss([np.eye(6, dtype=np.float32)])) == pytest.approx(0.0, abs=1e-6)
    # balance + confidence = ln K - I(c; x) per variable, I from the joint distribution of (image, value)
    for a in p:
        a64 = a.astype(np.float64)
        joint = a64 / len(a64)
        outer = np.full((len(a64), 1), 1 / len(a64)) * a64.mean(axis=0)
        mutual_information = np.sum(joint * np.log(joint / outer))
        both = float(losses.balance_loss([a])) + float(losses.confidence_loss([a]))
        assert both == pytest.approx(math.log(6) - mutual_information, abs=1e-5)


@pytest.mark.parametrize("acted_on", [0, 1])
def test_real_terms_act_on_the_first_variables_only(acted_on):
    """--real_terms_variables N: the balance and confidence terms of a step are those of E's prediction (taken
    here before the step, in training mode as the step does) on the first N categorical variables, summed in
    numpy; 0 means all of them. Two variables of 4 values: all of them give a different sum than the first."""
    cfg = _small_table2()
    tcfg = TrainConfig(batch_size=8, seed=3, balance_weight=1.0, confidence_weight=1.0,
                       real_terms_variables=acted_on)
    model = BidirectionalInfoGAN(cfg, tcfg)
    rng = np.random.default_rng(4)
    images = rng.random((8, 32, 32, 3), dtype=np.float32)
    z, c = latent.sample_latent(cfg, rng, 8)
    code = model.encoder(tf.constant(images), training=True).numpy().astype(np.float64)
    predictions = latent.split_latent(cfg, code).categorical
    kept = predictions[:acted_on] if acted_on else predictions
    mean_entropy = sum(np.mean(-np.sum(p * np.log(p), axis=1)) for p in kept)
    balance = sum(math.log(4) + np.sum(p.mean(axis=0) * np.log(p.mean(axis=0))) for p in kept)
    metrics = model.train_step(images, z, c)
    assert float(metrics["confidence"]) == pytest.approx(mean_entropy, rel=1e-4)
    assert float(metrics["balance"]) == pytest.approx(balance, rel=1e-3, abs=1e-5)


def test_consistency_pulls_both_predictions_together():
    """Both softmax outputs get a gradient, and a small step along it brings them closer."""
    a = tf.Variable([[1.0, 0.0, -1.0]])
    b = tf.Variable([[-1.0, 0.5, 1.0]])
    with tf.GradientTape() as tape:
        loss = losses.consistency_loss([tf.nn.softmax(a)], [tf.nn.softmax(b)])
    ga, gb = tape.gradient(loss, [a, b])
    assert np.abs(ga.numpy()).max() > 1e-3 and np.abs(gb.numpy()).max() > 1e-3
    before = np.abs(tf.nn.softmax(a) - tf.nn.softmax(b)).sum()
    after = np.abs(tf.nn.softmax(a - 0.1 * ga) - tf.nn.softmax(b - 0.1 * gb)).sum()
    assert after < before


def test_r1_logit_is_the_sigmoid_inverse_and_the_penalty_its_squared_gradient():
    """D's logit function gives log(p / (1 - p)) of D's output (same batch, training mode); the penalty is the
    batch mean of the squared gradient norm, here recomputed per example with a tape of our own."""
    cfg = _small_table2()
    model = BidirectionalInfoGAN(cfg, TrainConfig(batch_size=8, seed=3, d_r1=1.0))
    rng = np.random.default_rng(2)
    images = tf.constant(rng.random((8, 32, 32, 3), dtype=np.float32))
    codes = tf.constant(rng.uniform(-1, 1, (8, cfg.latent_dim)).astype(np.float32))
    logits = discriminator_logit_function(model.discriminator)([images, codes]).numpy()
    p = model.discriminator([images, codes], training=True).numpy().astype(np.float64)
    np.testing.assert_allclose(logits, np.log(p / (1 - p)), atol=1e-4)
    with tf.GradientTape() as tape:
        tape.watch([images, codes])
        total = tf.reduce_sum(discriminator_logit_function(model.discriminator)([images, codes]))
    g_images, g_codes = (g.numpy().astype(np.float64) for g in tape.gradient(total, [images, codes]))
    expected = np.mean(np.sum(g_images ** 2, axis=(1, 2, 3))) + np.mean(np.sum(g_codes ** 2, axis=1))
    assert float(model._r1_penalty(images, codes)) == pytest.approx(expected, rel=1e-4)


def test_colour_jitter_keeps_the_range_and_changes_colours():
    rng = np.random.default_rng(0)
    images = rng.random((20, 8, 8, 3), dtype=np.float32)
    out = augment.colour_jitter(images, np.random.default_rng(1))
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1 and not np.allclose(out, images)
    np.testing.assert_array_equal(out, augment.colour_jitter(images, np.random.default_rng(1)))  # pure in rng


class _FixedDraws:
    """A generator whose uniform draws are the given values (in the order geometric_jitter asks for them)."""

    def __init__(self, angle, scale, shift):
        self.values = [np.array([angle]), np.array([scale]), np.array([shift])]

    def uniform(self, *args, **kwargs):
        return self.values.pop(0)


def test_geometric_jitter_moves_the_image_as_asked():
    """A shift of (1, 0) with no rotation or scaling moves every row down by one (the top row repeated); a
    rotation by 90 degrees (beyond the random range, for the check) turns a square image by a quarter."""
    image = np.arange(36, dtype=np.float32).reshape(1, 6, 6, 1)
    shifted = augment.geometric_jitter(image, _FixedDraws(0.0, 1.0, [1.0, 0.0]))
    np.testing.assert_allclose(shifted[0, 1:, :, 0], image[0, :-1, :, 0], atol=1e-5)
    np.testing.assert_allclose(shifted[0, 0, :, 0], image[0, 0, :, 0], atol=1e-5)
    turned = augment.geometric_jitter(image, _FixedDraws(90.0, 1.0, [0.0, 0.0]))
    assert any(np.allclose(turned[0, :, :, 0], np.rot90(image[0, :, :, 0], k), atol=1e-4) for k in (1, 3))


def _slant(image: np.ndarray) -> float:
    """-mu11 / mu02 of a grey image (rows downwards): how far its strokes lean right, per row."""
    rows, cols = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    mass = image.sum()
    dr = rows - (image * rows).sum() / mass
    dc = cols - (image * cols).sum() / mass
    return float(-(image * dr * dc).sum() / (image * dr * dr).sum())


@pytest.mark.parametrize("shear", [0.25, -0.3])
def test_geometric_jitter_shear_slants_by_the_drawn_amount(shear):
    """An upright bar sheared by s leans by s: each row's centre moves sideways by s times its distance from the
    centre row. Bilinear interpolation keeps each row's centre of mass exactly (the bar stays clear of the
    border), so the slant is s up to float32 rounding."""
    image = np.zeros((1, 28, 28, 1), np.float32)
    image[0, 6:22, 13:15, 0] = 1.0
    assert _slant(image[0, :, :, 0]) == pytest.approx(0.0, abs=1e-9)
    draws = _FixedDraws(0.0, 1.0, [0.0, 0.0])
    draws.values.append(np.array([shear]))
    out = augment.geometric_jitter(image, draws, max_shear=0.3)
    assert _slant(out[0, :, :, 0]) == pytest.approx(shear, abs=1e-4)
    assert out.sum() == pytest.approx(image.sum(), rel=1e-5)


def test_no_shear_draws_nothing_more():
    """With max_shear 0 (the default) the generator is left where the code before --consistency_shear left it:
    three draws (angles, scales, shifts) and no fourth, so the copies of later steps are unchanged too."""
    images = np.random.default_rng(0).random((5, 12, 12, 1), dtype=np.float32)
    rng = np.random.default_rng(7)
    out = augment.augment(images, "geometric", rng, max_shear=0.0)
    reference = np.random.default_rng(7)
    reference.uniform(size=5), reference.uniform(size=5), reference.uniform(size=(5, 2))
    assert rng.random() == reference.random()
    sheared = augment.augment(images, "geometric", np.random.default_rng(7), max_shear=0.3)
    assert not np.allclose(sheared, out)


@pytest.mark.slow
def test_a_run_with_the_encoder_terms_resumes_exactly(mnist_dir, tmp_path):
    """--consistency_weight and --balance_weight together: 13 iterations, stop, resume to 24 gives the weights
    of 24 in one go (the augmented copies are drawn from (seed, step)). (--d_r1 with --consistency_weight was
    not always bitwise repeatable, even without a resume: docs/repeatability.md.)"""
    terms = ["--consistency_weight", "1", "--balance_weight", "0.5", "--max_iter", "24"]
    flags = FAST[:] + terms
    assert run_cli(flags + ["--data_dir", mnist_dir, "--log_dir", tmp_path / "straight"]) == 0
    assert run_cli(flags + ["--data_dir", mnist_dir, "--log_dir", tmp_path / "parts", "--stop_after", "13"]) == 0
    parts = only_run(tmp_path / "parts")
    assert run_cli(["--resume", parts]) == 0
    straight = only_run(tmp_path / "straight")
    a = tf.train.load_checkpoint(str(straight / "checkpoints" / "iteration-24"))
    b = tf.train.load_checkpoint(str(parts / "checkpoints" / "iteration-24"))
    names = [n for n in a.get_variable_to_shape_map() if "save_counter" not in n and n != "_CHECKPOINTABLE_OBJECT_GRAPH"]
    assert len(names) > 100
    assert all(np.array_equal(a.get_tensor(n), b.get_tensor(n)) for n in names)
    assert (straight / "health.jsonl").exists()
