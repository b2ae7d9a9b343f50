"""ResNet-101 (v1), as in ``keras.applications.ResNet101``.

Runs at the dataset's own image size (32x32 for CIFAR-10), as the reference
CIFAR-10 benchmarks did, so it defines no ``DEFAULT_IMAGE_SIZE``.
"""

from __future__ import annotations

from . import _resnet

STACK_SIZES = (3, 4, 23, 3)


def build(input_shape, num_classes: int):
    """Builds ResNet-101.

    Args:
        input_shape: Shape of one image, e.g. ``(32, 32, 3)``.
        num_classes: Number of output classes.

    Returns:
        An uncompiled functional ``keras.models.Model`` named ``resnet101``.
    """
    return _resnet.build(input_shape, num_classes, STACK_SIZES, name="resnet101")
