"""ProfilerCallback in a user's own model.fit, in this process."""

from __future__ import annotations

import os

import fakedata
import keras
import pytest

from keras_profiler import ProfilerCallback
from keras_profiler.models import tiny


@pytest.mark.slow
def test_profiles_a_users_own_fit():
    x, y = fakedata.quadrant_dataset(640, seed=1)
    x = x.astype("float32") / 255
    keras.utils.set_random_seed(0)
    model = tiny.build((32, 32, 3), 10)
    model.compile(
        keras.optimizers.SGD(0.05, momentum=0.9),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    callback = ProfilerCallback(batch_size=32, validation_data=(x[:128], y[:128]))

    model.fit(x, y, batch_size=32, epochs=4, verbose=0, callbacks=[callback])

    assert [e.epoch for e in callback.epochs] == [1, 2, 3, 4]
    assert all(e.images == 640 for e in callback.epochs)  # 20 steps x 32, from Keras's params
    assert all(e.seconds > 0 and e.test_seconds > 0 for e in callback.epochs)
    assert callback.epochs[-1].test_accuracy > 0.9
    summary = callback.summary()
    assert summary.steady_images_per_second == 3 * 640 / sum(e.seconds for e in callback.epochs[1:])
    assert summary.peak_memory.host_peak_rss_mib > 50


def test_without_a_batch_size_images_per_second_is_absent_not_guessed():
    x, y = fakedata.quadrant_dataset(64, seed=1)
    model = tiny.build((32, 32, 3), 10)
    model.compile("sgd", "sparse_categorical_crossentropy")
    callback = ProfilerCallback()
    model.fit(x.astype("float32"), y, batch_size=16, epochs=2, verbose=0, callbacks=[callback])
    assert callback.epochs[0].images is None
    assert callback.summary().steady_images_per_second is None


def test_keeps_kerass_asynchronous_dispatch():
    # Keras dispatches batch-end hooks on a thread only while every callback
    # overriding one declares async_safe (keras/src/callbacks/callback_list.py):
    # the profiler's batch-end hook does, and asynchronous dispatch stays on.
    assert ProfilerCallback.on_batch_end is not keras.callbacks.Callback.on_batch_end
    alone = keras.callbacks.CallbackList([keras.callbacks.Callback()])
    profiled = keras.callbacks.CallbackList([ProfilerCallback(batch_size=32)])
    assert profiled._async_train == alone._async_train

    class BatchEnds(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            pass

    # The comparison can tell: where the backend dispatches asynchronously
    # at all (tensorflow never does), a batch-end hook turns it off.
    if keras.backend.backend() in ("jax", "torch"):
        assert profiled._async_train is True
        assert keras.callbacks.CallbackList([BatchEnds()])._async_train is False


def test_an_interval_ends_after_its_steps_end_of_step_work(monkeypatch):
    # Keras's end-of-step work runs on worker threads and may fall behind the
    # steps (here a callback before the profiler's makes each take 20 ms,
    # against ~1 ms a step):
    # an interval must not close before the work of every step in it is done,
    # or it reads too fast and a later one pays for it.
    import time

    class SlowEnds(keras.callbacks.Callback):
        async_safe = True

        def on_train_batch_end(self, batch, logs=None):
            time.sleep(0.02)

    callback = ProfilerCallback(batch_size=16, sync_every=10)
    seen = []
    close = callback._close_interval

    def recording_close(step, now, check_stable=True):
        seen.append((callback._ended, callback._begun, step))
        close(step, now, check_stable)

    monkeypatch.setattr(callback, "_close_interval", recording_close)
    x, y = fakedata.quadrant_dataset(45 * 16, seed=1)
    model = tiny.build((32, 32, 3), 10)
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(
        x.astype("float32"), y, batch_size=16, epochs=2, verbose=0, callbacks=[SlowEnds(), callback]
    )

    mid_epoch = [(ended, begun) for ended, begun, step in seen if step < 45]
    assert len(mid_epoch) == 2 * 4  # steps 10, 20, 30, 40 of each epoch
    assert all(ended == begun for ended, begun in mid_epoch)
    # So every interval lasts at least its 10 steps' 20 ms of end-of-step
    # work, spread over Keras's worker threads (ThreadPoolExecutor's default).
    workers = min(32, (os.cpu_count() or 1) + 4)
    steady = [s for e in callback.epochs for s in e.interval_seconds[:-1]]
    assert min(steady) >= 10 * 0.02 / workers


def test_batch_ends_that_never_come_are_waited_for_once(monkeypatch):
    # Hooks driven by hand without batch ends: the first interval waits out
    # the safety timeout and warns, the next ones no longer wait.
    import time

    from keras_profiler import backends
    from keras_profiler import callback as callback_module

    class Model:
        stop_training = False
        variables = []

    monkeypatch.setattr(callback_module, "_BATCH_END_TIMEOUT_SECONDS", 0.5)
    callback = ProfilerCallback(batch_size=8, sync_every=2)
    callback.set_model(Model())
    callback._adapter = backends.current()
    callback.on_epoch_begin(0)
    start = time.perf_counter()
    with pytest.warns(UserWarning, match="no batch-end hook for 2 batches after 0.5 s"):
        for step in range(7):
            callback.on_batch_begin(step)
    assert 0.5 <= time.perf_counter() - start < 1.5
    assert callback._steps == [2, 2, 2]


def test_epoch_time_includes_the_wait_for_the_device(monkeypatch):
    # The clock must stop only after synchronize() returns: a slow device
    # (here a synchronize that takes 0.3 s) shows in every epoch's time.
    import time

    from keras_profiler import backends

    adapter = backends.current()
    calls = []

    def slow_sync(model):
        calls.append(model)
        time.sleep(0.3)

    monkeypatch.setattr(adapter, "synchronize", slow_sync)
    x, y = fakedata.quadrant_dataset(64, seed=1)
    model = tiny.build((32, 32, 3), 10)
    model.compile("sgd", "sparse_categorical_crossentropy")
    callback = ProfilerCallback(batch_size=32)
    model.fit(x.astype("float32"), y, batch_size=32, epochs=2, verbose=0, callbacks=[callback])

    # Per epoch: at its first step (an interval begins) and at its end.
    assert calls == [model] * 4
    assert all(e.seconds >= 0.6 for e in callback.epochs)


def fit_counting_waits(monkeypatch, steps: int, steps_per_execution: int = 1):
    """Two epochs of ``steps`` steps of 16 images, k = 10; the callback and
    the device waits it made."""
    from keras_profiler import backends

    adapter = backends.current()
    waits = []
    synchronize = adapter.synchronize
    monkeypatch.setattr(adapter, "synchronize", lambda model: waits.append(synchronize(model)))
    x, y = fakedata.quadrant_dataset(steps * 16, seed=1)
    model = tiny.build((32, 32, 3), 10)
    model.compile("sgd", "sparse_categorical_crossentropy", steps_per_execution=steps_per_execution)
    callback = ProfilerCallback(batch_size=16, sync_every=10)
    model.fit(x.astype("float32"), y, batch_size=16, epochs=2, verbose=0, callbacks=[callback])
    return callback, waits


def test_times_k_step_intervals_that_add_up_to_the_epoch(monkeypatch):
    callback, waits = fit_counting_waits(monkeypatch, steps=45)

    # The device is waited for every 10 steps, never every step: at steps
    # 0, 10, 20, 30 and 40 of each epoch, and at its end.
    assert len(waits) == 2 * 6
    for epoch in callback.epochs:
        assert epoch.steps == 45
        assert epoch.interval_steps == [10, 10, 10, 10, 5]
        # From the first step's start to the epoch's end: all but Keras's
        # set-up before the first step.
        assert 0.8 * epoch.seconds < sum(epoch.interval_seconds) <= epoch.seconds
    # Steady: epoch 1's first interval (compilation) and each epoch's last
    # (the epoch's end) left out: 3 + 4 intervals of 10 steps.
    speed = callback.summary().interval_speed
    assert speed.intervals == 7 and speed.steps_per_interval == 10


def test_several_steps_per_call_are_counted_and_timed_by_the_step(monkeypatch):
    # With steps_per_execution=5 Keras calls the hooks once per 5 steps; 23
    # steps an epoch end in a call of 3, which must not count as 5.
    callback, waits = fit_counting_waits(monkeypatch, steps=23, steps_per_execution=5)

    for epoch in callback.epochs:
        assert epoch.steps == 23 and epoch.images == 23 * 16
        assert epoch.interval_steps == [10, 10, 3]
    assert len(waits) == 2 * 4  # steps 0, 10, 20 and the end of each epoch
    # Steady: epoch 1's second interval and epoch 2's first two (each last left out).
    assert callback.summary().interval_speed.intervals == 3


def test_until_stable_stops_once_the_interval_is_narrow(monkeypatch):
    # A clock that advances 1 s per reading: every interval is exactly as fast,
    # so the speed is stable as soon as there are enough intervals to say so:
    # 1 warm-up + 50 steady intervals of 2 steps, closed at step 102, which
    # still trains.
    import itertools

    from keras_profiler import callback as callback_module
    from keras_profiler import intervals

    ticks = itertools.count()
    monkeypatch.setattr(callback_module, "_clock", lambda: float(next(ticks)))
    x, y = fakedata.quadrant_dataset(300 * 8, seed=1)
    model = tiny.build((32, 32, 3), 10)
    model.compile("sgd", "sparse_categorical_crossentropy")
    callback = ProfilerCallback(batch_size=8, sync_every=2, until_stable_percent=1.0)
    model.fit(x.astype("float32"), y, batch_size=8, epochs=3, verbose=0, callbacks=[callback])

    assert intervals.MIN_INTERVALS_TO_STOP == 50
    assert callback.stopped_when_stable
    assert len(callback.epochs) == 1
    assert callback.epochs[0].steps == 103
    assert callback.epochs[0].images == 103 * 8
    speed = callback.summary().interval_speed
    assert speed.intervals == 50 and speed.batches == 10
    assert speed.images_per_second_mean == 16.0  # 2 steps x 8 images per 1 s tick
    assert speed.ci95_half_width == 0.0


def test_the_stopping_rule_replayed_on_a_record_stops_where_the_run_did():
    # bench/time_to_stable.py replays --until-stable on finished runs'
    # intervals (intervals.first_stable); on the stopped run's own intervals
    # it must stop at the very step, with the very figure, the run stopped at.
    from keras_profiler import intervals

    x, y = fakedata.quadrant_dataset(300 * 8, seed=1)
    model = tiny.build((32, 32, 3), 10)
    model.compile("sgd", "sparse_categorical_crossentropy")
    callback = ProfilerCallback(batch_size=8, sync_every=2, until_stable_percent=40.0)
    model.fit(x.astype("float32"), y, batch_size=8, epochs=2, verbose=0, callbacks=[callback])

    assert callback.stopped_when_stable
    timed = [(e.interval_seconds, e.interval_steps) for e in callback.epochs]
    steps, speed = intervals.first_stable(timed, 2, 8, 40.0)
    assert steps == sum(e.steps for e in callback.epochs) < 600
    assert speed == callback.summary().interval_speed
    assert intervals.first_stable(timed, 2, 8, 1e-9) is None  # never that stable


def test_the_first_epoch_counts_fits_own_set_up_from_fit_starting(monkeypatch):
    # fit converts the data before any hook runs; a clock that jumps 50 s
    # between fit_starting() and the first hook stands for that set-up.
    from keras_profiler import callback as callback_module

    now = [0.0]
    monkeypatch.setattr(callback_module, "_clock", lambda: now[0])
    x, y = fakedata.quadrant_dataset(64, seed=1)
    model = tiny.build((32, 32, 3), 10)
    model.compile("sgd", "sparse_categorical_crossentropy")

    class SlowSetUp(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            now[0] += 50.0

        def on_train_batch_end(self, batch, logs=None):
            now[0] += 1.0

    callback = ProfilerCallback(batch_size=8, sync_every=2)
    callback.fit_starting()
    fit = dict(batch_size=8, epochs=2, verbose=0, callbacks=[SlowSetUp(), callback])
    model.fit(x.astype("float32"), y, **fit)

    assert [e.seconds for e in callback.epochs] == [58.0, 8.0]  # 50 s of set-up, in epoch 1
    model.fit(x.astype("float32"), y, **fit)  # fit_starting() not called again
    assert [e.seconds for e in callback.epochs] == [8.0, 8.0]


def test_the_profilers_own_bookkeeping_is_outside_every_interval(monkeypatch):
    # With --until-stable, each interval's end brings statistics and, under
    # torch's DDP, a collective between processes: here one that takes 100 s
    # of a clock that otherwise advances 1 s per reading. The intervals must
    # time training only; the epoch, as a user waits for it, includes it all.
    from keras_profiler import backends
    from keras_profiler import callback as callback_module

    now = [0.0]

    def clock():
        now[0] += 1.0
        return now[0]

    def slow_agreement(decision):
        now[0] += 100.0
        return False  # never stop: the run trains every step

    monkeypatch.setattr(callback_module, "_clock", clock)
    monkeypatch.setattr(backends.current(), "all_agree", slow_agreement)
    x, y = fakedata.quadrant_dataset(60 * 8, seed=1)
    model = tiny.build((32, 32, 3), 10)
    model.compile("sgd", "sparse_categorical_crossentropy")
    callback = ProfilerCallback(batch_size=8, sync_every=10, until_stable_percent=1.0)
    model.fit(x.astype("float32"), y, batch_size=8, epochs=1, verbose=0, callbacks=[callback])

    (epoch,) = callback.epochs
    assert epoch.interval_steps == [10] * 6
    assert epoch.interval_seconds == [1.0] * 6
    assert epoch.seconds > 5 * 100  # five agreements, at steps 10 to 50


class RecordingSampler:
    """A stand-in for telemetry.TelemetrySampler that writes down its calls;
    a span's token is the count of events at its start, its energy 50 J x that."""

    def __init__(self, events: list):
        self.events = events

    def begin_span(self):
        self.events.append("begin")
        return len(self.events)

    def end_span(self, span):
        from keras_profiler.telemetry import DeviceTelemetry

        self.events.append(f"end {span}")
        return DeviceTelemetry(span_seconds=1.0, samples=10, energy_j=50.0 * span)


def test_each_epoch_carries_the_telemetry_of_its_training_time(monkeypatch):
    # A stand-in for telemetry.TelemetrySampler: the span must open before
    # the epoch's clock starts and close after it stops, and the test
    # evaluation must not be in it.
    from keras_profiler import callback as callback_module

    events = []
    x, y = fakedata.quadrant_dataset(64, seed=1)
    model = tiny.build((32, 32, 3), 10)
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    callback = ProfilerCallback(
        batch_size=32, validation_data=(x[:32], y[:32]), telemetry=RecordingSampler(events)
    )
    evaluate = callback_module._evaluate_as_dict

    def evaluated(*args):
        events.append("evaluate")
        return evaluate(*args)

    monkeypatch.setattr(callback_module, "_evaluate_as_dict", evaluated)
    model.fit(x.astype("float32"), y, batch_size=32, epochs=3, verbose=0, callbacks=[callback])

    assert events == ["begin", "end 1", "evaluate", "begin", "end 4", "evaluate"] + [
        "begin",
        "end 7",
        "evaluate",
    ]
    assert [e.energy_j for e in callback.epochs] == [50.0, 200.0, 350.0]  # span tokens 1, 4, 7
    summary = callback.summary()
    assert summary.steady_energy_per_epoch_j == 275.0
    assert summary.steady_images_per_joule == 128 / 550


def test_fit_starting_opens_the_first_epochs_telemetry_span_with_its_clock():
    # fit's set-up before the first hook is in epoch 1's seconds (see above),
    # so its telemetry (energy above all) must cover that time too.
    events = []

    class Hooks(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            events.append("fit's first hook")

    x, y = fakedata.quadrant_dataset(64, seed=1)
    model = tiny.build((32, 32, 3), 10)
    model.compile("sgd", "sparse_categorical_crossentropy")
    callback = ProfilerCallback(batch_size=32, telemetry=RecordingSampler(events))
    callback.fit_starting()
    events.append("fit called")
    model.fit(x.astype("float32"), y, batch_size=32, epochs=2, verbose=0,
              callbacks=[Hooks(), callback])  # fmt: skip

    assert events == ["begin", "fit called", "fit's first hook", "end 1", "begin", "end 5"]


def test_jax_waits_mid_epoch_on_the_newest_steps_state(monkeypatch):
    # Within an epoch Keras's jax trainer keeps the newest weights in its own
    # state, not in the model's variables (written back at the epoch's end):
    # waiting on the variables would wait on nothing.
    import jax

    if keras.backend.backend() != "jax":
        pytest.skip("jax's trainer only")
    waited_on, states = [], {}
    wait = jax.block_until_ready
    monkeypatch.setattr(jax, "block_until_ready", lambda x: waited_on.append(x) or wait(x))

    class NewestState(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            states[batch] = getattr(self.model, "_jax_state", None)

    x, y = fakedata.quadrant_dataset(25 * 8, seed=1)
    model = tiny.build((32, 32, 3), 10)
    model.compile("sgd", "sparse_categorical_crossentropy")
    callback = ProfilerCallback(batch_size=8, sync_every=10)
    model.fit(x.astype("float32"), y, batch_size=8, epochs=1, verbose=0,
              callbacks=[NewestState(), callback])  # fmt: skip

    # Waits at steps 0, 10 and 20, then at the epoch's end.
    assert len(waited_on) == 4
    assert waited_on[1] is states[10] and waited_on[2] is states[20]
    assert isinstance(states[10], dict) and states[10]["trainable_variables"]
