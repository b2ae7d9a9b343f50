"""Tests of the ResNets, ResNeXts and VGG-19 of models/ against published figures.

Each model is built once, at its ImageNet size (224x224) with 1,000 classes,
by a module-scoped fixture that pytest sets up for one model at a time (and
tears down before the next), so the large ones are never held together and
never trained. Their parameter counts must equal the published ones exactly,
and their multiply-adds (keras_profiler.model_stats) come within 5% of the
published figure where there is one.

torchvision and timm count ``nn.Parameter``s: batch norm's running statistics
are buffers there, while Keras' ``count_params`` counts its moving mean and
variance too. The published counts are therefore compared with the trainable
parameters (every weight but those statistics).

Nothing is trained here: under jax one training step of even a small ResNeXt
compiles for far longer than a test may take; the registry-wide test trains
every model one step at a small input.
"""

from __future__ import annotations

import importlib
import math

import pytest
from shapes_only import build_shapes_only

from keras_profiler import model_stats, models

IMAGENET = (224, 224, 3)

# Published parameter counts at 224x224 with 1,000 classes, by model.
PUBLISHED_PARAMETERS = {
    # torchvision ResNet18_Weights.IMAGENET1K_V1, num_params:
    # https://pytorch.org/vision/stable/models/generated/torchvision.models.resnet18.html
    "resnet18": 11_689_512,
    # torchvision ResNet34_Weights.IMAGENET1K_V1, num_params:
    # https://pytorch.org/vision/stable/models/generated/torchvision.models.resnet34.html
    "resnet34": 21_797_672,
    # timm's resnet200 (timm/models/resnet.py: Bottleneck, layers (3, 24, 36, 3),
    # torchvision's v1.5 layout), whose results tables give 64.67 M; the exact
    # sum of its parameters, timm 1.0.31 create_model("resnet200"). timm
    # publishes no weights for it, hence no model card with a count.
    "resnet200": 64_673_832,
    # torchvision ResNeXt50_32X4D_Weights.IMAGENET1K_V1, num_params:
    # https://pytorch.org/vision/stable/models/generated/torchvision.models.resnext50_32x4d.html
    "resnext50": 25_028_904,
    # timm's resnext101_32x4d (cardinality 32, base width 4, layers (3, 4, 23, 3)),
    # model card "Params (M): 44.2":
    # https://huggingface.co/timm/resnext101_32x4d.gluon_in1k ; the exact sum
    # of its parameters, timm 1.0.31 create_model("resnext101_32x4d").
    # (torchvision has only resnext101_32x8d, 88,791,336: twice as wide.)
    "resnext101": 44_177_704,
    # torchvision ResNeXt101_64X4D_Weights.IMAGENET1K_V1, num_params:
    # https://pytorch.org/vision/stable/models/generated/torchvision.models.resnext101_64x4d.html
    "resnext101_64x4d": 83_455_272,
    # torchvision VGG19_Weights.IMAGENET1K_V1, num_params (no batch norm, so
    # every weight is trainable and keras.applications.VGG19 has the same):
    # https://pytorch.org/vision/stable/models/generated/torchvision.models.vgg19.html
    "vgg19": 143_667_240,
}

# Published multiply-adds per image at 224x224, in units of 1e9. torchvision's
# "GFLOPS" column counts multiply-adds (model_stats' convention), as do timm's
# GMACs.
PUBLISHED_GMACS = {
    "resnet18": 1.81,  # torchvision, GFLOPS (pages above)
    "resnet34": 3.66,  # torchvision, GFLOPS
    "resnext50": 4.23,  # torchvision, GFLOPS
    "resnext101": 8.0,  # timm model card resnext101_32x4d.gluon_in1k, GMACs
    "resnext101_64x4d": 15.46,  # torchvision, GFLOPS
    "vgg19": 19.63,  # torchvision, GFLOPS
}

GROUPED = {"resnext50", "resnext101", "resnext101_64x4d"}


@pytest.fixture(scope="module")
def keras():
    """Keras, imported only by the tests that need it."""
    import keras

    return keras


@pytest.fixture(scope="module")
def imagenet_model(request, keras):
    """The model named by the test's parameter at 224x224, 1,000 classes,
    with its weights left uninitialised: the tests read their shapes only."""
    model = build_shapes_only(keras, lambda: models.load(request.param).build(IMAGENET, 1000))
    yield model
    del model
    keras.backend.clear_session()


def trainable_parameters(model) -> int:
    return sum(math.prod(w.shape) for w in model.trainable_weights)


@pytest.mark.parametrize("imagenet_model", sorted(PUBLISHED_PARAMETERS), indirect=True)
def test_parameter_count_equals_the_published_one(imagenet_model):
    assert imagenet_model.name in PUBLISHED_PARAMETERS
    assert trainable_parameters(imagenet_model) == PUBLISHED_PARAMETERS[imagenet_model.name]
    assert tuple(imagenet_model.output.shape) == (None, 1000)
    assert imagenet_model.layers[-1].dtype_policy.name == "float32"


@pytest.mark.parametrize("imagenet_model", sorted(PUBLISHED_GMACS), indirect=True)
def test_multiply_adds_within_5_percent_of_the_published_figure(imagenet_model):
    macs = model_stats.describe(imagenet_model)["forward_macs_per_image"]
    published = PUBLISHED_GMACS[imagenet_model.name] * 1e9
    assert abs(macs - published) <= 0.05 * published, macs


@pytest.mark.parametrize("imagenet_model", ["vgg19"], indirect=True)
def test_vgg19_matches_keras_applications(keras, imagenet_model):
    reference = build_shapes_only(
        keras, lambda: keras.applications.VGG19(weights=None, classes=1000, input_shape=IMAGENET)
    )
    assert imagenet_model.count_params() == reference.count_params() == 143_667_240
    assert [tuple(w.shape) for w in imagenet_model.weights] == [
        tuple(w.shape) for w in reference.weights
    ]
    # Ours adds only the separate softmax Activation.
    assert len(imagenet_model.layers) == len(reference.layers) + 1


# The convolutions of the first block of conv3 (the first that strides):
# name suffix -> strides. A basic block strides on its first 3x3 convolution;
# a bottleneck on its 3x3 (torchvision's v1.5), not on its first 1x1 (v1).
BASIC_STRIDES = {"0_conv": (2, 2), "1_conv": (2, 2), "2_conv": (1, 1)}
BOTTLENECK_STRIDES = {"0_conv": (2, 2), "1_conv": (1, 1), "2_conv": (2, 2), "3_conv": (1, 1)}

# Model -> (groups of conv2's 3x3 convolutions, their kernel shape). ResNeXt
# 32x4d: 32 groups of 4 channels per 64 base filters, 128 channels at conv2,
# each filter seeing 128 / 32 = 4 of them; 64x4d: 256 channels in 64 groups.
MIDDLE_CONVOLUTION = {
    "resnet18": (1, (3, 3, 64, 64)),
    "resnet34": (1, (3, 3, 64, 64)),
    "resnet200": (1, (3, 3, 64, 64)),
    "resnext50": (32, (3, 3, 4, 128)),
    "resnext101": (32, (3, 3, 4, 128)),
    "resnext101_64x4d": (64, (3, 3, 4, 256)),
}


@pytest.mark.parametrize("imagenet_model", sorted(MIDDLE_CONVOLUTION), indirect=True)
def test_torchvision_layout(imagenet_model):
    name = imagenet_model.name
    convolutions = [layer for layer in imagenet_model.layers if type(layer).__name__ == "Conv2D"]
    # torchvision and timm: no convolution has a bias (batch norm follows each).
    assert convolutions and not any(layer.use_bias for layer in convolutions)
    strides = {
        layer.name.removeprefix("conv3_block1_"): tuple(layer.strides)
        for layer in convolutions
        if layer.name.startswith("conv3_block1_")
    }
    basic = name in ("resnet18", "resnet34")
    assert strides == (BASIC_STRIDES if basic else BOTTLENECK_STRIDES)
    # A basic block keeps its width: the first block of conv2 needs no projection.
    names = {layer.name for layer in convolutions}
    assert ("conv2_block1_0_conv" in names) is not basic
    groups, kernel = MIDDLE_CONVOLUTION[name]
    middle = imagenet_model.get_layer("conv2_block1_2_conv" if not basic else "conv2_block1_1_conv")
    assert (middle.groups, tuple(middle.kernel.shape)) == (groups, kernel)
    # 224 / 32: the last stack works on 7x7 feature maps, as torchvision's.
    assert tuple(imagenet_model.get_layer("avg_pool").input.shape[1:3]) == (7, 7)


def test_resnext_modules_declare_grouped_convolutions():
    for name in sorted(PUBLISHED_PARAMETERS):
        module = importlib.import_module(f"keras_profiler.models.{name}")
        expected = ("grouped convolutions",) if name in GROUPED else None
        assert getattr(module, "NEEDS", None) == expected, name
        # Like resnet50 and vgg16: the dataset's own image size.
        assert models.load(name).default_image_size is None
