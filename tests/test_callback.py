"""ProfilerCallback in a user's own model.fit, in this process."""

from __future__ import annotations

import fakedata
import keras

from keras_profiler import ProfilerCallback
from keras_profiler.models import tiny


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
    # Keras dispatches batch-end hooks on a thread only while no callback
    # overrides them (keras/src/callbacks/callback_list.py): the profiler
    # times intervals from the start of a batch and leaves the ends alone.
    for hook in ("on_train_batch_end", "on_batch_end"):
        assert getattr(ProfilerCallback, hook) is getattr(keras.callbacks.Callback, hook)
    alone = keras.callbacks.CallbackList([keras.callbacks.Callback()])
    profiled = keras.callbacks.CallbackList([ProfilerCallback(batch_size=32)])
    assert profiled._async_train == alone._async_train


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


def test_times_k_step_intervals_that_add_up_to_the_epoch():
    x, y = fakedata.quadrant_dataset(45 * 16, seed=1)
    model = tiny.build((32, 32, 3), 10)
    model.compile("sgd", "sparse_categorical_crossentropy")
    callback = ProfilerCallback(batch_size=16, sync_every=10)
    model.fit(x.astype("float32"), y, batch_size=16, epochs=2, verbose=0, callbacks=[callback])

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


def test_until_stable_stops_once_the_interval_is_narrow(monkeypatch):
    # A clock that advances 1 s per reading: every interval is exactly as fast,
    # so the speed is stable as soon as there are enough intervals to say so:
    # 1 warm-up + 10 steady intervals, closed at step 110, which still trains.
    import itertools

    from keras_profiler import callback as callback_module
    from keras_profiler import intervals

    ticks = itertools.count()
    monkeypatch.setattr(callback_module, "_clock", lambda: float(next(ticks)))
    x, y = fakedata.quadrant_dataset(300 * 8, seed=1)
    model = tiny.build((32, 32, 3), 10)
    model.compile("sgd", "sparse_categorical_crossentropy")
    callback = ProfilerCallback(batch_size=8, sync_every=10, until_stable_percent=1.0)
    model.fit(x.astype("float32"), y, batch_size=8, epochs=3, verbose=0, callbacks=[callback])

    assert intervals.MIN_INTERVALS_TO_STOP == 10
    assert callback.stopped_when_stable
    assert len(callback.epochs) == 1
    assert callback.epochs[0].steps == 111
    assert callback.epochs[0].images == 111 * 8
    speed = callback.summary().interval_speed
    assert speed.intervals == 10
    assert speed.images_per_second_mean == 80.0  # 10 steps x 8 images per 1 s tick
    assert speed.ci95_half_width == 0.0
