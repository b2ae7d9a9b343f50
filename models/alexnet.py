"""AlexNet as Caffe's model zoo trains it (``bvlc_alexnet``): two groups in
conv2, conv4 and conv5, local response normalisation before pooling, at
227x227. See ``_alexnet.py``.
"""

from __future__ import annotations

from . import _alexnet

DEFAULT_IMAGE_SIZE = 227
# What Keras 2.2 (keras-mxnet) lacks for this model; a literal, so that it
# can be read without importing Keras.
NEEDS = ("grouped convolutions", "local response normalisation")


def build(input_shape, num_classes: int):
    """Builds AlexNet.

    Args:
        input_shape: Shape of one image, e.g. ``(227, 227, 3)``; at least 67x67.
        num_classes: Number of output classes.

    Returns:
        An uncompiled functional ``keras.models.Model`` named ``alexnet``.
    """
    return _alexnet.build(input_shape, num_classes, pool_first=False, name="alexnet")
