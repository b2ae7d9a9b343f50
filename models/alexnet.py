"""AlexNet as Caffe's model zoo trains it (``bvlc_alexnet``): two groups in
conv2, conv4 and conv5, local response normalisation before pooling, at
227x227. See ``_alexnet.py``.
"""

from __future__ import annotations

from . import _alexnet
from ._common import named_builder

DEFAULT_IMAGE_SIZE = 227
# What Keras 2.2 (keras-mxnet) lacks for this model; a literal, so that it
# can be read without importing Keras.
NEEDS = ("grouped convolutions", "local response normalisation")

build = named_builder(_alexnet.build, "alexnet", pool_first=False)
