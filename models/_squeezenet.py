"""SqueezeNet 1.0 and 1.1, as in torchvision's ``squeezenet1_0`` and
``squeezenet1_1``.

Mirrors ``torchvision/models/squeezenet.py`` layer for layer, written with
layers that also exist in Keras 2.2. Its max poolings round their output size
up (``ceil_mode=True``), which ``_pooling.max_pool_ceil`` reproduces. The
classifier is the architecture's own: dropout, a 1x1 convolution to the
classes, ReLU and global average pooling, followed by a separate float32
softmax ``Activation`` that keeps the output float32 under mixed precision.
"""

from __future__ import annotations

import keras

from ._common import channel_axis
from ._pooling import max_pool_ceil

DEFAULT_IMAGE_SIZE = 224

# Per version: the first convolution (filters, kernel size), then the
# network's layers after it in order, each a fire module
# (squeeze, expand 1x1, expand 3x3 filters) or "pool".
LAYOUTS = {
    "1_0": (
        (96, 7),
        ["pool", (16, 64, 64), (16, 64, 64), (32, 128, 128), "pool", (32, 128, 128)]
        + [(48, 192, 192), (48, 192, 192), (64, 256, 256), "pool", (64, 256, 256)],
    ),
    "1_1": (
        (64, 3),
        ["pool", (16, 64, 64), (16, 64, 64), "pool", (32, 128, 128), (32, 128, 128), "pool"]
        + [(48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256)],
    ),
}


def build(input_shape, num_classes: int, version: str, name: str):
    """Builds SqueezeNet.

    Args:
        input_shape: Shape of one image, e.g. ``(224, 224, 3)``.
        num_classes: Number of output classes.
        version: ``"1_0"`` or ``"1_1"``.
        name: Name of the model.

    Returns:
        An uncompiled functional ``keras.models.Model``.
    """
    (filters, size), layers = LAYOUTS[version]
    inputs = keras.layers.Input(shape=tuple(input_shape))
    x = keras.layers.Conv2D(filters, size, strides=2, activation="relu", name="conv1")(inputs)
    pools = fires = 0
    for layer in layers:
        if layer == "pool":
            pools += 1
            x = max_pool_ceil(x, name=f"pool{pools}")
        else:
            fires += 1
            x = _fire(x, *layer, name=f"fire{fires + 1}")
    x = keras.layers.Dropout(0.5, name="dropout")(x)
    x = keras.layers.Conv2D(num_classes, 1, activation="relu", name="conv10")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = keras.layers.Activation("softmax", dtype="float32", name="softmax")(x)
    return keras.models.Model(inputs, outputs, name=name)


def _fire(x, squeeze: int, expand1x1: int, expand3x3: int, name: str):
    """A 1x1 squeeze convolution, then 1x1 and 3x3 expansions side by side."""
    x = keras.layers.Conv2D(squeeze, 1, activation="relu", name=f"{name}_squeeze")(x)
    left = keras.layers.Conv2D(expand1x1, 1, activation="relu", name=f"{name}_expand1x1")(x)
    right = keras.layers.Conv2D(
        expand3x3, 3, padding="same", activation="relu", name=f"{name}_expand3x3"
    )(x)
    return keras.layers.concatenate([left, right], axis=channel_axis(), name=f"{name}_concat")
