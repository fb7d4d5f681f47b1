"""--categorical_prior learned, --prior_floor and --balance_target learned (issue 44): the learned prior follows E's
mean prediction and cannot collapse, G draws from it, the balance term aims at it; each checked against numpy. The
defaults leave the paper's sampling and checkpoint as they were; a run with the prior resumes exactly."""

import json

import numpy as np
import pytest
import tensorflow as tf

from bidirectional_infogan.data.svhn import LABEL_COUNTS
from bidirectional_infogan.datasets import DATASETS
from bidirectional_infogan.model import latent, losses
from bidirectional_infogan.model.config import (ConfigError, RunConfig, TrainConfig, mnist_model_config,
                                                table2_model_config)
from bidirectional_infogan.model.gan import BidirectionalInfoGAN
from bidirectional_infogan.train import cli

from conftest import only_run, run_cli
from test_train_mnist_cli import _weights  # the checkpoint's state without bookkeeping

tf.config.experimental.enable_op_determinism()

SVHN_TEST = np.asarray(LABEL_COUNTS["test"], np.float64) / np.sum(LABEL_COUNTS["test"])


def _predictions(mean, batch=64, seed=0):
    """A batch of made-up softmax predictions whose batch mean is exactly `mean`."""
    rng = np.random.default_rng(seed)
    noise = rng.dirichlet(np.ones(len(mean)), batch)
    noise -= noise.mean(axis=0)  # zero-mean columns (each row sums to 0), shrunk so that every entry stays positive
    scale = 0.9 * np.min(mean) / np.max(np.abs(noise))
    return (mean + scale * noise).astype(np.float32)


def _run_prior(mean, floor, steps, k=10):
    prior = tf.fill([k], 1.0 / k)
    probabilities = tf.constant(_predictions(np.asarray(mean, np.float64)))
    lowest = []
    for _ in range(steps):
        prior = losses.updated_prior(prior, probabilities, floor)
        lowest.append(float(tf.reduce_min(prior)))
    return prior.numpy().astype(np.float64), np.asarray(lowest)


def test_one_update_is_the_moving_average_when_above_the_floor():
    rng = np.random.default_rng(1)
    prior = rng.dirichlet(np.full(10, 50.0))
    p = rng.dirichlet(np.full(10, 5.0), 32)
    expected = (1 - losses.PRIOR_RATE) * prior + losses.PRIOR_RATE * p.mean(axis=0)
    assert expected.min() > 0.5 / 10  # the floor does not act here
    got = losses.updated_prior(tf.constant(prior, tf.float32), tf.constant(p, tf.float32), 0.5).numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)  # float32 rounding of values near 0.1


def test_a_collapsed_encoder_cannot_collapse_the_prior():
    """E puts every image into value 3: the prior settles at (1 - floor) * one-hot + floor / K, never below floor / K
    for any value at any step."""
    floor, k = 0.5, 10
    collapsed = np.full(k, 1e-6)
    collapsed[3] = 1 - 9e-6
    prior, lowest = _run_prior(collapsed, floor, 3000)
    expected = np.full(k, floor / k)
    expected[3] += 1 - floor
    np.testing.assert_allclose(prior, expected, atol=1e-4)
    assert lowest.min() >= floor / k - 1e-6
    entropy = -np.sum(prior * np.log(prior))
    assert entropy > 1.0  # a one-hot prior would have 0; uniform has ln 10 = 2.30


def test_the_prior_follows_a_skewed_mean_above_the_floor():
    """E's mean prediction at SVHN's test frequencies (9: 6.2%, above 0.5 / 10): the prior converges to them."""
    prior, _ = _run_prior(SVHN_TEST, 0.5, 3000)
    np.testing.assert_allclose(prior, SVHN_TEST, atol=2e-4)
    assert abs(prior.sum() - 1) < 1e-5


def test_balance_aims_at_the_target():
    rng = np.random.default_rng(2)
    p = [rng.dirichlet(np.ones(10), 32).astype(np.float32)]
    mean = p[0].astype(np.float64).mean(axis=0)
    target = SVHN_TEST
    kl = np.sum(mean * (np.log(mean) - np.log(target)))
    got = float(losses.balance_loss([tf.constant(x) for x in p], [tf.constant(target, tf.float32)]))
    assert got == pytest.approx(kl, abs=1e-5)  # float32 sums of ten terms of size ~0.1
    uniform = float(losses.balance_loss([tf.constant(x) for x in p], [tf.fill([10], 0.1)]))
    assert uniform == pytest.approx(float(losses.balance_loss([tf.constant(x) for x in p])), abs=1e-5)
    assert uniform == pytest.approx(np.log(10) + np.sum(mean * np.log(mean)), abs=1e-5)


def test_generated_values_follow_the_prior():
    cfg = table2_model_config("svhn", z_dim=4, categorical_dims=(10, 10), continuous_dim=2)
    n = 200_000
    _, c = latent.sample_latent(cfg, np.random.default_rng(3), n, [SVHN_TEST.astype(np.float32)])
    first, second = c[:, :10].sum(axis=0) / n, c[:, 10:20].sum(axis=0) / n
    sigma = np.sqrt(SVHN_TEST * (1 - SVHN_TEST) / n)
    assert np.all(np.abs(first - SVHN_TEST) < 5 * sigma)
    assert np.all(np.abs(second - 0.1) < 5 * np.sqrt(0.09 / n))  # the variable without a prior stays uniform


def test_without_priors_the_draws_are_the_papers():
    """The uniform prior draws exactly what the sampler drew before the flag: the same generator calls in the same
    order (z, then each categorical variable with integers(0, n), then the continuous values)."""
    cfg = mnist_model_config()
    rng = np.random.default_rng(4)
    z = rng.uniform(-1.0, 1.0, size=(16, cfg.z_dim))
    values = rng.integers(0, 10, size=16)
    continuous = rng.uniform(-1.0, 1.0, size=(16, cfg.continuous_dim))
    for priors in (None, []):
        got_z, got_c = latent.sample_latent(cfg, np.random.default_rng(4), 16, priors)
        assert np.array_equal(got_z, z.astype(np.float32))
        assert np.array_equal(got_c, np.concatenate([np.eye(10)[values], continuous], 1).astype(np.float32))


def test_the_prior_needs_its_flags_right():
    TrainConfig(categorical_prior="learned", balance_target="learned", balance_weight=1.0).validate()
    with pytest.raises(ConfigError, match="needs --categorical_prior learned"):
        TrainConfig(balance_target="learned", balance_weight=1.0).validate()
    with pytest.raises(ConfigError, match="needs --balance_weight above 0"):  # it would do nothing
        TrainConfig(categorical_prior="learned", balance_target="learned").validate()
    with pytest.raises(ConfigError, match="--prior_floor is the floor of the learned prior"):
        TrainConfig(prior_floor=0.8).validate()
    with pytest.raises(ConfigError, match="prior_floor must be in"):
        TrainConfig(categorical_prior="learned", prior_floor=1.5).validate()
    with pytest.raises(ConfigError, match="categorical_prior must be one of uniform, learned"):
        TrainConfig(categorical_prior="svhn").validate()


def test_an_unknown_prior_is_one_line_and_exit_2(capsys, tmp_path):
    with pytest.raises(SystemExit) as stop:
        run_cli(["--categorical_prior", "skewed", "--log_dir", tmp_path])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--categorical_prior" in err and "'learned'" in err
    assert run_cli(["--balance_target", "learned", "--balance_weight", "1", "--log_dir", tmp_path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs --categorical_prior learned" in err


def test_an_old_run_resumes_with_the_uniform_prior(tmp_path):
    """A run folder from before the flags (config.json names none of them) resumes as uniform, and refuses a
    learned prior in one line."""
    run = cli.build_run(DATASETS["mnist"], cli.resolve_flags(DATASETS["mnist"], {}))
    saved = json.loads(run.to_json())
    for name in ("categorical_prior", "prior_floor", "balance_target"):
        del saved["flags"][name], saved["train"][name]
    folder = tmp_path / "mnist_old"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(saved))
    assert RunConfig.load(folder / "config.json").train.categorical_prior == "uniform"
    resumed = cli._resumed_run(DATASETS["mnist"], str(folder), {}).train
    assert (resumed.categorical_prior, resumed.prior_floor, resumed.balance_target) == ("uniform", 0.5, "uniform")
    with pytest.raises(cli.ConfigError) as refused:
        cli._resumed_run(DATASETS["mnist"], str(folder), {"categorical_prior": "learned"})
    assert "--categorical_prior learned differs from the run's uniform" in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.slow
def test_a_step_learns_the_prior_of_the_acted_on_variables_only(tmp_path):
    cfg = table2_model_config("svhn", z_dim=8, categorical_dims=(4, 4), continuous_dim=2, initialisation="he")
    default = BidirectionalInfoGAN(cfg, TrainConfig(batch_size=8, seed=3))
    assert default.categorical_priors == [] and default.prior_values() == []
    saved = tf.train.load_checkpoint(default.checkpoint.write(str(tmp_path / "default")))
    assert not any("prior" in name for name in saved.get_variable_to_shape_map())  # old runs' checkpoints fit
    model = BidirectionalInfoGAN(cfg, TrainConfig(batch_size=8, seed=3, categorical_prior="learned",
                                                  real_terms_variables=1, balance_weight=1.0,
                                                  balance_target="learned"))
    assert len(model.categorical_priors) == 1  # the first variable only
    rng = np.random.default_rng(5)
    images = rng.random((8,) + cfg.image_shape, dtype=np.float32)
    z, c = latent.sample_latent(cfg, rng, 8, model.prior_values())
    encoded = latent.split_latent(cfg, model.encoder(images, training=True)).categorical[0].numpy()
    metrics = model.train_step(images, z, c)
    prior = model.prior_values()[0]
    expected = 0.99 * 0.25 + 0.01 * encoded.astype(np.float64).mean(axis=0)  # E before the step, in training mode
    np.testing.assert_allclose(prior, expected, atol=1e-6)
    assert float(metrics["prior_entropy_c1"]) == pytest.approx(-np.sum(prior * np.log(prior)), abs=1e-5)
    assert "balance" in metrics


@pytest.mark.slow
def test_a_run_with_the_learned_prior_resumes_exactly(mnist_dir, tmp_path, monkeypatch):
    """6 iterations, stop at 3, resume: the weights and the prior of 6 in one go, exactly (the prior is in the
    checkpoint; the next batch's c is drawn from it). The training loop hands the sampler the learned prior."""
    handed = []
    draw = latent.sample_latent

    def recording(cfg, rng, batch_size, priors=None):
        if batch_size == 8:  # the training batches (health.py draws its own, uniformly, at the log steps)
            handed.append(priors)
        return draw(cfg, rng, batch_size, priors)
    monkeypatch.setattr(latent, "sample_latent", recording)
    flags = ["--batch_size", "8", "--max_iter", "6", "--checkpoint_every", "3", "--log_every", "3",
             "--scalars_every", "3", "--categorical_prior", "learned", "--prior_floor", "0.8", "--balance_weight",
             "1", "--balance_target", "learned", "--data_dir", mnist_dir]
    assert run_cli(flags + ["--log_dir", tmp_path / "straight"]) == 0
    assert run_cli(flags + ["--log_dir", tmp_path / "parts", "--stop_after", "3"]) == 0
    parts = only_run(tmp_path / "parts")
    assert json.loads((parts / "config.json").read_text())["train"]["categorical_prior"] == "learned"
    assert run_cli(["--resume", parts]) == 0
    a = _weights(str(only_run(tmp_path / "straight") / "checkpoints" / "iteration-6"))
    b = _weights(str(parts / "checkpoints" / "iteration-6"))
    priors = [n for n in a if n.startswith("categorical_priors")]
    assert len(priors) == 1 and not np.allclose(a[priors[0]], 0.1)  # saved, and learned something
    assert len(handed) == 6 + 3 + 3 and all(p is not None and len(p) == 1 for p in handed)  # straight, 2 parts
    assert np.allclose(handed[0][0], 0.1) and not np.allclose(handed[5][0], 0.1)  # uniform at first, then learned
    assert a.keys() == b.keys() and [n for n in a if not np.array_equal(a[n], b[n])] == []
