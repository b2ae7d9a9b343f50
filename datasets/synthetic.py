"""Seeded random images of CIFAR-10's shapes: no files, no download, nothing to learn.

For timing backends where the real data is not at hand. The pixels and labels
are uniform noise, so accuracy stays at chance (about 10%); speed and memory
are what it measures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import ImageDataset

NAME = "synthetic"
TRAIN_SIZE = 50_000
TEST_SIZE = 10_000
IMAGE_SHAPE = (32, 32, 3)
NUM_CLASSES = 10


def load(
    data_dir: Path,
    *,
    seed: int,
    train_samples: int | None = None,
    test_samples: int | None = None,
    allow_download: bool = True,
) -> ImageDataset:
    """Generates the dataset from ``seed``: the same seed gives identical bytes.

    Args:
        data_dir: Ignored (nothing is read).
        seed: Seed of numpy.random.default_rng; different seeds give different data.
        train_samples: Number of training images; None gives 50,000.
        test_samples: Number of test images; None gives 10,000.
        allow_download: Ignored (nothing is downloaded).

    Returns:
        uint8 NHWC images of shape (N, 32, 32, 3) and int32 labels in 0..9.
    """
    del data_dir, allow_download
    n_train = _count("train_samples", train_samples, TRAIN_SIZE)
    n_test = _count("test_samples", test_samples, TEST_SIZE)
    # One independent stream per array, so the test split does not change with
    # train_samples, and fewer samples are the first ones of the full set.
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
    return ImageDataset(
        name=NAME,
        x_train=_images(streams[0], n_train),
        y_train=_labels(streams[1], n_train),
        x_test=_images(streams[2], n_test),
        y_test=_labels(streams[3], n_test),
        num_classes=NUM_CLASSES,
        synthetic=True,
        source=f"synthetic (seed {seed})",
    )


def _count(what: str, count: int | None, default: int) -> int:
    if count is None:
        return default
    if count < 1:
        raise ValueError(f"{what} must be a positive number of images or None, not {count}")
    return count


def _images(rng: np.random.Generator, n: int) -> np.ndarray:
    # Drawn as uint8 directly: 50,000 images take a fraction of a second this way.
    return rng.integers(0, 256, (n, *IMAGE_SHAPE), dtype=np.uint8)


def _labels(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, NUM_CLASSES, n, dtype=np.int32)
