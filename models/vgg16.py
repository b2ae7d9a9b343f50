"""VGG16, as in ``keras.applications.VGG16`` with its fully connected top.

Mirrors ``keras/src/applications/vgg16.py`` (Keras 3) layer for layer, written
with layers that also exist in Keras 2.2. The one deviation is the classifier:
``Dense`` followed by a separate float32 softmax ``Activation``, which keeps
the output float32 under mixed precision at the same parameter count. Runs at
the dataset's own image size, so it defines no ``DEFAULT_IMAGE_SIZE``.
"""

from __future__ import annotations

import keras

# Filters of the convolutions in each of the five blocks.
BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


def build(input_shape, num_classes: int):
    """Builds VGG16.

    Args:
        input_shape: Shape of one image, e.g. ``(32, 32, 3)``; at least 32x32.
        num_classes: Number of output classes.

    Returns:
        An uncompiled functional ``keras.models.Model`` named ``vgg16``.
    """
    inputs = keras.layers.Input(shape=tuple(input_shape))
    x = inputs
    for block, filters in enumerate(BLOCKS, start=1):
        x = _block(x, filters, name=f"block{block}")
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(4096, activation="relu", name="fc1")(x)
    x = keras.layers.Dense(4096, activation="relu", name="fc2")(x)
    x = keras.layers.Dense(num_classes, name="predictions")(x)
    outputs = keras.layers.Activation("softmax", dtype="float32", name="softmax")(x)
    return keras.models.Model(inputs, outputs, name="vgg16")


def _block(x, filters, name: str):
    """3x3 same-padded ReLU convolutions followed by 2x2 max pooling."""
    for index, count in enumerate(filters, start=1):
        x = keras.layers.Conv2D(
            count, (3, 3), activation="relu", padding="same", name=f"{name}_conv{index}"
        )(x)
    return keras.layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"{name}_pool")(x)
