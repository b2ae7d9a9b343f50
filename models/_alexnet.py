"""Caffe's AlexNet and CaffeNet, which differ only in the order of pooling and
normalisation.

Both follow the BVLC model zoo's ``train_val.prototxt`` (``bvlc_alexnet`` and
``bvlc_reference_caffenet``) at their 227x227 input: the two-tower network of
Krizhevsky et al. (2012), with conv2, conv4 and conv5 split into 2 groups,
local response normalisation after conv1 and conv2, and dropout after fc6 and
fc7. Grouped convolutions (Keras 3 ``Conv2D(groups=)``) and the normalisation
(a custom layer, see ``_lrn.py``) need Keras 3, which the public modules
declare in ``NEEDS``. The one deviation is the classifier: ``Dense`` followed
by a separate float32 softmax ``Activation``, which keeps the output float32
under mixed precision at the same parameter count.
"""

from __future__ import annotations

import keras

from ._lrn import LocalResponseNormalization


def build(input_shape, num_classes: int, pool_first: bool, name: str):
    """Builds AlexNet (normalise, then pool) or CaffeNet (pool, then normalise).

    Args:
        input_shape: Shape of one image, e.g. ``(227, 227, 3)``; at least 67x67.
        num_classes: Number of output classes.
        pool_first: Whether each of the first two pools comes before its
            normalisation (CaffeNet) rather than after (AlexNet).
        name: Name of the model.

    Returns:
        An uncompiled functional ``keras.models.Model``.
    """
    inputs = keras.layers.Input(shape=tuple(input_shape))
    x = _conv(inputs, 96, 11, strides=4, padding="valid", name="conv1")
    x = _pool_and_norm(x, pool_first, index=1)
    x = _conv(x, 256, 5, groups=2, name="conv2")
    x = _pool_and_norm(x, pool_first, index=2)
    x = _conv(x, 384, 3, name="conv3")
    x = _conv(x, 384, 3, groups=2, name="conv4")
    x = _conv(x, 256, 3, groups=2, name="conv5")
    x = _pool(x, name="pool5")
    x = keras.layers.Flatten(name="flatten")(x)
    for fc in ("fc6", "fc7"):
        x = keras.layers.Dense(4096, activation="relu", name=fc)(x)
        x = keras.layers.Dropout(0.5, name=f"drop{fc[2:]}")(x)
    x = keras.layers.Dense(num_classes, name="predictions")(x)
    outputs = keras.layers.Activation("softmax", dtype="float32", name="softmax")(x)
    return keras.models.Model(inputs, outputs, name=name)


def _conv(x, filters: int, size: int, strides=1, padding="same", groups=1, name=""):
    """A ReLU convolution; ``same`` padding is Caffe's pad of (size - 1) / 2."""
    return keras.layers.Conv2D(
        filters,
        size,
        strides=strides,
        padding=padding,
        groups=groups,
        activation="relu",
        name=name,
    )(x)


def _pool_and_norm(x, pool_first: bool, index: int):
    """3x3/2 max pooling and LRN (5 channels, alpha 1e-4, beta 0.75), in order."""
    if pool_first:
        return _norm(_pool(x, name=f"pool{index}"), name=f"norm{index}")
    return _pool(_norm(x, name=f"norm{index}"), name=f"pool{index}")


def _pool(x, name: str):
    # At 227x227 every pooling divides exactly (55, 27, 13 -> 27, 13, 6), so
    # Keras' valid pooling gives Caffe's sizes without its ceil mode.
    return keras.layers.MaxPooling2D(3, strides=2, name=name)(x)


def _norm(x, name: str):
    return LocalResponseNormalization(size=5, alpha=1e-4, beta=0.75, name=name)(x)
