"""--recipe NAME of the training scripts: what each recipe sets, that --help says it, that a flag given wins, that
no recipe is the paper's run, and that a resumed run keeps its recipe."""

import json
import shlex

import pytest

from bidirectional_infogan.datasets import DATASETS
from bidirectional_infogan.model.config import TrainConfig
from bidirectional_infogan.train import cli

from conftest import FAST, only_run, run_cli


def parse(dataset, argv: list[str]) -> dict:
    """The flags given on a command line (None left out), as cli.main sees them."""
    args = vars(cli.build_parser(dataset).parse_args(argv))
    return {name: value for name, value in args.items() if value is not None}


def help_text(dataset) -> str:
    return " ".join(cli.build_parser(dataset).format_help().split())


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_each_recipe_sets_what_the_help_says(name):
    """--help names every recipe with its flags, and `--recipe R` resolves to the same values as those flags
    typed one by one (the help's text, parsed back)."""
    dataset = DATASETS[name]
    assert list(dataset.recipes)[0] == "paper" and "reliable" in dataset.recipes
    for recipe in dataset.recipes.values():
        typed = shlex.split(recipe.flags_text())
        if typed:
            assert f"'{recipe.name}': " in help_text(dataset) and recipe.flags_text() in help_text(dataset)
        by_name = cli.resolve_flags(dataset, parse(dataset, ["--recipe", recipe.name]))
        by_flags = cli.resolve_flags(dataset, parse(dataset, typed))
        assert by_name == {**by_flags, "recipe": recipe.name}
        changed = {k: v for k, v in by_name.items() if v != dataset.defaults[k] and k != "recipe"}
        assert changed == recipe.values  # each value is a change of the paper's (none is there for show)
        run = cli.build_run(dataset, by_name)  # a valid run
        assert run.train.max_iter == recipe.values.get("max_iter", dataset.defaults["max_iter"])


def test_mnist_reliable_is_the_documented_mode():
    """The issue's reliable mode: the consistency, balance and confidence terms, slanted copies, a schedule of at
    most 10,000 iterations (the learning rates decay over it)."""
    run = cli.build_run(DATASETS["mnist"], cli.resolve_flags(DATASETS["mnist"], {"recipe": "reliable"}))
    train = run.train
    assert (train.consistency_weight, train.balance_weight, train.confidence_weight) == (1.0, 1.0, 1.0)
    assert train.consistency_augment == "geometric" and train.consistency_shear == 0.3
    assert train.max_iter <= 10000
    assert "--recipe reliable" in help_text(DATASETS["mnist"])


def test_a_flag_given_overrides_the_recipe():
    dataset = DATASETS["mnist"]
    given = parse(dataset, ["--recipe", "reliable", "--max_iter", "8000", "--balance_weight", "1"])
    flags = cli.resolve_flags(dataset, given)
    assert flags["max_iter"] == 8000 and flags["consistency_shear"] == 0.3 and flags["recipe"] == "reliable"
    lines = cli.recipe_lines(dataset, given)
    assert lines[0].startswith("Recipe reliable: --consistency_weight 1")
    # only the value that differs is reported as overridden
    assert lines[1:] == ["  overridden by the flags given: --max_iter 8000 (recipe: 6000)"]
    assert cli.recipe_lines(dataset, parse(dataset, [])) == []


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_no_recipe_is_the_paper(name):
    """No --recipe and --recipe paper build exactly the run of the defaults (MNIST: TrainConfig(), the paper's)."""
    dataset = DATASETS[name]
    plain = cli.build_run(dataset, cli.resolve_flags(dataset, {}))
    named = cli.build_run(dataset, cli.resolve_flags(dataset, {"recipe": "paper"}))
    defaults = cli.build_run(dataset, dict(dataset.defaults))
    assert (plain.model, plain.train) == (named.model, named.train) == (defaults.model, defaults.train)
    if name == "mnist":
        assert plain.train == TrainConfig()


@pytest.mark.parametrize("argv,message", [
    (["--recipe", "best"], "'best' is not a recipe of train_mnist.py; its recipes: paper, reliable"),
    (["--recipe"], "expected one argument"),
])
def test_bad_recipes_give_one_line(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(argv + ["--log_dir", tmp_path])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "mnist").exists()


@pytest.mark.slow
def test_resume_keeps_the_recipe(mnist_dir, tmp_path, capsys):
    """A recipe run records the recipe and every value; --resume continues with them (not the defaults), and a
    resume that names another recipe is refused in one line."""
    short = FAST + ["--max_iter", "6", "--checkpoint_every", "3"]  # later flags win: FAST's 40 is overridden
    assert run_cli(["--recipe", "reliable"] + short + ["--stop_after", "3", "--data_dir", mnist_dir,
                                                      "--log_dir", tmp_path]) == 0
    out = capsys.readouterr().out
    assert "Recipe reliable: " in out and "--max_iter 6 (recipe: 6000)" in out
    run_dir = only_run(tmp_path)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["flags"]["recipe"] == "reliable"
    assert (config["flags"]["consistency_shear"], config["train"]["consistency_shear"]) == (0.3, 0.3)
    assert config["train"]["max_iter"] == 6 and config["train"]["balance_weight"] == 1.0
    assert run_cli(["--resume", run_dir, "--recipe", "paper"]) == 2
    err = capsys.readouterr().err
    assert "--recipe paper differs from the run's reliable" in err and err.count("\n") == 1
    assert run_cli(["--resume", run_dir]) == 0
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("*.index")) == ["iteration-3.index",
                                                                                "iteration-6.index"]
    assert json.loads((run_dir / "config.json").read_text()) == config
