"""VGG19, as in ``keras.applications.VGG19`` with its fully connected top.

Built by ``_vgg.build``, which mirrors keras.applications layer for layer
(convolutions with biases, as there and in torchvision's ``vgg19``, so both
publish the same count). Runs at the dataset's own image size, like vgg16, so
it defines no ``DEFAULT_IMAGE_SIZE``.
"""

from __future__ import annotations

from . import _vgg
from ._common import named_builder

# Filters of the convolutions in each of the five blocks.
BLOCKS = (
    (64, 64),
    (128, 128),
    (256, 256, 256, 256),
    (512, 512, 512, 512),
    (512, 512, 512, 512),
)


build = named_builder(_vgg.build, "vgg19", blocks=BLOCKS)
