"""Timing a compiled forward function batch by batch, the device waited for
at every batch (for latency that is the measurement).

Warm-up: at least ``WARMUP_MIN`` batches, then until the mean latency of
the last ``WINDOW`` batches is within ``SETTLED`` of the mean of the
``WINDOW`` before them (compilation and caches done; a mean, so that a
window still holding a slow batch is not taken for a settled one), at most
``WARMUP_MAX``. Then ``iterations`` batches, or as many as ``duration_s``
holds (at least ``WINDOW``).

Where several processes serve one batch (``lockstep``, see
keras_profiler.inference.lockstep), each batch starts in all of them at
once, every decision is taken by all, and a batch's latency is the slowest
process's.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable

from keras_profiler.inference.latency import LatencyFigures
from keras_profiler.inference.lockstep import SOLO

WARMUP_MIN = 10
WARMUP_MAX = 200
WINDOW = 5
SETTLED = 0.05


def time_batches(
    run_batch: Callable[[], None],
    batch_size: int,
    iterations: int | None = None,
    duration_s: float | None = None,
    around_measured: contextlib.AbstractContextManager | None = None,
    lockstep=SOLO,
) -> LatencyFigures:
    """``run_batch()`` must return once the device is done with the batch;
    ``around_measured`` is entered for the measured batches alone (the
    GPUs' telemetry span: warm-up and compilation are not served work)."""
    began, warm = time.perf_counter(), []
    while len(warm) < WARMUP_MAX and not lockstep.agree(_settled(warm)):
        warm.append(_timed(run_batch, lockstep))
    warmup_s = time.perf_counter() - began
    with around_measured or contextlib.nullcontext():
        latencies = _measure(run_batch, iterations, duration_s, lockstep)
    latencies = lockstep.slowest(latencies)
    return LatencyFigures.from_latencies(batch_size, latencies, warmup_s, len(warm))


def _measure(run_batch, iterations: int | None, duration_s: float | None, lockstep) -> list[float]:
    latencies = []
    deadline = None if duration_s is None else time.perf_counter() + duration_s
    while True:
        latencies.append(_timed(run_batch, lockstep))
        if iterations is not None and len(latencies) >= iterations:
            break
        past = deadline is not None and time.perf_counter() > deadline
        if deadline is not None and len(latencies) >= WINDOW and lockstep.agree(past):
            break
        if iterations is None and deadline is None and len(latencies) >= 100:
            break
    return latencies


def _timed(run_batch, lockstep) -> float:
    lockstep.start_batch()  # outside the span: waiting for the others is not serving
    start = time.perf_counter()
    run_batch()
    return time.perf_counter() - start


def _settled(latencies: list[float]) -> bool:
    if len(latencies) < max(WARMUP_MIN, 2 * WINDOW):
        return False
    last = statistics.fmean(latencies[-WINDOW:])
    before = statistics.fmean(latencies[-2 * WINDOW : -WINDOW])
    return abs(last - before) <= SETTLED * before
