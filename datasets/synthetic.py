"""Seeded random images of CIFAR-10's shapes: no files, no download, nothing to learn.

For timing backends where the real data is not at hand. The pixels and labels
are uniform noise, so accuracy stays at chance (about 10%); speed and memory
are what it measures. At a chosen ``image_size`` (``--image-size``) the images
are drawn at that size, so that the model is fed them as they are, with no
upscaling in front, as the published ImageNet-size synthetic figures are
measured.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import ImageDataset, sample_count

NAME = "synthetic"
TRAIN_SIZE = 50_000
TEST_SIZE = 10_000
# The test split's size when images are drawn larger than 32x32 and no
# --test-samples is given (RunConfig sets it, so the record states it): noise
# is evaluated for its time only, and 10,000 images at 224x224 would take
# 1.5 GB, 6 GB more as the float32 the model is fed.
TEST_SIZE_ABOVE_32 = 1_000
IMAGE_SHAPE = (32, 32, 3)  # the default, CIFAR-10's
NUM_CLASSES = 10
# The facts the rest of the tool asks (see the registry, datasets/__init__.py).
DESCRIPTION = (
    "seeded random images of CIFAR-10's shapes, or of --image-size: speed only, "
    "accuracy means nothing"
)
SYNTHETIC = True  # noise: nothing to learn, no distortions
GENERATED = True  # drawn in memory at --image-size: no files, no download


def load(
    data_dir: Path,
    *,
    seed: int,
    train_samples: int | None = None,
    test_samples: int | None = None,
    allow_download: bool = True,
    image_size: int | None = None,
) -> ImageDataset:
    """Generates the dataset from ``seed``: the same seed gives identical bytes.

    Args:
        data_dir: Ignored (nothing is read).
        seed: Seed of numpy.random.default_rng; different seeds give different data.
        train_samples: Number of training images; None gives 50,000.
        test_samples: Number of test images; None gives 10,000.
        allow_download: Ignored (nothing is downloaded).
        image_size: Side of the square images; None gives CIFAR-10's 32.

    Returns:
        uint8 NHWC images of shape (N, S, S, 3) and int32 labels in 0..9.
    """
    del data_dir, allow_download
    n_train = sample_count("train_samples", train_samples, TRAIN_SIZE)
    n_test = sample_count("test_samples", test_samples, TEST_SIZE)
    shape = image_shape(image_size)
    # One independent stream per array, so the test split does not change with
    # train_samples, and fewer samples are the first ones of the full set.
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
    return ImageDataset(
        name=NAME,
        x_train=_images(streams[0], n_train, shape),
        y_train=_labels(streams[1], n_train),
        x_test=_images(streams[2], n_test, shape),
        y_test=_labels(streams[3], n_test),
        num_classes=NUM_CLASSES,
        synthetic=True,
        source=f"synthetic (seed {seed})",
    )


def image_shape(image_size: int | None) -> tuple[int, int, int]:
    """The shape of one image at ``image_size`` (None: CIFAR-10's 32x32x3)."""
    if image_size is None:
        return IMAGE_SHAPE
    if image_size < 1:
        raise ValueError(
            f"image_size must be a positive number of pixels or None, not {image_size}"
        )
    return image_size, image_size, IMAGE_SHAPE[2]


def default_test_samples(image_size: int | None) -> int | None:
    """The test images a run evaluates without --test-samples: all 10,000,
    or ``TEST_SIZE_ABOVE_32`` when drawn larger than 32x32."""
    if image_size is not None and image_size > IMAGE_SHAPE[0]:
        return TEST_SIZE_ABOVE_32
    return None


def _images(rng: np.random.Generator, n: int, shape: tuple[int, int, int]) -> np.ndarray:
    # Drawn as uint8 directly: 50,000 images take a fraction of a second this way.
    return rng.integers(0, 256, (n, *shape), dtype=np.uint8)


def _labels(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, NUM_CLASSES, n, dtype=np.int32)
