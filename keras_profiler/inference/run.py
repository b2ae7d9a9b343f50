"""An inference run inside the worker (``RunConfig.mode == "infer"``): the
model built as for training, then one batch size's latencies through
Keras's compiled predict step (keras_profiler.inference.helper)."""

from __future__ import annotations

from keras_profiler import input_pipeline
from keras_profiler.inference.helper import _rows
from keras_profiler.inference.timing import time_batches


def measure(keras, config, adapter, model, data) -> dict:
    """The figures of ``config.batch_size``, as a record's ``inference``."""
    batch = input_pipeline.as_input(_rows(data.x_test, config.batch_size), config.data_format)
    if config.input_on_device:
        batch = keras.ops.convert_to_tensor(batch)
    figures = time_batches(
        lambda: model.predict_on_batch(batch),
        config.batch_size,
        iterations=config.infer_iterations,
        duration_s=config.infer_seconds,
    )
    peaks = adapter.peak_device_memory()
    return {
        **figures.to_dict(),
        "step": "Keras predict_on_batch (compiled predict step; outputs returned to the host)",
        "compiled": bool(getattr(model, "jit_compile", False)),
        "host_to_device_copy": "not timed" if config.input_on_device else "timed, each batch",
        "device_peak_bytes": peaks,
    }
