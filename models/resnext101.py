"""ResNeXt-101 32x4d, as timm's ``resnext101_32x4d``.

Not torchvision's ``resnext101_32x8d`` (twice as wide). Follows timm's
``timm/models/resnet.py``, torchvision's layout: bottlenecks whose 3x3
convolution has 32 groups of 4 channels per 64 base filters, the stride on
that 3x3 convolution, and convolutions without biases, as there, so the
trainable parameters equal timm's count. Grouped convolutions need Keras 3
(``NEEDS``).

Runs at the dataset's own image size (32x32 for CIFAR-10), like resnet50, so it
defines no ``DEFAULT_IMAGE_SIZE``.
"""

from __future__ import annotations

from . import _resnet

# Keras 3 Conv2D(groups=); keras-mxnet (Keras 2.2) has no grouped convolutions.
NEEDS = ("grouped convolutions",)

build = _resnet.builder("resnext101", (3, 4, 23, 3), _resnet.resnext(groups=32, width_per_group=4))
