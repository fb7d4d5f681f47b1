"""The labelled test images that a trained run is evaluated on, per data set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import RunConfig
from .data.common import DataError


@dataclass
class TestSet:
    images: np.ndarray  # uint8 (N, H, W, C)
    labels: np.ndarray  # int64 (N,): the class of each image (digits for MNIST and SVHN)
    n_classes: int
    class_names: list


def load_test_set(run: RunConfig, data_dir=None) -> TestSet:
    """The test split of the run's data set; `data_dir` overrides the folder stored in the run's config."""
    dataset = run.model.dataset
    folder = data_dir if data_dir is not None else run.data.get("data_dir")
    if dataset == "mnist":
        from .data.mnist import load_mnist
        test = load_mnist(folder, validation_size=run.train.validation_size).test
        return TestSet(test.images, test.labels, 10, [str(d) for d in range(10)])
    raise DataError(f"evaluation of {dataset} runs is not supported")
