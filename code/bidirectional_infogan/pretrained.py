"""A trained model that works without this project: E and G of a run exported as plain Keras 3 files, and such
an exported folder loaded back for evaluate_model.py.

An exported folder (made by scripts/export_pretrained.py) holds

    encoder.keras    E: float32 images in [0, 1], (N, H, W, C) -> {"z", "categorical_1", ..., "continuous"}
                     (z: tanh, each categorical variable: its softmax, continuous: linear)
    generator.keras  G: such a dict (categorical blocks one-hot or probabilities) -> images in [0, 1]
    config.json      the run's config.json, unchanged
    encodings.txt    (data sets with digit labels) entry i = the category that encodes digit i
    results.json     seed, iteration, data set, and the test accuracy and NMI that the exported encoder gives

Both .keras files load with plain `keras.saving.load_model(path)`, without this project: they are the
inference-time networks rebuilt from Keras's own layers. Each layer of the training networks is copied from its
config, with two changes: FusedBatchNorm becomes keras.layers.BatchNormalization (FusedBatchNorm differs from
it only in training; in inference it runs BatchNormalization's own code, so the formula and the epsilon, taken
from the config, are the same), and the initialisers are left out of the configs (the weights are copied, so
no initialiser plays a part, and the project's own ones would make the file need this project). G and E have
no noise layers. The dict keys are `latent.latent_blocks`, the names of the blocks of the flat latent layout.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from .latent import latent_blocks, latent_from_dict, latent_to_dict
from .run_folder import RunFolderError, choose_checkpoint, load_run_config

ENCODER_FILE, GENERATOR_FILE = "encoder.keras", "generator.keras"
RESULTS_FILE, ENCODINGS_FILE, CONFIG_FILE = "results.json", "encodings.txt", "config.json"
EXPORTED_BY = "scripts/export_pretrained.py"
BATCH_SIZE = 1000  # encode() and generate() work in batches of this size (the accuracy in results.json too)
PARITY_SAMPLES = 256  # codes and test images on which the exported networks are compared with the training ones


class ExportError(RunFolderError):
    """A run folder or output folder that cannot be exported to (the message is meant for the user)."""


# ---------------------------------------------------------------------------------------------------------
# Loading an exported folder

def is_exported_folder(folder) -> bool:
    """Whether `folder` is (or claims to be) an exported model: it holds encoder.keras or generator.keras."""
    folder = Path(folder)
    return (folder / ENCODER_FILE).exists() or (folder / GENERATOR_FILE).exists()


def read_results(folder) -> dict:
    """results.json of an exported folder ({} if it has none); a RunFolderError if it is unreadable."""
    path = Path(folder) / RESULTS_FILE
    if not path.is_file():
        return {}
    try:
        results = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RunFolderError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(results, dict):
        raise RunFolderError(f"{path} does not hold a JSON object")
    return results


def check_exported_folder(folder, iteration: int | None = None) -> dict:
    """Fail with one line, before TensorFlow is imported, if `folder` lacks a file of an exported model or was
    exported at another iteration than `iteration`. Returns its results.json ({} if it has none)."""
    folder = Path(folder)
    for name in (ENCODER_FILE, GENERATOR_FILE, CONFIG_FILE):
        if not (folder / name).is_file():
            raise RunFolderError(f"{folder} is an exported model but has no {name}")
    results = read_results(folder)
    exported = results.get("iteration")
    if iteration is not None and iteration != exported:
        which = f"of iteration {exported}" if exported is not None else f"(its {RESULTS_FILE} names no iteration)"
        raise RunFolderError(f"{folder} is an exported model {which}; it has no other (leave out --iteration)")
    return results


def load_model_folder(folder, iteration: int | None = None):
    """The model of a run folder (its newest checkpoint, or `iteration`) or of an exported folder, with encode()
    and generate(); for tools that accept either as --model_dir."""
    from .config import RunConfig
    folder = Path(folder)
    if is_exported_folder(folder):
        check_exported_folder(folder, iteration)
        return ExportedModel(folder, RunConfig.load(folder / CONFIG_FILE).model)
    from .checkpoints import load_trained_model
    return load_trained_model(folder, iteration)[0]


def _load_keras(path: Path):
    import keras
    try:
        return keras.saving.load_model(path)
    except Exception as err:  # a damaged or foreign file fails in many ways inside Keras (zip, JSON, h5)
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise RunFolderError(f"cannot load {path}: {first}") from None


class ExportedModel:
    """The exported E and G with the interface the evaluation uses (as model.BidirectionalInfoGAN's):
    encode(images) -> (N, latent_dim) codes in the flat layout, generate(codes) -> images. Inference mode, in
    batches of BATCH_SIZE, each batch through one tf.function (as the training model's encode and generate)."""

    def __init__(self, folder, cfg):
        import tensorflow as tf
        self.cfg = cfg
        folder = Path(folder)
        self.encoder = _load_keras(folder / ENCODER_FILE)
        self.generator = _load_keras(folder / GENERATOR_FILE)
        names = sorted(name for name, _ in latent_blocks(cfg))
        if tuple(self.encoder.input_shape[1:]) != tuple(cfg.image_shape):
            raise RunFolderError(f"{folder / ENCODER_FILE} takes images of shape {self.encoder.input_shape[1:]}, "
                                 f"but config.json says {tuple(cfg.image_shape)}")
        if not isinstance(self.encoder.output, dict) or sorted(self.encoder.output) != names:
            raise RunFolderError(f"{folder / ENCODER_FILE} does not return the dict {names} that config.json "
                                 f"describes")
        if not isinstance(self.generator.input, dict) or sorted(self.generator.input) != names:
            raise RunFolderError(f"{folder / GENERATOR_FILE} does not take the dict {names} that config.json "
                                 f"describes")
        self._encode = tf.function(lambda x: self.encoder(x, training=False), autograph=False)
        self._generate = tf.function(lambda code: self.generator(code, training=False), autograph=False)

    def encode(self, images, batch_size: int = BATCH_SIZE) -> np.ndarray:
        """E(x) for uint8 or float images (uint8 scaled to [0, 1] as in training), as flat codes."""
        import tensorflow as tf
        from .data.common import as_float
        out = []
        for start in range(0, len(images), batch_size):
            blocks = self._encode(tf.convert_to_tensor(as_float(images[start:start + batch_size]), tf.float32))
            out.append(latent_from_dict(self.cfg, {k: v.numpy() for k, v in blocks.items()}))
        return np.concatenate(out) if out else np.zeros((0, self.cfg.latent_dim), np.float32)

    def generate(self, codes, batch_size: int = BATCH_SIZE) -> np.ndarray:
        """G(code) for flat codes (N, latent_dim)."""
        import tensorflow as tf
        out = []
        for start in range(0, len(codes), batch_size):
            blocks = latent_to_dict(self.cfg, np.asarray(codes[start:start + batch_size], np.float32))
            out.append(self._generate({k: tf.convert_to_tensor(v) for k, v in blocks.items()}).numpy())
        return np.concatenate(out) if out else np.zeros((0,) + tuple(self.cfg.image_shape), np.float32)


# ---------------------------------------------------------------------------------------------------------
# Building the plain networks

def _plain_copy(layer):
    """A new layer of Keras itself with `layer`'s config, without initialisers; FusedBatchNorm ->
    BatchNormalization (same config: axis, momentum, epsilon, center, scale)."""
    from keras import layers
    if isinstance(layer, layers.GaussianNoise):
        raise ExportError(f"layer {layer.name} is a noise layer; G and E should have none")
    config = layer.get_config()
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


# ---------------------------------------------------------------------------------------------------------
# How closely the exported networks must reproduce the training ones

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


def parity(model, cfg, codes: np.ndarray, images: np.ndarray, exported: ExportedModel) -> dict:
    """How far the exported networks are from the training ones (`model`, a model.BidirectionalInfoGAN)
    on the same codes and images: per output, the largest difference and the largest ratio of difference to
    tolerance (at most 1: within float32 rounding).

    Each element's tolerance is its pre-activation tolerance (`float32_tolerance`) times the slope of the
    activation there (first order: sigmoid s (1 - s), tanh 1 - t^2, linear 1; softmax 2 p_i (1 - p_i) times
    the largest tolerance of the row's logits, since dp_i = p_i (dl_i - sum_j p_j dl_j)), plus eps for the
    rounding of the activation itself (outputs are at most 1 in size, continuous ones a few)."""
    from .data.common import as_float
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


# ---------------------------------------------------------------------------------------------------------
# Exporting a run

def check_output_folder(out_dir: Path, overwrite: bool) -> None:
    """OUT_DIR must be new or empty; with --overwrite it may instead be a folder that this exporter made."""
    for existing in (out_dir, *out_dir.parents):
        if existing.exists():
            if not existing.is_dir():
                raise ExportError(f"{out_dir} cannot be made: {existing} is a file, not a folder")
            break
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return
    if not overwrite:
        raise ExportError(f"{out_dir} exists and is not empty; choose a new OUT_DIR (nothing is overwritten; "
                          f"--overwrite replaces a folder that this script made)")
    try:
        made_here = read_results(out_dir).get("exported_by") == EXPORTED_BY
    except RunFolderError:
        made_here = False
    if not made_here:
        raise ExportError(f"{out_dir} was not made by {EXPORTED_BY} (its {RESULTS_FILE} does not say so): "
                          f"--overwrite replaces only such folders")


def check_run_folder(run_dir: Path, iteration: int | None):
    """The run config and the iteration to export (the newest checkpoint by default), or one line why not."""
    run = load_run_config(run_dir)
    try:
        iteration, _ = choose_checkpoint(run_dir, iteration)
    except RunFolderError as err:
        raise ExportError(str(err)) from None
    return run, iteration


def _score(run, cfg, codes, test, run_dir: Path, say) -> tuple[dict, list | None]:
    """What results.json says about the test set, and the encodings to write (None: no encodings.txt)."""
    from . import evaluation
    from .evaluate_cli import parse_encodings
    n = test.n_classes
    categorical = latent_to_dict(cfg, codes)
    scores = []
    for v, values_count in enumerate(cfg.categorical_dims):
        values = categorical[f"categorical_{v + 1}"].argmax(axis=1)
        mapping = evaluation.hungarian_mapping(values, test.labels, values_count, n)
        scores.append((v, values, mapping))
    source_file = run_dir / ENCODINGS_FILE
    if len(cfg.categorical_dims) == 1 and source_file.is_file():
        v, values, _ = scores[0]
        encodings = parse_encodings(source_file.read_text(), n, str(source_file))
        mapping, source = evaluation.mapping_from_encodings(encodings), "encodings.txt of the run folder"
    else:
        if source_file.is_file():
            say(f"note: {source_file} is not used: this run has {len(cfg.categorical_dims)} categorical "
                f"variables, and evaluate_model.py maps each by the Hungarian algorithm")
        accuracies = [evaluation.accuracy(evaluation.apply_mapping(values, mapping), test.labels)
                      for _, values, mapping in scores]
        v, values, mapping = scores[int(np.argmax(accuracies))]
        source = "test labels (Hungarian algorithm)"
    report = evaluation.classification_report(values, test.labels, cfg.categorical_dims[v], n, mapping)
    results = {"accuracy": report["accuracy"], "nmi": report["nmi"], "ari": report["ari"],
               "errors": report["errors"], "n_test": len(test.labels), "variable": f"categorical_{v + 1}",
               "mapping_source": source}
    encodings = report["encodings"] if cfg.categorical_dims[v] == n else None
    if len(cfg.categorical_dims) > 1:
        results["per_variable"] = [
            {"variable": f"categorical_{w + 1}",
             "accuracy": evaluation.accuracy(evaluation.apply_mapping(vals, mp), test.labels),
             "nmi": evaluation.normalized_mutual_information(vals, test.labels, cfg.categorical_dims[w], n)}
            for w, vals, mp in scores]
    results["encodings"] = encodings
    return results, encodings


def export(run_dir, out_dir, iteration: int | None = None, data_dir=None, overwrite: bool = False,
           say=print) -> dict:
    """Export checkpoint `iteration` (default: the newest) of a run folder into `out_dir`; returns the
    results.json contents. The folder is written under a temporary name next to `out_dir` and renamed into
    place once complete."""
    run_dir, out_dir = Path(run_dir).expanduser(), Path(out_dir).expanduser()
    requested = iteration
    run, iteration = check_run_folder(run_dir, iteration)
    check_output_folder(out_dir, overwrite)

    from .tf_setup import describe_device, import_tensorflow
    tf = import_tensorflow()
    import keras
    from .checkpoints import CheckpointError, load_trained_model
    from .data.common import DataError
    from .datasets import DATASETS
    from .evaluation_data import load_test_set
    from .latent import sample_latent

    try:
        # the newest checkpoint that reads back whole (a damaged newer one is skipped, saying so)
        model, iteration, run = load_trained_model(run_dir, requested, say)
    except CheckpointError as err:
        raise ExportError(str(err)) from None
    cfg = run.model
    test = None
    dataset = DATASETS.get(cfg.dataset)
    if dataset is not None and dataset.labelled:  # scored on the test labels; encodings.txt
        try:
            test = load_test_set(run, data_dir)
        except DataError as err:
            raise ExportError(str(err)) from None

    partial = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    try:
        plain_encoder(model.encoder, cfg).save(partial / ENCODER_FILE)
        plain_generator(model.generator, cfg).save(partial / GENERATOR_FILE)
        shutil.copyfile(run_dir / CONFIG_FILE, partial / CONFIG_FILE)
        exported = ExportedModel(partial, cfg)  # everything below goes through the saved files

        rng = np.random.default_rng(0)
        z, c = sample_latent(cfg, rng, PARITY_SAMPLES)
        codes = np.concatenate([z, c], axis=1)
        if test is not None:
            images = test.images[rng.permutation(len(test.images))[:PARITY_SAMPLES]]
        else:  # no labelled test set (CelebA): G's images
            images = np.round(model.generate(codes) * 255).astype(np.uint8)
        checks = parity(model, cfg, codes, images, exported)
        failed = [f"{name}: {c['max_difference_over_tolerance']:.3g} times the tolerance"
                  for name, c in checks.items() if not c["max_difference_over_tolerance"] <= 1]
        if failed:
            raise ExportError("the exported networks do not reproduce the trained ones within float32 rounding "
                              "(" + "; ".join(failed) + ")")

        results = {"exported_by": EXPORTED_BY, "source_run": run_dir.name, "dataset": cfg.dataset,
                   "seed": run.train.seed, "iteration": iteration}
        if test is not None:
            codes_test = exported.encode(test.images)
            scores, encodings = _score(run, cfg, codes_test, test, run_dir, say)
            results.update(scores)
            if encodings is not None:
                (partial / ENCODINGS_FILE).write_text(",".join(map(str, encodings)) + "\n")
        else:
            results.update({"accuracy": None, "nmi": None,
                            "note": f"{cfg.dataset} has no class labels to score; evaluate_model.py --evaluate "
                                    f"--data_dir DIR scores the attributes"})
        results.update({
            "encoder_input": f"float32 images in [0, 1], shape (N, {', '.join(map(str, cfg.image_shape))}); "
                             f"uint8 pixels were scaled as pixels * float32(1 / 255)",
            "latent": [[name, size] for name, size in latent_blocks(cfg)],
            "batch_size": BATCH_SIZE,
            "parity": checks,
            "device": describe_device(), "tensorflow": tf.__version__, "keras": keras.__version__,
        })
        (partial / RESULTS_FILE).write_text(json.dumps(results, indent=2) + "\n")
        if out_dir.exists():
            old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
            os.replace(out_dir, old)
            os.replace(partial, out_dir)
            shutil.rmtree(old)
        else:
            os.replace(partial, out_dir)
    finally:
        if partial.exists():
            shutil.rmtree(partial)
    return results
