"""A generic ResNet v1 builder, shared by resnet50, resnet101 and resnet152.

It mirrors ``keras.applications``' ResNet50/101/152 (Keras 3,
``keras/src/applications/resnet.py``) layer for layer, so parameter counts and
arithmetic match the reference, but is written with layers that also exist in
Keras 2.2. The one deviation is the classifier: ``Dense`` followed by a
separate float32 softmax ``Activation``, which keeps the output float32 under
mixed precision at the same parameter count.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from ._common import channel_axis

BN_EPSILON = 1.001e-5
# Bottleneck filters of the four stacks (conv2 to conv5); each block outputs 4x.
STACK_FILTERS = (64, 128, 256, 512)


def build(input_shape, num_classes: int, stack_sizes: Sequence[int], name: str):
    """Builds a ResNet v1 classifier.

    Args:
        input_shape: Shape of one image, e.g. ``(32, 32, 3)``.
        num_classes: Number of output classes.
        stack_sizes: Blocks in each of the four stacks, e.g. ``(3, 4, 6, 3)``.
        name: Name of the model.

    Returns:
        An uncompiled functional ``keras.models.Model``.
    """
    inputs = keras.layers.Input(shape=tuple(input_shape))
    x = _stem(inputs)
    for index, blocks in enumerate(stack_sizes):
        stride = 1 if index == 0 else 2
        x = _stack(x, STACK_FILTERS[index], blocks, stride, name=f"conv{index + 2}")
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = keras.layers.Dense(num_classes, name="predictions")(x)
    outputs = keras.layers.Activation("softmax", dtype="float32", name="softmax")(x)
    return keras.models.Model(inputs, outputs, name=name)


def _stem(x):
    """7x7/2 convolution, batch norm, ReLU and 3x3/2 max pooling."""
    x = keras.layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(x)
    x = keras.layers.Conv2D(64, 7, strides=2, use_bias=True, name="conv1_conv")(x)
    x = _batch_norm(x, "conv1_bn")
    x = keras.layers.Activation("relu", name="conv1_relu")(x)
    x = keras.layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    return keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def _stack(x, filters: int, blocks: int, stride: int, name: str):
    """A stack of bottleneck blocks; only the first has a convolution shortcut."""
    x = _block(x, filters, stride=stride, conv_shortcut=True, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = _block(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def _block(x, filters: int, stride: int = 1, conv_shortcut: bool = True, name: str = ""):
    """A bottleneck residual block: 1x1, 3x3, 1x1 (4x filters) plus a shortcut."""
    if conv_shortcut:
        shortcut = keras.layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = _batch_norm(shortcut, f"{name}_0_bn")
    else:
        shortcut = x
    x = keras.layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = _batch_norm(x, f"{name}_1_bn")
    x = keras.layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(x)
    x = _batch_norm(x, f"{name}_2_bn")
    x = keras.layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = keras.layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = _batch_norm(x, f"{name}_3_bn")
    x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return keras.layers.Activation("relu", name=f"{name}_out")(x)


def _batch_norm(x, name: str):
    """Batch normalisation over the channel axis with the reference epsilon."""
    return keras.layers.BatchNormalization(axis=channel_axis(), epsilon=BN_EPSILON, name=name)(x)
