"""ResNet-200, as timm's ``resnet200``: bottleneck blocks, stacks (3, 24, 36, 3).

Follows timm's ``timm/models/resnet.py`` (``Bottleneck``), which is
torchvision's layout: the stride on the 3x3 convolution of a bottleneck
("ResNet v1.5", where keras.applications' ResNet v1 strides on the first
1x1; the parameter count is the same either way) and convolutions without
biases, as there, so the trainable parameters equal timm's count
(Keras's ``count_params`` adds batch norm's moving statistics, which torch
keeps as buffers, not parameters).

Runs at the dataset's own image size (32x32 for CIFAR-10), like resnet50, so it
defines no ``DEFAULT_IMAGE_SIZE``.
"""

from __future__ import annotations

from . import _resnet

build = _resnet.builder("resnet200", (3, 24, 36, 3), _resnet.TORCHVISION)
