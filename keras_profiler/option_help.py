"""Help texts of the run options that list what the registries hold (models,
datasets, each backend's strategies and defaults), so that adding a backend,
model or dataset updates --help and docs/options.md by itself."""

from __future__ import annotations

from keras_profiler import backends
from keras_profiler import datasets as dataset_registry
from keras_profiler import models as model_registry


def model() -> str:
    """--model: the registered models, or a file of the user's."""
    return (
        f"{', '.join(model_registry.available())}, or path/to/file.py:function, a builder "
        "function(input_shape, num_classes) returning a Keras model"
    )


def dataset() -> str:
    """--dataset: each dataset and what it is."""
    described = "; ".join(
        f"{name}: {dataset_registry.get(name).DESCRIPTION}" for name in dataset_registry.available()
    )
    tokens = dataset_registry.default_for("tokens")
    return (
        f"{described}. Default: {dataset_registry.DEFAULT}, or {tokens} for a model of token "
        "sequences"
    )


def data_dir() -> str:
    """--data-dir: which datasets are read from it."""
    read = [n for n in dataset_registry.available() if not dataset_registry.get(n).GENERATED]
    return f"where the datasets read from files ({', '.join(read)}) are looked up and downloaded"


def strategy() -> str:
    """--strategy: every backend's strategies, and the default."""
    each = "; ".join(f"{b}: {', '.join(n)}" for b, n in backends.strategies_by_backend().items())
    return (
        f"how devices share the work: {each}. Default: single (a plain fit, no distribution) "
        "on one device, the backend's data-parallel one (the first listed) on several; named, "
        "a data-parallel strategy runs on one device too"
    )


def bucketed() -> dict[str, float]:
    """'backend strategy' -> its default bucket size, over every backend."""
    return {
        f"{name} {strategy}": mb
        for name in backends.NAMES
        for strategy, mb in backends.get(name).bucket_mb_defaults.items()
    }


def bucket_mb() -> str:
    """--bucket-mb: which strategies it applies to, and their defaults."""
    defaults = ", ".join(f"{which} {mb:g}" for which, mb in bucketed().items())
    return (
        "the all-reduce's gradient bucket size, for the strategies that bucket gradients; "
        f"default: their own ({defaults})"
    )


def _by_backend(attribute: str) -> dict:
    """Backend names grouped by the value of one of their adapters' attributes."""
    groups: dict = {}
    for name in backends.NAMES:
        groups.setdefault(getattr(backends.get(name), attribute), []).append(name)
    return groups


def jit_compile() -> str:
    """--jit-compile: each backend's default."""
    groups = _by_backend("default_jit_compile")
    each = "; ".join(
        f"{'on' if value else 'off'} for {', '.join(names)}" for value, names in groups.items()
    )
    return (
        f"compile the train step (XLA; torch.compile under torch); default: the backend's: {each}"
    )


def data_format() -> str:
    """--data-format: each backend's default."""
    each = "; ".join(
        f"{value} for {', '.join(n)}" for value, n in _by_backend("default_data_format").items()
    )
    return f"the layout every layer computes in; default: the backend's: {each}"
