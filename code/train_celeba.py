"""Train Bidirectional-InfoGAN on CelebA with the paper's settings (table 2); see --help."""

import sys

from bidirectional_infogan.train import cli
from bidirectional_infogan.datasets import DATASETS

SCRIPT = DATASETS["celeba"]  # its flags, defaults and data: bidirectional_infogan/datasets.py

if __name__ == "__main__":
    sys.exit(cli.main(SCRIPT))
