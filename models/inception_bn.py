"""BN-Inception (Ioffe & Szegedy 2015, "Inception v2" in some zoos), as in the
MXNet and Caffe model zoos' ``Inception-BN``, at 224x224.

The layer table of the paper's figure 5: GoogLeNet with every 5x5
convolution replaced by two 3x3 ones, a third 28x28 module, stride-2 modules
(3c, 4e) instead of poolings between stages, and average or max pooling in
the pooled branch. As in the model zoos (and osmr/imgclsmob's
``bninception``, converted from them), each convolution keeps its bias before
a batch normalisation with scale (epsilon 1e-5), and the pooled branches'
average pooling counts the zero padding, as Caffe's and MXNet's do. The
stem's poolings round their size up, as Caffe's do (112 -> 56 -> 28). The
one deviation is the classifier: ``Dense`` followed by a separate float32
softmax ``Activation``, which keeps the output float32 under mixed
precision at the same parameter count. Written with layers that also exist
in Keras 2.2.
"""

from __future__ import annotations

import functools

import keras

from . import _inception
from ._inception import classifier, concat
from ._pooling import max_pool_ceil

DEFAULT_IMAGE_SIZE = 224

_conv2d_bn = functools.partial(_inception.conv2d_bn, use_bias=True, scale=True, epsilon=1e-5)

# The paper's figure 5, one row per module: #1x1, #3x3 reduce, #3x3,
# double #3x3 reduce, double #3x3, pool and its projection. A module with
# #1x1 = 0 is a stride-2 reduction (max pooling passed through unprojected).
MODULES = (
    ("3a", 64, 64, 64, 64, 96, "avg", 32),
    ("3b", 64, 64, 96, 64, 96, "avg", 64),
    ("3c", 0, 128, 160, 64, 96, "max", 0),
    ("4a", 224, 64, 96, 96, 128, "avg", 128),
    ("4b", 192, 96, 128, 96, 128, "avg", 128),
    ("4c", 160, 128, 160, 128, 160, "avg", 128),
    ("4d", 96, 128, 192, 160, 192, "avg", 128),
    ("4e", 0, 128, 192, 192, 256, "max", 0),
    ("5a", 352, 192, 320, 160, 224, "avg", 128),
    ("5b", 352, 192, 320, 192, 224, "max", 128),
)


def build(input_shape, num_classes: int):
    """Builds BN-Inception.

    Args:
        input_shape: Shape of one image, e.g. ``(224, 224, 3)``; at least 31x31.
        num_classes: Number of output classes.

    Returns:
        An uncompiled functional ``keras.models.Model`` named ``inception_bn``.
    """
    inputs = keras.layers.Input(shape=tuple(input_shape))
    x = _conv2d_bn(inputs, 64, 7, 7, strides=(2, 2))
    x = max_pool_ceil(x, name="pool1")
    x = _conv2d_bn(x, 64, 1, 1)
    x = _conv2d_bn(x, 192, 3, 3)
    x = max_pool_ceil(x, name="pool2")
    for module in MODULES:
        x = _module(x, *module)
    outputs = classifier(x, num_classes)
    return keras.models.Model(inputs, outputs, name="inception_bn")


def _module(x, name, n1x1, n3x3_reduce, n3x3, n_double_reduce, n_double, pool, projection):
    """One inception module; stride 2 in its 3x3 branches where it has no 1x1."""
    strides = (1, 1) if n1x1 else (2, 2)
    branches = [_conv2d_bn(x, n1x1, 1, 1)] if n1x1 else []
    branch3x3 = _conv2d_bn(x, n3x3_reduce, 1, 1)
    branches.append(_conv2d_bn(branch3x3, n3x3, 3, 3, strides=strides))
    double = _conv2d_bn(x, n_double_reduce, 1, 1)
    double = _conv2d_bn(double, n_double, 3, 3)
    branches.append(_conv2d_bn(double, n_double, 3, 3, strides=strides))
    if n1x1:
        branches.append(_conv2d_bn(_pool_same(x, pool), projection, 1, 1))
    else:
        branches.append(max_pool_ceil(x))
    return concat(branches, name=f"inception_{name}")


def _pool_same(x, kind: str):
    """3x3/1 pooling over a zero-padded border, so the average counts the padding."""
    if kind == "max":
        return keras.layers.MaxPooling2D((3, 3), strides=(1, 1), padding="same")(x)
    x = keras.layers.ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    return keras.layers.AveragePooling2D((3, 3), strides=(1, 1))(x)
