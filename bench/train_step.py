"""Benchmark: seconds per training iteration, achieved GFLOP/s, and the machine's float32 matmul GFLOP/s.

    python bench/train_step.py [--batch_size 128] [--iterations 20] [--dataset mnist|svhn] [--no-baseline]
    python bench/train_step.py --precision mixed_bfloat16 [--iterations 20] [--per_layer] [--per_op]

The FLOP count is the model's arithmetic, read off the built layers: 2 FLOPs per multiply-add, a forward
pass of G, two of E and two of D per iteration, and the backward pass counted as twice the forward. The
matmul figure (2048 x 2048 float32, same process, same threads) says what this machine can do, so the
ratio between the two is comparable across machines.

Unless --no-baseline is given, the same measurement is repeated in a child process with TensorFlow's default
CPU kernels (TF_ENABLE_ONEDNN_OPTS=0), the set-up a plain TensorFlow install gets on this machine, and the
speed-up of our default set-up over it is printed.

With --precision P (bench_precision.py), the MNIST step (batch 128) and the table-2 step (SVHN's networks, batch
32) are each timed in P and in float32 in this process, the two models' steps interleaved so that other load on
the machine hits both alike; the last line is the smaller of the two speed-ups. It also says whether the processor
has bfloat16 units. --per_layer adds, per kind of layer, the forward and backward time in both precisions; --per_op, per
TensorFlow op type, its time within whole steps (the profiler's trace), which also shows what is not a layer.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from bidirectional_infogan.datasets import DATASETS, TABLE2_DEFAULTS


def layer_macs(model) -> int:
    """Multiply-adds of one forward pass of one example through the model's conv, transposed-conv and dense
    layers."""
    import keras
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):
            h, w, c_in = layer.input.shape[1:]
            total += h * w * layer.kernel_size[0] * layer.kernel_size[1] * c_in * layer.filters
        elif isinstance(layer, keras.layers.Conv2D):
            h, w, _ = layer.output.shape[1:]
            c_in = layer.input.shape[-1]
            total += h * w * layer.kernel_size[0] * layer.kernel_size[1] * c_in * layer.filters
        elif isinstance(layer, keras.layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return total


def step_flops(model, batch_size: int) -> float:
    forward = layer_macs(model.generator) + 2 * layer_macs(model.encoder) + 2 * layer_macs(model.discriminator)
    return 3 * 2 * forward * batch_size


def matmul_gflops(tf, n: int = 2048, repeats: int = 10) -> float:
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    matmul = tf.function(lambda: tf.matmul(a, b))
    matmul().numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        matmul().numpy()
        times.append(time.perf_counter() - start)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def measure(dataset: str, batch_size: int, iterations: int) -> dict:
    from bidirectional_infogan.util.tf_setup import import_tensorflow
    tf = import_tensorflow()
    import numpy as np
    from bidirectional_infogan.model import latent
    from bidirectional_infogan.model.config import TrainConfig
    from bidirectional_infogan.model.gan import BidirectionalInfoGAN

    cfg = DATASETS[dataset].default_model_config()
    tf.config.experimental.enable_op_determinism()  # as in training
    model = BidirectionalInfoGAN(cfg, TrainConfig(batch_size=batch_size))
    rng = np.random.default_rng(0)
    images = rng.random((batch_size,) + cfg.image_shape, dtype=np.float32)
    z, c = latent.sample_latent(cfg, rng, batch_size)
    for _ in range(3):  # compile and warm up
        float(model.train_step(images, z, c)["D_loss"])
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        float(model.train_step(images, z, c)["D_loss"])
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    flops = step_flops(model, batch_size)
    return {"dataset": dataset, "batch_size": batch_size, "seconds_per_iteration": seconds,
            "gflop_per_iteration": flops / 1e9, "achieved_gflops": flops / seconds / 1e9,
            "matmul_gflops": matmul_gflops(tf), "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
            "threads": os.cpu_count()}


def report(result: dict, label: str) -> None:
    print(f"{label}: {result['seconds_per_iteration']:.3f} s/iteration at batch {result['batch_size']} "
          f"({result['gflop_per_iteration']:.1f} GFLOP per iteration, {result['achieved_gflops']:.1f} GFLOP/s "
          f"achieved = {result['achieved_gflops'] / result['matmul_gflops']:.0%} of this machine's float32 "
          f"matmul, {result['matmul_gflops']:.1f} GFLOP/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--dataset", choices=tuple(DATASETS), default="mnist")
    parser.add_argument("--batch_size", type=int, default=None,
                        help=f"default: {DATASETS['mnist'].defaults['batch_size']} (MNIST), "
                             f"{TABLE2_DEFAULTS['batch_size']} (others)")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--no-baseline", action="store_true", help="skip the default-kernels comparison")
    parser.add_argument("--precision", choices=("mixed_bfloat16", "mixed_float16"),
                        help="compare this precision with float32 on the MNIST and table-2 steps (interleaved, in "
                             "this process; --dataset, --batch_size and the baseline do not apply)")
    parser.add_argument("--per_layer", action="store_true",
                        help="with --precision: also time each kind of layer in both precisions")
    parser.add_argument("--per_op", action="store_true",
                        help="with --precision: also each TensorFlow op type's time in a step (profiler trace)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # child-process output
    args = parser.parse_args()
    if args.precision:
        from bench_precision import compare_precisions
        compare_precisions(args.precision, args.iterations, args.per_layer, args.per_op)
        return
    batch = args.batch_size or DATASETS[args.dataset].defaults["batch_size"]

    result = measure(args.dataset, batch, args.iterations)
    if args.json:
        print(json.dumps(result))
        return
    report(result, "this project (oneDNN kernels, fused batch norm)")
    if args.dataset == "mnist" and batch == 128:
        print(f"target: at most 0.30 s/iteration -> {'met' if result['seconds_per_iteration'] <= 0.30 else 'not met'}"
              f" on this machine")
    if not args.no_baseline:
        env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0")
        out = subprocess.run([sys.executable, __file__, "--dataset", args.dataset, "--batch_size", str(batch),
                              "--iterations", str(args.iterations), "--json"],
                             env=env, capture_output=True, text=True, check=True).stdout
        baseline = json.loads(out.strip().splitlines()[-1])
        report(baseline, "baseline (TensorFlow's default CPU kernels)")
        print(f"speed-up over the baseline: "
              f"{baseline['seconds_per_iteration'] / result['seconds_per_iteration']:.2f}x")


if __name__ == "__main__":
    main()
