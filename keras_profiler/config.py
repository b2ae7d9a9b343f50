"""RunConfig: what one measured run trains, validated before anything starts."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from keras_profiler import backends
from keras_profiler import datasets as dataset_registry
from keras_profiler import models as model_registry

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
OPTIMIZERS = ("sgd", "adam")

# Fields whose command-line flag is not --<field-with-dashes>.
_FLAGS = {"devices": "--gpus"}


def flag(field: str) -> str:
    """The command-line flag that sets ``field``, for error messages."""
    return _FLAGS.get(field, "--" + field.replace("_", "-"))


@dataclass(frozen=True)
class RunConfig:
    """One measured run: a backend trains a model on a dataset on N devices.

    Attributes:
        backend: Keras backend (see ``backends.NAMES``).
        model: registered model name, or ``path/to/file.py:function``.
        dataset: registered dataset name.
        devices: number of devices trained on, data parallel.
        batch_size: images per device per step; the global batch is
            ``batch_size * devices``, as in the reference tables.
        epochs: training epochs; the first is reported apart (compilation).
        steps_per_epoch: optional cap: each epoch trains on the first
            ``steps_per_epoch * global batch`` training images, reshuffled.
        seed: seeds Python, NumPy and the backend; same seed, same weights.
        precision: Keras dtype policy.
        optimizer: ``sgd`` (momentum 0.9) or ``adam``.
        learning_rate: the optimizer's learning rate.
        train_samples: optional cap on the training split (first N images).
        test_samples: optional cap on the test split (first N images).
        image_size: side the model sees; None: the model's default, else
            the dataset's own. Larger sizes are upscaled on the device.
        data_dir: where datasets are looked up and downloaded.
        allow_download: whether a missing dataset may be downloaded.
        timeout_seconds: the run is stopped and recorded as a timeout after this.
    """

    backend: str
    model: str
    dataset: str = "cifar10"
    devices: int = 1
    batch_size: int = 32
    epochs: int = 10
    steps_per_epoch: int | None = None
    seed: int = 1337
    precision: str = "float32"
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    train_samples: int | None = None
    test_samples: int | None = None
    image_size: int | None = None
    data_dir: str = "~/.cache/keras-profiler/datasets"
    allow_download: bool = True
    timeout_seconds: float | None = None

    def __post_init__(self):
        _check_choice("backend", self.backend, backends.NAMES)
        _check_registry("model", model_registry.check, self.model)
        _check_registry("dataset", dataset_registry.check, self.dataset)
        _check_choice("precision", self.precision, PRECISIONS)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        for field in ("devices", "batch_size", "epochs"):
            _check_at_least(field, getattr(self, field), 1)
        for field in ("steps_per_epoch", "train_samples", "test_samples"):
            if getattr(self, field) is not None:
                _check_at_least(field, getattr(self, field), 1)
        _check_at_least("seed", self.seed, 0)
        if self.image_size is not None:
            _check_at_least("image_size", self.image_size, 32)
        if not self.learning_rate > 0:
            raise ValueError(f"{flag('learning_rate')} must be positive, got {self.learning_rate}")
        if self.timeout_seconds is not None and not self.timeout_seconds > 0:
            raise ValueError(
                f"{flag('timeout_seconds')} must be positive, got {self.timeout_seconds}"
            )

    @property
    def global_batch_size(self) -> int:
        """Images per training step over all devices."""
        return self.batch_size * self.devices

    def slug(self) -> str:
        """A file-name-safe name for the run's parameters."""
        model = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.model.rpartition("/")[2])
        return (
            f"{model}-{self.backend}-{self.devices}dev-b{self.batch_size}-{self.precision}"
            f"-{self.dataset}-s{self.seed}"
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """Builds a config from ``to_dict`` output; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown RunConfig fields: {', '.join(unknown)}")
        return cls(**data)


def _check_choice(field: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"unknown {field} {value!r}: {flag(field)} takes {', '.join(choices)}")


def _check_registry(field: str, check, value) -> None:
    try:
        check(value)
    except ValueError as error:
        raise ValueError(f"{flag(field)}: {error}") from None


def _check_at_least(field: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{flag(field)} must be a whole number, got {value!r}")
    if value < minimum:
        raise ValueError(f"{flag(field)} must be at least {minimum}, got {value}")
