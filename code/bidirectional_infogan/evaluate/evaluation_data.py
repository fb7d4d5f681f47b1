"""The labelled test set that a trained run is evaluated on (each data set's loader: datasets.py)."""

from __future__ import annotations

from bidirectional_infogan.model.config import RunConfig
from bidirectional_infogan.data.common import DataError, TestSet
from bidirectional_infogan.datasets import DATASETS

__all__ = ["TestSet", "load_test_set"]


def load_test_set(run: RunConfig, data_dir=None) -> TestSet:
    """The test split of the run's data set; `data_dir` overrides the folder stored in the run's config."""
    try:
        dataset = DATASETS.get(run.model.dataset)
        if dataset is None:
            raise DataError(f"evaluation of {run.model.dataset} runs is not supported")
        return dataset.load_test_set(run, data_dir if data_dir is not None else run.data.get("data_dir"))
    except DataError as err:
        if data_dir is None and run.data.get("data_dir") is not None:
            raise DataError(f"{err} (the data folder the run was trained with, from its config.json; "
                            f"pass --data_dir to read the data from elsewhere)") from None
        raise
