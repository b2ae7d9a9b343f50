"""Dataset and backend facts are stated by their modules, and the rest asks them."""

from __future__ import annotations

import pytest

from keras_profiler import backends, datasets
from keras_profiler.config import RunConfig, data_kind


@pytest.mark.parametrize("name", datasets.available())
def test_every_dataset_states_its_facts(name):
    module = datasets.get(name)
    assert name == module.NAME
    assert isinstance(module.DESCRIPTION, str) and module.DESCRIPTION
    assert isinstance(module.SYNTHETIC, bool) and isinstance(module.GENERATED, bool)
    assert min(module.TRAIN_SIZE, module.TEST_SIZE, module.NUM_CLASSES) >= 1
    default = module.IMAGE_SHAPE or (module.DEFAULT_SEQUENCE_LENGTH,)
    assert datasets.sample_shape(name, None) == default
    assert module.default_test_samples(None) is None


def test_generated_data_is_drawn_at_the_size_asked_files_keep_theirs():
    assert datasets.get("synthetic").image_shape(64) == (64, 64, 3)
    assert datasets.get("cifar10").image_shape(64) == (32, 32, 3)
    assert datasets.get("synthetic").default_test_samples(64) == 1_000
    assert datasets.get("cifar10").default_test_samples(64) is None


def test_the_registry_answers_for_the_data_kinds():
    assert datasets.for_data_kind(synthetic=True) == "synthetic"
    assert datasets.for_data_kind(synthetic=False) == datasets.DEFAULT == "cifar10"
    assert datasets.is_synthetic("synthetic") and not datasets.is_synthetic("cifar10")
    assert not datasets.is_synthetic("imagenet")  # a record's name no longer registered
    assert data_kind("imagenet", distortions=True) == "real, distorted"


def test_run_config_asks_the_dataset(monkeypatch):
    monkeypatch.setattr(datasets.get("cifar10"), "default_test_samples", lambda size: 77)
    assert RunConfig(backend="jax", model="tiny").test_samples == 77
    monkeypatch.setattr(datasets.get("cifar10"), "SYNTHETIC", True)
    with pytest.raises(ValueError, match="--distortions distorts real images"):
        RunConfig(backend="jax", model="tiny", distortions=True)


@pytest.mark.parametrize("name", backends.NAMES)
def test_bucketed_strategies_are_the_backends_own(name):
    adapter = backends.get(name)
    assert set(adapter.bucket_mb_defaults) <= set(adapter.strategies)
    assert all(mb > 0 for mb in adapter.bucket_mb_defaults.values())


def test_run_config_takes_the_bucket_size_from_the_backend(monkeypatch):
    torch = backends.get("torch")
    assert torch.bucket_mb_defaults == {"ddp": 25.0}  # PyTorch's own default
    monkeypatch.setattr(torch, "bucket_mb_defaults", {"ddp": 8.0})
    assert RunConfig(backend="torch", model="tiny", devices=2).bucket_mb == 8.0
    assert RunConfig(backend="jax", model="tiny", devices=2).bucket_mb is None
