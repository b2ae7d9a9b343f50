"""keras_profiler.training's data steps, called as the worker and the
benchmarks call them: only whole batches trained on, only the rows trained
on generated, and a run that cannot start refused in one line."""

from __future__ import annotations

import numpy as np
import pytest

from keras_profiler import datasets
from keras_profiler.config import RunConfig
from keras_profiler.errors import UsageError
from keras_profiler.training.data import load_data, training_split


def _images(count: int) -> datasets.ImageDataset:
    x = np.arange(count, dtype=np.uint8).reshape(count, 1, 1, 1)
    y = np.arange(count, dtype=np.int32)
    return datasets.ImageDataset("test", x, y, x[:4], y[:4], 10, False, "test")


def test_the_training_split_is_whole_global_batches_capped_by_steps_per_epoch():
    data = _images(100)
    x, y = training_split(RunConfig(backend="jax", model="tiny", batch_size=32), data)
    assert len(x) == len(y) == 96 and list(y[:3]) == [0, 1, 2]
    capped = RunConfig(backend="jax", model="tiny", batch_size=32, steps_per_epoch=2)
    assert len(training_split(capped, data)[0]) == 64


def test_generated_data_holds_only_the_rows_the_run_trains_on():
    config = RunConfig(
        backend="jax", model="tiny", dataset="synthetic", batch_size=16, steps_per_epoch=3,
        test_samples=8, image_size=40,
    )  # fmt: skip
    data = load_data(config)
    assert data.x_train.shape == (48, 40, 40, 3) and data.x_train.dtype == np.uint8
    assert len(data.x_test) == 8


def test_fewer_images_than_one_global_batch_is_a_usage_error():
    config = RunConfig(
        backend="jax", model="tiny", dataset="synthetic", batch_size=32, train_samples=10,
        test_samples=8,
    )  # fmt: skip
    with pytest.raises(UsageError) as refused:
        load_data(config)
    assert str(refused.value) == (
        "10 training images are fewer than one global batch of 32: "
        "lower --batch-size or raise --train-samples"
    )


def test_data_that_cannot_be_had_is_a_usage_error(tmp_path):
    config = RunConfig(
        backend="jax", model="tiny", dataset="cifar10", data_dir=str(tmp_path),
        allow_download=False,
    )  # fmt: skip
    with pytest.raises(UsageError) as refused:
        load_data(config)
    assert "\n" not in str(refused.value) and str(tmp_path) in str(refused.value)
