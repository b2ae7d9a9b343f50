"""Inception-v4 (Szegedy et al. 2016), as in timm's ``inception_v4``.

Mirrors ``timm/models/inception_v4.py`` (itself Cadene's port of the
TensorFlow-Slim model) block for block, written with layers that also exist
in Keras 2.2: convolutions without bias, batch normalisation with scale
(epsilon 1e-3), ReLU. The paper's dropout (keep 0.8) sits before the
classifier; timm keeps it at 0 by default, which changes no parameter. The
one deviation is the classifier: ``Dense`` followed by a separate float32
softmax ``Activation``, which keeps the output float32 under mixed precision
at the same parameter count. The network is meant for 299x299 images, hence
``DEFAULT_IMAGE_SIZE``.
"""

from __future__ import annotations

import functools

import keras

from . import _inception
from ._inception import avg_pool_same, classifier, concat, max_pool_valid

DEFAULT_IMAGE_SIZE = 299

# timm's BasicConv2d: no convolution bias, batch norm with its scale.
_conv2d_bn = functools.partial(_inception.conv2d_bn, scale=True)


def build(input_shape, num_classes: int):
    """Builds Inception-v4.

    Args:
        input_shape: Shape of one image, e.g. ``(299, 299, 3)``; at least 75x75.
        num_classes: Number of output classes.

    Returns:
        An uncompiled functional ``keras.models.Model`` named ``inception_v4``.
    """
    inputs = keras.layers.Input(shape=tuple(input_shape))
    x = _stem(inputs)
    for _ in range(4):
        x = _inception_a(x)
    x = _reduction_a(x)
    for _ in range(7):
        x = _inception_b(x)
    x = _reduction_b(x)
    for _ in range(3):
        x = _inception_c(x)
    outputs = classifier(x, num_classes, dropout=0.2)
    return keras.models.Model(inputs, outputs, name="inception_v4")


def _stem(x):
    """Three convolutions, then mixed blocks 3a, 4a and 5a (35x35x384 at 299)."""
    x = _conv2d_bn(x, 32, 3, 3, strides=(2, 2), padding="valid")
    x = _conv2d_bn(x, 32, 3, 3, padding="valid")
    x = _conv2d_bn(x, 64, 3, 3)
    x = concat([max_pool_valid(x), _conv2d_bn(x, 96, 3, 3, strides=(2, 2), padding="valid")])
    left = _conv2d_bn(x, 64, 1, 1)
    left = _conv2d_bn(left, 96, 3, 3, padding="valid")
    right = _conv2d_bn(x, 64, 1, 1)
    right = _conv2d_bn(right, 64, 1, 7)
    right = _conv2d_bn(right, 64, 7, 1)
    right = _conv2d_bn(right, 96, 3, 3, padding="valid")
    x = concat([left, right])
    return concat([_conv2d_bn(x, 192, 3, 3, strides=(2, 2), padding="valid"), max_pool_valid(x)])


def _inception_a(x):
    """35x35 block: 1x1, 3x3, double 3x3 and pooled 1x1 branches of 96."""
    branch1x1 = _conv2d_bn(x, 96, 1, 1)
    branch3x3 = _conv2d_bn(x, 64, 1, 1)
    branch3x3 = _conv2d_bn(branch3x3, 96, 3, 3)
    branch3x3dbl = _conv2d_bn(x, 64, 1, 1)
    branch3x3dbl = _conv2d_bn(branch3x3dbl, 96, 3, 3)
    branch3x3dbl = _conv2d_bn(branch3x3dbl, 96, 3, 3)
    branch_pool = _conv2d_bn(avg_pool_same(x), 96, 1, 1)
    return concat([branch1x1, branch3x3, branch3x3dbl, branch_pool])


def _reduction_a(x):
    """35x35 down to 17x17 (1024 channels)."""
    branch3x3 = _conv2d_bn(x, 384, 3, 3, strides=(2, 2), padding="valid")
    branch3x3dbl = _conv2d_bn(x, 192, 1, 1)
    branch3x3dbl = _conv2d_bn(branch3x3dbl, 224, 3, 3)
    branch3x3dbl = _conv2d_bn(branch3x3dbl, 256, 3, 3, strides=(2, 2), padding="valid")
    return concat([branch3x3, branch3x3dbl, max_pool_valid(x)])


def _inception_b(x):
    """17x17 block, with factorised 7x7 convolutions."""
    branch1x1 = _conv2d_bn(x, 384, 1, 1)
    branch7x7 = _conv2d_bn(x, 192, 1, 1)
    branch7x7 = _conv2d_bn(branch7x7, 224, 1, 7)
    branch7x7 = _conv2d_bn(branch7x7, 256, 7, 1)
    branch7x7dbl = _conv2d_bn(x, 192, 1, 1)
    branch7x7dbl = _conv2d_bn(branch7x7dbl, 192, 7, 1)
    branch7x7dbl = _conv2d_bn(branch7x7dbl, 224, 1, 7)
    branch7x7dbl = _conv2d_bn(branch7x7dbl, 224, 7, 1)
    branch7x7dbl = _conv2d_bn(branch7x7dbl, 256, 1, 7)
    branch_pool = _conv2d_bn(avg_pool_same(x), 128, 1, 1)
    return concat([branch1x1, branch7x7, branch7x7dbl, branch_pool])


def _reduction_b(x):
    """17x17 down to 8x8 (1536 channels)."""
    branch3x3 = _conv2d_bn(x, 192, 1, 1)
    branch3x3 = _conv2d_bn(branch3x3, 192, 3, 3, strides=(2, 2), padding="valid")
    branch7x7x3 = _conv2d_bn(x, 256, 1, 1)
    branch7x7x3 = _conv2d_bn(branch7x7x3, 256, 1, 7)
    branch7x7x3 = _conv2d_bn(branch7x7x3, 320, 7, 1)
    branch7x7x3 = _conv2d_bn(branch7x7x3, 320, 3, 3, strides=(2, 2), padding="valid")
    return concat([branch3x3, branch7x7x3, max_pool_valid(x)])


def _inception_c(x):
    """8x8 block, with split 1x3 / 3x1 convolutions."""
    branch1x1 = _conv2d_bn(x, 256, 1, 1)
    branch3x3 = _conv2d_bn(x, 384, 1, 1)
    branch3x3 = concat([_conv2d_bn(branch3x3, 256, 1, 3), _conv2d_bn(branch3x3, 256, 3, 1)])
    branch3x3dbl = _conv2d_bn(x, 384, 1, 1)
    branch3x3dbl = _conv2d_bn(branch3x3dbl, 448, 3, 1)
    branch3x3dbl = _conv2d_bn(branch3x3dbl, 512, 1, 3)
    branch3x3dbl = concat(
        [_conv2d_bn(branch3x3dbl, 256, 1, 3), _conv2d_bn(branch3x3dbl, 256, 3, 1)]
    )
    branch_pool = _conv2d_bn(avg_pool_same(x), 256, 1, 1)
    return concat([branch1x1, branch3x3, branch3x3dbl, branch_pool])
