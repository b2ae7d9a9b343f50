"""A VGG builder with the fully connected top, shared by vgg16 and vgg19.

Mirrors ``keras/src/applications/vgg16.py`` and ``vgg19.py`` (Keras 3) layer
for layer, written with layers that also exist in Keras 2.2. The one deviation
is the classifier: ``Dense`` followed by a separate float32 softmax
``Activation``, which keeps the output float32 under mixed precision at the
same parameter count.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras


def build(input_shape, num_classes: int, blocks: Sequence[Sequence[int]], name: str):
    """Builds a VGG classifier.

    Args:
        input_shape: Shape of one image, e.g. ``(32, 32, 3)``; at least 32x32.
        num_classes: Number of output classes.
        blocks: Filters of the convolutions in each block, one block per
            2x2 max pooling.
        name: Name of the model.

    Returns:
        An uncompiled functional ``keras.models.Model``.
    """
    inputs = keras.layers.Input(shape=tuple(input_shape))
    x = inputs
    for block, filters in enumerate(blocks, start=1):
        x = _block(x, filters, name=f"block{block}")
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(4096, activation="relu", name="fc1")(x)
    x = keras.layers.Dense(4096, activation="relu", name="fc2")(x)
    x = keras.layers.Dense(num_classes, name="predictions")(x)
    outputs = keras.layers.Activation("softmax", dtype="float32", name="softmax")(x)
    return keras.models.Model(inputs, outputs, name=name)


def _block(x, filters, name: str):
    """3x3 same-padded ReLU convolutions followed by 2x2 max pooling."""
    for index, count in enumerate(filters, start=1):
        x = keras.layers.Conv2D(
            count, (3, 3), activation="relu", padding="same", name=f"{name}_conv{index}"
        )(x)
    return keras.layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"{name}_pool")(x)
