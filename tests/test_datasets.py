"""The data-set registry (datasets.py): each entry's defaults cover its script's flags and agree with the configs'
own defaults, and a run of a data set the registry does not know is refused in one line."""

import dataclasses
import shlex

import pytest

from bidirectional_infogan.train import cli
from bidirectional_infogan.model.config import TrainConfig, mnist_model_config, table2_model_config
from bidirectional_infogan.data.common import DataError
from bidirectional_infogan.datasets import DATASETS, TABLE2_RECIPE
from bidirectional_infogan.evaluate.evaluation_data import load_test_set
from test_celeba_data import write_celeba
from test_mnist_data import write_fake_mnist
from test_svhn_data import write_svhn


def test_the_registry_names_each_data_set_once():
    assert list(DATASETS) == ["mnist", "svhn", "celeba"]
    assert all(name == dataset.name for name, dataset in DATASETS.items())


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_flag_has_a_default(name):
    dataset = DATASETS[name]
    flags = {action.dest for action in cli.build_parser(dataset)._actions} - {"help", "resume"}
    assert set(dataset.defaults) == flags


def test_train_config_defaults_are_the_mnist_flags_defaults():
    """TrainConfig() is the paper's MNIST run, as train_mnist.py's defaults build it."""
    defaults = DATASETS["mnist"].defaults
    flags = {f.name for f in dataclasses.fields(TrainConfig)} - {"adam_epsilon"}
    assert {name: getattr(TrainConfig(), name) for name in flags} == {name: defaults[name] for name in flags}


def test_default_model_configs_are_the_tables():
    assert DATASETS["mnist"].default_model_config() == mnist_model_config()
    assert DATASETS["svhn"].default_model_config() == table2_model_config("svhn")
    assert DATASETS["celeba"].default_model_config() == table2_model_config("celeba")


@pytest.mark.parametrize("name", ["svhn", "celeba"])
def test_the_recommended_table2_recipe_is_in_the_help_and_builds(name):
    """The recipe the table-2 scripts' --help names parses as flags and builds a valid run with those values."""
    dataset = DATASETS[name]
    assert TABLE2_RECIPE in " ".join(cli.build_parser(dataset).format_help().split())
    args = vars(cli.build_parser(dataset).parse_args(shlex.split(TABLE2_RECIPE)))
    given = {key: value for key, value in args.items() if value is not None}
    run = cli.build_run(dataset, {**dataset.defaults, **given})
    assert (run.train.d_batch_statistics, run.train.real_terms_variables, run.train.balance_weight,
            run.train.confidence_weight, run.model.initialisation) == ("joint", 1, 1.0, 1.0, "he")


def test_an_unknown_data_set_is_not_evaluated(monkeypatch):
    monkeypatch.delenv("MNIST_DIR", raising=False)  # else the run records that folder and the error names it
    run = cli.build_run(DATASETS["mnist"], dict(DATASETS["mnist"].defaults))
    run = dataclasses.replace(run, model=dataclasses.replace(run.model, dataset="cifar"))
    with pytest.raises(DataError, match="^evaluation of cifar runs is not supported$"):
        load_test_set(run)


@pytest.mark.parametrize("name", list(DATASETS))
def test_labelled_is_whether_the_test_set_has_labels(name, tmp_path):
    """An entry's `labelled` (pretrained.export scores a run on the test labels where it is set, without
    loading CelebA's test set) agrees with what its test-set loader gives, here on small files."""
    write = {"mnist": write_fake_mnist, "svhn": write_svhn, "celeba": write_celeba}[name]
    dataset = DATASETS[name]
    flags = dict(dataset.defaults, data_dir=str(write(tmp_path / name)), validation_size=2)
    if name == "celeba":
        flags["cache_dir"] = str(tmp_path / "cache")
    test = load_test_set(cli.build_run(dataset, flags))
    assert len(test.images) > 0
    assert dataset.labelled == (test.labels is not None)


@pytest.mark.parametrize("name", ["svhn", "celeba"])
def test_first_categorical_values_sizes_the_first_variable_only(name):
    """--first_categorical_values 20: the first variable has 20 values, the others keep --categorical_values; without
    it the layout is table 2's (four variables of ten)."""
    dataset = DATASETS[name]

    def dims(argv):
        args = vars(cli.build_parser(dataset).parse_args(argv))
        given = {key: value for key, value in args.items() if value is not None}
        return cli.build_run(dataset, {**dataset.defaults, **given}).model.categorical_dims

    assert dims([]) == (10, 10, 10, 10)
    assert dims(["--first_categorical_values", "20"]) == (20, 10, 10, 10)
    assert dims(["--first_categorical_values", "20", "--categorical_values", "5", "--num_categorical", "2"]) == (20, 5)
