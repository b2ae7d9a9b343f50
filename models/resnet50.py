"""ResNet-50 (v1), as in ``keras.applications.ResNet50``.

Runs at the dataset's own image size (32x32 for CIFAR-10), as the reference
CIFAR-10 benchmarks did, so it defines no ``DEFAULT_IMAGE_SIZE``.
"""

from __future__ import annotations

from . import _resnet

STACK_SIZES = (3, 4, 6, 3)


def build(input_shape, num_classes: int):
    """Builds ResNet-50.

    Args:
        input_shape: Shape of one image, e.g. ``(32, 32, 3)``.
        num_classes: Number of output classes.

    Returns:
        An uncompiled functional ``keras.models.Model`` named ``resnet50``.
    """
    return _resnet.build(input_shape, num_classes, STACK_SIZES, name="resnet50")
