"""A trained model that works without this project: E and G of a run exported as plain Keras 3 files, and such
an exported folder loaded back for evaluate_model.py.

An exported folder (made by scripts/run_tools/export_pretrained.py) holds

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
from pathlib import Path

import numpy as np

from bidirectional_infogan.model.latent import latent_blocks, latent_from_dict, latent_to_dict
from bidirectional_infogan.runs.run_folder import RunFolderError

ENCODER_FILE, GENERATOR_FILE = "encoder.keras", "generator.keras"
RESULTS_FILE, ENCODINGS_FILE, CONFIG_FILE = "results.json", "encodings.txt", "config.json"
EXPORTED_BY = "scripts/run_tools/export_pretrained.py"
BATCH_SIZE = 1000  # encode() and generate() work in batches of this size (the accuracy in results.json too)


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
    from bidirectional_infogan.model.config import RunConfig
    folder = Path(folder)
    if is_exported_folder(folder):
        check_exported_folder(folder, iteration)
        return ExportedModel(folder, RunConfig.load(folder / CONFIG_FILE).model)
    from bidirectional_infogan.runs.checkpoints import load_trained_model
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
        from bidirectional_infogan.data.common import as_float
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
