"""ResNet-18, as torchvision's ``resnet18``: basic blocks, no convolution biases.

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

build = _resnet.builder("resnet18", (2, 2, 2, 2), _resnet.TORCHVISION_BASIC)
