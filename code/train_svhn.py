"""Train Bidirectional-InfoGAN on SVHN with the paper's settings (table 2); see --help."""

import sys

from bidirectional_infogan import cli
from bidirectional_infogan.data import svhn
from bidirectional_infogan.data.common import TrainingData


def add_arguments(parser):
    group = parser.add_argument_group("SVHN")
    group.add_argument("--use_extra", action="store_true", default=None,
                       help="also train on extra_32x32.mat (531,131 more images)")


def load_data(options, validation_size):
    # without --data_dir: the download cache, filled on first use
    data = svhn.load_svhn(options["data_dir"], use_extra=options["use_extra"], validation_size=validation_size)
    return TrainingData(train_images=data.train.images, validation_images=data.validation.images,
                        validation_labels=data.validation.labels)


SCRIPT = cli.TrainingScript(
    dataset="svhn",
    description="Train Bidirectional-InfoGAN on SVHN (cropped digits, 32x32). Every default reproduces the "
                "paper: table 2 networks, z 64, four categorical variables with 10 values, 4 continuous, "
                "batch 32, Adam lr 1e-4 and beta1 0.5 for D, G and E, 300,000 iterations.",
    defaults=dict(cli.TABLE2_DEFAULTS, max_iter=300000, use_extra=False),
    build_model_config=lambda flags: cli.table2_model_config_from_flags("svhn", flags),
    load_data=load_data,
    data_options=lambda flags: {"data_dir": flags["data_dir"], "use_extra": bool(flags["use_extra"])},
    add_arguments=lambda parser: (cli.add_table2_arguments(parser, SCRIPT.defaults), add_arguments(parser)),
    data_dir_help="folder with train_32x32.mat and test_32x32.mat (default: the download cache "
                  f"{svhn.default_cache_dir()}, filled on first use)",
    epilog=f"SVHN is the Format 2 cropped digits of {svhn.URL}. Without --data_dir, train_32x32.mat and "
           "test_32x32.mat (246 MB; with --use_extra also extra_32x32.mat, 1.3 GB) are downloaded on first use "
           f"into {svhn.default_cache_dir()} ($XDG_CACHE_HOME or ~/.cache) and checked against their published "
           "sizes and MD5s; later runs read them from there. Without internet, download them elsewhere and pass "
           "the folder holding them with --data_dir. The first 5,000 training images are held out for the "
           "figures.\n"
           "Watch a run with: tensorboard --logdir log_dir/svhn",
)

if __name__ == "__main__":
    sys.exit(cli.main(SCRIPT))
