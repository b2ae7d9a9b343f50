"""A tiny convolutional network, used for testing only.

Small enough to train in seconds on a CPU, so the tests can run the whole
pipeline end to end. Flatten (not global pooling) keeps the spatial layout, so
it can learn where in the image something is (e.g. which quadrant is bright).
At a 32x32x3 input it has 2,842 parameters for 10 classes.
"""

from __future__ import annotations

import keras


def build(input_shape, num_classes: int):
    """Builds the tiny test network.

    Args:
        input_shape: Shape of one image, e.g. ``(32, 32, 3)``.
        num_classes: Number of output classes.

    Returns:
        An uncompiled functional ``keras.models.Model`` named ``tiny``.
    """
    inputs = keras.layers.Input(shape=tuple(input_shape))
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(num_classes, name="predictions")(x)
    outputs = keras.layers.Activation("softmax", dtype="float32", name="softmax")(x)
    return keras.models.Model(inputs, outputs, name="tiny")
