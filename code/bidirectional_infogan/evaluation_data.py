"""The test images that a trained run is evaluated on, with what is known about them, per data set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import RunConfig
from .data.common import DataError


@dataclass
class TestSet:
    images: np.ndarray  # uint8 (N, H, W, C)
    labels: np.ndarray | None  # int64 (N,): the digit of each image (MNIST, SVHN); None for CelebA
    n_classes: int
    class_names: list
    attributes: np.ndarray | None = None  # (N, A) in {0, 1} (CelebA)
    attribute_names: list | None = None


def load_test_set(run: RunConfig, data_dir=None) -> TestSet:
    """The test split of the run's data set; `data_dir` overrides the folder stored in the run's config."""
    try:
        return _load_test_set(run, data_dir)
    except DataError as err:
        if data_dir is None and run.data.get("data_dir") is not None:
            raise DataError(f"{err} (the data folder the run was trained with, from its config.json; "
                            f"pass --data_dir to read the data from elsewhere)") from None
        raise


def _load_test_set(run: RunConfig, data_dir=None) -> TestSet:
    dataset = run.model.dataset
    folder = data_dir if data_dir is not None else run.data.get("data_dir")
    digits = [str(d) for d in range(10)]
    if dataset == "mnist":
        from .data.mnist import load_mnist
        test = load_mnist(folder, validation_size=run.train.validation_size).test
        return TestSet(test.images, test.labels, 10, digits)
    if dataset == "svhn":  # no folder: the download cache, as in training
        from .data.svhn import load_svhn
        test = load_svhn(folder, validation_size=0).test
        return TestSet(test.images, test.labels, 10, digits)
    if folder is None:
        raise DataError(f"this {dataset} run does not say where its data are: pass --data_dir")
    if dataset == "celeba":
        from .data.celeba import load_celeba, parse_crop
        data = load_celeba(folder, crop=parse_crop(run.data.get("crop", "108")), size=run.model.image_shape[0],
                           cache_dir=run.data.get("cache_dir"), with_attributes=True)
        return TestSet(data.test.images, None, 0, [], data.attributes["test"], data.attribute_names)
    raise DataError(f"evaluation of {dataset} runs is not supported")
