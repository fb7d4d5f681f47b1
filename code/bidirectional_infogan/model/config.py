"""Configuration of a run: the network layout (`ModelConfig`) and the optimisation (`TrainConfig`).

Both are frozen dataclasses. A run folder stores them as `config.json`; `evaluate_model.py` and `--resume`
rebuild the networks from that file alone, so nothing about a run's architecture lives only in a script.

`mnist_model_config()` is table 1 of the paper's supplementary material (see `architectures/mnist.md`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from bidirectional_infogan.data.augment import AUGMENTATIONS

ACTIVATIONS = ("elu", "relu", "lrelu")
INITIALISATIONS = ("original", "he")
# --precision: "float32" is the paper's step; the mixed ones keep the variables in float32 and compute the hidden
# layers in bfloat16 or float16 (networks.dtype_policy; docs/training.md says when to use which).
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


class ConfigError(ValueError):
    """A configuration value that cannot be used (the message is meant for the user)."""


@dataclass(frozen=True)
class ConvLayer:
    """One convolution (or transposed convolution) followed by batch norm and an activation.

    `noise_std` > 0 adds Gaussian noise after the activation while training (discriminator only).
    """

    filters: int
    kernel: int
    stride: int
    noise_std: float = 0.0


@dataclass(frozen=True)
class DenseLayer:
    """One dense layer followed by batch norm, an activation and optional Gaussian noise."""

    units: int
    noise_std: float = 0.0


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to build G, E and D for one data set.

    The latent code fed to G is concat(z, c) with c = (one-hot categorical variables..., continuous values).
    """

    dataset: str
    image_shape: tuple[int, int, int]
    # latent code
    z_dim: int
    categorical_dims: tuple[int, ...]
    continuous_dim: int
    # generator: dense -> reshape -> transposed convolutions; the last one has no BN and a sigmoid
    generator_reshape: tuple[int, int, int]
    generator_convs: tuple[ConvLayer, ...]
    # encoder: convolutions -> dense -> heads (z: tanh, each categorical: softmax, continuous: linear)
    encoder_convs: tuple[ConvLayer, ...]
    encoder_dense: DenseLayer
    # discriminator: an image branch and a latent branch, joined by dense layers, sigmoid output
    disc_image_convs: tuple[ConvLayer, ...]
    disc_image_dense: DenseLayer
    disc_latent_convs: tuple[ConvLayer, ...]
    disc_latent_dense: DenseLayer
    disc_joint_dense: tuple[DenseLayer, ...]
    g_activation: str = "elu"
    e_activation: str = "elu"
    d_activation: str = "elu"
    # "original": the original code's init for D and E (see networks.OriginalHeNormal); "he": true He init
    initialisation: str = "original"
    bn_momentum: float = 0.999  # TF1 contrib batch_norm "decay"
    bn_epsilon: float = 1e-3

    @property
    def categorical_total(self) -> int:
        return sum(self.categorical_dims)

    @property
    def c_dim(self) -> int:
        return self.categorical_total + self.continuous_dim

    @property
    def latent_dim(self) -> int:
        """Length of G's input and of E's output: z, then the categorical one-hots, then continuous."""
        return self.z_dim + self.c_dim

    def validate(self) -> None:
        if self.z_dim <= 0:
            raise ConfigError(f"num_z must be positive, got {self.z_dim}")
        if self.continuous_dim < 0:
            raise ConfigError(f"the number of continuous variables must not be negative, got "
                              f"{self.continuous_dim}")
        if not self.categorical_dims:
            raise ConfigError("at least one categorical variable is needed")
        if any(d < 2 for d in self.categorical_dims):
            raise ConfigError(f"each categorical variable needs at least 2 values, got "
                              f"{list(self.categorical_dims)}")
        for role, name in (("g", self.g_activation), ("e", self.e_activation), ("d", self.d_activation)):
            if name not in ACTIVATIONS:
                raise ConfigError(
                    f"unknown {role}_activation '{name}'; choose one of {', '.join(ACTIVATIONS)}")
        if self.initialisation not in INITIALISATIONS:
            raise ConfigError(f"unknown initialisation '{self.initialisation}'; "
                              f"choose one of {', '.join(INITIALISATIONS)}")
        h, w, _ = self.generator_reshape
        for layer in self.generator_convs:
            h, w = h * layer.stride, w * layer.stride
        if (h, w) != tuple(self.image_shape[:2]):
            raise ConfigError(f"the generator makes {h}x{w} images but the data are "
                              f"{self.image_shape[0]}x{self.image_shape[1]}")
        if self.generator_convs[-1].filters != self.image_shape[2]:
            raise ConfigError("the generator's last layer must have as many maps as the images have channels")


D_BATCH_STATISTICS = ("separate", "joint")
CATEGORICAL_PRIORS = ("uniform", "learned")
BALANCE_TARGETS = ("uniform", "learned", "floor")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings. The defaults are the paper's MNIST run, the same values as the MNIST flags'
    defaults in datasets.py (tests/test_datasets.py keeps them equal), so that TrainConfig() is that run."""

    batch_size: int = 128
    lr_d: float = 1e-4
    lr_g: float = 5e-4  # one optimiser updates G and E together
    beta1_d: float = 0.5
    beta1_g: float = 0.5
    adam_epsilon: float = 1e-8
    lr_red: float = 5.0  # learning rates decay polynomially (power 0.5) to lr / lr_red
    max_iter: int = 30000
    info_weight: float = 1.0  # lambda, the weight of the mutual-information terms in G's loss
    seed: int = 12345
    validation_size: int = 5000
    # How D's batch norm sees the two kinds of pair in training. "separate" is the original: D is called once on
    # the real pairs and once on the generated ones, so each call normalises with its own batch statistics.
    # "joint" calls D once on both, with one set of statistics (model.discriminate; docs/table2-investigation.md).
    d_batch_statistics: str = "separate"
    # Opt-in terms, each off (0) by default (the paper has none; docs/recipes.md says what each changes):
    # E's categorical prediction the same for a real image and an augmented copy (augment.py) ...
    consistency_weight: float = 0.0
    consistency_augment: str = "geometric"  # ... made by this augmentation (AUGMENTATIONS)
    consistency_shear: float = 0.0  # ... whose geometric copies are also slanted by up to this shear (0: not)
    # E's categorical values used equally often on each batch of real images (losses.balance_loss)
    balance_weight: float = 0.0
    # E sure of the categorical value of each real image (losses.confidence_loss)
    confidence_weight: float = 0.0
    # The three terms above (and a learned prior, below) act on the first this many categorical variables (0: on
    # all of them), so the others stay free to take another factor than the one the terms make the first take.
    real_terms_variables: int = 0
    # The categorical prior of the first real_terms_variables variables (all, at 0): "uniform" (the paper: G draws
    # each value equally often) or "learned" (G draws them as often as E finds them in real images, a moving average
    # of E's mean prediction kept at least prior_floor / K per value; losses.updated_prior). balance_target
    # "learned" aims the balance term at that prior instead of the uniform one; "floor" penalises only the values
    # E uses less than prior_floor / K (losses.balance_floor_loss), leaving a skewed use of the others free.
    categorical_prior: str = "uniform"
    prior_floor: float = 0.5
    balance_target: str = "uniform"
    # R1 gradient penalty on D's real pairs, gamma / 2 * |grad D logit|^2 (losses.gradient_penalty)
    d_r1: float = 0.0
    # Arithmetic of the hidden layers (PRECISIONS); mixed_float16 also scales the losses (dynamic loss scaling).
    precision: str = "float32"

    def validate(self) -> None:
        for name in ("batch_size", "max_iter"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("lr_d", "lr_g", "lr_red"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("beta1_d", "beta1_g"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.info_weight < 0:
            raise ConfigError(f"info_weight must not be negative, got {self.info_weight}")
        if self.d_batch_statistics not in D_BATCH_STATISTICS:
            raise ConfigError(f"d_batch_statistics must be one of {', '.join(D_BATCH_STATISTICS)}, "
                              f"got {self.d_batch_statistics}")
        for name in ("consistency_weight", "balance_weight", "confidence_weight", "d_r1"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"{name} must not be negative, got {getattr(self, name)}")
        if not 0 <= self.consistency_shear <= 1:
            raise ConfigError(f"consistency_shear must be in [0, 1], got {self.consistency_shear}")
        if self.consistency_shear > 0 and (self.consistency_weight == 0 or self.consistency_augment == "colour"):
            raise ConfigError("consistency_shear slants the geometric copies of the consistency term: it needs "
                              "--consistency_weight above 0 and --consistency_augment geometric or both")
        if self.real_terms_variables < 0:
            raise ConfigError(f"real_terms_variables must not be negative, got {self.real_terms_variables}")
        if self.consistency_augment not in AUGMENTATIONS:
            raise ConfigError(f"consistency_augment must be one of {', '.join(AUGMENTATIONS)}, "
                              f"got {self.consistency_augment}")
        if self.categorical_prior not in CATEGORICAL_PRIORS:
            raise ConfigError(f"categorical_prior must be one of {', '.join(CATEGORICAL_PRIORS)}, "
                              f"got {self.categorical_prior}")
        if self.balance_target not in BALANCE_TARGETS:
            raise ConfigError(f"balance_target must be one of {', '.join(BALANCE_TARGETS)}, got {self.balance_target}")
        if not 0 <= self.prior_floor <= 1:
            raise ConfigError(f"prior_floor must be in [0, 1], got {self.prior_floor}")
        if self.balance_target == "learned" and self.categorical_prior != "learned":
            raise ConfigError("--balance_target learned aims the balance term at the learned prior: it needs "
                              "--categorical_prior learned")
        if self.balance_target != "uniform" and self.balance_weight == 0:
            raise ConfigError(f"--balance_target {self.balance_target} changes the balance term, which is off: it "
                              "needs --balance_weight above 0")
        if self.prior_floor != TrainConfig.prior_floor and self.categorical_prior != "learned" \
                and self.balance_target != "floor":
            raise ConfigError("--prior_floor is the floor of the learned prior or of --balance_target floor: it "
                              "needs --categorical_prior learned or --balance_target floor")
        if self.balance_target == "floor" and self.prior_floor == 0:
            raise ConfigError("--balance_target floor with --prior_floor 0 penalises nothing: give a floor above 0")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision}")
        if not 0 <= self.seed < 2 ** 32:
            raise ConfigError(f"seed must be in 0..{2 ** 32 - 1}, got {self.seed}")


def mnist_model_config(**overrides) -> ModelConfig:
    """Table 1 (MNIST): z 16, one categorical variable with 10 values, 2 continuous variables."""
    base = ModelConfig(
        dataset="mnist",
        image_shape=(28, 28, 1),
        z_dim=16,
        categorical_dims=(10,),
        continuous_dim=2,
        generator_reshape=(7, 7, 64),
        generator_convs=(ConvLayer(128, 4, 2), ConvLayer(64, 4, 1), ConvLayer(1, 4, 2)),
        encoder_convs=(ConvLayer(32, 3, 1), ConvLayer(64, 3, 2), ConvLayer(128, 3, 2)),
        encoder_dense=DenseLayer(1024),
        disc_image_convs=(ConvLayer(64, 3, 2, noise_std=0.3), ConvLayer(128, 3, 2, noise_std=0.5)),
        disc_image_dense=DenseLayer(512, noise_std=0.5),
        disc_latent_convs=(ConvLayer(64, 1, 1, noise_std=0.3), ConvLayer(128, 1, 1, noise_std=0.5)),
        disc_latent_dense=DenseLayer(512, noise_std=0.5),
        disc_joint_dense=(DenseLayer(1024, noise_std=0.5),),
    )
    return dataclasses.replace(base, **overrides)


def table2_model_config(dataset: str, d_noise: bool = False, **overrides) -> ModelConfig:
    """Table 2 (CelebA and SVHN, 32x32x3): z 64, four categorical variables with 10 values each, 4 continuous.

    The printed table contradicts itself; we resolve it as architectures/table2.md explains:
    - latent size: E's outputs add up to 64 + 40 + 4 = 108 (the table prints 98 for G's and D(Z)'s inputs);
      we use 108. Every size is a flag, so z = 54 gives 98.
    - G's strides: printed as 2, 2, 1, 1, 1, 1 from 2x2, which ends at 8x8; we use 2, 2, 2, 2, 1, 1
      (2 -> 4 -> 8 -> 16 -> 32, then two stride-1 layers), keeping every printed kernel and map count.
    - D's Gaussian noise: table 2 has no noise column, so it is off by default; `d_noise=True` adds table 1's
      noise (stddev 0.3 after the first layer of each branch, 0.5 after every other hidden layer).
    """
    first, other = (0.3, 0.5) if d_noise else (0.0, 0.0)
    base = ModelConfig(
        dataset=dataset,
        image_shape=(32, 32, 3),
        z_dim=64,
        categorical_dims=(10, 10, 10, 10),
        continuous_dim=4,
        generator_reshape=(2, 2, 512),
        generator_convs=(ConvLayer(512, 5, 2), ConvLayer(256, 5, 2), ConvLayer(128, 5, 2), ConvLayer(64, 5, 2),
                         ConvLayer(32, 5, 1), ConvLayer(3, 4, 1)),
        encoder_convs=(ConvLayer(32, 3, 1), ConvLayer(64, 3, 2), ConvLayer(128, 3, 1), ConvLayer(256, 3, 2),
                       ConvLayer(512, 3, 2)),
        encoder_dense=DenseLayer(1024),
        disc_image_convs=(ConvLayer(64, 4, 2, first), ConvLayer(128, 4, 2, other), ConvLayer(256, 4, 2, other)),
        disc_image_dense=DenseLayer(1024, other),
        disc_latent_convs=(ConvLayer(64, 1, 1, first), ConvLayer(128, 1, 1, other), ConvLayer(256, 1, 1, other)),
        disc_latent_dense=DenseLayer(1024, other),
        disc_joint_dense=(DenseLayer(1024, other),),
    )
    return dataclasses.replace(base, **overrides)


# ---------------------------------------------------------------------------------------------------------
# JSON round trip (the run folder's config.json)

def _layer_from_dict(d: dict):
    return ConvLayer(**d) if "kernel" in d else DenseLayer(**d)


def model_config_from_dict(d: dict) -> ModelConfig:
    d = dict(d)
    for key in ("image_shape", "categorical_dims", "generator_reshape"):
        d[key] = tuple(d[key])
    for key in ("generator_convs", "encoder_convs", "disc_image_convs", "disc_latent_convs",
                "disc_joint_dense"):
        d[key] = tuple(_layer_from_dict(x) for x in d[key])
    for key in ("encoder_dense", "disc_image_dense", "disc_latent_dense"):
        d[key] = _layer_from_dict(d[key])
    known = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = set(d) - known
    if unknown:
        raise ConfigError(f"config.json has unknown model fields: {', '.join(sorted(unknown))}")
    return ModelConfig(**d)


def train_config_from_dict(d: dict) -> TrainConfig:
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(d) - known
    if unknown:
        raise ConfigError(f"config.json has unknown training fields: {', '.join(sorted(unknown))}")
    return TrainConfig(**d)


@dataclass(frozen=True)
class RunConfig:
    """What config.json holds: the model, the optimisation and where the data came from."""

    model: ModelConfig
    train: TrainConfig
    data: dict = field(default_factory=dict)  # data-set options (folder, crop, ...)
    loop: dict = field(default_factory=dict)  # logging and checkpoint intervals (training.LoopSettings)
    flags: dict = field(default_factory=dict)  # the command-line values the run was made from
    # where the run's first session computed (tf_setup.describe_device); "" in run folders made before it was
    # recorded. Not a setting: a run may be resumed on another device (timing.jsonl has each session's).
    device: str = ""

    def to_json(self) -> str:
        return json.dumps({"model": dataclasses.asdict(self.model), "train": dataclasses.asdict(self.train),
                           "data": self.data, "loop": self.loop, "flags": self.flags, "device": self.device},
                          indent=2)

    @staticmethod
    def from_json(text: str) -> "RunConfig":
        d = json.loads(text)
        return RunConfig(model=model_config_from_dict(d["model"]), train=train_config_from_dict(d["train"]),
                         data=d.get("data", {}), loop=d.get("loop", {}), flags=d.get("flags", {}),
                         device=d.get("device", ""))

    def save(self, path: Path) -> None:
        Path(path).write_text(self.to_json() + "\n")

    @staticmethod
    def load(path: Path) -> "RunConfig":
        try:
            return RunConfig.from_json(Path(path).read_text())
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise ConfigError(f"{path} is not a valid run config ({err})") from None
