"""Small learnable image data, and CIFAR-10 folders or archives made of it, for tests.

Each image is dim noise with one bright quadrant; the class (0..3) is which
quadrant. A small model learns it in a few epochs, so tests can tell that
training really happened; with shuffled labels nothing can be learned.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_profiler.datasets import _cifar10_writer as cifar10_writer
from keras_profiler.datasets import cifar10

NUM_QUADRANTS = 4
BACKGROUND_MAX = 60  # noise values 0..60
BRIGHTNESS = 150  # added to the bright quadrant


def quadrant_dataset(
    n: int, seed: int, shuffle_labels: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Makes ``n`` images whose class is the quadrant that is bright.

    Args:
        n: Number of images.
        seed: Seed of numpy.random.default_rng; the same seed gives the same data.
        shuffle_labels: Permute the labels across images, so that nothing is learnable
            (the class counts stay the same).

    Returns:
        (x, y): uint8 images of shape (n, 32, 32, 3) and int32 labels in 0..3
        (0 top left, 1 top right, 2 bottom left, 3 bottom right).
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, NUM_QUADRANTS, n, dtype=np.int32)
    x = rng.integers(0, BACKGROUND_MAX + 1, (n, 32, 32, 3), dtype=np.uint8).astype(np.int16)
    masks = np.zeros((NUM_QUADRANTS, 32, 32, 1), dtype=np.int16)
    for q in range(NUM_QUADRANTS):
        row, col = divmod(q, 2)
        masks[q, row * 16 : (row + 1) * 16, col * 16 : (col + 1) * 16] = BRIGHTNESS
    x = np.clip(x + masks[y], 0, 255).astype(np.uint8)
    if shuffle_labels:
        y = rng.permutation(y)
    return x, y


def write_quadrant_cifar(
    data_dir: str | Path,
    n_train: int,
    n_test: int,
    seed: int,
    shuffle_labels: bool = False,
    form: str = "folder",
) -> Path:
    """Writes quadrant data into ``data_dir`` as CIFAR-10, under the official names.

    The folder form (``cifar-10-batches-py/``) loads through ``cifar10.load``.
    The tar form (``cifar-10-python.tar.gz``) is not the official file, so
    ``cifar10.load`` rejects its md5; read it with ``cifar10._read_archive``.

    Args:
        data_dir: Folder to write into (created if needed).
        n_train: Number of training images.
        n_test: Number of test images.
        seed: Seed of the data; train and test come from the same draw.
        shuffle_labels: Permute the labels so that nothing is learnable.
        form: "folder" for the extracted folder, "tar" for the tar.gz.

    Returns:
        ``data_dir`` as a Path.
    """
    if form not in ("folder", "tar"):
        raise ValueError(f"form must be 'folder' or 'tar', not {form!r}")
    data_dir = Path(data_dir)
    x, y = quadrant_dataset(n_train + n_test, seed, shuffle_labels)
    splits = (x[:n_train], y[:n_train], x[n_train:], y[n_train:])
    if form == "folder":
        cifar10_writer.write_batches(data_dir / cifar10.FOLDER, *splits)
    else:
        cifar10_writer.write_archive(data_dir / cifar10.ARCHIVE, *splits)
    return data_dir
