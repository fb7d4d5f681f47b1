"""--precision (issue 42): float32 is the paper's step bit for bit; under mixed_bfloat16 and mixed_float16 the hidden
layers compute in 16 bits and everything the losses see in float32; a bfloat16 step's losses are within a tolerance
derived from bfloat16's significand of float32's; bad values and resumes; a run trains, resumes and evaluates."""

import io
import json
import math

import numpy as np
import pytest
import tensorflow as tf

from bidirectional_infogan.datasets import DATASETS
from bidirectional_infogan.model import latent, losses, networks
from bidirectional_infogan.model.config import (ConvLayer, DenseLayer, RunConfig, TrainConfig, mnist_model_config,
                                                table2_model_config)
from bidirectional_infogan.model.gan import BidirectionalInfoGAN
from bidirectional_infogan.train import cli

from conftest import FAST, only_run, run_cli
from test_opt_in_terms import PaperStep, _weights_after
from test_train_mnist_cli import _weights  # the checkpoint's state without bookkeeping

tf.config.experimental.enable_op_determinism()

LOW = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}
HIDDEN_KINDS = ("Conv2D", "Conv2DTranspose", "Dense", "FusedBatchNorm", "ELU", "GaussianNoise")
OUTPUT_LAYERS = ("g_output", "e_z", "e_continuous", "e_code", "d_output")  # and e_categorical<i>


def _thin_table2():
    """Table 2's layout, every layer of it, with fewer maps and units (fast; no noise in D)."""
    return table2_model_config(
        "svhn", z_dim=8, categorical_dims=(4, 4), continuous_dim=2, initialisation="he", generator_reshape=(2, 2, 64),
        generator_convs=(ConvLayer(64, 5, 2), ConvLayer(32, 5, 2), ConvLayer(32, 5, 2), ConvLayer(16, 5, 2),
                         ConvLayer(16, 5, 1), ConvLayer(3, 4, 1)),
        encoder_convs=(ConvLayer(16, 3, 1), ConvLayer(16, 3, 2), ConvLayer(32, 3, 1), ConvLayer(32, 3, 2),
                       ConvLayer(64, 3, 2)), encoder_dense=DenseLayer(256),
        disc_image_convs=(ConvLayer(16, 4, 2), ConvLayer(32, 4, 2), ConvLayer(64, 4, 2)),
        disc_image_dense=DenseLayer(256),
        disc_latent_convs=(ConvLayer(16, 1, 1), ConvLayer(32, 1, 1), ConvLayer(64, 1, 1)),
        disc_latent_dense=DenseLayer(256), disc_joint_dense=(DenseLayer(256),))


def _is_output(layer) -> bool:
    return layer.name in OUTPUT_LAYERS or layer.name.startswith("e_categorical")


def _inputs(cfg, batch_size, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.random((batch_size,) + cfg.image_shape, dtype=np.float32)
    z, c = latent.sample_latent(cfg, rng, batch_size)
    return images, z, c


# ---------------------------------------------------------------------------------------------------------
# float32: the paper's step, as it was

def test_float32_is_every_default():
    assert TrainConfig().precision == "float32"
    assert all(dataset.defaults["precision"] == "float32" for dataset in DATASETS.values())
    assert cli.OLD_RUN_FLAGS["precision"] == "float32" and "precision" not in cli.RESUMABLE_FLAGS


def test_default_step_is_the_old_step_bit_for_bit(monkeypatch):
    """The default precision against the step as it was before --precision existed: the old step function
    (test_opt_in_terms.PaperStep) on networks built the old way, every layer without a dtype (Keras's default
    float32 policy). Two steps give exactly the same weights, and every layer of the default networks is
    float32 through and through."""
    cfg, tcfg = _thin_table2(), TrainConfig(batch_size=8, seed=3)
    ours = _weights_after(BidirectionalInfoGAN, cfg, tcfg, steps=2)
    with monkeypatch.context() as patch:  # the old way: no dtype argument anywhere
        patch.setattr(networks, "dtype_policy", lambda precision: None)
        patch.setattr(networks, "OUTPUT_POLICY", None)
        old = _weights_after(PaperStep, cfg, tcfg, steps=2)
    assert len(ours) == len(old) > 50
    assert all(np.array_equal(a, b) for a, b in zip(ours, old))
    model = BidirectionalInfoGAN(cfg, tcfg)
    for network in (model.generator, model.encoder, model.discriminator):
        for layer in network.layers:
            assert (layer.dtype_policy.compute_dtype, layer.dtype_policy.variable_dtype) == ("float32", "float32")


# ---------------------------------------------------------------------------------------------------------
# 16-bit policies: what computes in 16 bits and what in float32

@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_hidden_layers_compute_in_16_bits_and_the_losses_in_float32(precision):
    cfg = _thin_table2()
    model = BidirectionalInfoGAN(cfg, TrainConfig(batch_size=4, seed=3, precision=precision, d_r1=0.1))
    hidden = outputs = 0
    for network in (model.generator, model.encoder, model.discriminator):
        assert all(v.dtype == "float32" for v in network.variables if "seed_generator" not in v.path)
        for layer in network.layers:
            if _is_output(layer):
                outputs += 1
                assert layer.compute_dtype == "float32", layer.name
            elif type(layer).__name__ in HIDDEN_KINDS:
                hidden += 1
                assert layer.compute_dtype == LOW[precision], layer.name
    assert hidden > 40 and outputs == 5 + len(cfg.categorical_dims)
    # what the layers hand on: 16-bit activations inside, float32 at the outputs (training mode)
    images, z, c = (tf.constant(a) for a in _inputs(cfg, 4))
    probe = tf.keras.Model(model.encoder.inputs, [model.encoder.get_layer("e_dense0_act").output,
                                                   model.encoder.output])
    inside, code = probe(images, training=True)
    assert (inside.dtype, code.dtype) == (LOW[precision], "float32")
    assert model.discriminator([images, code], training=True).dtype == "float32"
    assert model.generator(tf.concat([z, c], 1), training=True).dtype == "float32"
    metrics = model.train_step(images, z, c)  # every loss and term, the R1 penalty too
    assert {name: value.dtype for name, value in metrics.items()} == {name: tf.float32 for name in metrics}
    assert all(np.isfinite(float(value)) for value in metrics.values())
    assert isinstance(model.d_optimizer, tf.keras.optimizers.LossScaleOptimizer) == (precision == "mixed_float16")


# ---------------------------------------------------------------------------------------------------------
# How close a bfloat16 step's losses are to float32's
#
# The first step's losses come from the initial weights, which are the same in both precisions (float32
# variables, same seed). bfloat16 keeps 8 significant bits: round-to-nearest has unit roundoff u = 2^-8.
# 1. One layer: each product w_i x_i has both factors rounded to bfloat16 (relative error up to u each, standard
#    deviation u / sqrt(3) each), oneDNN sums the products in float32 (which adds nothing comparable), and the
#    result is rounded to bfloat16 (u / sqrt(3)). Relative to the layer's scale, which batch norm brings to 1,
#    the three add up to a standard deviation of sqrt(3) u / sqrt(3) = u: no growth with the reduction size n,
#    because the sum is not rounded to 16 bits while it accumulates.
# 2. Depth: batch norm rescales every layer to unit scale and ELU's slope is at most 1, so an error is carried
#    forward with a gain of at most about 1, and the errors of the L weighted layers on a path add. Independent
#    errors would add to u sqrt(L); we take L u, as if they were aligned, a margin of sqrt(L) >= 3.6 standard
#    deviations for the paths below (L >= 13).
# 3. The output layers compute in float32 from the last hidden layer's units, each off by up to L u,
#    independently: an output (a logit) a = sum_j w_j h_j is off by |w|_2 L u (|w|_2: the norm of its kernel's
#    column).
# 4. The losses, in float32, as functions of those outputs: log D and log(1 - D) have slope at most 1 in D's logit
#    (D_loss and G's adversarial loss hold one of each: 2 |w|_2 L u); the cross-entropy of a softmax has slope
#    p - c, whose absolute values sum to at most 2 (2 |w|_2 L u per categorical variable); the Gaussian term
#    0.5 (c_i - c_hat_i)^2 has slope |c_i - c_hat_i|, whose batch mean summed over the K variables is at most
#    sqrt(K * 2 (info_cont - K ln(2 pi) / 2)) (Cauchy-Schwarz, from the float32 value of the term).
#    G_loss = adversarial + info_cont + info_cat: the sum of their tolerances.
BFLOAT16_ROUNDOFF = 2.0 ** -8


def _depths(cfg):
    """Weighted layers (output layers included) on the longest path into D's logit and into E's heads on G's
    images (the information terms)."""
    g = 1 + len(cfg.generator_convs)
    e = len(cfg.encoder_convs) + 2
    d_image = len(cfg.disc_image_convs) + 1 + len(cfg.disc_joint_dense) + 1
    d_latent = len(cfg.disc_latent_convs) + 1 + len(cfg.disc_joint_dense) + 1
    return max(g + d_image, e + d_latent), g + e


def output_norms(model) -> dict:
    """|w|_2 of each output layer's kernel column, the largest of each kind (step 3)."""
    def largest(layer):
        return float(np.linalg.norm(layer.kernel.numpy(), axis=0).max())
    cfg = model.cfg
    return {"d": largest(model.discriminator.get_layer("d_output")),
            "categorical": max(largest(model.encoder.get_layer(f"e_categorical{i}"))
                               for i in range(len(cfg.categorical_dims))),
            "continuous": largest(model.encoder.get_layer("e_continuous"))}


def bfloat16_tolerances(cfg, norms: dict, info_cont: float) -> dict:
    """Steps 1-4 above: how far each loss of a bfloat16 step may be from float32's."""
    depth_d, depth_info = _depths(cfg)
    logit = norms["d"] * depth_d * BFLOAT16_ROUNDOFF
    k = cfg.continuous_dim
    spread = math.sqrt(k * 2 * max(info_cont - k * losses.HALF_LOG_2PI, 0.0))
    tolerances = {"D_loss": 2 * logit,
                  "c gen cat": 2 * len(cfg.categorical_dims) * norms["categorical"] * depth_info * BFLOAT16_ROUNDOFF,
                  "c gen cont": norms["continuous"] * depth_info * BFLOAT16_ROUNDOFF * spread}
    tolerances["G_loss"] = 2 * logit + tolerances["c gen cat"] + tolerances["c gen cont"]
    return tolerances


def test_bfloat16_losses_are_float32_losses_within_the_derived_tolerance():
    """Table 2's layout, thinner (no noise in D: the noise is drawn in each precision's own dtype). On an AMD EPYC
    with AVX512_BF16 the differences were 0.2-11% of these tolerances."""
    cfg, batch = _thin_table2(), 16
    images, z, c = _inputs(cfg, batch)
    metrics = {}
    for precision in ("float32", "mixed_bfloat16"):
        model = BidirectionalInfoGAN(cfg, TrainConfig(batch_size=batch, seed=3, precision=precision))
        if precision == "float32":
            norms = output_norms(model)  # the initial weights, the same in both
        metrics[precision] = {name: float(value) for name, value in
                              model.train_step(images, z, c).items()}
    tolerances = bfloat16_tolerances(cfg, norms, metrics["float32"]["c gen cont"])
    ratios = {}
    for name, tolerance in tolerances.items():
        ratios[name] = abs(metrics["mixed_bfloat16"][name] - metrics["float32"][name]) / tolerance
    assert max(ratios.values()) <= 1, ratios


# ---------------------------------------------------------------------------------------------------------
# Exported networks compute in float32

def test_exported_networks_of_a_bfloat16_model_are_float32():
    from bidirectional_infogan.evaluate.plain_keras import float32_twin, plain_encoder, plain_generator
    cfg = mnist_model_config()
    model = BidirectionalInfoGAN(cfg, TrainConfig(precision="mixed_bfloat16"))
    twin = float32_twin(model)
    assert twin.train_cfg.precision == "float32" and twin is not model
    images, z, c = _inputs(cfg, 8)
    codes = np.concatenate([z, c], 1)
    encoder, generator = plain_encoder(model.encoder, cfg), plain_generator(model.generator, cfg)
    assert {layer.compute_dtype for layer in encoder.layers + generator.layers} == {"float32"}
    exported_code = np.concatenate(list(encoder(images).values()), 1)
    np.testing.assert_allclose(exported_code, twin.encode(images), atol=1e-5)
    exported_images = generator(latent.latent_to_dict(cfg, codes))
    np.testing.assert_allclose(exported_images, twin.generate(codes), atol=1e-5)
    assert np.abs(model.generate(codes) - twin.generate(codes)).max() > 0  # the twin is not the bfloat16 model


# ---------------------------------------------------------------------------------------------------------
# The flag

def test_an_unknown_precision_is_one_line_and_exit_2(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(["--precision", "float8", "--log_dir", tmp_path])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--precision: invalid choice: 'float8'" in err
    assert not (tmp_path / "mnist").exists()


def _old_run_folder(tmp_path):
    """A run folder as one made before --precision: neither its flags nor its training settings name it."""
    run = cli.build_run(DATASETS["mnist"], cli.resolve_flags(DATASETS["mnist"], {}))
    saved = json.loads(run.to_json())
    del saved["flags"]["precision"], saved["train"]["precision"]
    folder = tmp_path / "mnist_old"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(saved))
    assert RunConfig.load(folder / "config.json").train.precision == "float32"
    return folder


def test_resume_keeps_the_precision_and_refuses_another(tmp_path):
    folder = _old_run_folder(tmp_path)
    assert cli._resumed_run(DATASETS["mnist"], str(folder), {}).train.precision == "float32"
    with pytest.raises(cli.ConfigError) as refused:
        cli._resumed_run(DATASETS["mnist"], str(folder), {"precision": "mixed_bfloat16"})
    assert "--precision mixed_bfloat16 differs from the run's float32" in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.slow
def test_a_bfloat16_run_trains_resumes_and_evaluates(mnist_dir, tmp_path, capsys):
    """20 iterations in two sessions (stop at 10, resume), then evaluate_model.py --evaluate."""
    from bidirectional_infogan.evaluate.cli import main as evaluate
    argv = FAST[:2] + ["--max_iter", "20", "--stop_after", "10", "--checkpoint_every", "10", "--log_every", "10",
                       "--scalars_every", "5", "--precision", "mixed_bfloat16", "--data_dir", mnist_dir,
                       "--log_dir", tmp_path]
    assert run_cli(argv) == 0
    run = only_run(tmp_path)
    saved = json.loads((run / "config.json").read_text())
    assert saved["flags"]["precision"] == saved["train"]["precision"] == "mixed_bfloat16"
    capsys.readouterr()
    assert run_cli(["--resume", run, "--precision", "float32"]) == 2
    assert "--precision float32 differs from the run's mixed_bfloat16" in capsys.readouterr().err
    assert run_cli(["--resume", run]) == 0
    assert json.loads((run / "config.json").read_text()) == saved
    assert sorted(p.name for p in (run / "checkpoints").glob("*.index")) == ["iteration-10.index",
                                                                            "iteration-20.index"]
    out = io.StringIO()
    assert evaluate(["--model_dir", str(run), "--evaluate", "--data_dir", str(mnist_dir)], out=out) == 0
    assert "Accuracy: " in out.getvalue()


@pytest.mark.slow
def test_float16_divergence_names_the_precision_and_suggests_others(mnist_dir, tmp_path, capsys, monkeypatch):
    from test_divergence import _patch_step
    _patch_step(monkeypatch, lambda model, iteration, metrics: {name: tf.constant(float("inf")) for name in metrics})
    assert run_cli(["--batch_size", "8", "--max_iter", "2", "--precision", "mixed_float16", "--data_dir", mnist_dir,
                    "--log_dir", tmp_path]) == 2
    captured = capsys.readouterr()
    assert "note: --precision mixed_float16 on a CPU" in captured.out or tf.config.list_physical_devices("GPU")
    assert captured.err.count("\n") == 1
    assert "(D_loss inf, G_loss inf) in precision mixed_float16; training stopped and nothing was saved; " \
           "float16's narrow range may be the cause: start a new run with --precision mixed_bfloat16 or float32" \
           in captured.err


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_a_16_bit_run_resumes_exactly(precision, mnist_dir, tmp_path):
    """6 iterations, stop at 3, resume to 6: the weights (and, under float16, the loss scale and its counter) of 6 in
    one go, exactly: the 16-bit step is as repeatable on one machine as the float32 one."""
    flags = ["--batch_size", "8", "--max_iter", "6", "--checkpoint_every", "3", "--log_every", "3",
             "--scalars_every", "3", "--precision", precision, "--data_dir", mnist_dir]
    assert run_cli(flags + ["--log_dir", tmp_path / "straight"]) == 0
    assert run_cli(flags + ["--log_dir", tmp_path / "parts", "--stop_after", "3"]) == 0
    parts = only_run(tmp_path / "parts")
    assert run_cli(["--resume", parts]) == 0
    a = _weights(str(only_run(tmp_path / "straight") / "checkpoints" / "iteration-6"))
    b = _weights(str(parts / "checkpoints" / "iteration-6"))
    assert len(a) > 100 and a.keys() == b.keys()
    if precision == "mixed_float16":
        assert any("loss_scale" in n or "dynamic_scale" in n for n in a), "the loss scale is not checkpointed"
    assert [n for n in a if not np.array_equal(a[n], b[n])] == []
