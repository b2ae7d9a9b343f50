"""Where a Keras fit's time goes, epoch by epoch: a clock at every hook.

``Timeline`` reads the clock at every epoch and training-batch hook, and
``GcTimer`` times each of Python's garbage collections (``gc.callbacks``).
``epoch_figures`` turns them into, per epoch: the epoch clock (epoch begin
to epoch end, what ProfilerCallback's epoch figure times), the batch clock
of keras-benchmarks (batch 1's begin to batch N-2's end), and the spans the
batch clock leaves out, so that each lost second has a place.

Batch-end hooks are read inline: under TensorFlow, Keras calls them on the
training thread (its backend is not marked thread-safe for asynchronous
dispatch), which is the backend this is for.
"""

from __future__ import annotations

import gc
import time

import keras

clock = time.perf_counter


class Timeline(keras.callbacks.Callback):
    """The clock at every epoch and training-batch hook of one fit.

    Put it first in ``callbacks`` so that its clock is read before the other
    callbacks' hooks run (at epoch end: after them, since it is called first
    and they are not timed; the other callbacks' epoch-end work then falls in
    the boundary that follows).
    """

    def __init__(self, on_first_batch=None):
        super().__init__()
        self.epochs: list[dict] = []
        self.train_end = None
        # Called at each epoch's first batch begin, after the clock is read;
        # returns seconds to record as that epoch's "probe" span.
        self.on_first_batch = on_first_batch

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append({"begin": clock(), "batch_begins": [], "batch_ends": []})

    def on_train_batch_begin(self, batch, logs=None):
        current = self.epochs[-1]
        current["batch_begins"].append(clock())
        if batch == 0 and self.on_first_batch is not None:
            current["probe"] = self.on_first_batch()

    def on_train_batch_end(self, batch, logs=None):
        self.epochs[-1]["batch_ends"].append(clock())

    def on_epoch_end(self, epoch, logs=None):
        self.epochs[-1]["end"] = clock()

    def on_train_end(self, logs=None):
        self.train_end = clock()


class GcTimer:
    """Times every garbage collection while installed: (start, seconds, generation)."""

    def __init__(self):
        self.collections: list[tuple[float, float, int]] = []
        self._started = None

    def __enter__(self):
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc):
        gc.callbacks.remove(self._callback)

    def _callback(self, phase, info):
        now = clock()
        if phase == "start":
            self._started = now
        elif self._started is not None:
            self.collections.append((self._started, now - self._started, info["generation"]))
            self._started = None


def epoch_figures(timeline: Timeline, collections, batch_size: int) -> list[dict]:
    """Each epoch's clocks and spans, in seconds.

    ``lead``: epoch begin to batch 0's begin (Keras starting the epoch's data);
    ``first`` and ``last``: batch 0's and batch N-1's own time; ``tail``:
    batch N-1's end to epoch end; ``boundary``: this epoch's end to the next
    one's begin (or to the end of training). ``ratio``: images/sec by the
    epoch clock over images/sec by the batch clock (1 when the epoch holds
    nothing but steps like its middle ones).
    """
    figures = []
    epochs = timeline.epochs
    for index, epoch in enumerate(epochs):
        begins, ends = epoch["batch_begins"], epoch["batch_ends"]
        steps = len(begins)
        following = epochs[index + 1]["begin"] if index + 1 < len(epochs) else timeline.train_end
        epoch_seconds = epoch["end"] - epoch["begin"]
        batch_seconds = ends[steps - 2] - begins[1]
        epoch_rate = steps * batch_size / epoch_seconds
        batch_rate = (steps - 2) * batch_size / batch_seconds
        gc_spans = [c for c in collections if epoch["begin"] <= c[0] < (following or epoch["end"])]
        figures.append(
            {
                "epoch": index + 1,
                "steps": steps,
                "epoch_seconds": epoch_seconds,
                "batch_seconds": batch_seconds,
                "epoch_rate": epoch_rate,
                "batch_rate": batch_rate,
                "ratio": epoch_rate / batch_rate,
                "lost_seconds": epoch_seconds - steps * batch_seconds / (steps - 2),
                "lead": begins[0] - epoch["begin"],
                "first": ends[0] - begins[0],
                "last": ends[-1] - begins[-1],
                "tail": epoch["end"] - ends[-1],
                "boundary": (following - epoch["end"]) if following else None,
                "longest_middle_step": max(ends[i] - begins[i] for i in range(1, steps - 1)),
                "gc_seconds": sum(c[1] for c in gc_spans),
                "gc_full": sum(1 for c in gc_spans if c[2] == 2),
                "probe": epoch.get("probe"),
            }
        )
    return figures
