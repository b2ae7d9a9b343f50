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


def test_hooks_no_batches():
    # Keras keeps asynchronous dispatch only for callbacks that leave the batch
    # hooks alone (keras/src/callbacks/callback_list.py).
    for hook in ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end"):
        assert getattr(ProfilerCallback, hook) is getattr(keras.callbacks.Callback, hook)


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

    assert calls == [model, model]
    assert all(e.seconds >= 0.3 for e in callback.epochs)
