"""--image-size: synthetic data drawn at the size, real data upscaled to it on
the device, the record stating it, and a memory guard before generating."""

from __future__ import annotations

import types

import fakedata
import numpy as np
import pytest
from test_cli_errors import assert_one_line_error, run_main

import keras_profiler.datasets as datasets
from keras_profiler.config import RunConfig
from keras_profiler.errors import UsageError
from keras_profiler.sweep import cli as sweep_cli
from keras_profiler.sweep.spec import SweepSpec
from keras_profiler.training import data as training_data

GiB = 2**30
# One short run: 2 steps of 16 images, 32 test images, no report.
SHORT = ["--backend", "jax", "--model", "tiny", "--epochs", "1", "--steps-per-epoch", "2"]
SHORT += ["--batch-size", "16", "--test-samples", "32", "--no-report"]


def tiny_figures(side: int) -> dict:
    """tiny's figures at side x side x 3 with 10 classes, by hand (float32):
    two valid 3x3 convolutions of stride 2, a 2x2 pooling, Flatten, Dense."""
    conv1 = (side - 3) // 2 + 1
    conv2 = (conv1 - 3) // 2 + 1
    pooled = (conv2 // 2) ** 2 * 16
    return {
        "forward_macs_per_image": conv1 * conv1 * 8 * 27 + conv2 * conv2 * 16 * 72 + pooled * 10,
        # input, conv1, conv2, pool, flatten, dense, softmax.
        "activation_bytes_per_image": 4
        * (side * side * 3 + conv1 * conv1 * 8 + conv2 * conv2 * 16 + 2 * pooled + 2 * 10),
        "parameter_bytes": 4 * (8 * 27 + 8 + 16 * 72 + 16 + pooled * 10 + 10),
    }


# --- synthetic data at the size ----------------------------------------------


def _synthetic(**kwargs):
    return datasets.load("synthetic", "unused", seed=5, **kwargs)


def test_synthetic_images_are_drawn_at_the_size():
    small = _synthetic(train_samples=6, test_samples=4, image_size=64)
    large = _synthetic(train_samples=40, test_samples=4, image_size=64)
    assert small.x_train.shape == (6, 64, 64, 3) and small.x_test.shape == (4, 64, 64, 3)
    assert small.x_train.dtype == np.uint8 and small.image_shape == (64, 64, 3)
    # Fewer images are the first ones of the full set; the test split does not
    # change with the training count; the same seed gives the same bytes.
    np.testing.assert_array_equal(small.x_train, large.x_train[:6])
    np.testing.assert_array_equal(small.y_train, large.y_train[:6])
    np.testing.assert_array_equal(small.x_test, large.x_test)
    again = _synthetic(train_samples=6, test_samples=4, image_size=64)
    assert again.x_train.tobytes() == small.x_train.tobytes()
    # 0..255, not a constant image.
    assert small.x_train.min() == 0 and small.x_train.max() == 255


def test_synthetic_default_size_is_unchanged_by_the_option():
    default = _synthetic(train_samples=8, test_samples=4)
    at_32 = _synthetic(train_samples=8, test_samples=4, image_size=32)
    assert default.image_shape == (32, 32, 3)
    assert default.x_train.tobytes() == at_32.x_train.tobytes()


def test_real_data_keeps_its_own_size(tmp_path):
    folder = fakedata.write_quadrant_cifar(tmp_path, n_train=8, n_test=4, seed=1)
    data = datasets.load("cifar10", folder, seed=0, allow_download=False, image_size=48)
    assert data.image_shape == (32, 32, 3)  # the model upscales it on the device


# --- the configuration ---------------------------------------------------------


def test_synthetic_test_split_defaults_to_1000_above_32():
    def config(**changes):
        return RunConfig(backend="jax", model="tiny", **changes)

    assert config(dataset="synthetic", image_size=224).test_samples == 1000
    assert config(dataset="synthetic", image_size=224, test_samples=50).test_samples == 50
    assert config(dataset="synthetic", image_size=32).test_samples is None
    assert config(dataset="synthetic").test_samples is None
    assert config(dataset="cifar10", image_size=224).test_samples is None
    # The run's folder names the size.
    assert "-synthetic-224px-s1337" in config(dataset="synthetic", image_size=224).slug()


def test_only_the_trained_synthetic_images_are_generated():
    def train_samples(**changes):
        return training_data.train_samples(RunConfig(backend="jax", model="tiny", **changes))

    synthetic = {"dataset": "synthetic", "batch_size": 16}
    assert train_samples(**synthetic) is None  # all 50,000
    assert train_samples(**synthetic, steps_per_epoch=3) == 48
    assert train_samples(**synthetic, steps_per_epoch=3, train_samples=20) == 20
    assert train_samples(**synthetic, steps_per_epoch=5000) == 50_000  # not more than the set
    # Real data is read whole anyway: --train-samples stays what the loader checks.
    assert train_samples(dataset="cifar10", batch_size=16, steps_per_epoch=3) is None


# --- the memory guard ----------------------------------------------------------


@pytest.fixture
def available(monkeypatch):
    """Sets the memory psutil reports available, in GiB."""
    import psutil

    def set_available(gib: float):
        memory = types.SimpleNamespace(available=int(gib * GiB))
        monkeypatch.setattr(psutil, "virtual_memory", lambda: memory)

    return set_available


def test_memory_needed_counts_uint8_per_process_and_one_float32_copy():
    config = RunConfig(backend="jax", model="resnet50", dataset="synthetic", image_size=224)
    image = 224 * 224 * 3
    n_train, n_test, needed = training_data.generated_bytes(config)
    assert (n_train, n_test) == (50_000, 1000)
    assert needed == 51_000 * image * (1 + 4)
    assert training_data.generated_bytes(config, processes=2)[2] == 51_000 * image * (2 + 4)
    capped = RunConfig(
        backend="jax", model="resnet50", dataset="synthetic", image_size=224, steps_per_epoch=20
    )
    assert training_data.generated_bytes(capped) == (640, 1000, 1640 * image * 5)


def test_memory_guard_says_what_to_cap(available, monkeypatch):
    config = RunConfig(backend="jax", model="resnet50", dataset="synthetic", image_size=224)
    available(12.1)
    # Refused before anything is generated.
    monkeypatch.setattr(datasets, "load", lambda *a, **k: pytest.fail("data was generated"))
    with pytest.raises(UsageError) as refused:
        training_data.load_data(config)
    assert str(refused.value) == (
        "50000 synthetic training and 1000 test images at --image-size 224 need 35.7 GiB "
        "(uint8, and the float32 the model is fed), 12.1 GiB is available: cap them with "
        "--steps-per-epoch, --train-samples or --test-samples, or lower --image-size"
    )
    with pytest.raises(UsageError, match=r"need 42\.9 GiB in 2 processes"):
        training_data.check_memory(config, processes=2)
    available(1.2)  # 1640 images at 224: 1.15 GiB
    capped = RunConfig(
        backend="jax", model="resnet50", dataset="synthetic", image_size=224, steps_per_epoch=20
    )
    training_data.check_memory(capped)


def test_memory_guard_without_the_option_names_the_default_size(available):
    available(0.5)
    config = RunConfig(backend="jax", model="tiny", dataset="synthetic")
    with pytest.raises(UsageError) as refused:
        training_data.check_memory(config)
    message = str(refused.value)
    assert message.startswith("50000 synthetic training and 10000 test images at 32x32 need 0.9")
    assert message.endswith("--train-samples or --test-samples")


# --- command line and sweeps -----------------------------------------------------


def test_too_small_a_size_is_one_line_and_no_record(capsys, tmp_path):
    code, err = run_main(
        capsys, tmp_path, "--backend", "jax", "--model", "tiny", "--image-size", "16"
    )
    assert_one_line_error(code, err, tmp_path, "--image-size must be at least 32, got 16")


def test_sweep_takes_the_size_from_the_file_and_the_command_line(tmp_path):
    path = tmp_path / "sizes.toml"
    path.write_text(
        '[matrix]\nmodels = ["tiny", "resnet50"]\ndata = ["synthetic"]\n'
        "[settings]\nimage_size = 64\n"
        "[models.resnet50]\nimage_size = 224\nepochs = 2\n"
    )
    configs = SweepSpec.load(path).configs(["jax"], [1])
    assert {(c.model, c.image_size, c.test_samples) for c in configs} == {
        ("tiny", 64, 1000),
        ("resnet50", 224, 1000),
    }
    # --image-size overrides every model's, as --epochs does; the rest of a
    # model's settings stay.
    args = sweep_cli.parser().parse_args([str(path), "--image-size", "96"])
    configs = sweep_cli._spec(args).configs(["jax"], [1])
    assert {(c.model, c.image_size, c.epochs) for c in configs} == {
        ("tiny", 96, 10),
        ("resnet50", 96, 2),
    }


# --- end to end ------------------------------------------------------------------


@pytest.mark.slow
def test_synthetic_run_at_64_feeds_the_model_64x64_images(run_cli):
    import keras  # noqa: F401  (jax, from conftest)

    from keras_profiler import model_stats, models

    result = run_cli("--dataset", "synthetic", "--image-size", "64", *SHORT)

    assert result.returncode == 0, result.stderr[-3000:]
    record = result.record
    assert record["status"] == "ok"
    assert record["config"]["image_size"] == 64
    assert record["run_id"].split("-s1337-")[0].endswith("-synthetic-64px")
    model = record["model"]
    assert model["image_size"] == 64
    # The figures of tiny built at 64x64x3 itself: no upscaling layer in
    # front (its input and output would add to the feature memory).
    expected = tiny_figures(64)
    assert expected == model_stats.describe(models.load("tiny").build((64, 64, 3), 10))
    assert expected["forward_macs_per_image"] == 474_616
    assert {key: model[key] for key in expected} == expected
    assert model["parameters"] == 9242
    assert [e["images"] for e in record["epochs"]] == [2 * 16]


@pytest.mark.slow
def test_cifar10_run_at_48_is_upscaled_on_the_device(run_cli, tmp_path):
    folder = fakedata.write_quadrant_cifar(tmp_path / "data", n_train=64, n_test=32, seed=2)
    result = run_cli(
        *("--dataset", "cifar10", "--no-download", "--data-dir", str(folder)),
        *("--image-size", "48", *SHORT),
    )

    assert result.returncode == 0, result.stderr[-3000:]
    record = result.record
    assert record["status"] == "ok"
    assert record["config"]["image_size"] == 48 and record["config"]["test_samples"] == 32
    assert record["model"]["image_size"] == 48
    assert record["model"]["forward_macs_per_image"] == tiny_figures(48)["forward_macs_per_image"]


@pytest.mark.slow
def test_synthetic_data_that_cannot_fit_is_refused_before_the_run(run_cli):
    # 50,000 images of 4096x4096 are 2.5 TB as uint8: refused, never drawn.
    result = run_cli(
        *("--backend", "jax", "--model", "tiny", "--dataset", "synthetic"),
        *("--image-size", "4096", "--no-report"),
    )

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("keras-profiler: error: 50000 synthetic"), (
        result.stderr
    )
    assert "--image-size 4096" in lines[0] and "--steps-per-epoch" in lines[0]
    assert result.records == []
