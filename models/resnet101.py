"""ResNet-101 (v1), as in ``keras.applications.ResNet101``.

Runs at the dataset's own image size (32x32 for CIFAR-10), as the reference
CIFAR-10 benchmarks did, so it defines no ``DEFAULT_IMAGE_SIZE``.
"""

from __future__ import annotations

from . import _resnet

build = _resnet.builder("resnet101", (3, 4, 23, 3))
