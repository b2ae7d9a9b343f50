"""``keras_profiler.profile_predict``: inference figures of a user's own
model in their own code, as ``python -m keras_profiler infer`` measures them.

Each batch runs through Keras's compiled predict step (``predict_on_batch``:
jit-compiled under jax; under torch ``torch.compile`` only where the model
was compiled with ``jit_compile=True``), weights in inference mode
(BatchNormalization's moving statistics, dropout off), and returns its
outputs to the host, so each latency ends when the device is done. The
input is copied to the device inside each measured batch unless
``input_on_device``.

Example:

```python
profile = keras_profiler.profile_predict(model, x, batch_sizes=(1, 8, 32))
print(profile.to_markdown())
profile.single_stream_p90_s, profile.offline_samples_per_second
```
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from keras_profiler.inference.latency import LatencyFigures
from keras_profiler.inference.timing import time_batches


@dataclass(frozen=True)
class InferenceProfile:
    backend: str
    input_on_device: bool
    rows: list[LatencyFigures] = field(default_factory=list)

    @property
    def single_stream_p90_s(self) -> float | None:
        """MLPerf Inference's SingleStream figure: p90 latency at batch 1."""
        return next((r.p90_s for r in self.rows if r.batch_size == 1), None)

    @property
    def offline_samples_per_second(self) -> float | None:
        """MLPerf Inference's Offline figure: the best throughput tried."""
        return max((r.samples_per_second for r in self.rows), default=None)

    def to_markdown(self) -> str:
        head = (
            "| batch | p50 (ms) | p90 (ms) | p95 (ms) | p99 (ms) | mean (ms) | std (ms) "
            "| samples/sec |"
        )
        lines = [head, "|" + " --- |" * 8]
        for r in self.rows:
            ms = [f"{v * 1e3:.3f}" for v in (r.p50_s, r.p90_s, r.p95_s, r.p99_s, r.mean_s, r.std_s)]
            lines.append(
                f"| {r.batch_size} | " + " | ".join(ms) + f" | {r.samples_per_second:.1f} |"
            )
        return "\n".join(lines) + "\n"

    def _repr_markdown_(self) -> str:  # notebooks render it
        return self.to_markdown()


def profile_predict(
    model,
    x,
    batch_sizes=(1, 8, 32),
    iterations: int | None = None,
    duration_s: float | None = None,
    input_on_device: bool = False,
) -> InferenceProfile:
    """Latency percentiles and throughput of ``model`` on rows of ``x`` (an
    array; rows repeated where a batch needs more than it has)."""
    import keras

    from keras_profiler import backends

    serve = backends.get(keras.backend.backend()).serving(model)
    rows = []
    try:
        for batch_size in batch_sizes:
            batch = _rows(np.asarray(x), batch_size)
            if input_on_device:
                batch = keras.ops.convert_to_tensor(batch)
            rows.append(time_batches(lambda b=batch: serve(b), batch_size, iterations, duration_s))
    finally:
        serve.close()
    return InferenceProfile(keras.backend.backend(), input_on_device, rows)


def _rows(x: np.ndarray, count: int) -> np.ndarray:
    return x[:count] if len(x) >= count else np.resize(x, (count, *x.shape[1:]))
