"""ResNeXt-50 32x4d, as torchvision's ``resnext50_32x4d``.

Follows ``torchvision/models/resnet.py``: bottlenecks whose 3x3 convolution
has 32 groups of 4 channels per 64 base filters, the stride on that 3x3
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

build = _resnet.builder("resnext50", (3, 4, 6, 3), _resnet.resnext(groups=32, width_per_group=4))
