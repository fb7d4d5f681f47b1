"""E and G rebuilt from Keras's own layers, so that the exported .keras files load without this project
(pretrained.py says how), and the check that the rebuilt networks compute what the training ones do, within
float32 rounding. The exported networks compute in float32 whatever precision the run trained in (--precision):
their users get what they got before mixed precision existed."""

from __future__ import annotations

import numpy as np

from bidirectional_infogan.model.latent import latent_blocks, latent_to_dict
from bidirectional_infogan.evaluate.pretrained import ExportedModel, ExportError


PARITY_SAMPLES = 256  # codes and test images on which the exported networks are compared with the training ones


def _plain_copy(layer):
    """A new layer of Keras itself with `layer`'s config, without initialisers, computing in float32;
    FusedBatchNorm -> BatchNormalization (same config: axis, momentum, epsilon, center, scale)."""
    from keras import layers
    if isinstance(layer, layers.GaussianNoise):
        raise ExportError(f"layer {layer.name} is a noise layer; G and E should have none")
    config = {**layer.get_config(), "dtype": "float32"}
    for key in [key for key in config if key.endswith("_initializer")]:
        del config[key]
    cls = layers.BatchNormalization if isinstance(layer, layers.BatchNormalization) else type(layer)
    if not cls.__module__.startswith("keras."):
        raise ExportError(f"layer {layer.name} is a {cls.__name__}, which plain Keras does not know")
    return cls.from_config(config)


def _replay_chain(model, x, end, copies: list):
    """Plain copies of `model`'s layers applied to x, from its input up to its tensor `end`; those layers must
    form a chain (each takes the one output of the layer before it). Appends (layer, copy) to `copies`."""
    from keras import layers
    current = model.inputs[0]
    for layer in model.layers:
        if current is end:
            break
        if isinstance(layer, layers.InputLayer):
            continue
        if layer.input is not current:
            raise ExportError(f"{model.name}: layer {layer.name} does not take the output of the layer before "
                              f"it; only chains of layers are exported")
        copy = _plain_copy(layer)
        x = copy(x)
        copies.append((layer, copy))
        current = layer.output
    if current is not end:
        raise ExportError(f"{model.name}: the chain of layers does not reach the output")
    return x


def _copy_weights(copies) -> None:
    for layer, copy in copies:
        weights = layer.get_weights()
        if len(weights) != len(copy.get_weights()):
            raise ExportError(f"layer {layer.name}: its copy has {len(copy.get_weights())} weights, not "
                              f"{len(weights)}")
        copy.set_weights(weights)


def plain_generator(generator, cfg):
    """G as a Keras model of Keras's own layers: a dict of latent blocks -> (concatenated in the layout of
    latent.py) -> the training G's layers, with its weights."""
    import keras
    from keras import layers
    inputs = {name: keras.Input((size,), name=name) for name, size in latent_blocks(cfg)}
    code = layers.Concatenate(name="latent")([inputs[name] for name, _ in latent_blocks(cfg)])
    copies = []
    image = _replay_chain(generator, code, generator.output, copies)
    model = keras.Model(inputs, image, name="generator")
    _copy_weights(copies)
    return model


def _encoder_heads(encoder, cfg) -> list:
    """The layers of E whose outputs its final Concatenate joins, in the layout's order (one per block of
    `latent_blocks`); they all take the same input."""
    from keras import layers
    concat = encoder.layers[-1]
    blocks = latent_blocks(cfg)
    tensors = list(concat.input) if isinstance(concat, layers.Concatenate) else []
    heads = [next((layer for layer in encoder.layers if layer.output is t), None) for t in tensors]
    if len(heads) != len(blocks) or None in heads or any(head.output.shape[-1] != size
                                                        for head, (_, size) in zip(heads, blocks)):
        raise ExportError(f"the encoder's output is not the concatenation of the blocks {blocks}")
    if any(head.input is not heads[0].input for head in heads):
        raise ExportError("the encoder's heads do not all take the same input")
    return heads


def plain_encoder(encoder, cfg):
    """E as a Keras model of Keras's own layers, returning a dict of the heads (the inputs of the training
    E's final Concatenate, named in the layout's order) instead of their concatenation, with E's weights."""
    import keras
    heads = _encoder_heads(encoder, cfg)
    image = keras.Input(tuple(cfg.image_shape), name="image")
    copies = []
    features = _replay_chain(encoder, image, heads[0].input, copies)
    outputs = {}
    for head, (name, _) in zip(heads, latent_blocks(cfg)):
        copy = _plain_copy(head)
        outputs[name] = copy(features)
        copies.append((head, copy))
    model = keras.Model(image, outputs, name="encoder")
    _copy_weights(copies)
    return model


FLOAT32_EPS = float(np.finfo(np.float32).eps)  # 2**-23


def weighted_layer_terms(path) -> tuple[int, int]:
    """(L, n) for the layers `path` that one output is computed through: the number of them with a weighted
    sum (dense, convolutions), and the largest number of products that one output of such a layer sums
    (dense: its inputs; convolution: kernel height x width x input maps)."""
    count, largest = 0, 1
    for layer in path:
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        shape = tuple(kernel.shape)
        # a transposed convolution's kernel is (h, w, out, in); an output sums at most h*w*in products
        terms = shape[0] * shape[1] * shape[3] if type(layer).__name__ == "Conv2DTranspose" else \
            int(np.prod(shape[:-1]))
        count, largest = count + 1, max(largest, terms)
    return count, largest


def float32_tolerance(path, scale):
    """How far two float32 evaluations of the same formulas may differ at a pre-activation output computed
    through the layers `path`, of magnitude `scale` (sum |w_i x_i| + |b| of its last layer), when they differ
    only in how the operations are fused and ordered (two graphs, another batch size, oneDNN folding batch
    norm into a convolution).

    A float32 sum of n products carries rounding errors of at most eps/2 of the partial sums each; two
    summation orders differ by about sqrt(n) * eps * sum |w_i x_i| (random-signed errors: the usual
    statistical estimate; the worst case grows like n). An input with relative error r moves the output by at
    most r * sum |w_i x_i|, and batch norm rescales each layer to unit scale, so the relative errors of the L
    layers add: L * sqrt(n) * eps * scale, with n the largest sum of any layer (`weighted_layer_terms`)."""
    layers_count, terms = weighted_layer_terms(path)
    return layers_count * float(np.sqrt(terms)) * FLOAT32_EPS * np.asarray(scale)


def pre_activations(model, layer, inputs) -> tuple[np.ndarray, np.ndarray]:
    """(a, scale) in float64 for `layer` of `model` (a layer with a kernel and an activation): a = its
    output before the activation, scale = sum |w_i x_i| + |b| of each output, from copies of the layer with no
    activation (the second with |w|, |b|) applied to the layer's input."""
    import keras
    config = {**layer.get_config(), "activation": "linear"}
    for key in [key for key in config if key.endswith("_initializer")]:
        del config[key]
    features = keras.Model(model.inputs[0], layer.input)(inputs, training=False)
    results = []
    for weights, x in ((layer.get_weights(), features), ([np.abs(w) for w in layer.get_weights()],
                                                         keras.ops.abs(features))):
        linear = type(layer).from_config(config)
        linear.build(features.shape)
        linear.set_weights(weights)
        results.append(np.asarray(linear(x), np.float64))
    return results[0], results[1]


def float32_twin(model):
    """`model` (a model.BidirectionalInfoGAN) if it computes in float32; for a run trained in a 16-bit precision,
    G and E rebuilt in float32 with its weights (what the exported networks compute, to compare them with)."""
    if model.train_cfg.precision == "float32":
        return model
    import dataclasses

    from bidirectional_infogan.model.gan import BidirectionalInfoGAN
    twin = BidirectionalInfoGAN(model.cfg, dataclasses.replace(model.train_cfg, precision="float32"))
    for network, trained in ((twin.generator, model.generator), (twin.encoder, model.encoder)):
        network.set_weights(trained.get_weights())
    return twin


def parity(model, cfg, codes: np.ndarray, images: np.ndarray, exported: ExportedModel) -> dict:
    """How far the exported networks are from the training ones (`model`, a model.BidirectionalInfoGAN)
    on the same codes and images: per output, the largest difference and the largest ratio of difference to
    tolerance (at most 1: within float32 rounding).

    Each element's tolerance is its pre-activation tolerance (`float32_tolerance`) times the slope of the
    activation there (first order: sigmoid s (1 - s), tanh 1 - t^2, linear 1; softmax 2 p_i (1 - p_i) times
    the largest tolerance of the row's logits, since dp_i = p_i (dl_i - sum_j p_j dl_j)), plus eps for the
    rounding of the activation itself (outputs are at most 1 in size, continuous ones a few). A run trained in a
    16-bit precision is compared through its float32 twin (`float32_twin`)."""
    from bidirectional_infogan.data.common import as_float
    model = float32_twin(model)
    out = {}

    def compare(name, mine, theirs, tolerance):
        difference = np.abs(np.asarray(mine, np.float64) - np.asarray(theirs, np.float64))
        out[name] = {"max_abs_difference": float(difference.max()),
                     "max_difference_over_tolerance": float((difference / tolerance).max())}

    logits, scale = pre_activations(model.generator, model.generator.layers[-1], codes)
    s = 1 / (1 + np.exp(-logits))
    tolerance = s * (1 - s) * float32_tolerance(model.generator.layers, scale) + FLOAT32_EPS
    compare("generator", exported.generate(codes), model.generate(codes), tolerance)

    floats = as_float(images)
    trained = latent_to_dict(cfg, model.encode(floats))
    mine = latent_to_dict(cfg, exported.encode(floats))
    heads = _encoder_heads(model.encoder, cfg)
    trunk = [layer for layer in model.encoder.layers if layer not in heads]
    for head, (name, _) in zip(heads, latent_blocks(cfg)):
        a, scale = pre_activations(model.encoder, head, floats)
        pre = float32_tolerance(trunk + [head], scale)
        if name == "z":
            slope = 1 - np.tanh(a) ** 2
        elif name.startswith("categorical_"):
            p = np.exp(a - a.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            slope, pre = 2 * p * (1 - p), pre.max(axis=1, keepdims=True)
        else:
            slope = 1.0
        compare(name, mine[name], trained[name], slope * pre + FLOAT32_EPS)
    return out
