"""RunConfig validates itself and names the flag to change."""

from __future__ import annotations

import dataclasses

import pytest

from keras_profiler.config import RunConfig


def test_defaults_follow_the_reference_tables():
    config = RunConfig(backend="jax", model="resnet50")
    assert (config.batch_size, config.seed, config.devices) == (32, 1337, 1)
    assert config.global_batch_size == 32
    assert RunConfig(backend="jax", model="resnet50", devices=4).global_batch_size == 128


def test_round_trip_through_a_dict():
    config = RunConfig(backend="torch", model="tiny", steps_per_epoch=3, precision="mixed_bfloat16")
    assert RunConfig.from_dict(config.to_dict()) == config


def test_unknown_fields_are_rejected():
    with pytest.raises(ValueError, match="unknown RunConfig fields: colour"):
        RunConfig.from_dict({"backend": "jax", "model": "tiny", "colour": "red"})


def test_frozen():
    config = RunConfig(backend="jax", model="tiny")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 3


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"devices": 0}, "--gpus must be at least 1, got 0"),
        ({"steps_per_epoch": 0}, "--steps-per-epoch must be at least 1"),
        ({"batch_size": 2.5}, "--batch-size must be a whole number"),
        ({"image_size": 16}, "--image-size must be at least 32"),
        ({"seed": -1}, "--seed must be at least 0"),
        ({"optimizer": "lbfgs"}, "--optimizer takes sgd, adam"),
    ],
)
def test_invalid_values_name_the_flag(changes, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(backend="jax", model="tiny", **changes)


def test_slug_is_a_safe_folder_name():
    config = RunConfig(backend="jax", model="tiny")
    assert config.slug() == "tiny-jax-single-1dev-b32-float32-cifar10-s1337"
    several = RunConfig(backend="jax", model="tiny", steps_per_execution=5)
    assert several.slug() == "tiny-jax-single-1dev-b32-float32-cifar10-spe5-s1337"
