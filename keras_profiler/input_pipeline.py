"""The host input path: images as the model takes them, and --distortions.

tf_cnn_benchmarks' ``--distortions`` rows measure an input pipeline that
distorts every training image on the host. Here, as there, each epoch every
training image is cropped at a random offset after 4 zero pixels of padding on
each side, and flipped left-right with probability 0.5 (tf_cnn_benchmarks'
CIFAR-10 preprocessing: ``resize_image_with_crop_or_pad`` to 40x40,
``random_crop`` back to 32x32, ``random_flip_left_right``). The work is NumPy,
vectorised over a batch, and runs when Keras asks for the batch: the adapters
wrap ``DistortedBatches`` in their Keras line's own mechanism for batches
built on the host (``Backend.fit_batches``).
Test images are never distorted.

Framework-free: it runs under Keras 3 and in the MXNet environment alike.
"""

from __future__ import annotations

import numpy as np

PAD = 4  # zero pixels added on each side before the random crop
FLIP_PROBABILITY = 0.5
DESCRIPTION = f"random crop (pad {PAD}, zeros) + horizontal flip (p={FLIP_PROBABILITY})"

# Purposes of the generators drawn from (seed, stream, epoch, purpose, batch):
# the epoch's order and each batch's distortions come from separate streams.
_ORDER, _DISTORTION = 0, 1


def as_input(images: np.ndarray, data_format: str) -> np.ndarray:
    """uint8 images (N, H, W, C) as the float32 input the model takes; token
    ids (N, L) as they are."""
    if images.ndim != 4:
        return images
    if data_format == "channels_first":
        images = images.transpose(0, 3, 1, 2)
    scaled = images.astype("float32")
    scaled /= 255.0  # in place: one float32 copy, not two at once (large images)
    return scaled


def distort(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Randomly crops and flips each image of a batch, as tf_cnn_benchmarks does.

    Args:
        images: uint8 images (N, H, W, C); left unchanged.
        rng: draws each image's crop offset (0 to 2 * PAD on each axis) and
            whether it is flipped.

    Returns:
        New uint8 images of the same shape.
    """
    n = len(images)
    top = rng.integers(0, 2 * PAD + 1, n)
    left = rng.integers(0, 2 * PAD + 1, n)
    flip = rng.random(n) < FLIP_PROBABILITY
    return crop_and_flip(images, top, left, flip)


def crop_and_flip(
    images: np.ndarray, top: np.ndarray, left: np.ndarray, flip: np.ndarray
) -> np.ndarray:
    """Pads each image with PAD zero pixels on each side, crops it back to its
    size at (``top[i]``, ``left[i]``) of the padded image, and mirrors it
    left-right where ``flip[i]``: one gather for the whole batch.

    ``top = left = PAD`` and no flip gives the image back unchanged.
    """
    n, height, width, channels = images.shape
    padded = np.zeros((n, height + 2 * PAD, width + 2 * PAD, channels), images.dtype)
    padded[:, PAD:-PAD, PAD:-PAD] = images
    # One element per pixel (its channels as one opaque value): the gather
    # then moves whole pixels, faster than channel by channel.
    pixels = padded.view(f"V{channels * images.itemsize}")[..., 0]
    rows = np.asarray(top)[:, None] + np.arange(height)  # (N, H)
    columns = np.asarray(left)[:, None] + np.arange(width)  # (N, W)
    columns = np.where(np.asarray(flip)[:, None], columns[:, ::-1], columns)
    cropped = pixels[np.arange(n)[:, None, None], rows[:, :, None], columns[:, None, :]]
    return cropped[..., None].view(images.dtype)


class DistortedBatches:
    """One process's training rows as batches, reshuffled and distorted afresh
    each epoch, each built when Keras asks for it.

    ``batch(epoch, index)`` depends on (seed, stream, epoch, index) only: not
    on the order in which batches are asked for, how often, nor on the thread
    that asks, so the same seed gives the same batches and runs stay
    reproducible. Which epoch Keras is in is the adapters' business
    (``fit_batches``): Keras 3 and Keras 2.2 tell it differently.

    Args:
        x: uint8 training images (N, H, W, C): this process's rows only.
        y: their labels.
        batch_size: images per batch given to fit; ``len(x) // batch_size``
            batches per epoch (the worker passes whole batches only).
        seed: the run's seed.
        data_format: layout of the batches (``channels_first`` transposes).
        stream: tells apart processes that hold different rows (torch DDP's
            rank), so that each draws its own distortions.
    """

    def __init__(self, x, y, batch_size: int, *, seed: int, data_format: str, stream: int = 0):
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.seed, self.stream = seed, stream
        self.data_format = data_format
        self._order = (None, None)  # (epoch, permutation of the rows), replaced whole

    def __len__(self) -> int:
        return len(self.x) // self.batch_size

    def batch(self, epoch: int, index: int):
        """Batch ``index`` of ``epoch``: (float32 images, labels)."""
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        start = index * self.batch_size
        rows = self._permutation(epoch)[start : start + self.batch_size]
        images = distort(self.x[rows], self._generator(_DISTORTION, epoch, index))
        return as_input(images, self.data_format), self.y[rows]

    def _permutation(self, epoch: int) -> np.ndarray:
        cached, order = self._order
        if cached != epoch:  # once per epoch, not per batch
            order = self._generator(_ORDER, epoch).permutation(len(self.x))
            self._order = (epoch, order)
        return order

    def _generator(self, purpose: int, epoch: int, index: int = 0) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.stream, epoch, purpose, index])
