"""A run's data: loaded as the run asks, checked against memory before
generated images are drawn, and cut to the whole batches it trains on.

Each dataset module says what it is (``GENERATED``, ``TRAIN_SIZE``,
``TEST_SIZE``, ``image_shape``); nothing here branches on its name.

Example:

```python
config = RunConfig(backend="jax", model="tiny", dataset="synthetic", steps_per_epoch=4)
data = load_data(config)  # 4 x 32 training images: all that the run trains on
x_train, y_train = training_split(config, data)
```
"""

from __future__ import annotations

from keras_profiler import datasets
from keras_profiler.config import RunConfig
from keras_profiler.errors import UsageError


def load_data(config: RunConfig, processes: int = 1) -> datasets.ImageDataset:
    """The run's data. Generated images are drawn at --image-size (the model
    then needs no upscaling), only as many as the run uses, and only when
    they fit in memory (``processes``: the run's worker processes on this
    machine, each holding its own copy). Raises UsageError, saying what to
    change, when the data cannot be had or holds less than one global batch."""
    if datasets.get(config.dataset).GENERATED:
        check_memory(config, processes)
    try:
        data = datasets.load(
            config.dataset,
            config.data_dir,
            seed=config.seed,
            train_samples=train_samples(config),
            test_samples=config.test_samples,
            allow_download=config.allow_download,
            image_size=config.image_size,
            sequence_length=_sample_size(config),
        )
    except datasets.DatasetUnavailable as error:
        raise UsageError(str(error)) from None
    if config.mode == "train" and len(data.x_train) < config.global_batch_size:
        raise UsageError(
            f"{len(data.x_train)} training {_samples(config)} are fewer than one global batch of "
            f"{config.global_batch_size}: lower --batch-size or raise --train-samples"
        )
    return data


def train_samples(config: RunConfig) -> int | None:
    """The training images to load: --train-samples; for generated data,
    which costs nothing to leave out, no more than the --steps-per-epoch
    global batches every epoch trains on (the first ones of the full set)."""
    dataset = datasets.get(config.dataset)
    if config.mode == "infer" and dataset.GENERATED:
        return 1  # inference reads test rows only
    if not dataset.GENERATED or not config.steps_per_epoch:
        return config.train_samples
    used = config.steps_per_epoch * config.global_batch_size
    return min(used, config.train_samples or dataset.TRAIN_SIZE)


def generated_bytes(config: RunConfig, processes: int = 1) -> tuple[int, int, int]:
    """(training samples, test samples, bytes) of the generated data a run
    holds on this machine: the samples in each of its ``processes``, and for
    images one float32 copy of them over all processes (what fit and the
    test evaluation are fed; each process converts only its own rows; token
    ids are fed as they are)."""
    dataset = datasets.get(config.dataset)
    n_train = train_samples(config) or dataset.TRAIN_SIZE
    n_test = config.test_samples or dataset.TEST_SIZE
    size = _sample_size(config)
    held = (n_train + n_test) * datasets.sample_bytes(config.dataset, size)
    if datasets.input_kind(config.dataset) == "tokens":
        return n_train, n_test, held * processes
    return n_train, n_test, held * processes + 4 * held


def _samples(config: RunConfig) -> str:
    """What the run's samples are called: images, or sequences."""
    return "sequences" if datasets.input_kind(config.dataset) == "tokens" else "images"


def _sample_size(config: RunConfig) -> int | None:
    """The size samples are drawn at: --sequence-length for token sequences,
    --image-size for images."""
    if datasets.input_kind(config.dataset) == "tokens":
        from keras_profiler import models

        return config.sequence_length or models.default_sequence_length(config.model)
    return config.image_size


def check_memory(config: RunConfig, processes: int = 1) -> None:
    """Raises UsageError, saying what to cap, when the generated data a run
    would hold exceeds the memory available now: before it is generated."""
    import psutil

    n_train, n_test, needed = generated_bytes(config, processes)
    available = psutil.virtual_memory().available
    if needed <= available:
        return
    dataset = datasets.get(config.dataset)
    side = datasets.sample_shape(config.dataset, _sample_size(config))[0]
    if datasets.input_kind(config.dataset) == "tokens":
        size = f"{side} tokens"
    else:
        size = f"--image-size {side}" if config.image_size else f"{side}x{side}"
    where = f" in {processes} processes" if processes > 1 else ""
    raise UsageError(
        f"{n_train} {dataset.NAME} training and {n_test} test images at {size} need "
        f"{needed / 2**30:.1f} GiB{where} (uint8, and the float32 the model is fed), "
        f"{available / 2**30:.1f} GiB is available: cap them with --steps-per-epoch, "
        "--train-samples or --test-samples"
        + (", or lower --image-size" if config.image_size else "")
    )


def training_split(config: RunConfig, data: datasets.ImageDataset):
    """Whole global batches only, so every step has the same shape (no
    recompilation for a ragged last batch), capped by --steps-per-epoch."""
    batches = len(data.x_train) // config.global_batch_size
    if config.steps_per_epoch:
        batches = min(batches, config.steps_per_epoch)
    count = batches * config.global_batch_size
    return data.x_train[:count], data.y_train[:count]
