"""Datasets, one module each, and the registry that finds them.

Every public module here defines::

    def load(data_dir, *, seed, train_samples, test_samples, allow_download,
             image_size) -> ImageDataset

returning uint8 images in NHWC layout (a dataset of token sequences, whose
``INPUT_KIND`` is "tokens", takes ``sequence_length`` instead of
``image_size`` and returns int32 token ids (N, L) with a label per token).
``image_size`` is the side the model will see (None: the model's or the
data's default): a generated dataset draws its images at that size, one read
from files keeps its own and leaves the upscaling to the model. Loading never
needs a framework except to download (Keras's file utilities, imported only
then).

Each module also states its facts, which the rest of the tool asks instead
of branching on names (``get(name).SYNTHETIC``)::

    NAME, DESCRIPTION          # its --dataset name; one phrase for --help
    SYNTHETIC: bool            # noise: speed only, no accuracy, no distortions
    GENERATED: bool            # drawn in memory at --image-size, not read from files
    TRAIN_SIZE, TEST_SIZE, IMAGE_SHAPE, NUM_CLASSES
    def image_shape(image_size) -> (H, W, C)       # one image, as loaded
    def default_test_samples(image_size) -> int | None   # without --test-samples
    INPUT_KIND = "tokens"      # optional: what one sample is; absent: "images"
    LEARNABLE: bool            # optional: the labels can be learned; absent: not SYNTHETIC
    SAMPLE_DTYPE = "int32"     # optional: the dtype of a sample; absent: "uint8"
    def sample_shape(size)     # token datasets: one sequence, as image_shape is one image
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
    def image_shape(self) -> tuple[int, ...]:
        """One sample's shape: (H, W, C) for images, (L,) for token sequences."""
        return tuple(self.x_train.shape[1:])

    sample_shape = image_shape


def sample_count(what: str, count: int | None, default: int | None, unit: str = "images"):
    """``count`` (--train-samples, --test-samples) checked, or ``default``
    where it is None; ValueError where it is not a positive number."""
    if count is None:
        return default
    if count < 1:
        raise ValueError(f"{what} must be a positive number of {unit} or None, not {count}")
    return count


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


def for_data_kind(synthetic: bool, kind: str = "images") -> str:
    """The dataset a data kind of the reference tables stands for, for
    models whose samples are ``kind``: the first synthetic one, or the
    default real one."""
    if not synthetic and kind == "images":
        return DEFAULT
    of_kind = [name for name in available() if input_kind(name) == kind]
    return next(name for name in of_kind if synthetic == get(name).SYNTHETIC)


def input_kind(name: str) -> str:
    """What one sample of dataset ``name`` is: "images" or "tokens"."""
    return getattr(get(name), "INPUT_KIND", "images")


def is_learnable(name: str) -> bool:
    """Whether a model can learn the labels of dataset ``name`` (accuracy
    means something): its ``LEARNABLE``, else whether it is real data."""
    module = get(name)
    return getattr(module, "LEARNABLE", not module.SYNTHETIC)


def default_for(kind: str) -> str:
    """The dataset a run of a model of ``kind`` samples uses when it names
    none: the default real images, or the first dataset of that kind."""
    return (
        DEFAULT
        if kind == "images"
        else next(name for name in available() if input_kind(name) == kind)
    )


def sample_shape(name: str, size: int | None) -> tuple[int, ...]:
    """One sample of dataset ``name`` as loaded at ``size`` (an image side
    or a sequence length; None: the dataset's default)."""
    module = get(name)
    return getattr(module, "sample_shape", getattr(module, "image_shape", None))(size)


def sample_bytes(name: str, size: int | None) -> int:
    """Bytes of one sample of dataset ``name`` as loaded at ``size``."""
    itemsize = np.dtype(getattr(get(name), "SAMPLE_DTYPE", "uint8")).itemsize
    return int(np.prod(sample_shape(name, size))) * itemsize


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
    sequence_length: int | None = None,
) -> ImageDataset:
    """Loads dataset ``name``; raises DatasetUnavailable when it cannot be had.
    ``image_size`` goes to an image dataset, ``sequence_length`` to one of
    token sequences."""
    if input_kind(name) == "tokens":
        size = {"sequence_length": sequence_length}
    else:
        size = {"image_size": image_size}
    return get(name).load(
        Path(data_dir).expanduser(),
        seed=seed,
        train_samples=train_samples,
        test_samples=test_samples,
        allow_download=allow_download,
        **size,
    )
