"""ResNeXt-101 64x4d, as torchvision's ``resnext101_64x4d``.

Follows ``torchvision/models/resnet.py``: bottlenecks whose 3x3 convolution
has 64 groups of 4 channels per 64 base filters, the stride on that 3x3
convolution, and convolutions without biases, as there, so the trainable
parameters equal torchvision's published count. Grouped convolutions need
Keras 3 (``NEEDS``).

Runs at the dataset's own image size (32x32 for CIFAR-10), like resnet50, so it
defines no ``DEFAULT_IMAGE_SIZE``.
"""

from __future__ import annotations

from . import _resnet

# Keras 3 Conv2D(groups=); keras-mxnet (Keras 2.2) has no grouped convolutions.
NEEDS = ("grouped convolutions",)

build = _resnet.builder(
    "resnext101_64x4d", (3, 4, 23, 3), _resnet.resnext(groups=64, width_per_group=4)
)
