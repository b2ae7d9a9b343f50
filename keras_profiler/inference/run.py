"""An inference run inside the worker (``RunConfig.mode == "infer"``): the
model built as for training, then one batch size's latencies through
Keras's compiled predict step (keras_profiler.inference.helper)."""

from __future__ import annotations

import numpy as np

from keras_profiler import input_pipeline, telemetry
from keras_profiler.inference.helper import _rows
from keras_profiler.inference.timing import time_batches


def measure(keras, config, adapter, model, data) -> dict:
    """The figures of ``config.batch_size`` a device, as a record's
    ``inference``: each measured batch holds that many rows per device."""
    every_row = _rows(data.x_test, config.global_batch_size)
    rows = adapter.inference_share(input_pipeline.as_input(every_row, config.data_format))
    serve, lockstep = adapter.serving(model), adapter.lockstep()
    placed = adapter.inference_input(
        keras.ops.convert_to_tensor(rows) if config.input_on_device else rows
    )
    if config.input_on_device:
        run_batch = lambda: serve(placed)  # noqa: E731
    else:
        run_batch = lambda: serve(adapter.inference_input(rows))  # noqa: E731
    try:
        with telemetry.run_sampler(config.devices, adapter.rank) as sampler:
            watch = telemetry.SpanWatch(sampler)
            first = run_batch()
            figures = time_batches(
                run_batch,
                config.global_batch_size,
                iterations=config.infer_iterations,
                duration_s=config.infer_seconds,
                around_measured=watch,
                lockstep=lockstep,
            )
            last = run_batch()
    finally:
        serve.close()
    expected = np.asarray(model.predict(rows, batch_size=len(rows), verbose=0))
    # Each process checks the rows it served; the record holds the worst.
    difference = max(adapter.gather(max(_difference(out, expected) for out in (first, last))))
    return {
        **figures.to_dict(),
        "step": serve.step,
        "latency_of": lockstep.latency_of,
        "compiled": bool(getattr(model, "jit_compile", False)),
        "host_to_device_copy": "not timed" if config.input_on_device else "timed, each batch",
        "max_abs_difference_from_predict": difference,
        "rows_per_device": adapter.rows_per_device(placed, model),
        "device_peak_bytes": _every_peak(adapter),
        **energy_figures(watch.telemetry, figures.batches * config.global_batch_size),
    }


def energy_figures(watched, samples: int) -> dict:
    """The GPUs' telemetry over the measured batches, and their energy per
    sample served (None on a CPU, or where NVML gave no energy)."""
    energy = watched.energy_j if watched is not None else None
    return {
        "telemetry": watched.to_dict() if watched is not None else None,
        "energy_per_sample_j": energy / samples if energy else None,
        "samples_per_joule": samples / energy if energy else None,
    }


def _every_peak(adapter) -> list[int] | None:
    """Every device's peak memory, from each process that drives some."""
    peaks = [peak for part in adapter.gather(adapter.peak_device_memory()) for peak in part or []]
    return peaks or None


def _difference(outputs, expected: np.ndarray) -> float:
    """The largest difference between the measured path's outputs and
    Keras's own ``predict`` of the same rows (``expected``): the timed step
    must compute the model, over every device's share, and nothing cheaper."""
    outputs = np.asarray(outputs)
    if outputs.shape != expected.shape:
        raise RuntimeError(
            f"the inference path returned outputs of shape {outputs.shape} for "
            f"{len(expected)} rows; Keras's predict returns {expected.shape}"
        )
    return float(np.max(np.abs(outputs.astype("float64") - expected.astype("float64"))))
