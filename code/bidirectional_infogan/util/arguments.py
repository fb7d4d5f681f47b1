"""Argument types and a parser whose errors are one line: shared by every command-line tool."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a bad argument gives a single line on stderr (and exit code 2), and a flag must be given
    whole: a prefix (`--max 5` for `--max_iter 5`) is an unknown argument, not silently taken for the flag."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def fail(message, program: str) -> NoReturn:
    """A user error found after the arguments were parsed: one line on stderr, `program: error: message`, and
    exit code 2, as the parser's own errors."""
    print(f"{program}: error: {message}", file=sys.stderr)
    sys.exit(2)


def _number(convert, accept, requirement: str):
    """An argparse type: `convert` the text, then check it with `accept`."""
    kind = "an integer" if convert is int else "a number"

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not {kind}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {value}")
        return value
    return parse


positive_int = _number(int, lambda v: v > 0, "a positive integer")
positive_float = _number(float, lambda v: v > 0, "positive")
unit_interval = _number(float, lambda v: 0 <= v < 1, "in [0, 1)")
non_negative_float = _number(float, lambda v: v >= 0, "at least 0")
non_negative_int = _number(int, lambda v: v >= 0, "an integer of at least 0")
seed_int = _number(int, lambda v: 0 <= v < 2 ** 32, f"in 0..{2 ** 32 - 1}")
