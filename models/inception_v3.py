"""Inception v3, as in ``keras.applications.InceptionV3``.

Mirrors ``keras/src/applications/inception_v3.py`` (Keras 3) layer for layer,
written with layers that also exist in Keras 2.2. The one deviation is the
classifier: ``Dense`` followed by a separate float32 softmax ``Activation``,
which keeps the output float32 under mixed precision at the same parameter
count. The network is meant for 299x299 images, hence ``DEFAULT_IMAGE_SIZE``.
"""

from __future__ import annotations

import keras

from ._common import channel_axis

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
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = keras.layers.Dense(num_classes, name="predictions")(x)
    outputs = keras.layers.Activation("softmax", dtype="float32", name="softmax")(x)
    return keras.models.Model(inputs, outputs, name="inception_v3")


def _conv2d_bn(x, filters: int, rows: int, cols: int, padding="same", strides=(1, 1)):
    """Convolution without bias, batch norm without scale, then ReLU."""
    x = keras.layers.Conv2D(
        filters, (rows, cols), strides=strides, padding=padding, use_bias=False
    )(x)
    x = keras.layers.BatchNormalization(axis=channel_axis(), scale=False)(x)
    return keras.layers.Activation("relu")(x)


def _concat(tensors, name=None):
    """Concatenates along the channel axis."""
    return keras.layers.concatenate(tensors, axis=channel_axis(), name=name)


def _avg_pool_same(x):
    """3x3 average pooling with stride 1 and same padding."""
    return keras.layers.AveragePooling2D((3, 3), strides=(1, 1), padding="same")(x)


def _stem(x):
    """The five convolutions and two max poolings before the first mixed block."""
    x = _conv2d_bn(x, 32, 3, 3, strides=(2, 2), padding="valid")
    x = _conv2d_bn(x, 32, 3, 3, padding="valid")
    x = _conv2d_bn(x, 64, 3, 3)
    x = keras.layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = _conv2d_bn(x, 80, 1, 1, padding="valid")
    x = _conv2d_bn(x, 192, 3, 3, padding="valid")
    return keras.layers.MaxPooling2D((3, 3), strides=(2, 2))(x)


def _block_35(x, pool_filters: int, name: str):
    """Mixed blocks 0-2 (35x35 at a 299 input)."""
    branch1x1 = _conv2d_bn(x, 64, 1, 1)
    branch5x5 = _conv2d_bn(x, 48, 1, 1)
    branch5x5 = _conv2d_bn(branch5x5, 64, 5, 5)
    branch3x3dbl = _conv2d_bn(x, 64, 1, 1)
    branch3x3dbl = _conv2d_bn(branch3x3dbl, 96, 3, 3)
    branch3x3dbl = _conv2d_bn(branch3x3dbl, 96, 3, 3)
    branch_pool = _conv2d_bn(_avg_pool_same(x), pool_filters, 1, 1)
    return _concat([branch1x1, branch5x5, branch3x3dbl, branch_pool], name=name)


def _reduction_a(x):
    """Mixed block 3: 35x35 down to 17x17."""
    branch3x3 = _conv2d_bn(x, 384, 3, 3, strides=(2, 2), padding="valid")
    branch3x3dbl = _conv2d_bn(x, 64, 1, 1)
    branch3x3dbl = _conv2d_bn(branch3x3dbl, 96, 3, 3)
    branch3x3dbl = _conv2d_bn(branch3x3dbl, 96, 3, 3, strides=(2, 2), padding="valid")
    branch_pool = keras.layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    return _concat([branch3x3, branch3x3dbl, branch_pool], name="mixed3")


def _block_17(x, filters_7x7: int, name: str):
    """Mixed blocks 4-7 (17x17), with factorised 7x7 convolutions."""
    branch1x1 = _conv2d_bn(x, 192, 1, 1)
    branch7x7 = _conv2d_bn(x, filters_7x7, 1, 1)
    branch7x7 = _conv2d_bn(branch7x7, filters_7x7, 1, 7)
    branch7x7 = _conv2d_bn(branch7x7, 192, 7, 1)
    branch7x7dbl = _conv2d_bn(x, filters_7x7, 1, 1)
    branch7x7dbl = _conv2d_bn(branch7x7dbl, filters_7x7, 7, 1)
    branch7x7dbl = _conv2d_bn(branch7x7dbl, filters_7x7, 1, 7)
    branch7x7dbl = _conv2d_bn(branch7x7dbl, filters_7x7, 7, 1)
    branch7x7dbl = _conv2d_bn(branch7x7dbl, 192, 1, 7)
    branch_pool = _conv2d_bn(_avg_pool_same(x), 192, 1, 1)
    return _concat([branch1x1, branch7x7, branch7x7dbl, branch_pool], name=name)


def _reduction_b(x):
    """Mixed block 8: 17x17 down to 8x8."""
    branch3x3 = _conv2d_bn(x, 192, 1, 1)
    branch3x3 = _conv2d_bn(branch3x3, 320, 3, 3, strides=(2, 2), padding="valid")
    branch7x7x3 = _conv2d_bn(x, 192, 1, 1)
    branch7x7x3 = _conv2d_bn(branch7x7x3, 192, 1, 7)
    branch7x7x3 = _conv2d_bn(branch7x7x3, 192, 7, 1)
    branch7x7x3 = _conv2d_bn(branch7x7x3, 192, 3, 3, strides=(2, 2), padding="valid")
    branch_pool = keras.layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    return _concat([branch3x3, branch7x7x3, branch_pool], name="mixed8")


def _block_8(x, index: int):
    """Mixed blocks 9 and 10 (8x8), with split 1x3 / 3x1 convolutions."""
    branch1x1 = _conv2d_bn(x, 320, 1, 1)
    branch3x3 = _conv2d_bn(x, 384, 1, 1)
    branch3x3 = _concat(
        [_conv2d_bn(branch3x3, 384, 1, 3), _conv2d_bn(branch3x3, 384, 3, 1)],
        name=f"mixed9_{index}",
    )
    branch3x3dbl = _conv2d_bn(x, 448, 1, 1)
    branch3x3dbl = _conv2d_bn(branch3x3dbl, 384, 3, 3)
    branch3x3dbl = _concat(
        [_conv2d_bn(branch3x3dbl, 384, 1, 3), _conv2d_bn(branch3x3dbl, 384, 3, 1)]
    )
    branch_pool = _conv2d_bn(_avg_pool_same(x), 192, 1, 1)
    return _concat([branch1x1, branch3x3, branch3x3dbl, branch_pool], name=f"mixed{9 + index}")
