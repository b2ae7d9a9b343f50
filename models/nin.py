"""Network in Network (Lin et al. 2014), the ImageNet model of Caffe's model
zoo (``nin_imagenet``), at 224x224.

Four mlpconv stages: a spatial convolution followed by two 1x1 ("cccp")
convolutions, all with ReLU; 3x3/2 max pooling after the first three, dropout
after the third, and the last 1x1 convolution outputs one map per class,
averaged over the image. Caffe's poolings round their output size up, which
``_pooling.max_pool_ceil`` reproduces. The final 6x6 average pooling of the
prototxt is a global average pooling here (the same at 224x224, and valid at
any size), followed by a separate float32 softmax ``Activation`` that keeps
the output float32 under mixed precision. Written with layers that also
exist in Keras 2.2.
"""

from __future__ import annotations

import keras

from ._pooling import max_pool_ceil

DEFAULT_IMAGE_SIZE = 224

# Per stage: spatial convolution (filters, kernel, stride), then 1x1 filters.
STAGES = (
    ((96, 11, 4), (96, 96)),
    ((256, 5, 1), (256, 256)),
    ((384, 3, 1), (384, 384)),
    ((1024, 3, 1), (1024, None)),  # None: the number of classes
)


def build(input_shape, num_classes: int):
    """Builds NIN.

    Args:
        input_shape: Shape of one image, e.g. ``(224, 224, 3)``; at least 39x39.
        num_classes: Number of output classes.

    Returns:
        An uncompiled functional ``keras.models.Model`` named ``nin``.
    """
    inputs = keras.layers.Input(shape=tuple(input_shape))
    x = inputs
    for stage, ((filters, size, strides), cccp) in enumerate(STAGES, start=1):
        # Caffe pads the first convolution by 0 and the others by (size - 1) / 2.
        padding = "valid" if stage == 1 else "same"
        x = _conv(x, filters, size, strides, padding, name=f"conv{stage}")
        for index, units in enumerate(cccp, start=1):
            x = _conv(x, units or num_classes, 1, 1, "valid", name=f"cccp{2 * stage - 2 + index}")
        if stage < len(STAGES):
            x = max_pool_ceil(x, name=f"pool{stage}")
        if stage == 3:
            x = keras.layers.Dropout(0.5, name="dropout")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = keras.layers.Activation("softmax", dtype="float32", name="softmax")(x)
    return keras.models.Model(inputs, outputs, name="nin")


def _conv(x, filters: int, size: int, strides: int, padding: str, name: str):
    return keras.layers.Conv2D(
        filters, size, strides=strides, padding=padding, activation="relu", name=name
    )(x)
