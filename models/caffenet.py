"""CaffeNet (``bvlc_reference_caffenet``): Caffe's AlexNet with each of the
first two poolings moved before its normalisation, at 227x227. Same layers
and parameters as ``alexnet``; see ``_alexnet.py``.
"""

from __future__ import annotations

from . import _alexnet

DEFAULT_IMAGE_SIZE = 227
# What Keras 2.2 (keras-mxnet) lacks for this model; a literal, so that it
# can be read without importing Keras.
NEEDS = ("grouped convolutions", "local response normalisation")


def build(input_shape, num_classes: int):
    """Builds CaffeNet.

    Args:
        input_shape: Shape of one image, e.g. ``(227, 227, 3)``; at least 67x67.
        num_classes: Number of output classes.

    Returns:
        An uncompiled functional ``keras.models.Model`` named ``caffenet``.
    """
    return _alexnet.build(input_shape, num_classes, pool_first=True, name="caffenet")
