"""Backend adapters: everything that differs between Keras backends lives here.

One module per backend, each defining a ``Backend`` subclass (see ``base``).
Nothing outside this package branches on a backend's name. Importing this
package, or asking whether a backend is installed, imports no framework.
"""

from __future__ import annotations

import importlib

from keras_profiler.backends.base import SINGLE, Backend

NAMES = ("jax", "tensorflow", "torch", "mxnet")


def get(name: str) -> Backend:
    """The adapter of backend ``name``."""
    if name not in NAMES:
        raise ValueError(f"unknown backend {name!r}: choose one of {', '.join(NAMES)}")
    module = importlib.import_module(f"{__name__}.{name}")
    return module.ADAPTER


def current() -> Backend:
    """The adapter of the backend Keras runs on in this process."""
    import keras

    return get(keras.backend.backend())


def strategies_by_backend() -> dict[str, list[str]]:
    """Every --strategy each backend takes, its data-parallel ones first."""
    return {name: [*get(name).strategies, SINGLE] for name in NAMES}
