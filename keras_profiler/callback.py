"""ProfilerCallback: a Keras callback that measures training as it runs.

Add it to any ``model.fit(..., callbacks=[ProfilerCallback(...)])``. At each
epoch end it waits for the device to finish, stops the clock, reads peak
memory, and then (outside the timed span) evaluates the test split.

Within an epoch it also times intervals of k steps, waiting for the device
only at each interval's start (every k steps, never every step), for the
steady-state speed and its confidence interval (see ``intervals``).

Keras 3 runs each step's batch-end hooks on a worker thread (asynchronous
dispatch), and does so only while every callback overriding one declares
``async_safe``. This one does: its batch-end hook only counts the steps whose
end-of-step work (Keras turning the step's logs into Python numbers) is done,
and an interval ends only once every step in it is counted. Without that,
under jax on a CPU the intervals early in every epoch read too fast: that
work falls behind early in an epoch and is paid for later.
"""

from __future__ import annotations

import resource
import sys
import threading
import time
import warnings

import keras

from keras_profiler import backends, gpus, intervals
from keras_profiler.records import EpochMetrics, MemoryFigures, RunSummary

# The profiler's clock: monotonic, the finest the platform has.
_clock = time.perf_counter
# The longest an interval's end waits for Keras's end-of-step work once the
# device is done (milliseconds of Python per step): a safety net only.
_BATCH_END_TIMEOUT_SECONDS = 60.0


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
        sync_every: k, the steps per timed interval (at least 2).
        until_stable_percent: when given, training stops as soon as the 95%
            confidence interval of the steady speed is narrower than this
            percentage of it on either side (a speed-only run).
        telemetry: a started ``telemetry.TelemetrySampler``, or None; each
            epoch then carries the GPUs' utilisation, clocks, power and energy.

    After ``fit``, ``epochs`` holds one ``EpochMetrics`` per epoch and
    ``summary()`` the whole-run figures; ``stopped_when_stable`` says whether
    --until-stable ended the run.
    """

    # Keras keeps dispatching batch-end hooks on its worker thread for a
    # callback that says its own is safe there (a counter under a lock).
    async_safe = True

    def __init__(
        self,
        samples_per_epoch=None,
        batch_size=None,
        validation_data=None,
        validation_batch_size=None,
        sync_every=10,
        until_stable_percent=None,
        telemetry=None,
    ):
        super().__init__()
        if sync_every < 2:
            raise ValueError(
                f"sync_every must be at least 2 (a sync per step stalls), got {sync_every}"
            )
        self.samples_per_epoch = samples_per_epoch
        self.batch_size = batch_size
        # Not self.validation_data: Keras 2's fit overwrites that attribute.
        self.test_data = validation_data
        self.validation_batch_size = validation_batch_size or batch_size
        self.sync_every = sync_every
        self.until_stable_percent = until_stable_percent
        self.telemetry = telemetry
        self.epochs: list[EpochMetrics] = []
        self.stopped_when_stable = False
        self._adapter = None
        self._epoch_start = None
        self._fit_start = None  # set by fit_starting(), taken by the first epoch
        self._fit_span = None  # the telemetry span begun with it
        self._span = None
        self._interval = None  # (step, clock) where the current interval began
        self._last_step = None
        self._seconds: list[float] = []
        self._steps: list[int] = []
        self._batch_ends = threading.Condition()
        self._begun = self._ended = 0  # batch hooks called this epoch
        self._await_batch_ends = True  # until a batch end fails to come

    def fit_starting(self) -> None:
        """Call just before ``fit``: the first epoch's clock then starts there.

        ``fit`` converts the data and builds its iterator before any callback
        hook runs, and a user waits through it; counted in epoch 1, which
        holds the compilation too and is left out of the steady state, the
        whole-run figure matches a clock around ``fit``
        (bench/results/timing-fidelity.md).
        """
        # The first epoch's telemetry covers the same span as its clock.
        if self.telemetry is not None:
            if self._fit_span is not None:  # called again before any fit: drop that one
                self.telemetry.end_span(self._fit_span)
            self._fit_span = self.telemetry.begin_span()
        self._fit_start = _clock()

    def on_train_begin(self, logs=None):
        self._adapter = backends.current()
        self.epochs = []
        self.stopped_when_stable = False

    def on_epoch_begin(self, epoch, logs=None):
        self._interval, self._last_step = None, None
        with self._batch_ends:  # Keras has waited for the last epoch's ends
            self._begun = self._ended = 0
        self._seconds, self._steps = [], []
        if self.telemetry is not None:
            self._span = (
                self._fit_span if self._fit_span is not None else self.telemetry.begin_span()
            )
        self._epoch_start = _clock() if self._fit_start is None else self._fit_start
        self._fit_start = self._fit_span = None

    def on_batch_begin(self, batch, logs=None):
        # Keras 3 calls this from on_train_batch_begin; Keras 2 calls it directly.
        self._last_step = batch
        if self._interval is None or batch - self._interval[0] >= self.sync_every:
            self._adapter.synchronize(self.model)
            self._wait_for_batch_ends()
            if self._interval is not None:
                self._close_interval(batch, _clock())
            # Read after the bookkeeping (with --until-stable, statistics and
            # a collective between processes): an interval times training only.
            self._interval = (batch, _clock())
        self._begun += 1

    def on_batch_end(self, batch, logs=None):
        # On Keras 3's worker thread, or inline (Keras 2, or when another
        # callback turned asynchronous dispatch off). Keras 3 reaches this
        # through on_train_batch_end; Keras 2 calls it directly.
        with self._batch_ends:
            self._ended += 1
            self._batch_ends.notify_all()

    def _wait_for_batch_ends(self) -> None:
        """Waits until the end-of-step work of every step begun is done, so
        that an interval pays for its own steps' work. Every Keras fit calls
        a batch-end hook per batch-begin one; should one never come (hooks
        driven by hand), it warns once and stops waiting for them."""
        with self._batch_ends:
            if not self._await_batch_ends:
                return
            if not self._batch_ends.wait_for(
                lambda: self._ended >= self._begun, _BATCH_END_TIMEOUT_SECONDS
            ):
                self._await_batch_ends = False
                warnings.warn(
                    f"ProfilerCallback: no batch-end hook for {self._begun - self._ended} "
                    f"batches after {_BATCH_END_TIMEOUT_SECONDS:g} s; intervals no longer "
                    "wait for them (call on_batch_end after each on_batch_begin)",
                    stacklevel=2,
                )

    def on_epoch_end(self, epoch, logs=None):
        self._adapter.synchronize(self.model)
        end = _clock()
        seconds = end - self._epoch_start
        steps = self._steps_this_epoch()
        if self._interval is not None and steps is not None and steps > self._interval[0]:
            self._close_interval(steps, end, check_stable=False)
        logs = logs or {}
        metrics = EpochMetrics(
            epoch=epoch + 1,
            seconds=seconds,
            images=self._images_per_epoch(steps),
            loss=_number(logs.get("loss")),
            accuracy=_number(_first(logs, "accuracy", "acc")),
            memory=self.read_memory(),
            steps=steps,
            interval_seconds=self._seconds,
            interval_steps=self._steps,
            telemetry=self._read_telemetry(),
        )
        if self.test_data is not None:
            self._evaluate(metrics)
        self.epochs.append(metrics)

    def _close_interval(self, step: int, now: float, check_stable: bool = True) -> None:
        begun_step, begun = self._interval
        self._seconds.append(now - begun)
        self._steps.append(step - begun_step)
        if check_stable and self.until_stable_percent is not None:
            stable = intervals.is_stable(self.interval_speed(), self.until_stable_percent)
            # Every process must stop at the same step, or the others would
            # wait for it in a collective: they agree first.
            if self._adapter.all_agree(stable):
                self.stopped_when_stable = True
                self.model.stop_training = True

    def interval_speed(self) -> intervals.IntervalSpeed | None:
        """Steady speed over the intervals timed so far, during training (the
        running epoch's included); ``summary()`` has it once training ended."""
        finished = [(e.interval_seconds or [], e.interval_steps or []) for e in self.epochs]
        running = (self._seconds, self._steps)
        return intervals.steady_speed(finished, self.sync_every, self.batch_size or 0, running)

    def _steps_this_epoch(self) -> int | None:
        """Steps trained this epoch: the last step begun plus the steps one
        call of the train function runs (Keras's steps_per_execution), but
        no more than the epoch has (``params['steps']``): an epoch's last
        call may run fewer, and Keras's batch-end hook does not say so."""
        if self._last_step is None:
            return None
        steps = self._last_step + int(getattr(self.model, "steps_per_execution", 1) or 1)
        planned = (self.params or {}).get("steps")
        return min(steps, int(planned)) if planned else steps

    def _read_telemetry(self):
        if self.telemetry is None or self._span is None:
            return None
        return self.telemetry.end_span(self._span).to_dict()

    def summary(self) -> RunSummary | None:
        """Whole-run figures, or None before the first epoch has ended."""
        return RunSummary.from_epochs(
            self.epochs, self.sync_every, self.batch_size, self.stopped_when_stable
        )

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
        start = _clock()
        results = _evaluate_as_dict(self.model, x, y, self.validation_batch_size)
        metrics.test_seconds = _clock() - start
        metrics.test_loss = _number(results.get("loss"))
        metrics.test_accuracy = _number(_first(results, "accuracy", "acc"))

    def _images_per_epoch(self, steps: int | None):
        if self.stopped_when_stable and steps and self.batch_size:
            return steps * int(self.batch_size)  # an epoch cut short
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
