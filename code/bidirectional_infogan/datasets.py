"""The data sets, by name ("mnist", "svhn", "celeba"): one `Dataset` entry each in `DATASETS`.

An entry holds everything that differs between data sets: the training script's flag defaults and help
texts, its own flags, how the flag values become the model config and the data options of config.json, and
how those options become the training data and the labelled test set. The training scripts
(code/train_<name>.py), the evaluation (evaluation_data.py), the architecture documents, bench/ and scripts/
look a data set up here.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Callable

from bidirectional_infogan.util.arguments import positive_int
from bidirectional_infogan.model.config import ModelConfig, RunConfig, mnist_model_config, table2_model_config
from bidirectional_infogan.data import celeba, mnist, svhn
from bidirectional_infogan.data.common import DataError, TestSet, TrainingData


@dataclass(frozen=True)
class Dataset:
    """One data set: its training script's flags and texts, its model config and its data."""

    name: str
    description: str  # the training script's --help
    epilog: str
    data_dir_help: str
    defaults: dict  # flag -> default value, every flag of the script, in the order config.json lists them
    build_model_config: Callable[[dict], ModelConfig]  # flag values -> the networks' layout
    data_options: Callable[[dict], dict]  # flag values -> the data options stored in config.json
    load_training_data: Callable[[dict, int], TrainingData]  # (data options, validation size)
    load_test_set: Callable[[RunConfig, str | None], TestSet]  # (run, data folder; None: the download cache)
    labelled: bool  # its test set has class labels (TestSet.labels is not None): exports are scored on them
    add_arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None  # the data set's own flags
    recipes: dict = field(default_factory=dict)  # name -> Recipe, "paper" first

    def default_model_config(self) -> ModelConfig:
        """The networks that the training script builds with its default flags."""
        return self.build_model_config(self.defaults)


@dataclass(frozen=True)
class Recipe:
    """A named set of flag values, schedule included, that `--recipe NAME` sets at once; a flag the user gives as
    well overrides the recipe's value. A run's config.json keeps the name and every value it set."""

    name: str
    summary: str  # what it is for, for --help
    values: dict  # flag -> value

    def flags_text(self) -> str:
        """The recipe as command-line flags, e.g. '--balance_weight 1 --max_iter 6000'."""
        return " ".join(f"--{name} {format(value, 'g') if isinstance(value, float) else value}"
                        for name, value in self.values.items())


PAPER_RECIPE = Recipe("paper", "the paper's settings: every default as listed", {})


# The flags of every data set, at the values of the paper's MNIST run (table 1). TrainConfig's defaults are the
# same values (tests/test_datasets.py keeps them equal).
COMMON_DEFAULTS = dict(
    recipe="paper", batch_size=128, lr_d=1e-4, lr_g=5e-4, beta1_g=0.5, beta1_d=0.5, num_z=16, d_activation="elu",
    g_activation="elu", e_activation="elu", lr_red=5.0, max_iter=30000, seed=12345, info_weight=1.0,
    init="original", validation_size=5000, data_dir=None, log_dir="log_dir", log_every=5000, checkpoint_every=10000,
    scalars_every=100, keep_checkpoints=2, stop_after=None, op_determinism="on",
    d_batch_statistics="separate", consistency_weight=0.0, consistency_augment="geometric", consistency_shear=0.0,
    balance_weight=0.0, confidence_weight=0.0, real_terms_variables=0, categorical_prior="uniform", prior_floor=0.5,
    balance_target="uniform", d_r1=0.0, precision="float32",
)

# CelebA and SVHN: the table-2 networks and their latent-code flags.
TABLE2_DEFAULTS = dict(
    COMMON_DEFAULTS, batch_size=32, lr_d=1e-4, lr_g=1e-4, num_z=64, num_categorical=4, categorical_values=10,
    first_categorical_values=None,
    num_continuous=4, d_noise=False, consistency_augment="both",
)


def _digit_test_set(split) -> TestSet:
    return TestSet(split.images, split.labels, 10, [str(d) for d in range(10)])


# ---------------------------------------------------------------------------------------------------------
# MNIST

def _mnist_model_config(flags: dict) -> ModelConfig:
    return mnist_model_config(z_dim=flags["num_z"], g_activation=flags["g_activation"],
                              e_activation=flags["e_activation"], d_activation=flags["d_activation"],
                              initialisation=flags["init"])


def _mnist_training_data(options: dict, validation_size: int) -> TrainingData:
    data = mnist.load_mnist(options["data_dir"], validation_size=validation_size)
    return TrainingData(train_images=data.train.images, validation_images=data.validation.images,
                        validation_labels=data.validation.labels)


def _str_or_none(path) -> str | None:
    return None if path is None else str(path)


def _mnist_test_set(run: RunConfig, folder) -> TestSet:
    return _digit_test_set(mnist.load_mnist_test(folder))


# MNIST's reliable mode (docs/recipes.md): E's categorical code on real images made to ignore small rotations,
# scalings, shifts and slants (consistency), to use all ten values equally often (balance) and to be sure of each
# (confidence). Without the slant, one seed in five split 4s and 9s by slant, as the paper's defaults do. Its
# schedule is shorter than the paper's: the terms reach their accuracy by 4,000-5,000 iterations
# (results/mnist_robust_trajectory_seed1.json, results/mnist_robust_shear_trajectory_seed2.json).
MNIST_RELIABLE = Recipe(
    "reliable", "the categorical code made to ignore small rotations, shifts and slants and to use all ten "
                "values, on a 6,000-iteration schedule (docs/recipes.md)",
    dict(consistency_weight=1.0, balance_weight=1.0, confidence_weight=1.0, consistency_shear=0.3, max_iter=6000))


MNIST = Dataset(
    name="mnist",
    description="Train Bidirectional-InfoGAN on MNIST. Every default reproduces the paper's run: z 16, one "
                "categorical variable with 10 values, 2 continuous variables, batch 128, 30,000 iterations. One seed in "
                "five splits two digits by slant at these settings; --recipe reliable learns the ten digits more "
                "reliably, in 6,000 iterations (docs/recipes.md).",
    epilog="MNIST is read from --data_dir (the four IDX files, gzip or not); without it, from the folder that "
           f"${mnist.ENVIRONMENT} names, else from {mnist.default_cache_dir()}, downloaded there on first use.\n"
           "Watch a run with: tensorboard --logdir log_dir/mnist",
    data_dir_help=f"folder with the four MNIST files (default: ${mnist.ENVIRONMENT} if set, else the download "
                  f"cache, filled on first use)",
    defaults=dict(COMMON_DEFAULTS),
    build_model_config=_mnist_model_config,
    # config.json records the folder read: --data_dir, else $MNIST_DIR (None: the download cache)
    data_options=lambda flags: {"data_dir": flags["data_dir"] or _str_or_none(mnist.environment_dir())},
    load_training_data=_mnist_training_data,
    load_test_set=_mnist_test_set,
    labelled=True,
    recipes={"paper": PAPER_RECIPE, "reliable": MNIST_RELIABLE},
)


# ---------------------------------------------------------------------------------------------------------
# What SVHN and CelebA share: the table-2 networks

def _add_table2_arguments(parser: argparse.ArgumentParser) -> None:
    """The latent-code and noise flags of the table-2 networks."""
    group = parser.add_argument_group("latent code and noise (table 2)")
    group.add_argument("--num_categorical", type=positive_int,
                       help=f"number of categorical variables (default {TABLE2_DEFAULTS['num_categorical']})")
    group.add_argument("--categorical_values", type=positive_int,
                       help=f"values of each categorical variable (default {TABLE2_DEFAULTS['categorical_values']})")
    group.add_argument("--first_categorical_values", type=positive_int, metavar="N",
                       help="values of the first categorical variable only (default: --categorical_values). More "
                            "values than classes (e.g. 20 for ten digits) is over-clustering: a class may take "
                            "several values, and evaluate_model.py's purity (each value read as its most common "
                            "digit) is then the variable's accuracy")
    group.add_argument("--num_continuous", type=positive_int,
                       help=f"number of continuous variables (default {TABLE2_DEFAULTS['num_continuous']})")
    group.add_argument("--d_noise", action="store_true", default=None,
                       help="add table 1's Gaussian noise to D (stddev 0.3 after the first layer of each "
                            "branch, 0.5 after the others); table 2 has none, so it is off by default")


def _table2_model_config(dataset: str, flags: dict) -> ModelConfig:
    return table2_model_config(
        dataset, d_noise=bool(flags["d_noise"]), z_dim=flags["num_z"],
        categorical_dims=((flags["first_categorical_values"] or flags["categorical_values"]),)
        + (flags["categorical_values"],) * (flags["num_categorical"] - 1),
        continuous_dim=flags["num_continuous"], g_activation=flags["g_activation"],
        e_activation=flags["e_activation"], d_activation=flags["d_activation"], initialisation=flags["init"])


# ---------------------------------------------------------------------------------------------------------
# SVHN

def _add_svhn_arguments(parser: argparse.ArgumentParser) -> None:
    _add_table2_arguments(parser)
    group = parser.add_argument_group("SVHN")
    group.add_argument("--use_extra", action="store_true", default=None,
                       help="also train on extra_32x32.mat (531,131 more images)")


def _svhn_training_data(options: dict, validation_size: int) -> TrainingData:
    # without --data_dir: the download cache, filled on first use
    data = svhn.load_svhn(options["data_dir"], use_extra=options["use_extra"], validation_size=validation_size)
    return TrainingData(train_images=data.train.images, validation_images=data.validation.images,
                        validation_labels=data.validation.labels)


def _svhn_test_set(run: RunConfig, folder) -> TestSet:
    # no folder: the download cache, as in training
    return _digit_test_set(svhn.load_svhn(folder, validation_size=0).test)


# The opt-in flags that learned the digits of the house-number stand-in (docs/svhn-standin-runs.md: recipe 2,
# 50,000 iterations), the 'reliable' recipe of both table-2 scripts (their consistency augmentation is 'both' by
# default).
TABLE2_RELIABLE = Recipe(
    "reliable", "the opt-in terms that learned the digits of a rendered house-number stand-in "
                "(docs/svhn-standin-runs.md); not measured on real SVHN or CelebA",
    dict(d_batch_statistics="joint", init="he", lr_g=5e-4, consistency_weight=1.0,
         balance_weight=1.0, confidence_weight=1.0, real_terms_variables=1, d_r1=0.1, max_iter=50000))
TABLE2_RECIPE = TABLE2_RELIABLE.flags_text()
TABLE2_NOTE = (" At these defaults the categorical variables learned almost nothing of real digits written in "
               "SVHN's and CelebA's formats in 10,000-20,000 iterations (docs/table2-investigation.md). "
               f"Recommended: --recipe reliable ({TABLE2_RECIPE}). On a rendered house-number stand-in its first "
               "categorical variable sorted the test images by digit (98.0-99.7% under the best mapping from 5,000 "
               "iterations on, one run of 50,000) and its fourth split them into dark digits on light ground "
               "and light on dark (docs/svhn-standin-runs.md).")


SVHN = Dataset(
    name="svhn",
    description="Train Bidirectional-InfoGAN on SVHN (cropped digits, 32x32). Every default reproduces the "
                "paper: table 2 networks, z 64, four categorical variables with 10 values, 4 continuous, "
                "batch 32, Adam lr 1e-4 and beta1 0.5 for D, G and E, 300,000 iterations." + TABLE2_NOTE,
    epilog=f"SVHN is the Format 2 cropped digits of {svhn.URL}. Without --data_dir, train_32x32.mat and "
           "test_32x32.mat (246 MB; with --use_extra also extra_32x32.mat, 1.3 GB) are downloaded on first use "
           f"into {svhn.default_cache_dir()} ($XDG_CACHE_HOME or ~/.cache) and checked against their published "
           "sizes and MD5s; later runs read them from there. Without internet, download them elsewhere and pass "
           "the folder holding them with --data_dir. The first 5,000 training images are held out for the "
           "figures.\n"
           "Watch a run with: tensorboard --logdir log_dir/svhn",
    data_dir_help="folder with train_32x32.mat and test_32x32.mat (default: the download cache "
                  f"{svhn.default_cache_dir()}, filled on first use)",
    defaults=dict(TABLE2_DEFAULTS, max_iter=300000, use_extra=False),
    build_model_config=lambda flags: _table2_model_config("svhn", flags),
    data_options=lambda flags: {"data_dir": flags["data_dir"], "use_extra": bool(flags["use_extra"])},
    load_training_data=_svhn_training_data,
    load_test_set=_svhn_test_set,
    labelled=True,
    add_arguments=_add_svhn_arguments,
    recipes={"paper": PAPER_RECIPE, "reliable": TABLE2_RELIABLE},
)


# ---------------------------------------------------------------------------------------------------------
# CelebA

def _crop_argument(text: str) -> str:
    try:
        celeba.parse_crop(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def _add_celeba_arguments(parser: argparse.ArgumentParser) -> None:
    _add_table2_arguments(parser)
    group = parser.add_argument_group("CelebA")
    group.add_argument("--crop", type=_crop_argument,
                       help="face crop in the 178x218 aligned images before resizing to 32x32: the side of a "
                            f"centred square, or left,top,right,bottom (default {celeba.DEFAULT_CROP} = the box "
                            f"{','.join(map(str, celeba.DEFAULT_BOX))})")
    group.add_argument("--cache_dir", help="where the cropped and resized images are cached (default "
                                           f"{celeba.default_cache_dir()})")


def _celeba_training_data(options: dict, validation_size: int) -> TrainingData:
    if options["data_dir"] is None:
        # CelebA's terms ask each user to download it themselves: no download cache as for MNIST and SVHN
        raise DataError(f"pass --data_dir, the folder holding {celeba.IMAGE_ZIP} (or the extracted "
                        f"{celeba.IMAGE_DIR}/ folder), {celeba.PARTITION_FILE} and {celeba.ATTRIBUTE_FILE} from "
                        f"{celeba.URL} (\"Align&Cropped Images\"); CelebA is not downloaded for you: its terms "
                        f"ask each user to fetch it")
    data = celeba.load_celeba(options["data_dir"], crop=celeba.parse_crop(options["crop"]), size=32,
                              cache_dir=options["cache_dir"])
    return TrainingData(train_images=data.train.images, validation_images=data.validation.images[:validation_size])


def _celeba_test_set(run: RunConfig, folder) -> TestSet:
    if folder is None:
        raise DataError("this celeba run does not say where its data are: pass --data_dir")
    data = celeba.load_celeba(folder, crop=celeba.parse_crop(run.data.get("crop", str(celeba.DEFAULT_CROP))),
                              size=run.model.image_shape[0], cache_dir=run.data.get("cache_dir"),
                              with_attributes=True)
    return TestSet(data.test.images, None, 0, [], data.attributes["test"], data.attribute_names)


CELEBA = Dataset(
    name="celeba",
    description="Train Bidirectional-InfoGAN on CelebA (aligned faces, cropped and resized to 32x32). Every "
                "default reproduces the paper: table 2 networks, z 64, four categorical variables with 10 "
                "values, 4 continuous, batch 32, Adam lr 1e-4 and beta1 0.5 for D, G and E, 500,000 iterations."
                + TABLE2_NOTE,
    epilog=f"--data_dir must hold img_align_celeba.zip, unextracted, or the img_align_celeba/ folder it "
           f"extracts to, and list_eval_partition.txt (\"Align&Cropped Images\" of {celeba.URL}; its terms ask "
           "each user to download it, so it is not downloaded for you); list_attr_celeba.txt is used by "
           "evaluate_model.py. The first run crops and resizes every image once into the cache (a few "
           "minutes); later runs read the cache. The figures use the first 5,000 images of the validation "
           "partition.\n"
           "Watch a run with: tensorboard --logdir log_dir/celeba",
    data_dir_help="folder with img_align_celeba.zip (or the extracted img_align_celeba/) and "
                  "list_eval_partition.txt (required for a new run)",
    defaults=dict(TABLE2_DEFAULTS, max_iter=500000, crop=str(celeba.DEFAULT_CROP), cache_dir=None),
    build_model_config=lambda flags: _table2_model_config("celeba", flags),
    data_options=lambda flags: {"data_dir": flags["data_dir"], "crop": flags["crop"],
                                "cache_dir": flags["cache_dir"]},
    load_training_data=_celeba_training_data,
    load_test_set=_celeba_test_set,
    labelled=False,  # attributes, no classes
    add_arguments=_add_celeba_arguments,
    recipes={"paper": PAPER_RECIPE, "reliable": TABLE2_RELIABLE},
)


DATASETS = {dataset.name: dataset for dataset in (MNIST, SVHN, CELEBA)}
