"""The record's sections that describe a run rather than measure it: the
environment, the devices, how training was distributed, and where the
worker's time went.

Example:

```python
environment = describe_environment(keras, adapter)
devices = describe_devices(adapter, config, environment)
distribution = describe_distribution(config, adapter, model, devices)
```
"""

from __future__ import annotations

from keras_profiler import environment
from keras_profiler.config import RunConfig


def describe_environment(keras, adapter) -> dict:
    described = environment.collect()
    described["keras"] = keras.__version__
    described["backend"] = adapter.name
    described["libraries"] = adapter.library_versions()
    return described


def describe_devices(adapter, config: RunConfig, described_environment: dict) -> list[dict]:
    devices = adapter.describe_devices(config)
    for device in devices:
        if device["kind"] == "cpu":
            device["name"] = described_environment["cpu_model"]
    return devices


def describe_distribution(config: RunConfig, adapter, model, devices: list[dict]) -> dict:
    kind = devices[0]["kind"] if devices else None
    return {
        "strategy": config.strategy,
        "devices": config.devices,
        "device_kind": kind,
        # Several devices carved out of one CPU: a test of the code path, not
        # of scaling.
        "virtual_devices": kind == "cpu" and config.devices > 1,
        "global_batch_size": config.global_batch_size,
        # Read back from the optimizer: what training uses, after --lr-scaling.
        # float32 holds about 7 significant digits: 0.1, not 0.10000000149.
        "learning_rate": float(f"{adapter.learning_rate(model):.7g}"),
        "lr_scaling": config.lr_scaling,
        "jit_compile": bool(getattr(model, "jit_compile", False)),
        "bucket_mb": None,  # read from the DDP wrapper after training, where there is one
        # Same seed, same weights at any device count: tests compare this.
        "initial_weights_sha256": weights_sha256(adapter.weight_values(model)),
        "replica_checks": [],
    }


def weights_sha256(values) -> str:
    """A digest of every weight's value (NumPy arrays), in the model's weight order."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    for value in values:
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()


def timeline(fit_start: float, fit_end: float) -> dict:
    """Where the worker's time went, by a clock outside the profiler: from the
    process's start to the ``fit`` call (imports, data, model build), and the
    ``fit`` call itself (all epochs with their test evaluations), in seconds,
    from wall-clock times (``time.time()``, as the process's start is). The
    timing-fidelity benchmark compares the profiler's figures with these."""
    import psutil

    started = psutil.Process().create_time()
    return {"setup_seconds": fit_start - started, "fit_seconds": fit_end - fit_start}
