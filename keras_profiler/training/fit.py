"""``fit`` as a run calls it: the ProfilerCallback timing it, a check that
the device replicas stay identical, and each epoch's figures streamed to a
file as soon as the epoch ends.

Example:

```python
stopped_when_stable, (fit_start, fit_end) = fit(
    keras, config, adapter, model, data, "epochs.jsonl", {"replica_checks": []}
)
```
"""

from __future__ import annotations

import json
import sys
import time

from keras_profiler import input_pipeline, telemetry
from keras_profiler.config import RunConfig
from keras_profiler.training.data import training_split


def fit(keras, config: RunConfig, adapter, model, data, epochs_path: str, distribution: dict):
    """Trains with the ProfilerCallback, each epoch's figures streamed to
    ``epochs_path`` and the replica checks appended to
    ``distribution["replica_checks"]``; returns whether --until-stable
    stopped it, and when ``fit`` began and ended (``time.time()``)."""
    x_train, y_train = training_split(config, data)
    # This process's rows only, scaled after the split: no process holds a
    # float copy of images it does not train on.
    x_local, y_local, batch_size = adapter.local_batch(x_train, y_train, config)
    with telemetry.run_sampler(config.devices, adapter.rank) as sampler:
        profiler = _profiler(config, adapter, data, sampler)
        callbacks = [
            profiler,
            # Keras calls callbacks in this order: the profiler stops the
            # clock before the replica check and the stream do their work.
            _replica_check(keras, adapter, config.epochs, distribution["replica_checks"]),
            _epoch_stream(keras, profiler, epochs_path),
        ]
        local = (x_local, y_local, batch_size)
        span = _train(config, adapter, model, local, callbacks, profiler.fit_starting)
    return profiler.stopped_when_stable, span


def _profiler(config: RunConfig, adapter, data, sampler):
    from keras_profiler.callback import ProfilerCallback

    test = test_batch_size = None
    if config.until_stable is None:  # a run stopped when stable is about speed only
        x_test, y_test, test_batch_size = adapter.local_test(data.x_test, data.y_test, config)
        # Test images are never distorted.
        test = (input_pipeline.as_input(x_test, config.data_format), y_test)
    return ProfilerCallback(
        # Images per epoch from Keras's own step count x the global batch.
        batch_size=config.global_batch_size,
        validation_data=test,
        validation_batch_size=test_batch_size,
        sync_every=config.sync_every,
        until_stable_percent=config.until_stable,
        telemetry=sampler,
    )


def _train(config, adapter, model, local, callbacks, fit_starting) -> tuple[float, float]:
    """``fit`` on this process's rows; returns when it began and ended.
    ``fit_starting`` is called just before ``fit``, after the tool's own
    preparation of the data."""
    x_local, y_local, batch_size = local
    options = dict(
        epochs=config.epochs,
        verbose=0 if adapter.rank else (1 if sys.stdout.isatty() else 2),
        callbacks=callbacks,
    )
    if config.distortions:
        # Each batch built on the host when Keras asks for it, through the
        # Keras line's own mechanism for that (the adapter knows which).
        batches = input_pipeline.DistortedBatches(
            x_local,
            y_local,
            batch_size,
            seed=config.seed,
            data_format=config.data_format,
            stream=adapter.rank,  # torch DDP: each rank distorts its own rows
        )
        fit_starting()
        start = time.time()
        adapter.fit_batches(model, batches, **options)
    else:
        x_input = input_pipeline.as_input(x_local, config.data_format)
        fit_starting()
        start = time.time()
        model.fit(x_input, y_local, batch_size=batch_size, shuffle=True, **options)
    return start, time.time()


def _replica_check(keras, adapter, epochs: int, checks: list):
    """A callback comparing the device replicas' weights after the first and
    the last epoch: data parallelism must keep them identical."""

    class ReplicaCheck(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0 or epoch == epochs - 1 or self.model.stop_training:
                every, trainable = adapter.replica_differences(self.model)
                checks.append(
                    {
                        "epoch": epoch + 1,
                        "max_abs_difference": every,
                        "trainable_max_abs_difference": trainable,
                    }
                )

    return ReplicaCheck()


def _epoch_stream(keras, profiler, path: str):
    """A callback appending the profiler's latest epoch to ``path`` as one JSON line."""

    class EpochStream(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            with open(path, "a") as file:
                file.write(json.dumps(profiler.epochs[-1].to_dict()) + "\n")

    return EpochStream()
