"""Building blocks shared by the Inception models (v3, v4 and BN-Inception).

Written with layers that exist in both Keras 3 and Keras 2.2. The models
differ only in the options of the convolution block: Keras' Inception v3 has
no convolution bias and no batch-norm scale, timm's Inception-v4 adds the
scale, and BN-Inception (converted from Caffe and MXNet) keeps the bias too.
"""

from __future__ import annotations

import keras

from ._common import channel_axis


def conv2d_bn(
    x,
    filters: int,
    rows: int,
    cols: int,
    padding="same",
    strides=(1, 1),
    use_bias: bool = False,
    scale: bool = False,
    epsilon: float = 1e-3,
):
    """Convolution, batch normalisation over the channels, then ReLU.

    Args:
        x: The input tensor.
        filters: Number of output channels.
        rows: Kernel height.
        cols: Kernel width.
        padding: ``"same"`` or ``"valid"``.
        strides: Strides of the convolution.
        use_bias: Whether the convolution has a bias.
        scale: Whether the batch normalisation has a learned scale (gamma).
        epsilon: The batch normalisation's epsilon.

    Returns:
        The block's output tensor.
    """
    x = keras.layers.Conv2D(
        filters, (rows, cols), strides=strides, padding=padding, use_bias=use_bias
    )(x)
    x = keras.layers.BatchNormalization(axis=channel_axis(), scale=scale, epsilon=epsilon)(x)
    return keras.layers.Activation("relu")(x)


def concat(tensors, name=None):
    """Concatenates along the channel axis."""
    return keras.layers.concatenate(tensors, axis=channel_axis(), name=name)


def avg_pool_same(x):
    """3x3 average pooling with stride 1 and same padding.

    Keras leaves the padding out of each average, as PyTorch's
    ``count_include_pad=False`` does.
    """
    return keras.layers.AveragePooling2D((3, 3), strides=(1, 1), padding="same")(x)


def max_pool_valid(x):
    """3x3 max pooling with stride 2 and no padding (the reduction blocks')."""
    return keras.layers.MaxPooling2D((3, 3), strides=(2, 2))(x)


def classifier(x, num_classes: int, dropout: float = 0.0):
    """Global average pooling, optional dropout, Dense and a float32 softmax.

    The softmax is a separate ``Activation`` kept float32, so that the output
    stays float32 under mixed precision at the same parameter count.
    """
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    x = keras.layers.Dense(num_classes, name="predictions")(x)
    return keras.layers.Activation("softmax", dtype="float32", name="softmax")(x)
