"""The worker: one measured run, inside a fresh process.

``python -m keras_profiler.worker CONFIG.json RESULT.json EPOCHS.jsonl``. The
launcher has set the environment (KERAS_BACKEND, KERAS_HOME, allocator
switches) before this process imported anything. The worker never raises: it
writes a result document saying what happened, which the launcher turns into
a record. Each epoch's figures are appended to EPOCHS.jsonl as soon as the
epoch ends, so a run that fails, is killed or times out later keeps them.

A result's status is a record status (ok, oom, error), or ``usage_error``
when the run cannot start for a reason the user must fix (data missing):
the launcher then reports it and writes no record.
"""

from __future__ import annotations

import json
import sys
import time
import traceback

from keras_profiler import environment, input_pipeline, model_stats
from keras_profiler.config import RunConfig
from keras_profiler.datasets import DatasetUnavailable


class _SetupProblem(Exception):
    """The run cannot start; the user must change something (one line)."""


def main(argv: list[str]) -> int:
    config_path, result_path, epochs_path = argv
    with open(config_path) as file:
        config = RunConfig.from_dict(json.load(file))
    result = run(config, epochs_path)
    with open(result_path, "w") as file:
        json.dump(result, file)
    # Non-zero on failure, so that a multi-process launch stops the other
    # workers instead of leaving them waiting in a collective.
    return 0 if result["status"] == "ok" else 1


def run(config: RunConfig, epochs_path: str) -> dict:
    """Trains as ``config`` says, streaming epochs to ``epochs_path``, and
    returns the result document."""
    try:
        import keras

        from keras_profiler import backends

        adapter = backends.get(config.backend)
        data = _load_data(config, adapter.processes(config))
    except _SetupProblem as problem:
        return {"status": "usage_error", "message": str(problem)}
    result = {}
    try:
        adapter.setup(config)
        result["environment"] = _describe_environment(keras, adapter)
        result["devices"] = _describe_devices(adapter, config, result["environment"])
        with adapter.scope():
            model, image_size = _build_model(keras, config, adapter, data)
        result["model"] = _describe_model(keras, adapter, model, image_size)
        result["distribution"] = _describe_distribution(config, adapter, model, result["devices"])
        adapter.prepare(model, config)
        result["stopped_when_stable"], fit_span = _fit(
            keras, config, adapter, model, data, epochs_path, result["distribution"]
        )
        result["timeline"] = _timeline(*fit_span)
        # After fit: Keras could have put its own wrapper in place of ours.
        result["distribution"].update(adapter.applied_settings(model))
        result.update(status="ok", error=None)
    except Exception as error:  # a failed run is a result to record, not a crash
        status = "oom" if adapter.is_out_of_memory(error) else "error"
        # When: of several processes, the one that failed first says why.
        result.update(status=status, error=traceback.format_exc(), failed_at=time.time())
        return result  # no teardown: other processes may be stuck in a collective
    adapter.teardown()
    return result


def _timeline(fit_start: float, fit_end: float) -> dict:
    """Where the worker's time went, by a clock outside the profiler: from the
    process's start to the ``fit`` call (imports, data, model build), and the
    ``fit`` call itself (all epochs with their test evaluations), in seconds,
    from wall-clock times (``time.time()``, as the process's start is). The
    timing-fidelity benchmark compares the profiler's figures with these."""
    import psutil

    started = psutil.Process().create_time()
    return {"setup_seconds": fit_start - started, "fit_seconds": fit_end - fit_start}


def _describe_model(keras, adapter, model, image_size: int) -> dict:
    """The record's model section: what was built, and its per-image costs
    (multiply-adds, feature and parameter memory) where they can be computed."""
    described = {
        "name": model.name,
        "parameters": adapter.parameter_count(model),
        "image_size": image_size,
        "data_format": _data_format(keras, model),
        # The policy in effect, read back from the model (Keras 2 has none).
        "dtype_policy": getattr(getattr(model, "dtype_policy", None), "name", None),
    }
    try:
        described.update(model_stats.describe(model, adapter.counted_weights(model)))
    except model_stats.StatsUnavailable as problem:
        # A user's model with, say, a variable-size input: the report leaves
        # the figures blank; the run itself is unaffected.
        print(f"keras-profiler: no per-image model figures: {problem}", file=sys.stderr)
    return described


def _data_format(keras, model) -> str:
    """The layout the model's layers were built with, read from the first
    layer that has one (Keras's global setting for a model with none)."""
    built = (getattr(layer, "data_format", None) for layer in model.layers)
    return next((f for f in built if f), None) or keras.backend.image_data_format()


def _describe_distribution(config: RunConfig, adapter, model, devices: list[dict]) -> dict:
    kind = devices[0]["kind"] if devices else None
    return {
        "strategy": config.strategy,
        "devices": config.devices,
        "device_kind": kind,
        # Several devices carved out of one CPU: a test of the code path, not
        # of scaling.
        "virtual_devices": kind == "cpu" and config.devices > 1,
        "global_batch_size": config.global_batch_size,
        # Read back from the optimizer: what training uses, after --lr-scaling.
        # float32 holds about 7 significant digits: 0.1, not 0.10000000149.
        "learning_rate": float(f"{adapter.learning_rate(model):.7g}"),
        "lr_scaling": config.lr_scaling,
        "jit_compile": bool(getattr(model, "jit_compile", False)),
        "bucket_mb": None,  # read from the DDP wrapper after training, where there is one
        # Same seed, same weights at any device count: tests compare this.
        "initial_weights_sha256": weights_sha256(adapter.weight_values(model)),
        "replica_checks": [],
    }


def weights_sha256(values) -> str:
    """A digest of every weight's value (NumPy arrays), in the model's weight order."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    for value in values:
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()


def _load_data(config: RunConfig, processes: int = 1):
    """The run's data. Synthetic images are drawn at --image-size (the model
    then needs no upscaling), only as many as the run uses, and only when
    they fit in memory (``processes``: the run's worker processes on this
    machine, each holding its own copy)."""
    from keras_profiler import datasets

    if config.dataset == "synthetic":
        _check_memory(config, processes)
    try:
        data = datasets.load(
            config.dataset,
            config.data_dir,
            seed=config.seed,
            train_samples=_train_samples(config),
            test_samples=config.test_samples,
            allow_download=config.allow_download,
            image_size=config.image_size,
        )
    except DatasetUnavailable as error:
        raise _SetupProblem(str(error)) from None
    if len(data.x_train) < config.global_batch_size:
        raise _SetupProblem(
            f"{len(data.x_train)} training images are fewer than one global batch of "
            f"{config.global_batch_size}: lower --batch-size or raise --train-samples"
        )
    return data


def _train_samples(config: RunConfig) -> int | None:
    """The training images to load: --train-samples; for synthetic data,
    which is generated rather than read, no more than the --steps-per-epoch
    global batches every epoch trains on (the first ones of the full set)."""
    if config.dataset != "synthetic" or not config.steps_per_epoch:
        return config.train_samples
    from keras_profiler.datasets import synthetic

    used = config.steps_per_epoch * config.global_batch_size
    return min(used, config.train_samples or synthetic.TRAIN_SIZE)


def _synthetic_bytes(config: RunConfig, processes: int = 1) -> tuple[int, int, int]:
    """(training images, test images, bytes) of the synthetic data a run holds
    on this machine: the uint8 images in each of its ``processes``, and one
    float32 copy of them over all processes (what fit and the test
    evaluation are fed; each process converts only its own rows)."""
    from keras_profiler.datasets import synthetic

    n_train = _train_samples(config) or synthetic.TRAIN_SIZE
    n_test = config.test_samples or synthetic.TEST_SIZE
    height, width, channels = synthetic.image_shape(config.image_size)
    uint8_bytes = (n_train + n_test) * height * width * channels
    return n_train, n_test, uint8_bytes * processes + 4 * uint8_bytes


def _check_memory(config: RunConfig, processes: int = 1) -> None:
    """Raises _SetupProblem, saying what to cap, when the synthetic data a
    run would hold exceeds the memory available now: before it is generated."""
    import psutil

    from keras_profiler.datasets import synthetic

    n_train, n_test, needed = _synthetic_bytes(config, processes)
    available = psutil.virtual_memory().available
    if needed <= available:
        return
    side = synthetic.image_shape(config.image_size)[0]
    size = f"--image-size {side}" if config.image_size else f"{side}x{side}"
    where = f" in {processes} processes" if processes > 1 else ""
    raise _SetupProblem(
        f"{n_train} synthetic training and {n_test} test images at {size} need "
        f"{needed / 2**30:.1f} GiB{where} (uint8, and the float32 the model is fed), "
        f"{available / 2**30:.1f} GiB is available: cap them with --steps-per-epoch, "
        "--train-samples or --test-samples"
        + (", or lower --image-size" if config.image_size else "")
    )


def _build_model(keras, config: RunConfig, adapter, data):
    """The compiled model under test, and the image size it sees: models run
    at a larger size than the data's get an on-device upscale in front."""
    from keras_profiler import models
    from keras_profiler.models import _common

    adapter.set_globals(config)
    spec = models.load(config.model)
    side, _, channels = data.image_shape
    size = config.image_size or spec.default_image_size or side
    data_shape = _image_shape(side, channels, config.data_format)
    if size == side:
        model = spec.build(data_shape, data.num_classes)
    else:
        inputs = keras.layers.Input(data_shape)
        base = spec.build(_image_shape(size, channels, config.data_format), data.num_classes)
        model = keras.models.Model(inputs, base(_common.upscale(inputs, size)), name=base.name)
    model.compile(
        optimizer=adapter.optimizer(config),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        **adapter.compile_options(config),
    )
    return model, size


def _image_shape(side: int, channels: int, data_format: str) -> tuple[int, int, int]:
    if data_format == "channels_first":
        return channels, side, side
    return side, side, channels


def _fit(keras, config: RunConfig, adapter, model, data, epochs_path, distribution):
    """Trains with the ProfilerCallback, each epoch's figures streamed to a
    file; returns whether --until-stable stopped it, and when ``fit`` began
    and ended."""
    x_train, y_train = _training_split(config, data)
    # This process's rows only, scaled after the split: no process holds a
    # float copy of images it does not train on.
    x_local, y_local, batch_size = adapter.local_batch(x_train, y_train, config)
    with _telemetry(config, adapter) as sampler:
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


def _telemetry(config: RunConfig, adapter):
    """An NVML sampler of the run's GPUs in the first process (it sees them
    all: one sampler per run, not per process), else a context doing nothing."""
    import contextlib

    from keras_profiler import gpus, telemetry

    on_gpus = adapter.rank == 0 and gpus.count() >= config.devices
    sampler = telemetry.TelemetrySampler.create(list(range(config.devices)) if on_gpus else [])
    return sampler if sampler is not None else contextlib.nullcontext()


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


def _training_split(config: RunConfig, data):
    """Whole global batches only, so every step has the same shape (no
    recompilation for a ragged last batch), capped by --steps-per-epoch."""
    batches = len(data.x_train) // config.global_batch_size
    if config.steps_per_epoch:
        batches = min(batches, config.steps_per_epoch)
    count = batches * config.global_batch_size
    return data.x_train[:count], data.y_train[:count]


def _describe_environment(keras, adapter) -> dict:
    described = environment.collect()
    described["keras"] = keras.__version__
    described["backend"] = adapter.name
    described["libraries"] = adapter.library_versions()
    return described


def _describe_devices(adapter, config, described_environment) -> list[dict]:
    devices = adapter.describe_devices(config)
    for device in devices:
        if device["kind"] == "cpu":
            device["name"] = described_environment["cpu_model"]
    return devices


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
