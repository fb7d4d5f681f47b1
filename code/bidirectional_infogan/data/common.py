"""What every data loader shares: the error type and the pixel conversion."""

from dataclasses import dataclass

import numpy as np


class DataError(Exception):
    """Missing, truncated or malformed data files (the message is shown to the user as is)."""


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 pixels -> float32 in [0, 1]."""
    return images.astype(np.float32) * np.float32(1.0 / 255.0)


@dataclass
class TrainingData:
    """uint8 images (N, H, W, C) to train on, the validation images of the figures, and their labels where
    the data set has classes (for the validation scores in TensorBoard; never used in training)."""

    train_images: np.ndarray
    validation_images: np.ndarray
    validation_labels: np.ndarray | None = None
