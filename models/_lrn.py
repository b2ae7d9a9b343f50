"""Local response normalisation across channels, as in Caffe's AlexNet.

Keras has no such layer (Keras 2.2 neither), and no built-in layer raises a
tensor to a fractional power, so this is a small custom layer written with
``keras.ops``: Keras 3 only. The models that use it say so in their
``NEEDS``.
"""

from __future__ import annotations

import keras

from ._common import channel_axis


class LocalResponseNormalization(keras.layers.Layer):
    """Divides each value by ``(k + alpha / size * s) ** beta``, where ``s``
    is the sum of squares over ``size`` neighbouring channels, centred on
    the value's own and zero beyond the edges (Caffe's ``LRN`` layer with
    ``norm_region: ACROSS_CHANNELS``; PyTorch's ``LocalResponseNorm``).

    Example:
        >>> x = LocalResponseNormalization(size=5, alpha=1e-4, beta=0.75)(x)
    """

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=1.0, **kwargs):
        super().__init__(**kwargs)
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def call(self, inputs):
        axis = channel_axis()
        channels = inputs.shape[axis]
        before = (self.size - 1) // 2
        padding = [[0, 0]] * 4
        padding[axis] = [before, self.size - 1 - before]
        squares = keras.ops.pad(keras.ops.square(inputs), padding)
        window = [slice(None)] * 4
        total = 0
        for offset in range(self.size):
            window[axis] = slice(offset, offset + channels)
            total = total + squares[tuple(window)]
        return inputs / keras.ops.power(self.k + (self.alpha / self.size) * total, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "size": self.size,
            "alpha": self.alpha,
            "beta": self.beta,
            "k": self.k,
        }
