"""SqueezeNet 1.0 (Iandola et al. 2016), as in torchvision's
``squeezenet1_0``, at 224x224. See ``_squeezenet.py``; version 1.1 is
``squeezenet1_1``.
"""

from __future__ import annotations

from . import _squeezenet

DEFAULT_IMAGE_SIZE = 224


def build(input_shape, num_classes: int):
    """Builds SqueezeNet 1.0.

    Args:
        input_shape: Shape of one image, e.g. ``(224, 224, 3)``; at least 21x21.
        num_classes: Number of output classes.

    Returns:
        An uncompiled functional ``keras.models.Model`` named ``squeezenet``.
    """
    return _squeezenet.build(input_shape, num_classes, version="1_0", name="squeezenet")
