"""CaffeNet (``bvlc_reference_caffenet``): Caffe's AlexNet with each of the
first two poolings moved before its normalisation, at 227x227. Same layers
and parameters as ``alexnet``; see ``_alexnet.py``.
"""

from __future__ import annotations

from . import _alexnet
from ._common import named_builder

DEFAULT_IMAGE_SIZE = 227
# What Keras 2.2 (keras-mxnet) lacks for this model; a literal, so that it
# can be read without importing Keras.
NEEDS = ("grouped convolutions", "local response normalisation")

build = named_builder(_alexnet.build, "caffenet", pool_first=True)
