"""Tests of the model definitions and the registry in keras_profiler.models.

The reference architectures are checked against ``keras.applications``: same
parameter count and the same weight shapes in the same order. Nothing is
trained. Keras is imported with whatever KERAS_BACKEND the environment sets.
"""

from __future__ import annotations

import numpy as np
import pytest

from keras_profiler import models

REGISTERED = [
    "alexnet",
    "bert_base",
    "bert_large",
    "caffenet",
    "inception_bn",
    "inception_v3",
    "inception_v4",
    "nin",
    "resnet101",
    "resnet152",
    "resnet18",
    "resnet200",
    "resnet34",
    "resnet50",
    "resnext101",
    "resnext101_64x4d",
    "resnext50",
    "squeezenet",
    "squeezenet1_1",
    "tiny",
    "vgg16",
    "vgg19",
]
# The models run at an input size of their own; the rest at the dataset's.
OWN_IMAGE_SIZES = {
    "alexnet": 227,
    "caffenet": 227,
    "inception_bn": 224,
    "inception_v3": 299,
    "inception_v4": 299,
    "nin": 224,
    "squeezenet": 224,
    "squeezenet1_1": 224,
}

# Our model name -> (keras.applications constructor name, square input size).
REFERENCES = {
    "resnet50": ("ResNet50", 32),
    "resnet101": ("ResNet101", 32),
    "resnet152": ("ResNet152", 32),
    "vgg16": ("VGG16", 32),
    "inception_v3": ("InceptionV3", 299),
}


@pytest.fixture
def keras():
    """Keras, imported only by the tests that need it."""
    import keras

    return keras


@pytest.fixture
def channels_first(keras):
    """Switches Keras to channels_first for one test, then restores the format."""
    previous = keras.backend.image_data_format()
    keras.backend.set_image_data_format("channels_first")
    yield
    keras.backend.set_image_data_format(previous)


def test_available_lists_the_registered_models():
    assert models.available() == REGISTERED


def test_default_image_sizes():
    sizes = {name: models.load(name).default_image_size for name in REGISTERED}
    assert sizes == {name: None for name in REGISTERED} | OWN_IMAGE_SIZES


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_matches_keras_applications(keras, name):
    constructor, size = REFERENCES[name]
    shape = (size, size, 3)
    ours = models.load(name).build(shape, 10)
    reference = getattr(keras.applications, constructor)(
        weights=None, classes=10, input_shape=shape
    )
    assert ours.name == name
    assert ours.count_params() == reference.count_params()
    # Same weights in the same order: catches a different structure that
    # happens to have the same total.
    assert len(ours.weights) == len(reference.weights)
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in reference.weights]
    # Ours adds only the separate softmax Activation, kept float32.
    assert len(ours.layers) == len(reference.layers) + 1
    assert ours.layers[-1].dtype_policy.name == "float32"
    assert tuple(ours.output.shape) == (None, 10)


def test_tiny_parameter_count():
    model = models.load("tiny").build((32, 32, 3), 10)
    # conv1: 3x3x3 kernel x 8 filters + 8 biases = 216 + 8 = 224; output 15x15x8.
    # conv2: 3x3x8 kernel x 16 filters + 16 biases = 1152 + 16 = 1168; output 7x7x16.
    # pool 2x2: 3x3x16 = 144 features after Flatten.
    # dense: 144 x 10 + 10 = 1450.
    # total: 224 + 1168 + 1450 = 2842.
    assert model.count_params() == 2842


@pytest.mark.parametrize("size", [299, 224])
def test_upscale_output_shape(keras, size):
    from keras_profiler.models._common import upscale

    inputs = keras.layers.Input(shape=(32, 32, 3))
    model = keras.models.Model(inputs, upscale(inputs, size))
    assert tuple(model.output.shape) == (None, size, size, 3)


def _nearest_neighbour(images, size, axes):
    """Upscales with numpy: repeat every pixel, then crop the surplus evenly."""
    factor = -(-size // images.shape[axes[0]])
    surplus = factor * images.shape[axes[0]] - size
    index = slice(surplus // 2, surplus // 2 + size)
    for axis in axes:
        images = np.repeat(images, factor, axis=axis)
    crop = [slice(None)] * images.ndim
    crop[axes[0]] = crop[axes[1]] = index
    return images[tuple(crop)]


def test_upscale_copies_nearest_pixels(keras):
    from keras_profiler.models._common import upscale

    images = np.random.default_rng(0).random((2, 32, 32, 3)).astype("float32")
    inputs = keras.layers.Input(shape=(32, 32, 3))
    model = keras.models.Model(inputs, upscale(inputs, 299))
    result = np.asarray(model.predict(images, verbose=0))
    # 32 -> 320 by 10x repetition, then crops of 10 (top, left) and 11 (bottom, right).
    np.testing.assert_array_equal(result, _nearest_neighbour(images, 299, axes=(1, 2)))


@pytest.mark.usefixtures("channels_first")
def test_upscale_channels_first(keras):
    from keras_profiler.models._common import channel_axis, upscale

    assert channel_axis() == 1
    images = np.random.default_rng(1).random((2, 3, 32, 32)).astype("float32")
    inputs = keras.layers.Input(shape=(3, 32, 32))
    model = keras.models.Model(inputs, upscale(inputs, 224))
    result = np.asarray(model.predict(images, verbose=0))
    assert result.shape == (2, 3, 224, 224)
    np.testing.assert_array_equal(result, _nearest_neighbour(images, 224, axes=(2, 3)))


def test_upscale_same_size_and_shrinking(keras):
    from keras_profiler.models._common import upscale

    inputs = keras.layers.Input(shape=(32, 32, 3))
    assert upscale(inputs, 32) is inputs
    with pytest.raises(ValueError, match="cannot shrink"):
        upscale(inputs, 16)


def test_user_model_file(tmp_path):
    path = tmp_path / "my_model.py"
    path.write_text(
        "import keras\n\n\n"
        "def my_net(input_shape, num_classes):\n"
        "    inputs = keras.layers.Input(shape=input_shape)\n"
        "    x = keras.layers.Flatten()(inputs)\n"
        "    outputs = keras.layers.Dense(num_classes, activation='softmax')(x)\n"
        "    return keras.models.Model(inputs, outputs)\n"
    )
    spec = models.load(f"{path}:my_net")
    assert spec.name == "my_model:my_net"
    assert spec.default_image_size is None
    model = spec.build((4, 4, 3), 5)
    assert model.count_params() == 4 * 4 * 3 * 5 + 5
    with pytest.raises(ValueError, match="missing"):
        models.check(f"{path}:missing")


def test_unknown_name_lists_the_available_models():
    with pytest.raises(ValueError) as error:
        models.check("nope")
    message = str(error.value)
    assert "'nope'" in message
    for name in REGISTERED:
        assert name in message
