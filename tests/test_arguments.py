"""Issue 43: a flag must be given whole. argparse takes a prefix for the flag by default (`--max 5` ran as
`--max_iter 5`); every parser of the project refuses it."""

import ast
from pathlib import Path

import pytest

from bidirectional_infogan.util.arguments import OneLineErrorParser

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "evaluate_model.py", *(ROOT / "code").rglob("*.py"), *(ROOT / "scripts").rglob("*.py"),
           *(ROOT / "bench").rglob("*.py")]


def test_a_prefix_of_a_flag_is_refused(capsys):
    import train_mnist
    from bidirectional_infogan.evaluate.cli import build_parser as evaluate_parser
    from bidirectional_infogan.train import cli
    for parser, argv in ((cli.build_parser(train_mnist.SCRIPT), ["--max", "5"]),
                         (evaluate_parser(), ["--model", "pretrained/mnist", "--evaluate"])):
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args(argv)
        assert exit_.value.code == 2
        assert "unrecognized arguments: " + argv[0] in capsys.readouterr().err
    assert cli.build_parser(train_mnist.SCRIPT).parse_args(["--max_iter", "5"]).max_iter == 5


def parser_calls(source: str):
    """Every call that makes a parser: argparse.ArgumentParser(...) or a class of ours named *Parser(...)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name.endswith("Parser") and name != "OneLineErrorParser":
                yield node


def test_every_parser_of_the_project_refuses_prefixes():
    """OneLineErrorParser refuses them itself; every other parser is made with allow_abbrev=False."""
    assert OneLineErrorParser().allow_abbrev is False
    found, lax = 0, []
    for path in SOURCES:
        for call in parser_calls(path.read_text()):
            found += 1
            given = {k.arg: k.value for k in call.keywords}
            if not (isinstance(given.get("allow_abbrev"), ast.Constant) and given["allow_abbrev"].value is False):
                lax.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert found >= 9 and not lax, lax
