"""ProfilerCallback: a Keras callback that measures training as it runs.

Add it to any ``model.fit(..., callbacks=[ProfilerCallback(...)])``. It hooks
epochs only: Keras turns asynchronous dispatch off for callbacks that
override batch hooks, so a per-batch hook would slow what it measures. At each
epoch end it waits for the device to finish, stops the clock, reads peak
memory, and then (outside the timed span) evaluates the test split.
"""

from __future__ import annotations

import resource
import sys
import time

import keras

from keras_profiler import backends, gpus
from keras_profiler.records import EpochMetrics, MemoryFigures, RunSummary


class ProfilerCallback(keras.callbacks.Callback):
    """Records epoch time, images/sec, accuracy, test accuracy and peak memory.

    Args:
        samples_per_epoch: training images per epoch. When omitted it is taken
            from Keras (``params['samples']`` in Keras 2) or from
            ``params['steps'] * batch_size``; when neither is known, images/sec
            is left absent rather than guessed.
        batch_size: the global batch size given to ``fit``.
        validation_data: ``(x, y)`` evaluated after each epoch, its time kept
            apart from the epoch's.
        validation_batch_size: batch size for that evaluation (default: batch_size).

    After ``fit``, ``epochs`` holds one ``EpochMetrics`` per epoch and
    ``summary()`` the whole-run figures.
    """

    def __init__(
        self,
        samples_per_epoch=None,
        batch_size=None,
        validation_data=None,
        validation_batch_size=None,
    ):
        super().__init__()
        self.samples_per_epoch = samples_per_epoch
        self.batch_size = batch_size
        # Not self.validation_data: Keras 2's fit overwrites that attribute.
        self.test_data = validation_data
        self.validation_batch_size = validation_batch_size or batch_size
        self.epochs: list[EpochMetrics] = []
        self._adapter = None
        self._epoch_start = None

    def on_train_begin(self, logs=None):
        self._adapter = backends.current()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self._adapter.synchronize(self.model)
        seconds = time.perf_counter() - self._epoch_start
        logs = logs or {}
        metrics = EpochMetrics(
            epoch=epoch + 1,
            seconds=seconds,
            images=self._images_per_epoch(),
            loss=_number(logs.get("loss")),
            accuracy=_number(_first(logs, "accuracy", "acc")),
            memory=self.read_memory(),
        )
        if self.test_data is not None:
            self._evaluate(metrics)
        self.epochs.append(metrics)

    def summary(self) -> RunSummary | None:
        """Whole-run figures, or None before the first epoch has ended."""
        return RunSummary.from_epochs(self.epochs)

    def read_memory(self) -> MemoryFigures:
        """Peak memory so far, from every source this machine has."""
        device_peaks = self._adapter.peak_device_memory()
        return MemoryFigures(
            device_peak_mib=[_mib(b) for b in device_peaks] if device_peaks else None,
            device_peak_source=self._adapter.peak_device_memory_label if device_peaks else None,
            nvml_process_mib=gpus.process_memory_mib(),
            host_peak_rss_mib=peak_rss_mib(),
        )

    def _evaluate(self, metrics: EpochMetrics) -> None:
        x, y = self.test_data
        start = time.perf_counter()
        results = _evaluate_as_dict(self.model, x, y, self.validation_batch_size)
        metrics.test_seconds = time.perf_counter() - start
        metrics.test_loss = _number(results.get("loss"))
        metrics.test_accuracy = _number(_first(results, "accuracy", "acc"))

    def _images_per_epoch(self):
        if self.samples_per_epoch is not None:
            return int(self.samples_per_epoch)
        params = self.params or {}
        if params.get("samples"):
            return int(params["samples"])
        if params.get("steps") and self.batch_size:
            return int(params["steps"]) * int(self.batch_size)
        return None


def peak_rss_mib() -> float:
    """This process's peak resident set size so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def _evaluate_as_dict(model, x, y, batch_size) -> dict:
    try:
        return model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
    except TypeError:  # Keras 2.2 has no return_dict
        values = model.evaluate(x, y, batch_size=batch_size, verbose=0)
        values = values if isinstance(values, list) else [values]
        return dict(zip(model.metrics_names, values))


def _first(logs: dict, *keys):
    """The first of ``keys`` present: Keras 3 logs 'accuracy', Keras 2 'acc'."""
    return next((logs[k] for k in keys if k in logs), None)


def _number(value):
    return None if value is None else float(value)


def _mib(value: int) -> float:
    return round(value / 2**20, 1)
