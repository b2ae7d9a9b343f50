"""SqueezeNet 1.0 (Iandola et al. 2016), as in torchvision's
``squeezenet1_0``, at 224x224. See ``_squeezenet.py``; version 1.1 is
``squeezenet1_1``.
"""

from __future__ import annotations

from . import _squeezenet
from ._common import named_builder

DEFAULT_IMAGE_SIZE = 224

build = named_builder(_squeezenet.build, "squeezenet", version="1_0")
