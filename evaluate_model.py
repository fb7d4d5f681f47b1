"""Evaluate a trained run: test accuracy of the categorical code and the paper's figures; see --help."""

import sys

from bidirectional_infogan.evaluate.cli import main

if __name__ == "__main__":
    sys.exit(main())
