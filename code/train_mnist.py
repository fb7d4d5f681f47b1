"""Train Bidirectional-InfoGAN on MNIST with the paper's settings (table 1); see --help."""

import sys


from bidirectional_infogan import cli
from bidirectional_infogan.config import mnist_model_config
from bidirectional_infogan.data import mnist
from bidirectional_infogan.data.common import TrainingData


def build_model_config(flags):
    return mnist_model_config(z_dim=flags["num_z"], g_activation=flags["g_activation"],
                              e_activation=flags["e_activation"], d_activation=flags["d_activation"],
                              initialisation=flags["init"])


def load_data(options, validation_size):
    data = mnist.load_mnist(options["data_dir"], validation_size=validation_size)
    return TrainingData(train_images=data.train.images, validation_images=data.validation.images,
                        validation_labels=data.validation.labels)


SCRIPT = cli.TrainingScript(
    dataset="mnist",
    description="Train Bidirectional-InfoGAN on MNIST. Every default reproduces the paper's run: z 16, one "
                "categorical variable with 10 values, 2 continuous variables, batch 128, 30,000 iterations.",
    defaults=dict(cli.COMMON_DEFAULTS),
    build_model_config=build_model_config,
    load_data=load_data,
    data_options=lambda flags: {"data_dir": flags["data_dir"]},
    data_dir_help="folder with the four MNIST files (default: the download cache, filled on first use)",
    epilog="MNIST is read from --data_dir (the four IDX files, gzip or not); without it, from "
           f"{mnist.default_cache_dir()}, downloaded there on first use.\n"
           "Watch a run with: tensorboard --logdir log_dir/mnist",
)

if __name__ == "__main__":
    sys.exit(cli.main(SCRIPT))
