"""SqueezeNet 1.1, as in torchvision's ``squeezenet1_1``: 1.0 with a 3x3
first convolution of 64 filters and earlier poolings, for about 2.4x fewer
multiply-adds at nearly the same parameter count, at 224x224. See
``_squeezenet.py``.
"""

from __future__ import annotations

from . import _squeezenet

DEFAULT_IMAGE_SIZE = 224


def build(input_shape, num_classes: int):
    """Builds SqueezeNet 1.1.

    Args:
        input_shape: Shape of one image, e.g. ``(224, 224, 3)``; at least 17x17.
        num_classes: Number of output classes.

    Returns:
        An uncompiled functional ``keras.models.Model`` named ``squeezenet1_1``.
    """
    return _squeezenet.build(input_shape, num_classes, version="1_1", name="squeezenet1_1")
