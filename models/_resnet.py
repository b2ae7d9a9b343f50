"""A generic ResNet builder: the ResNets and ResNeXts of models/ share it.

Two conventions are built, chosen by a :class:`Variant`:

* ``KERAS_V1`` (resnet50/101/152) mirrors ``keras.applications``'
  ResNet50/101/152 (Keras 3, ``keras/src/applications/resnet.py``) layer for
  layer: convolutions with biases, and a bottleneck that strides on its first
  1x1 convolution (ResNet v1).
* ``TORCHVISION`` (resnet18/34/200, the ResNeXts) follows torchvision's
  ``torchvision/models/resnet.py``, which timm's ResNets share: convolutions
  without biases (batch norm follows each), the stride on the 3x3 convolution
  of a bottleneck ("ResNet v1.5"), the basic two-3x3 block for the shallow
  networks and grouped 3x3 convolutions for the ResNeXts. The parameter counts
  those libraries publish are of this layout, so only it reproduces them.
  They count trainable parameters: Keras' ``count_params`` also counts batch
  norm's moving statistics, which torch keeps as buffers.

Every layer also exists in Keras 2.2, except grouped convolutions (Keras 3's
``Conv2D(groups=)``), which only the ResNeXts use. The one deviation from the
sources is the classifier: ``Dense`` followed by a separate float32 softmax
``Activation``, which keeps the output float32 under mixed precision at the
same parameter count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras

from ._common import channel_axis, named_builder

# Base filters of the four stacks (conv2 to conv5); a bottleneck outputs 4x.
STACK_FILTERS = (64, 128, 256, 512)
BOTTLENECK_EXPANSION = 4


@dataclass(frozen=True)
class Variant:
    """How the blocks of a ResNet are built.

    Attributes:
        basic_block: Two 3x3 convolutions per block (ResNet-18/34) instead of
            the 1x1-3x3-1x1 bottleneck.
        use_bias: Whether convolutions have biases.
        stride_on_3x3: Whether a bottleneck strides on its 3x3 convolution
            (v1.5) rather than on its first 1x1 (v1).
        bn_epsilon: Epsilon of every batch normalisation.
        groups: Groups of the bottleneck's 3x3 convolution (ResNeXt's cardinality).
        width_per_group: Channels per group of that convolution at the first
            stack, as torchvision's ``width_per_group``; 64 with one group is
            a plain ResNet.

    Example:
        >>> resnext(groups=32, width_per_group=4).bottleneck_width(64)  # 32x4d
        128
    """

    basic_block: bool
    use_bias: bool
    stride_on_3x3: bool
    bn_epsilon: float
    groups: int = 1
    width_per_group: int = 64

    def bottleneck_width(self, filters: int) -> int:
        """Channels of a bottleneck's 3x3 convolution, as torchvision computes them."""
        return int(filters * self.width_per_group / 64) * self.groups


KERAS_V1 = Variant(basic_block=False, use_bias=True, stride_on_3x3=False, bn_epsilon=1.001e-5)
TORCHVISION = Variant(basic_block=False, use_bias=False, stride_on_3x3=True, bn_epsilon=1e-5)
TORCHVISION_BASIC = Variant(basic_block=True, use_bias=False, stride_on_3x3=True, bn_epsilon=1e-5)


def resnext(groups: int, width_per_group: int) -> Variant:
    """The torchvision bottleneck with a grouped 3x3 convolution (ResNeXt)."""
    return Variant(
        basic_block=False,
        use_bias=False,
        stride_on_3x3=True,
        bn_epsilon=1e-5,
        groups=groups,
        width_per_group=width_per_group,
    )


def build(
    input_shape,
    num_classes: int,
    stack_sizes: Sequence[int],
    name: str,
    variant: Variant = KERAS_V1,
):
    """Builds a ResNet classifier.

    Args:
        input_shape: Shape of one image, e.g. ``(32, 32, 3)``.
        num_classes: Number of output classes.
        stack_sizes: Blocks in each of the four stacks, e.g. ``(3, 4, 6, 3)``.
        name: Name of the model.
        variant: How the blocks are built; the default is keras.applications'.

    Returns:
        An uncompiled functional ``keras.models.Model``.
    """
    inputs = keras.layers.Input(shape=tuple(input_shape))
    x = _stem(inputs, variant)
    for index, blocks in enumerate(stack_sizes):
        stride = 1 if index == 0 else 2
        x = _stack(x, STACK_FILTERS[index], blocks, stride, variant, name=f"conv{index + 2}")
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = keras.layers.Dense(num_classes, name="predictions")(x)
    outputs = keras.layers.Activation("softmax", dtype="float32", name="softmax")(x)
    return keras.models.Model(inputs, outputs, name=name)


def builder(name: str, stack_sizes: Sequence[int], variant: Variant = KERAS_V1):
    """A model module's ``build(input_shape, num_classes)`` for the ResNet named
    ``name``: every ResNet and ResNeXt module is its stacks and its variant."""

    return named_builder(build, name, stack_sizes=stack_sizes, variant=variant)


def _stem(x, variant: Variant):
    """7x7/2 convolution, batch norm, ReLU and 3x3/2 max pooling."""
    x = keras.layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(x)
    x = keras.layers.Conv2D(64, 7, strides=2, use_bias=variant.use_bias, name="conv1_conv")(x)
    x = _batch_norm(x, variant, "conv1_bn")
    x = keras.layers.Activation("relu", name="conv1_relu")(x)
    x = keras.layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    return keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def _stack(x, filters: int, blocks: int, stride: int, variant: Variant, name: str):
    """A stack of blocks; only the first may stride and project its shortcut."""
    block = _basic_block if variant.basic_block else _bottleneck_block
    # A basic block keeps its width, so the first stack's first block needs
    # no projection (torchvision projects only when the shape changes).
    project = not variant.basic_block or stride != 1
    x = block(x, filters, variant, stride=stride, conv_shortcut=project, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = block(x, filters, variant, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def _bottleneck_block(
    x, filters: int, variant: Variant, stride: int = 1, conv_shortcut: bool = True, name: str = ""
):
    """A bottleneck residual block: 1x1, 3x3, 1x1 (4x filters) plus a shortcut."""
    outputs = BOTTLENECK_EXPANSION * filters
    shortcut = _shortcut(x, outputs, stride, variant, conv_shortcut, name)
    width = variant.bottleneck_width(filters)
    first_stride, middle_stride = (1, stride) if variant.stride_on_3x3 else (stride, 1)
    x = keras.layers.Conv2D(
        width, 1, strides=first_stride, use_bias=variant.use_bias, name=f"{name}_1_conv"
    )(x)
    x = _batch_norm(x, variant, f"{name}_1_bn")
    x = keras.layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = _conv3x3(x, width, middle_stride, variant, f"{name}_2", groups=variant.groups)
    x = _batch_norm(x, variant, f"{name}_2_bn")
    x = keras.layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = keras.layers.Conv2D(outputs, 1, use_bias=variant.use_bias, name=f"{name}_3_conv")(x)
    x = _batch_norm(x, variant, f"{name}_3_bn")
    x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return keras.layers.Activation("relu", name=f"{name}_out")(x)


def _basic_block(
    x, filters: int, variant: Variant, stride: int = 1, conv_shortcut: bool = True, name: str = ""
):
    """A basic residual block: two 3x3 convolutions plus a shortcut."""
    shortcut = _shortcut(x, filters, stride, variant, conv_shortcut, name)
    x = _conv3x3(x, filters, stride, variant, f"{name}_1")
    x = _batch_norm(x, variant, f"{name}_1_bn")
    x = keras.layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = _conv3x3(x, filters, 1, variant, f"{name}_2")
    x = _batch_norm(x, variant, f"{name}_2_bn")
    x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return keras.layers.Activation("relu", name=f"{name}_out")(x)


def _shortcut(x, outputs: int, stride: int, variant: Variant, project: bool, name: str):
    """The identity, or a strided 1x1 projection with batch norm."""
    if not project:
        return x
    x = keras.layers.Conv2D(
        outputs, 1, strides=stride, use_bias=variant.use_bias, name=f"{name}_0_conv"
    )(x)
    return _batch_norm(x, variant, f"{name}_0_bn")


def _conv3x3(x, filters: int, stride: int, variant: Variant, name: str, groups: int = 1):
    """A 3x3 convolution padded by one pixel on every side, as torchvision's.

    At stride 1 that is ``padding="same"``; at stride 2 "same" would pad only
    the bottom and right of an even-sized image, so the padding is explicit.
    """
    options = {"use_bias": variant.use_bias, "name": f"{name}_conv"}
    if groups != 1:  # Keras 2.2's Conv2D has no ``groups`` argument at all
        options["groups"] = groups
    if stride == 1:
        return keras.layers.Conv2D(filters, 3, padding="same", **options)(x)
    x = keras.layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{name}_pad")(x)
    return keras.layers.Conv2D(filters, 3, strides=stride, **options)(x)


def _batch_norm(x, variant: Variant, name: str):
    """Batch normalisation over the channel axis with the variant's epsilon."""
    return keras.layers.BatchNormalization(
        axis=channel_axis(), epsilon=variant.bn_epsilon, name=name
    )(x)
