"""Tests of keras_profiler.model_stats: per-image multiply-adds, feature memory
and parameter memory, computed from the model and checked against figures
worked out by hand and against published ones.

Nothing is trained but in one short CLI run. Small models are built in this
process (under the backend conftest.py sets); registry models in a torch
subprocess, where building ResNet-50 or Inception-v3 takes a second or two
(jax compiles each weight's initializer: half a minute for Inception-v3),
and in tensorflow and keras-mxnet subprocesses to compare with it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from backend_runs import run_in_mxnet

from keras_profiler import backends, model_stats, models
from keras_profiler.training.model_builder import describe_model

# Input(8,8,3) -> Conv2D(4, 3, same) -> Flatten -> Dense(10), as source text:
# built here and by the CLI (as a user's model file; DEFAULT_IMAGE_SIZE makes
# the worker upscale 32x32 data in front of it).
SMALL = """
import keras

DEFAULT_IMAGE_SIZE = 40


def small(input_shape, num_classes):
    inputs = keras.layers.Input(shape=tuple(input_shape))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(num_classes, name="dense")(x)
    return keras.models.Model(inputs, outputs, name="small")
"""

# The published figures' models, 1000 classes, channels_last.
PUBLISHED = ["resnet50:224:1000:channels_last", "inception_v3:299:1000:channels_last"]
# Registry models at small sizes, compared across data formats and backends.
# Inception-v3 at its smallest size: keras-mxnet adds stand-in gammas to its
# BatchNormalization(scale=False) layers, which must not count.
SMALL_SIZES = ["tiny:32:10", "resnet50:32:10", "inception_v3:75:10"]
FIRST = [f"{model}:channels_first" for model in SMALL_SIZES]
LAST = [f"{model}:channels_last" for model in SMALL_SIZES]

# argv: NAME:SIDE:CLASSES:DATA_FORMAT for each model. The same file runs under
# Keras 3 and Keras 2.2; prints each model's figures and parameter count.
DESCRIBE = """
import json, sys, keras
from keras_profiler import backends, model_stats, models

def describe(name, side, classes, data_format):
    keras.backend.set_image_data_format(data_format)
    side = int(side)
    shape = (3, side, side) if data_format == "channels_first" else (side, side, 3)
    model = models.load(name).build(shape, int(classes))
    counted = backends.current().counted_weights(model)
    return dict(model_stats.describe(model, counted), count_params=int(model.count_params()))

print(json.dumps({arg: describe(*arg.split(":")) for arg in sys.argv[1:]}))
"""


def describe_in(backend: str, *models: str) -> dict:
    """DESCRIBE's output for ``models`` in a fresh process under a Keras 3
    ``backend``, keyed by argument."""
    out = subprocess.run(
        [sys.executable, "-c", DESCRIBE, *models],
        env=dict(os.environ, KERAS_BACKEND=backend),
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def figures_of(figures: dict, args: list[str]) -> dict:
    """model_stats's figures (no parameter counts) for the models ``args`` of
    DESCRIBE's ``figures``, keyed by NAME:SIDE:CLASSES (no data format)."""
    return {
        arg.rpartition(":")[0]: {k: v for k, v in figures[arg].items() if k != "count_params"}
        for arg in args
    }


# The tiny registry model at 32x32x3, 10 classes, by hand.
TINY = {
    # conv1 15x15x8 outputs of 3x3x3, conv2 7x7x16 of 3x3x8, dense 144 -> 10.
    "forward_macs_per_image": 15 * 15 * 8 * 27 + 7 * 7 * 16 * 72 + 144 * 10,
    # input, conv1, conv2, pool, flatten, dense, softmax.
    "activation_bytes_per_image": 4 * (3072 + 1800 + 784 + 144 + 144 + 10 + 10),
    "parameter_bytes": 4 * 2842,
}


def small_figures(side: int, classes: int = 10) -> dict:
    """SMALL's figures at side x side x 3, by hand (float32: 4 bytes)."""
    conv_out = side * side * 4
    return {
        # conv: 3x3x3 weights per output element; dense: one per input feature.
        "forward_macs_per_image": conv_out * 3 * 3 * 3 + conv_out * classes,
        # input, conv, flatten (same size), dense.
        "activation_bytes_per_image": 4 * (side * side * 3 + 2 * conv_out + classes),
        # conv kernel + bias, dense kernel + bias.
        "parameter_bytes": 4 * (3 * 3 * 3 * 4 + 4 + conv_out * classes + classes),
    }


@pytest.fixture
def keras():
    """Keras, imported only by the tests that need it."""
    import keras

    return keras


@pytest.fixture
def small(tmp_path):
    """SMALL's builder, loaded through the registry as a user's file."""
    path = tmp_path / "small_model.py"
    path.write_text(SMALL)
    return models.load(f"{path}:small").build


@pytest.fixture(scope="module")
def torch_figures() -> dict:
    """DESCRIBE's figures under torch: the published models, and the small
    sizes in both data formats."""
    return describe_in("torch", *PUBLISHED, *FIRST, *LAST)


@pytest.mark.slow
def test_resnet50_at_224(torch_figures):
    figures = torch_figures[PUBLISHED[0]]
    # torchvision's ResNet-50 is 4,089,184,256 multiply-adds (fvcore; "4.09
    # GFLOPS" in torchvision's tables): conv + fc, the same 2048x1000 head. It
    # is v1.5, strided in the 3x3 convolution; ours, like keras.applications
    # and the original Caffe model (3.86 G in Netscope), is v1, strided in the
    # first 1x1, which then runs at a quarter of the positions in the first
    # block of conv3, conv4 and conv5: 3 x (1 - 1/4) x 56*56*256*128 fewer.
    assert figures["forward_macs_per_image"] == 4_089_184_256 - 3 * 77_070_336
    assert figures["forward_macs_per_image"] == pytest.approx(4.09e9, rel=0.06)
    # Feature memory by hand, in elements: input 224*224*3, conv1 pad 230*230*3,
    # conv1 conv/bn/relu 3 x 112*112*64, pool1 pad 114*114*64 and pool 56*56*64;
    # per stack (f filters, s x s positions) the first block has 6 tensors of
    # f channels and 6 of 4f (shortcut conv+bn, 3_conv+bn, add, out) = 30 f s^2,
    # the others 6 of f and 4 of 4f = 22 f s^2; then 2048 + 1000 + 1000.
    stacks = sum(
        (30 + 22 * (blocks - 1)) * f * s * s
        for f, s, blocks in [(64, 56, 3), (128, 28, 4), (256, 14, 6), (512, 7, 3)]
    )
    stem = 224 * 224 * 3 + 230 * 230 * 3 + 3 * 112 * 112 * 64 + 114 * 114 * 64 + 56 * 56 * 64
    assert figures["activation_bytes_per_image"] == 4 * (stem + stacks + 2048 + 2000)
    # keras.applications.ResNet50's 25,636,712 parameters, float32.
    assert figures["parameter_bytes"] == 4 * 25_636_712 == 4 * figures["count_params"]


@pytest.mark.slow
def test_inception_v3_at_299(torch_figures):
    figures = torch_figures[PUBLISHED[1]]
    # torchvision's Inception-v3 (the same layers; eval mode, no auxiliary
    # head) is 5.713 G multiply-adds; counted layer by layer by hand: exactly
    # 5,713,216,096.
    assert figures["forward_macs_per_image"] == 5_713_216_096
    assert figures["forward_macs_per_image"] == pytest.approx(5.713e9, rel=1e-3)
    # keras.applications.InceptionV3's 23,851,784 parameters, float32.
    assert figures["parameter_bytes"] == 4 * 23_851_784 == 4 * figures["count_params"]
    # At least the stem's first three convolutions, batch norms and ReLUs.
    stem = 3 * (149 * 149 * 32 + 147 * 147 * 32 + 147 * 147 * 64)
    assert 4 * stem < figures["activation_bytes_per_image"] < 4 * 10 * stem


def test_small_model_by_hand(small):
    figures = model_stats.describe(small((8, 8, 3), 10))
    assert figures == small_figures(8)
    assert figures == {
        "forward_macs_per_image": 8 * 8 * 4 * 3 * 3 * 3 + 256 * 10,  # 9,472
        "activation_bytes_per_image": 4 * (192 + 256 + 256 + 10),  # 2,856
        "parameter_bytes": 4 * (108 + 4 + 2560 + 10),  # 10,728
    }
    assert all(type(value) is int for value in figures.values())


def test_tiny_by_hand():
    assert model_stats.describe(models.load("tiny").build((32, 32, 3), 10)) == TINY


@pytest.mark.slow
def test_other_convolutions_by_hand(keras):
    layers = keras.layers
    inputs = layers.Input((8, 8, 3))
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same")(inputs)  # 8x8x6
    x = layers.SeparableConv2D(5, 3, padding="same")(x)  # 8x8x5
    x = layers.Conv2DTranspose(4, 3, strides=2, padding="same")(x)  # 16x16x4
    x = layers.Conv2D(4, 3, padding="same", groups=2)(x)  # 16x16x4
    x = layers.Conv2D(2, 3, dilation_rate=2)(x)  # 12x12x2
    outputs = layers.Conv2D(3, 1, strides=3)(x)  # 4x4x3
    figures = model_stats.describe(keras.models.Model(inputs, outputs))
    assert figures["forward_macs_per_image"] == (
        8 * 8 * 6 * 9  # depthwise: one 3x3 window per output element
        + 8 * 8 * 6 * 9  # separable: its depthwise pass
        + 8 * 8 * 5 * 6  # and its 1x1 pass, 6 inputs per output
        + 8 * 8 * 5 * 9 * 4  # transpose: each input onto a 3x3 window of 4 filters
        + 16 * 16 * 4 * 9 * 2  # grouped: 2 of the 4 input channels per output
        + 12 * 12 * 2 * 9 * 4  # dilated: still 3x3x4 per output
        + 4 * 4 * 3 * 2  # strided 1x1
    )


def test_a_nested_model_is_recursed_into(keras, small):
    from keras_profiler.models import _common

    # As the worker wraps a model run at a larger size than the data's.
    inputs = keras.layers.Input((32, 32, 3))
    base = small((40, 40, 3), 10)
    outer = keras.models.Model(inputs, base(_common.upscale(inputs, 40)))
    assert outer.layers[-1] is base
    figures = model_stats.describe(outer)
    own = small_figures(40)
    assert figures["forward_macs_per_image"] == own["forward_macs_per_image"]
    assert figures["parameter_bytes"] == own["parameter_bytes"]
    # The 32x32 input and the upscale (64x64, cropped to 40x40) added; the
    # inner input is the crop's output, not counted twice.
    upscale = 4 * (32 * 32 * 3 + 64 * 64 * 3)
    assert figures["activation_bytes_per_image"] == own["activation_bytes_per_image"] + upscale


def test_mixed_precision_outputs_count_their_own_dtype(keras):
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        figures = model_stats.describe(models.load("tiny").build((32, 32, 3), 10))
    finally:
        keras.mixed_precision.set_global_policy(previous)
    # float32 input and softmax; conv1, conv2, pool, flatten, dense in bfloat16.
    bfloat16 = 1800 + 784 + 144 + 144 + 10
    assert figures["activation_bytes_per_image"] == 4 * (3072 + 10) + 2 * bfloat16
    assert figures["parameter_bytes"] == 4 * 2842  # the variables stay float32


def test_an_unknown_size_leaves_the_figures_out_of_the_record(keras):
    inputs = keras.layers.Input((None, None, 3))
    outputs = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    model = keras.models.Model(inputs, outputs, name="any_size")
    with pytest.raises(model_stats.StatsUnavailable, match="unknown size"):
        model_stats.describe(model)
    described = describe_model(keras, backends.current(), model, None)
    assert described["name"] == "any_size" and described["parameters"] == 112
    assert not set(described) & set(small_figures(8))


@pytest.mark.slow
def test_channels_first_gives_the_same_figures(torch_figures):
    first = figures_of(torch_figures, FIRST)
    assert first == figures_of(torch_figures, LAST)
    assert len(first) == len(SMALL_SIZES)
    assert first["tiny:32:10"] == TINY


@pytest.mark.slow
def test_tensorflow_gives_the_same_figures_as_torch(torch_figures):
    figures = describe_in("tensorflow", *FIRST)
    assert figures_of(figures, FIRST) == figures_of(torch_figures, FIRST)


@pytest.mark.slow
def test_mxnet_gives_the_same_figures_as_keras_3(torch_figures, mxnet_python):
    out = run_in_mxnet(mxnet_python, DESCRIBE, *FIRST)
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures_of(figures, FIRST) == figures_of(torch_figures, FIRST)
    # keras-mxnet's own count includes Inception-v3's 17,216 stand-in gammas
    # (see test_parameters_across_backends); the bytes leave them out.
    inception = figures["inception_v3:75:10:channels_first"]
    assert inception["count_params"] == 21_823_274 + 17_216
    assert inception["parameter_bytes"] == 4 * 21_823_274


@pytest.mark.slow
def test_a_run_records_the_figures(run_cli, tmp_path):
    # SMALL at its DEFAULT_IMAGE_SIZE of 40 on 32x32 data: the worker wraps it
    # in an outer model with an upscale in front, as for Inception-v3.
    path = tmp_path / "small_model.py"
    path.write_text(SMALL)
    result = run_cli(
        *("--backend", "jax", "--model", f"{path}:small", "--dataset", "synthetic"),
        *("--epochs", "1", "--steps-per-epoch", "2", "--train-samples", "64"),
        *("--test-samples", "32", "--no-report"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    model = result.record["model"]
    assert model["image_size"] == 40
    expected = small_figures(40)
    expected["activation_bytes_per_image"] += 4 * (32 * 32 * 3 + 64 * 64 * 3)  # the upscale
    assert {key: model[key] for key in expected} == expected
    assert model["parameter_bytes"] == 4 * model["parameters"]
