"""Datasets, one module each, and the registry that finds them.

Every public module here defines::

    def load(data_dir, *, seed, train_samples, test_samples, allow_download,
             image_size) -> ImageDataset

returning uint8 images in NHWC layout. ``image_size`` is the side the model
will see (None: the model's or the data's default): a generated dataset draws
its images at that size, one read from files keeps its own and leaves the
upscaling to the model. Loading never needs a framework except to download
(Keras's file utilities, imported only then).

Each module also states its facts, which the rest of the tool asks instead
of branching on names (``get(name).SYNTHETIC``)::

    NAME, DESCRIPTION          # its --dataset name; one phrase for --help
    SYNTHETIC: bool            # noise: speed only, no accuracy, no distortions
    GENERATED: bool            # drawn in memory at --image-size, not read from files
    TRAIN_SIZE, TEST_SIZE, IMAGE_SHAPE, NUM_CLASSES
    def image_shape(image_size) -> (H, W, C)       # one image, as loaded
    def default_test_samples(image_size) -> int | None   # without --test-samples
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class DatasetUnavailable(Exception):
    """The data cannot be had: the message is one line saying what to do."""


@dataclass(frozen=True)
class ImageDataset:
    """Train and test splits of uint8 NHWC images with integer labels."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    synthetic: bool
    source: str  # where the data came from: a path, or how it was generated

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])


def available() -> list[str]:
    """Names of the registered datasets, sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


# The dataset of a run that names none, and the one the reference tables'
# "real" data stands for.
DEFAULT = "cifar10"


def get(name: str):
    """The module of dataset ``name``, whose attributes are its facts."""
    check(name)
    return importlib.import_module(f"{__name__}.{name}")


def is_synthetic(name: str) -> bool:
    """Whether ``name`` is synthetic data; False for a name not registered
    here (a record from another version)."""
    return name in available() and get(name).SYNTHETIC


def for_data_kind(synthetic: bool) -> str:
    """The dataset a data kind of the reference tables stands for: the
    first synthetic one, or the default real one."""
    if not synthetic:
        return DEFAULT
    return next(name for name in available() if get(name).SYNTHETIC)


def check(name: str) -> None:
    """Raises ValueError with what to change when ``name`` is not a dataset."""
    if name not in available():
        raise ValueError(f"unknown dataset {name!r}: choose one of {', '.join(available())}")


def load(
    name: str,
    data_dir: str | Path,
    *,
    seed: int,
    train_samples: int | None = None,
    test_samples: int | None = None,
    allow_download: bool = True,
    image_size: int | None = None,
) -> ImageDataset:
    """Loads dataset ``name``; raises DatasetUnavailable when it cannot be had."""
    return get(name).load(
        Path(data_dir).expanduser(),
        seed=seed,
        train_samples=train_samples,
        test_samples=test_samples,
        allow_download=allow_download,
        image_size=image_size,
    )
