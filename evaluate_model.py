"""Evaluate a trained run: test accuracy of the categorical code and the paper's figures; see --help."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "code"))  # works without `pip install -e .` too

from bidirectional_infogan.evaluate_cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
