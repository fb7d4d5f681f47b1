"""The data-set registry (datasets.py): each entry's defaults cover its script's flags and agree with the configs'
own defaults, and a run of a data set the registry does not know is refused in one line."""

import dataclasses

import pytest

from bidirectional_infogan import cli
from bidirectional_infogan.config import TrainConfig, mnist_model_config, table2_model_config
from bidirectional_infogan.data.common import DataError
from bidirectional_infogan.datasets import DATASETS
from bidirectional_infogan.evaluation_data import load_test_set


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


def test_an_unknown_data_set_is_not_evaluated():
    run = cli.build_run(DATASETS["mnist"], dict(DATASETS["mnist"].defaults))
    run = dataclasses.replace(run, model=dataclasses.replace(run.model, dataset="cifar"))
    with pytest.raises(DataError, match="^evaluation of cifar runs is not supported$"):
        load_test_set(run)
