"""RunConfig: what one measured run trains, validated before anything starts."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from keras_profiler import backends, gpus
from keras_profiler import datasets as dataset_registry
from keras_profiler import models as model_registry

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
OPTIMIZERS = ("sgd", "adam")
LR_SCALINGS = ("fixed", "linear")
DATA_FORMATS = ("channels_last", "channels_first")

# Fields whose command-line flag is not --<field-with-dashes>.
_FLAGS = {"devices": "--gpus"}


def data_kind(dataset: str, distortions: bool) -> str:
    """'synthetic', 'real' or 'real, distorted', from a run's dataset and
    --distortions (records written before --distortions hold none: False)."""
    if dataset == "synthetic":
        return "synthetic"
    return "real, distorted" if distortions else "real"


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
        test_samples: optional cap on the test split (first N images);
            synthetic data at an image_size above 32 defaults to 1,000.
        image_size: side the model sees; None: the model's default, else
            the dataset's own. Synthetic data is drawn at this size; real
            data smaller than it is upscaled on the device.
        data_dir: where datasets are looked up and downloaded.
        allow_download: whether a missing dataset may be downloaded.
        timeout_seconds: the run is stopped and recorded as a timeout after this.
        strategy: how the devices share the work (see ``backends``); None
            takes ``single`` on one device (a plain fit, what a one-GPU user
            runs) and the backend's data-parallel default on several.
        bucket_mb: DDP gradient bucket size (torch's ddp only); None takes
            PyTorch's default there.
        lr_scaling: ``fixed`` keeps ``learning_rate`` whatever the device
            count; ``linear`` multiplies it by the device count.
        jit_compile: compile the train step (XLA, or torch.compile); None
            takes the backend's default, the same at every device count.
        data_format: ``channels_last`` (N, H, W, C) or ``channels_first``
            (N, C, H, W), the layout every layer computes in; None takes the
            backend's default (channels_first for MXNet, whose kernels are
            NCHW, channels_last elsewhere).
        distortions: random crop and horizontal flip of each training image
            on the input path, as tf_cnn_benchmarks' ``--distortions`` runs;
            real data only.
        repeat: which repetition of the same configuration this run is (1 to
            K); repeats share the seed, so they differ only in timing noise,
            which the reports give as a standard deviation.
        steps_per_execution: training steps per call of Keras's compiled
            train function (``model.compile(steps_per_execution=N)``): fewer
            trips through Python per step. Callbacks then see one batch per
            call, so ``sync_every`` must be a multiple of it.
        sync_every: k, the steps per timed interval: the device is waited for
            every k steps (never every step), and the intervals' speeds give
            the steady figure's standard error and 95% confidence interval.
        until_stable: a percentage; when given, training stops as soon as
            the 95% interval's half-width is under it (a speed-only run: no
            test evaluation).
        peak_tflops: the device's peak TFLOP/s for MFU, where the table of
            known devices lacks it or should be overridden.
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
    strategy: str | None = None
    bucket_mb: float | None = None
    lr_scaling: str = "fixed"
    jit_compile: bool | None = None
    data_format: str | None = None
    distortions: bool = False
    repeat: int = 1
    steps_per_execution: int = 1
    sync_every: int = 10
    until_stable: float | None = None
    peak_tflops: float | None = None

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
            self._resolve_synthetic_test_samples()
        if not self.learning_rate > 0:
            raise ValueError(f"{flag('learning_rate')} must be positive, got {self.learning_rate}")
        if self.timeout_seconds is not None and not self.timeout_seconds > 0:
            raise ValueError(
                f"{flag('timeout_seconds')} must be positive, got {self.timeout_seconds}"
            )
        _check_choice("lr_scaling", self.lr_scaling, LR_SCALINGS)
        _check_at_least("repeat", self.repeat, 1)
        _check_at_least("sync_every", self.sync_every, 2)
        _check_at_least("steps_per_execution", self.steps_per_execution, 1)
        if self.sync_every % self.steps_per_execution:
            # Hooks come once per call: other intervals would vary in length.
            multiple = self.steps_per_execution * max(
                2, self.sync_every // self.steps_per_execution
            )
            raise ValueError(
                f"{flag('sync_every')} {self.sync_every} is not a multiple of "
                f"{flag('steps_per_execution')} {self.steps_per_execution}: use "
                f"{flag('sync_every')} {multiple}"
            )
        for field in ("until_stable", "peak_tflops"):
            value = getattr(self, field)
            if value is not None and not (_is_number(value) and 0 < value < math.inf):
                raise ValueError(f"{flag(field)} must be a positive number, got {value!r}")
        if self.distortions and self.dataset == "synthetic":
            raise ValueError(
                f"{flag('distortions')} distorts real images: use --dataset cifar10, or leave "
                "it out for synthetic data"
            )
        self._resolve_distribution()

    def _resolve_synthetic_test_samples(self) -> None:
        """Synthetic images drawn larger than 32x32 are evaluated
        ``synthetic.TEST_SIZE_ABOVE_32`` at a time unless --test-samples says
        otherwise, stated here so that the record says so."""
        from keras_profiler.datasets import synthetic

        larger = self.image_size > synthetic.IMAGE_SHAPE[0]
        if self.dataset == "synthetic" and larger and self.test_samples is None:
            object.__setattr__(self, "test_samples", synthetic.TEST_SIZE_ABOVE_32)

    def _resolve_distribution(self) -> None:
        """Fills in the backend's defaults, so that every record states the
        strategy, bucket size and jit setting it ran with."""
        adapter = backends.get(self.backend)
        if self.strategy is None:
            default = adapter.default_strategy(self.devices, gpus.count())
            object.__setattr__(self, "strategy", default)
        _check_strategy(self.backend, self.strategy, self.devices)
        if self.bucket_mb is not None and self.strategy != "ddp":
            raise ValueError(
                f"{flag('bucket_mb')} sets torch's DDP gradient buckets; it does not apply to "
                f"{self.backend} with --strategy {self.strategy}"
                + (": add --strategy ddp" if self.backend == "torch" else "")
            )
        if self.strategy == "ddp" and self.bucket_mb is None:
            object.__setattr__(self, "bucket_mb", 25.0)
        if self.bucket_mb is not None and not self.bucket_mb > 0:
            raise ValueError(f"{flag('bucket_mb')} must be positive, got {self.bucket_mb}")
        if self.jit_compile is None:
            object.__setattr__(self, "jit_compile", adapter.default_jit_compile)
        if self.data_format is None:
            object.__setattr__(self, "data_format", adapter.default_data_format)
        _check_choice("data_format", self.data_format, DATA_FORMATS)

    @property
    def global_batch_size(self) -> int:
        """Images per training step over all devices."""
        return self.batch_size * self.devices

    @property
    def data_kind(self) -> str:
        """'synthetic', 'real' or 'real, distorted': the reference tables' data axis."""
        return data_kind(self.dataset, self.distortions)

    @property
    def effective_learning_rate(self) -> float:
        """The optimizer's learning rate after --lr-scaling."""
        scale = self.devices if self.lr_scaling == "linear" else 1
        return self.learning_rate * scale

    def slug(self) -> str:
        """A file-name-safe name for the run's parameters."""
        model = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.model.rpartition("/")[2])
        return (
            f"{model}-{self.backend}-{self.strategy}-{self.devices}dev-b{self.batch_size}"
            f"-{self.precision}"
            f"-{self.dataset}{'-distorted' if self.distortions else ''}"
            + (f"-{self.image_size}px" if self.image_size else "")
            + (f"-spe{self.steps_per_execution}" if self.steps_per_execution > 1 else "")
            + f"-s{self.seed}"
            + (f"-r{self.repeat}" if self.repeat > 1 else "")
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


def _check_strategy(backend: str, strategy: str, devices: int) -> None:
    by_backend = backends.strategies_by_backend()
    if not any(strategy in names for names in by_backend.values()):
        choices = "; ".join(f"{b}: {', '.join(names)}" for b, names in by_backend.items())
        raise ValueError(f"unknown strategy {strategy!r}: {flag('strategy')} takes {choices}")
    if strategy not in by_backend[backend]:
        raise ValueError(
            f"{flag('strategy')} {strategy} does not apply to {backend}: "
            f"{backend} takes {', '.join(by_backend[backend])}"
        )
    if strategy == "single" and devices > 1:
        raise ValueError(
            f"{flag('strategy')} single trains on one device: use --gpus 1, or "
            f"{by_backend[backend][0]} for {devices} devices"
        )


def _check_registry(field: str, check, value) -> None:
    try:
        check(value)
    except ValueError as error:
        raise ValueError(f"{flag(field)}: {error}") from None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_at_least(field: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{flag(field)} must be a whole number, got {value!r}")
    if value < minimum:
        raise ValueError(f"{flag(field)} must be at least {minimum}, got {value}")
