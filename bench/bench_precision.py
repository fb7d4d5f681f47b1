"""bench/train_step.py --precision P: the training step in P against float32, in one process, interleaved.

Two models per step (MNIST at batch 128, the table-2 networks at batch 32), the same weights and inputs; after a
warm-up, each round times one step of each model, in alternating order, so that load from other processes
slows both alike. The speed-up is the ratio of the median seconds per iteration. --per_layer times each layer of
G, E and D alone (forward and backward, training mode, on its input's shape) in both precisions and sums the
times by kind of layer: which operations the 16-bit kernels make faster, and which not.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from bidirectional_infogan.datasets import DATASETS

STEPS = (("MNIST", "mnist", 128), ("table 2", "svhn", 32))  # (name, data set whose networks, batch size)
BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")


def bfloat16_units(cpuinfo: str | None = None) -> list[str]:
    """The bfloat16 instruction sets that /proc/cpuinfo lists (empty: none, or not Linux on x86)."""
    try:
        text = Path("/proc/cpuinfo").read_text() if cpuinfo is None else cpuinfo
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return [flag for flag in BFLOAT16_FLAGS if flag in flags]


def _models(dataset: str, batch_size: int, precision: str):
    import numpy as np

    from bidirectional_infogan.model import latent
    from bidirectional_infogan.model.config import TrainConfig
    from bidirectional_infogan.model.gan import BidirectionalInfoGAN
    cfg = DATASETS[dataset].default_model_config()
    models = {p: BidirectionalInfoGAN(cfg, TrainConfig(batch_size=batch_size, precision=p))
              for p in ("float32", precision)}
    rng = np.random.default_rng(0)
    images = rng.random((batch_size,) + cfg.image_shape, dtype=np.float32)
    z, c = latent.sample_latent(cfg, rng, batch_size)
    return models, (images, z, c)


def interleaved_seconds(models: dict, inputs, iterations: int) -> dict:
    """Median seconds per training step of each model, the models' steps interleaved."""
    for model in models.values():
        for _ in range(3):  # compile and warm up
            float(model.train_step(*inputs)["D_loss"])
    times = {name: [] for name in models}
    order = list(models)
    for _ in range(iterations):
        for name in order:
            start = time.perf_counter()
            float(models[name].train_step(*inputs)["D_loss"])
            times[name].append(time.perf_counter() - start)
        order.reverse()
    return {name: statistics.median(values) for name, values in times.items()}


def _kind(layer) -> str | None:
    import keras
    from bidirectional_infogan.model.networks import FusedBatchNorm
    for cls, name in ((keras.layers.Conv2DTranspose, "transposed convolution"), (keras.layers.Conv2D, "convolution"),
                      (keras.layers.Dense, "dense"), (FusedBatchNorm, "batch norm"),
                      (keras.layers.GaussianNoise, "noise")):
        if isinstance(layer, cls):
            return name
    return "activation" if type(layer).__name__ in ("ELU", "ReLU", "LeakyReLU") else None


def layer_seconds(model, batch_size: int, repeats: int = 5) -> dict:
    """Seconds of forward and backward of each layer of G, E and D on its input's shape, summed by kind."""
    import tensorflow as tf
    totals: dict = {}
    for network in (model.generator, model.encoder, model.discriminator):
        for layer in network.layers:
            kind = _kind(layer)
            if kind is None:
                continue
            x = tf.cast(tf.random.normal((batch_size,) + tuple(layer.input.shape[1:])), layer.input.dtype)

            @tf.function(autograph=False)
            def forward_backward(x, layer=layer):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    y = tf.reduce_sum(tf.cast(layer(x, training=True), tf.float32))
                return tape.gradient(y, [x] + layer.trainable_variables)
            forward_backward(x)
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                [g.numpy() for g in forward_backward(x)]
                times.append(time.perf_counter() - start)
            totals[kind] = totals.get(kind, 0.0) + statistics.median(times)
    return totals


def op_milliseconds(model, inputs, steps: int = 5) -> dict:
    """Thread milliseconds per training step of each TensorFlow op type (TensorFlow's profiler: the events of the
    host plane's compute-thread lines, summed by op type and over the threads, divided by `steps`). "Process"
    (a whole step's executor event) contains the others and is left out; "ParallelFor" is thread-pool work inside
    another op's event (in our steps the random normal of D's noise: the two times are equal), counted by that op
    already: it is listed but left out of the total."""
    import collections
    import glob
    import tempfile

    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        for _ in range(steps):
            float(model.train_step(*inputs)["D_loss"])
        tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        (path,) = glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)
        space.ParseFromString(Path(path).read_bytes())
    totals = collections.Counter()
    for plane in (p for p in space.planes if p.name == "/host:CPU"):
        names = {key: meta.name.split(":")[-1] for key, meta in plane.event_metadata.items()}
        for line in (line for line in plane.lines if line.name.startswith("tf_Compute")):
            for event in line.events:
                totals[names.get(event.metadata_id, "?")] += event.duration_ps / 1e9 / steps
    totals.pop("Process", None)
    return dict(totals)


def compare_precisions(precision: str, iterations: int, per_layer: bool, per_op: bool = False) -> float:
    """Print the comparison; returns the smaller of the two speed-ups."""
    from bidirectional_infogan.util.tf_setup import NO_GPU, describe_device, import_tensorflow
    tf = import_tensorflow()
    tf.config.experimental.enable_op_determinism()  # as in training
    units = bfloat16_units()
    device = describe_device()
    print(f"device: {device}; bfloat16 units in /proc/cpuinfo: "
          f"{', '.join(units) if units else 'none (avx512_bf16 and amx_bf16 absent)'}")
    if precision == "mixed_float16" and device == NO_GPU:
        print("note: CPUs compute float16 slowly; mixed_bfloat16 is the fast 16-bit format there")
    speed_ups = []
    for name, dataset, batch_size in STEPS:
        models, inputs = _models(dataset, batch_size, precision)
        seconds = interleaved_seconds(models, inputs, iterations)
        speed_ups.append(seconds["float32"] / seconds[precision])
        print(f"{name} step, batch {batch_size}: float32 {seconds['float32']:.3f} s, {precision} "
              f"{seconds[precision]:.3f} s per iteration (median of {iterations}, interleaved): "
              f"{speed_ups[-1]:.2f}x")
        if per_layer:
            by_kind = {p: layer_seconds(model, batch_size) for p, model in models.items()}
            for kind, base in sorted(by_kind["float32"].items(), key=lambda item: -item[1]):
                low = by_kind[precision][kind]
                print(f"  {kind:24s} float32 {base * 1e3:7.1f} ms, {precision} {low * 1e3:7.1f} ms: "
                      f"{base / low:.2f}x")
        if per_op:
            by_op = {p: op_milliseconds(model, inputs) for p, model in models.items()}
            total = {p: sum(v for op, v in ms.items() if op != "ParallelFor") for p, ms in by_op.items()}
            print(f"  per op type, thread ms per step (all threads; total float32 {total['float32']:.0f}, "
                  f"{precision} {total[precision]:.0f}); the 15 largest:")
            ops = sorted(set(by_op["float32"]) | set(by_op[precision]),
                         key=lambda op: -max(by_op["float32"].get(op, 0), by_op[precision].get(op, 0)))
            for op in ops[:15]:
                base, low = by_op["float32"].get(op, 0.0), by_op[precision].get(op, 0.0)
                print(f"  {op[:40]:40s} float32 {base:7.1f} ms, {precision} {low:7.1f} ms"
                      + (f": {base / low:.2f}x" if base and low else ""))
    print(f"the smaller of the two steps' speed-ups ({', '.join(f'{s:.2f}x' for s in speed_ups)}):")
    print(f"speed-up of {precision} over float32: {min(speed_ups):.2f}x")
    return min(speed_ups)
