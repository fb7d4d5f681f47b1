"""Train Bidirectional-InfoGAN on SVHN with the paper's settings (table 2); see --help."""

import sys

from bidirectional_infogan.train import cli
from bidirectional_infogan.datasets import DATASETS

SCRIPT = DATASETS["svhn"]  # its flags, defaults and data: bidirectional_infogan/datasets.py
load_data = SCRIPT.load_training_data  # called by tests/test_svhn_download.py

if __name__ == "__main__":
    sys.exit(cli.main(SCRIPT))
