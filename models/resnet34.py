"""ResNet-34, as torchvision's ``resnet34``: basic blocks, no convolution biases.

Follows ``torchvision/models/resnet.py`` (``BasicBlock``): the first 3x3
convolution of a block strides, and a stride or a change of width takes a 1x1
projection shortcut with batch norm. Convolutions have no biases, as there,
so the trainable parameters equal torchvision's published count
(Keras's ``count_params`` adds batch norm's moving statistics, which torch
keeps as buffers, not parameters).

Runs at the dataset's own image size (32x32 for CIFAR-10), like resnet50, so it
defines no ``DEFAULT_IMAGE_SIZE``.
"""

from __future__ import annotations

from . import _resnet

STACK_SIZES = (3, 4, 6, 3)


def build(input_shape, num_classes: int):
    """Builds ResNet-34.

    Args:
        input_shape: Shape of one image, e.g. ``(32, 32, 3)``.
        num_classes: Number of output classes.

    Returns:
        An uncompiled functional ``keras.models.Model`` named ``resnet34``.
    """
    return _resnet.build(
        input_shape, num_classes, STACK_SIZES, name="resnet34", variant=_resnet.TORCHVISION_BASIC
    )
