"""Max pooling that rounds its output size up, as Caffe's does.

Caffe (and torchvision's SqueezeNet, with ``ceil_mode=True``) lets the last
pooling window hang over the bottom and right edges, so a 3x3/2 pooling of
54 rows gives 27, where Keras' ``valid`` gives 26 and ``same`` pads both
ways. Keras has no ceil mode, so the image is zero-padded by one row and
column at the bottom and right where that window needs it. Zero padding
equals Caffe's (which ignores the outside) only for non-negative inputs:
every caller pools ReLU outputs. Written with layers that exist in both
Keras 3 and Keras 2.2.
"""

from __future__ import annotations

import math

import keras

from ._common import _spatial_size


def max_pool_ceil(x, pool_size: int = 3, strides: int = 2, name: str | None = None):
    """Max pooling without padding whose output size is rounded up.

    Args:
        x: A 4-D tensor of non-negative values (a ReLU's output).
        pool_size: Side of the square window.
        strides: Stride in both directions.
        name: Name of the pooling layer.

    Returns:
        The pooled tensor, ``ceil((size - pool_size) / strides) + 1`` on a side.
    """
    height, width = _spatial_size(x)
    extra_rows = _overhang(height, pool_size, strides)
    extra_cols = _overhang(width, pool_size, strides)
    if extra_rows or extra_cols:
        x = keras.layers.ZeroPadding2D(padding=((0, extra_rows), (0, extra_cols)))(x)
    return keras.layers.MaxPooling2D(pool_size, strides=strides, name=name)(x)


def _overhang(size: int, pool_size: int, strides: int) -> int:
    """How far the last ceil-mode window reaches past the edge."""
    windows = math.ceil((size - pool_size) / strides) + 1
    return (windows - 1) * strides + pool_size - size
