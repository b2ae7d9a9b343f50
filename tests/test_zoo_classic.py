"""Tests of the classic CNNs of the reference tables: AlexNet, CaffeNet,
SqueezeNet 1.0 and 1.1, NIN, Inception-v4 and BN-Inception.

Each model is built once per test module at its ImageNet input size with
1,000 classes, and its parameter count and multiply-adds are checked against
a published figure (source named beside it) or one derived by hand from the
architecture's layer table (written out below). Nothing is trained or run here,
apart from two small layers checked against numpy.
Keras is imported with whatever KERAS_BACKEND the environment sets.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import math

import numpy as np
import pytest
from shapes_only import build_shapes_only

from keras_profiler import model_stats, models

IMAGENET_SIZES = {
    "alexnet": 227,
    "caffenet": 227,
    "squeezenet": 224,
    "squeezenet1_1": 224,
    "nin": 224,
    "inception_v4": 299,
    "inception_bn": 224,
}

# Parameters that a PyTorch or Caffe model trains (PyTorch's parameters(),
# which leave out batch norm's running statistics), at the ImageNet size with
# 1,000 classes.
TRAINABLE_PARAMETERS = {
    # Caffe's bvlc_alexnet, derived from its train_val.prototxt (weights + biases):
    # conv1 11x11x3x96 + 96 = 34,944; conv2 5x5x48x256 + 256 = 307,456 (2 groups);
    # conv3 3x3x256x384 + 384 = 885,120; conv4 3x3x192x384 + 384 = 663,936 (2 groups);
    # conv5 3x3x192x256 + 256 = 442,624 (2 groups); fc6 9216x4096 + 4096 = 37,752,832;
    # fc7 4096x4096 + 4096 = 16,781,312; fc8 4096x1000 + 1000 = 4,097,000;
    # total 60,965,224, the figure issue 18 quotes for Caffe's grouped AlexNet.
    "alexnet": 60_965_224,
    # bvlc_reference_caffenet: the same layers in another order.
    "caffenet": 60_965_224,
    # torchvision's SqueezeNet1_0_Weights.IMAGENET1K_V1 num_params
    # (https://pytorch.org/vision/stable/models/generated/torchvision.models.squeezenet1_0.html).
    "squeezenet": 1_248_424,
    # torchvision's SqueezeNet1_1_Weights.IMAGENET1K_V1 num_params
    # (https://pytorch.org/vision/stable/models/generated/torchvision.models.squeezenet1_1.html).
    "squeezenet1_1": 1_235_496,
    # No exact published count: derived from the Caffe model zoo's nin_imagenet
    # prototxt (https://gist.github.com/mavenlin/d802a5849de39225bcc6; the same table
    # as ethereon/caffe-tensorflow examples/imagenet/models/nin.py), weights + biases:
    # conv1 11x11x3x96 + 96 = 34,944; cccp1, cccp2 96x96 + 96 = 9,312 each;
    # conv2 5x5x96x256 + 256 = 614,656; cccp3, cccp4 256x256 + 256 = 65,792 each;
    # conv3 3x3x256x384 + 384 = 885,120; cccp5, cccp6 384x384 + 384 = 147,840 each;
    # conv4 3x3x384x1024 + 1024 = 3,539,968; cccp7 1024x1024 + 1024 = 1,049,600;
    # cccp8 1024x1000 + 1000 = 1,025,000; total 7,595,176.
    "nin": 7_595_176,
    # timm's inception_v4 (model card https://huggingface.co/timm/inception_v4.tf_in1k:
    # "Params (M): 42.7"); the exact count of the same network, Cadene's port that
    # timm copies, is 42,679,816 in osmr/imgclsmob pytorch/README.md (InceptionV4,
    # "From Cadene/pretrained...pytorch") and in keras-hub's inception_v4_imagenet preset.
    "inception_v4": 42_679_816,
    # osmr/imgclsmob pytorch/README.md (BN-Inception: 11,295,240; its
    # pytorchcv/models/bninception.py asserts the same), and derived by hand from the
    # layer table of Ioffe & Szegedy (2015), figure 5, each convolution k x k x in x out
    # + bias + batch-norm gamma and beta (3 x out):
    # stem 7x7x3x64 (9,600) + 1x1x64x64 (4,288) + 3x3x64x192 (111,168) = 125,056;
    # 3a (192 -> 256) 219,552; 3b (-> 320) 260,704; 3c (-> 576) 385,632;
    # 4a (-> 576) 610,848; 4b (-> 576) 666,240; 4c (-> 608) 915,456; 4d (-> 608) 1,144,000;
    # 4e (-> 1056) 1,451,008; 5a (-> 1024) 2,210,496; 5b (-> 1024) 2,281,248;
    # fc 1024x1000 + 1000 = 1,025,000; total 11,295,240.
    "inception_bn": 11_295_240,
}

# Multiply-adds of one forward pass of one image at the ImageNet size, and the
# relative tolerance of the comparison.
PUBLISHED_MACS = {
    # torchvision's GFLOPS column (fvcore multiply-adds), on the pages above.
    "squeezenet": (0.82e9, 0.05),
    # Issue 18 and torchvision: 0.35 G at 224.
    "squeezenet1_1": (0.35e9, 0.05),
    # Issue 18 and timm's model card: 12.3 GMACs at 299; imgclsmob: 12,304.93M.
    "inception_v4": (12.3e9, 0.05),
    # osmr/imgclsmob pytorch/README.md, BN-Inception FLOPs/2: 2,048.06M.
    "inception_bn": (2048.06e6, 0.05),
}

# Multiply-adds derived by hand from the layer tables (output positions x
# output channels x kernel weights per output):
HAND_DERIVED_MACS = {
    # conv1 55x55x96 x 363 = 105,415,200; conv2 27x27x256 x 1200 = 223,948,800;
    # conv3 13x13x384 x 2304 = 149,520,384; conv4 13x13x384 x 1728 = 112,140,288;
    # conv5 13x13x256 x 1728 = 74,760,192; fc6 + fc7 + fc8 = 37,748,736 + 16,777,216
    # + 4,096,000; total 724,406,816.
    "alexnet": 724_406_816,
    "caffenet": 724_406_816,
    # conv1 54x54x96 x 363 = 101,616,768; cccp1, cccp2 54x54x96 x 96 = 26,873,856 each;
    # conv2 27x27x256 x 2400 = 447,897,600; cccp3, cccp4 27x27x256 x 256 = 47,775,744 each;
    # conv3 13x13x384 x 2304 = 149,520,384; cccp5, cccp6 13x13x384 x 384 = 24,920,064 each;
    # conv4 6x6x1024 x 3456 = 127,401,984; cccp7 6x6x1024 x 1024 = 37,748,736;
    # cccp8 6x6x1000 x 1024 = 36,864,000; total 1,100,188,800 (Caffe's rounded-up
    # poolings: 54 -> 27 -> 13 -> 6).
    "nin": 1_100_188_800,
}

# The hardware-comparison reference tables give AlexNet (227 x 227) as
# "1.5 BFLOPs": twice its multiply-adds, within 5%. (The same tables give
# ResNet-50 4 BFLOPs, which are multiply-adds; the AlexNet figure is not.)
ALEXNET_TABLE_FLOPS = 1.5e9

NEEDS_KERAS_3 = {
    "alexnet": ("grouped convolutions", "local response normalisation"),
    "caffenet": ("grouped convolutions", "local response normalisation"),
}


@pytest.fixture(scope="module")
def keras():
    """Keras, imported only by the tests that need it."""
    import keras

    return keras


@pytest.fixture(scope="module")
def imagenet_model(keras):
    """Builds a model at its ImageNet size with 1,000 classes, once per module,
    with its weights left uninitialised: the tests read their shapes only."""

    @functools.cache
    def build(name):
        size = IMAGENET_SIZES[name]
        return build_shapes_only(keras, lambda: models.load(name).build((size, size, 3), 1000))

    return build


def _elements(weights) -> int:
    return sum(math.prod(w.shape) for w in weights)


@pytest.mark.parametrize("name", sorted(TRAINABLE_PARAMETERS))
def test_parameter_count(keras, imagenet_model, name):
    model = imagenet_model(name)
    assert model.name == name
    assert tuple(model.output.shape) == (None, 1000)
    assert model.layers[-1].dtype_policy.name == "float32"
    assert _elements(model.trainable_weights) == TRAINABLE_PARAMETERS[name]
    # Keras also counts batch norm's moving mean and variance, which PyTorch
    # keeps as buffers: nothing else is left out of the published figures.
    moving_statistics = sum(
        2 * layer.moving_mean.shape[0]
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    )
    assert _elements(model.non_trainable_weights) == moving_statistics
    assert model.count_params() == TRAINABLE_PARAMETERS[name] + moving_statistics


@pytest.mark.parametrize("name", sorted(PUBLISHED_MACS))
def test_multiply_adds_match_published(imagenet_model, name):
    published, tolerance = PUBLISHED_MACS[name]
    macs = model_stats.describe(imagenet_model(name))["forward_macs_per_image"]
    assert macs == pytest.approx(published, rel=tolerance)


@pytest.mark.parametrize("name", sorted(HAND_DERIVED_MACS))
def test_multiply_adds_match_layer_table(imagenet_model, name):
    macs = model_stats.describe(imagenet_model(name))["forward_macs_per_image"]
    assert macs == HAND_DERIVED_MACS[name]


def test_alexnet_flops_match_reference_table(imagenet_model):
    macs = model_stats.describe(imagenet_model("alexnet"))["forward_macs_per_image"]
    assert 2 * macs == pytest.approx(ALEXNET_TABLE_FLOPS, rel=0.05)


def test_default_image_sizes():
    assert {name: models.load(name).default_image_size for name in IMAGENET_SIZES} == (
        IMAGENET_SIZES
    )


@pytest.mark.parametrize("name", sorted(IMAGENET_SIZES))
def test_needs_is_a_literal_naming_what_keras_2_lacks(name):
    # The launcher refuses the mxnet backend before importing Keras, so NEEDS
    # must be readable from the source alone.
    module = importlib.import_module(f"keras_profiler.models.{name}")
    tree = ast.parse(inspect.getsource(module))
    literals = {
        target.id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and target.id == "NEEDS"
    }
    assert literals.get("NEEDS") == NEEDS_KERAS_3.get(name)
    assert getattr(module, "NEEDS", None) == NEEDS_KERAS_3.get(name)


def test_alexnet_groups(imagenet_model):
    model = imagenet_model("alexnet")
    groups = {f"conv{i}": model.get_layer(f"conv{i}").groups for i in range(1, 6)}
    assert groups == {"conv1": 1, "conv2": 2, "conv3": 1, "conv4": 2, "conv5": 2}


@pytest.mark.parametrize(
    "name, order",
    [
        ("alexnet", ["norm1", "pool1", "norm2", "pool2", "pool5"]),
        ("caffenet", ["pool1", "norm1", "pool2", "norm2", "pool5"]),
    ],
)
def test_caffenet_pools_before_normalising(imagenet_model, name, order):
    names = [layer.name for layer in imagenet_model(name).layers]
    assert [n for n in names if n.startswith(("pool", "norm"))] == order


@pytest.mark.parametrize(
    "name, layer, size",
    [
        # torchvision: 13x13 before the classifier at 224 (its rounded-up poolings).
        ("squeezenet", "conv10", 13),
        ("squeezenet1_1", "conv10", 13),
        # Caffe's nin_imagenet: 6x6 into its 6x6 average pooling.
        ("nin", "cccp8", 6),
        # Ioffe & Szegedy (2015), figure 5: 7x7x1024 before the average pooling.
        ("inception_bn", "inception_5b", 7),
        # Szegedy et al. (2016), figure 9: 8x8x1536 before the average pooling.
        ("inception_v4", "avg_pool", 8),
    ],
)
def test_final_feature_map_size(imagenet_model, name, layer, size):
    found = imagenet_model(name).get_layer(layer)
    shape = found.input.shape if layer == "avg_pool" else found.output.shape
    assert tuple(shape[1:3]) == (size, size)


def _caffe_lrn(x, size, alpha, beta, k):
    """Caffe's across-channel LRN over the last axis, written out with numpy."""
    squares = np.square(x)
    channels = x.shape[-1]
    total = np.zeros_like(x)
    for c in range(channels):
        low, high = max(0, c - (size - 1) // 2), min(channels, c + size // 2 + 1)
        total[..., c] = squares[..., low:high].sum(axis=-1)
    return x / (k + alpha / size * total) ** beta


def test_local_response_normalization_matches_caffe(keras):
    from keras_profiler.models._lrn import LocalResponseNormalization

    x = np.random.default_rng(0).normal(size=(2, 3, 3, 7)).astype("float32") * 4
    # A large alpha, so that the normalisation changes the values a lot.
    layer = LocalResponseNormalization(size=5, alpha=0.5, beta=0.75, k=2.0)
    result = keras.ops.convert_to_numpy(layer(keras.ops.convert_to_tensor(x)))
    expected = _caffe_lrn(x, size=5, alpha=0.5, beta=0.75, k=2.0)
    assert not np.allclose(expected, x, rtol=0.1)
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-6)


def test_local_response_normalization_channels_first(keras):
    from keras_profiler.models._lrn import LocalResponseNormalization

    x = np.random.default_rng(2).normal(size=(2, 7, 3, 3)).astype("float32") * 4
    previous = keras.backend.image_data_format()
    keras.backend.set_image_data_format("channels_first")
    try:
        layer = LocalResponseNormalization(size=3, alpha=0.5, beta=0.75, k=2.0)
        result = keras.ops.convert_to_numpy(layer(keras.ops.convert_to_tensor(x)))
    finally:
        keras.backend.set_image_data_format(previous)
    expected = _caffe_lrn(np.moveaxis(x, 1, -1), size=3, alpha=0.5, beta=0.75, k=2.0)
    np.testing.assert_allclose(result, np.moveaxis(expected, -1, 1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size, pooled", [(54, 27), (55, 27), (109, 54), (112, 56), (13, 6)])
def test_max_pool_ceil_rounds_up(keras, size, pooled):
    from keras_profiler.models._pooling import max_pool_ceil

    inputs = keras.layers.Input(shape=(size, size, 2))
    assert tuple(max_pool_ceil(inputs).shape) == (None, pooled, pooled, 2)


def test_max_pool_ceil_values(keras):
    from keras_profiler.models._pooling import max_pool_ceil

    x = np.random.default_rng(1).random((1, 4, 4, 1)).astype("float32")
    inputs = keras.layers.Input(shape=(4, 4, 1))
    model = keras.models.Model(inputs, max_pool_ceil(inputs))
    result = np.asarray(model.predict(x, verbose=0))[0, :, :, 0]
    # Windows start at rows/columns 0 and 2; the second hangs over the edge
    # and covers what is left (rows/columns 2-3).
    expected = [[x[0, r : r + 3, c : c + 3, 0].max() for c in (0, 2)] for r in (0, 2)]
    np.testing.assert_array_equal(result, np.array(expected))
