"""Inception v3, as in ``keras.applications.InceptionV3``.

Mirrors ``keras/src/applications/inception_v3.py`` (Keras 3) layer for layer,
written with layers that also exist in Keras 2.2. The one deviation is the
classifier: ``Dense`` followed by a separate float32 softmax ``Activation``,
which keeps the output float32 under mixed precision at the same parameter
count. The network is meant for 299x299 images, hence ``DEFAULT_IMAGE_SIZE``.
"""

from __future__ import annotations

import keras

from ._inception import avg_pool_same, classifier, concat, conv2d_bn, max_pool_valid

DEFAULT_IMAGE_SIZE = 299


def build(input_shape, num_classes: int):
    """Builds Inception v3.

    Args:
        input_shape: Shape of one image, e.g. ``(299, 299, 3)``; at least 75x75.
        num_classes: Number of output classes.

    Returns:
        An uncompiled functional ``keras.models.Model`` named ``inception_v3``.
    """
    inputs = keras.layers.Input(shape=tuple(input_shape))
    x = _stem(inputs)
    x = _block_35(x, pool_filters=32, name="mixed0")
    x = _block_35(x, pool_filters=64, name="mixed1")
    x = _block_35(x, pool_filters=64, name="mixed2")
    x = _reduction_a(x)
    for index, filters_7x7 in enumerate((128, 160, 160, 192)):
        x = _block_17(x, filters_7x7, name=f"mixed{4 + index}")
    x = _reduction_b(x)
    for index in range(2):
        x = _block_8(x, index)
    outputs = classifier(x, num_classes)
    return keras.models.Model(inputs, outputs, name="inception_v3")


def _stem(x):
    """The five convolutions and two max poolings before the first mixed block."""
    x = conv2d_bn(x, 32, 3, 3, strides=(2, 2), padding="valid")
    x = conv2d_bn(x, 32, 3, 3, padding="valid")
    x = conv2d_bn(x, 64, 3, 3)
    x = max_pool_valid(x)
    x = conv2d_bn(x, 80, 1, 1, padding="valid")
    x = conv2d_bn(x, 192, 3, 3, padding="valid")
    return max_pool_valid(x)


def _block_35(x, pool_filters: int, name: str):
    """Mixed blocks 0-2 (35x35 at a 299 input)."""
    branch1x1 = conv2d_bn(x, 64, 1, 1)
    branch5x5 = conv2d_bn(x, 48, 1, 1)
    branch5x5 = conv2d_bn(branch5x5, 64, 5, 5)
    branch3x3dbl = conv2d_bn(x, 64, 1, 1)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 96, 3, 3)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 96, 3, 3)
    branch_pool = conv2d_bn(avg_pool_same(x), pool_filters, 1, 1)
    return concat([branch1x1, branch5x5, branch3x3dbl, branch_pool], name=name)


def _reduction_a(x):
    """Mixed block 3: 35x35 down to 17x17."""
    branch3x3 = conv2d_bn(x, 384, 3, 3, strides=(2, 2), padding="valid")
    branch3x3dbl = conv2d_bn(x, 64, 1, 1)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 96, 3, 3)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 96, 3, 3, strides=(2, 2), padding="valid")
    branch_pool = max_pool_valid(x)
    return concat([branch3x3, branch3x3dbl, branch_pool], name="mixed3")


def _block_17(x, filters_7x7: int, name: str):
    """Mixed blocks 4-7 (17x17), with factorised 7x7 convolutions."""
    branch1x1 = conv2d_bn(x, 192, 1, 1)
    branch7x7 = conv2d_bn(x, filters_7x7, 1, 1)
    branch7x7 = conv2d_bn(branch7x7, filters_7x7, 1, 7)
    branch7x7 = conv2d_bn(branch7x7, 192, 7, 1)
    branch7x7dbl = conv2d_bn(x, filters_7x7, 1, 1)
    branch7x7dbl = conv2d_bn(branch7x7dbl, filters_7x7, 7, 1)
    branch7x7dbl = conv2d_bn(branch7x7dbl, filters_7x7, 1, 7)
    branch7x7dbl = conv2d_bn(branch7x7dbl, filters_7x7, 7, 1)
    branch7x7dbl = conv2d_bn(branch7x7dbl, 192, 1, 7)
    branch_pool = conv2d_bn(avg_pool_same(x), 192, 1, 1)
    return concat([branch1x1, branch7x7, branch7x7dbl, branch_pool], name=name)


def _reduction_b(x):
    """Mixed block 8: 17x17 down to 8x8."""
    branch3x3 = conv2d_bn(x, 192, 1, 1)
    branch3x3 = conv2d_bn(branch3x3, 320, 3, 3, strides=(2, 2), padding="valid")
    branch7x7x3 = conv2d_bn(x, 192, 1, 1)
    branch7x7x3 = conv2d_bn(branch7x7x3, 192, 1, 7)
    branch7x7x3 = conv2d_bn(branch7x7x3, 192, 7, 1)
    branch7x7x3 = conv2d_bn(branch7x7x3, 192, 3, 3, strides=(2, 2), padding="valid")
    branch_pool = max_pool_valid(x)
    return concat([branch3x3, branch7x7x3, branch_pool], name="mixed8")


def _block_8(x, index: int):
    """Mixed blocks 9 and 10 (8x8), with split 1x3 / 3x1 convolutions."""
    branch1x1 = conv2d_bn(x, 320, 1, 1)
    branch3x3 = conv2d_bn(x, 384, 1, 1)
    branch3x3 = concat(
        [conv2d_bn(branch3x3, 384, 1, 3), conv2d_bn(branch3x3, 384, 3, 1)],
        name=f"mixed9_{index}",
    )
    branch3x3dbl = conv2d_bn(x, 448, 1, 1)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 384, 3, 3)
    branch3x3dbl = concat([conv2d_bn(branch3x3dbl, 384, 1, 3), conv2d_bn(branch3x3dbl, 384, 3, 1)])
    branch_pool = conv2d_bn(avg_pool_same(x), 192, 1, 1)
    return concat([branch1x1, branch3x3, branch3x3dbl, branch_pool], name=f"mixed{9 + index}")
