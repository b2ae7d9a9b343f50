"""Helpers shared by the model definitions.

They use only layers that exist in both Keras 3 and Keras 2.2, so that every
model built with them runs unchanged on the Keras 3 backends and on
keras-mxnet, and computes the same thing on each.
"""

from __future__ import annotations

import math

import keras


def channel_axis() -> int:
    """The axis of a 4-D image tensor that holds the channels.

    Returns:
        3 under ``channels_last``, 1 under ``channels_first``.
    """
    return 1 if keras.backend.image_data_format() == "channels_first" else 3


def upscale(x, size: int):
    """Resizes a square image tensor to ``size`` x ``size`` by nearest neighbour.

    The image is repeated ``ceil(size / s)`` times along each spatial axis
    with ``UpSampling2D`` and the surplus cropped off both sides as evenly as
    possible with ``Cropping2D`` (the extra row or column, if any, goes to
    the bottom or right). Nearest neighbour is deliberate: the two layers do
    identical arithmetic on every backend and exist in Keras 2.2, unlike
    ``Resizing``.

    Args:
        x: A 4-D image tensor whose spatial dimensions are both ``s``.
        size: The spatial size wanted, at least ``s``.

    Returns:
        ``x`` itself when ``size == s``, else the upscaled tensor.

    Raises:
        ValueError: If ``size`` is smaller than ``s`` or the image is not square.
    """
    height, width = _spatial_size(x)
    if height != width:
        raise ValueError(f"upscale needs a square image, got {height}x{width}")
    if size < height:
        raise ValueError(f"upscale cannot shrink an image from {height} to {size}")
    if size == height:
        return x
    factor = math.ceil(size / height)
    x = keras.layers.UpSampling2D(size=factor)(x)
    surplus = factor * height - size
    crop = (surplus // 2, surplus - surplus // 2)
    if surplus:
        x = keras.layers.Cropping2D(cropping=(crop, crop))(x)
    return x


def _spatial_size(x) -> tuple[int, int]:
    """Height and width of a 4-D image tensor, read according to the data format."""
    int_shape = getattr(keras.backend, "int_shape", None)  # Keras 2 only
    shape = tuple(int_shape(x)) if int_shape else tuple(x.shape)
    if channel_axis() == 1:
        return int(shape[2]), int(shape[3])
    return int(shape[1]), int(shape[2])


def named_builder(build, name: str, **options):
    """A model module's ``build(input_shape, num_classes)``: the shared
    ``build`` of an architecture family, with the model's name and options.

    Args:
        build: ``build(input_shape, num_classes, name=..., **options)``.
        name: The model's name, as registered.
        **options: What sets this model apart in its family.
    """

    def build_named(input_shape, num_classes: int):
        return build(input_shape, num_classes, name=name, **options)

    build_named.__name__ = build_named.__qualname__ = "build"
    build_named.__doc__ = f"""Builds {name}: an uncompiled functional ``keras.models.Model``.

    Args:
        input_shape: Shape of one image, e.g. ``(32, 32, 3)``.
        num_classes: Number of output classes.
    """
    return build_named
