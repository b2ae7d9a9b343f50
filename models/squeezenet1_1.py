"""SqueezeNet 1.1, as in torchvision's ``squeezenet1_1``: 1.0 with a 3x3
first convolution of 64 filters and earlier poolings, for about 2.4x fewer
multiply-adds at nearly the same parameter count, at 224x224. See
``_squeezenet.py``.
"""

from __future__ import annotations

from . import _squeezenet
from ._common import named_builder

DEFAULT_IMAGE_SIZE = 224

build = named_builder(_squeezenet.build, "squeezenet1_1", version="1_1")
