"""ResNet-152 (v1), as in ``keras.applications.ResNet152``.

Runs at the dataset's own image size (32x32 for CIFAR-10), as the reference
CIFAR-10 benchmarks did, so it defines no ``DEFAULT_IMAGE_SIZE``.
"""

from __future__ import annotations

from . import _resnet

build = _resnet.builder("resnet152", (3, 8, 36, 3))
