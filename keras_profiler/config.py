"""RunConfig: what one measured run trains, validated before anything starts.

Each field the command line sets is declared here once, with its option
(flag, help, parsing: see ``options``); the run command's parser, the sweep's
overrides and docs/options.md are derived from these declarations.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from keras_profiler import backends, gpus, option_help
from keras_profiler import datasets as dataset_registry
from keras_profiler import models as model_registry
from keras_profiler.options import flag_of, on_off, option

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
OPTIMIZERS = ("sgd", "adam")
MODES = ("train", "infer")
# The RunConfig fields only training has: an inference run takes the rest.
TRAINING_ONLY = (
    "epochs", "steps_per_epoch", "optimizer", "learning_rate", "train_samples", "lr_scaling",
    "profile_layers", "distortions", "steps_per_execution", "sync_every", "until_stable",
    "bucket_mb", "strategy", "nodes", "node_rank", "coordinator", "interface",
    "interconnect", "join_timeout",
)  # fmt: skip
LR_SCALINGS = ("fixed", "linear")
DATA_FORMATS = ("channels_last", "channels_first")


def data_kind(dataset: str, distortions: bool) -> str:
    """'synthetic', 'real' or 'real, distorted', from a run's dataset and
    --distortions (records written before --distortions hold none: False)."""
    if dataset_registry.is_synthetic(dataset):
        return "synthetic"
    return "real, distorted" if distortions else "real"


def flag(field: str) -> str:
    """The command-line flag that sets ``field``, for error messages."""
    return flag_of(_FIELDS[field])


@dataclass(frozen=True)
class RunConfig:
    """One measured run: a backend trains a model on a dataset on N devices.

    Each field's meaning is the help of its option (``python -m
    keras_profiler --help``, docs/options.md). Values left None are filled in
    at construction (the backend's strategy, bucket size, jit setting and
    data format; the dataset's test split), so that every record states what
    it ran with. ``repeat``, which only sweeps set, is which repetition of the
    same configuration this run is (1 to K); repeats share the seed, so they
    differ only in timing noise.

    Example:

        config = RunConfig(backend="jax", model="tiny", dataset="synthetic", devices=2)
        config.strategy, config.global_batch_size  # ('data-parallel', 64)
    """

    backend: str = option(
        help=f"Keras backend, or several separated by commas, each run in turn: "
        f"{', '.join(backends.NAMES)}",
        required=True,
    )
    model: str = option(help=option_help.model, required=True)
    dataset: str | None = option(None, option_help.dataset, choices=dataset_registry.available)
    devices: int = option(
        1,
        "devices to train on, data parallel: GPUs where the machine has them, else N virtual "
        "devices carved out of the CPU (the multi-device code path, not a speedup)",
        flag="--gpus",
        metavar="N",
        parse=int,
    )
    nodes: int = option(
        1,
        "machines the run spans, each running the same command with its own --node-rank; "
        "every node trains on its --gpus devices",
        metavar="N",
        parse=int,
    )
    node_rank: int = option(
        0,
        "this machine's place among the --nodes, 0 to N-1 (0: the coordinator, which "
        "writes the record)",
        metavar="R",
        parse=int,
    )
    coordinator: str | None = option(
        None,
        "HOST:PORT of node 0, where the nodes meet (torch.distributed's and jax.distributed's "
        "rendezvous); needed with --nodes above 1",
        metavar="HOST:PORT",
        parse=str,
    )
    interface: str | None = option(
        None,
        "the network interface the nodes' collectives use (gloo's GLOO_SOCKET_IFNAME, "
        "NCCL_SOCKET_IFNAME); default: the one the host name resolves to",
        metavar="IF",
        parse=str,
    )
    interconnect: str | None = option(
        None,
        "a name for the link between the nodes (10gbe, 100gb-ib...), recorded beside the "
        "all-reduce probe's measurement; the reports group by it",
        metavar="NAME",
        parse=str,
    )
    join_timeout: float = option(
        120.0,
        "how long the nodes wait for each other before training; a node missing then fails "
        "the run, named",
        metavar="SECONDS",
        parse=float,
    )
    batch_size: int = option(
        32,
        "images per device per step; the global batch is N x devices, as in the reference tables",
        metavar="N",
        parse=int,
    )
    epochs: int = option(
        10,
        "epochs; the first (compilation, warm-up) is reported apart from the steady state",
        metavar="N",
        parse=int,
    )
    steps_per_epoch: int | None = option(
        None,
        "cap each epoch at N steps: train on the first N x global-batch images, reshuffled",
        metavar="N",
        parse=int,
    )
    seed: int = option(
        1337, "seed for weights, data order and synthetic data", metavar="N", parse=int
    )
    precision: str = option("float32", "the Keras dtype policy", choices=PRECISIONS)
    optimizer: str = option("sgd", "sgd (momentum 0.9) or adam", choices=OPTIMIZERS)
    learning_rate: float = option(
        0.01, "the optimizer's learning rate (before --lr-scaling)", metavar="LR", parse=float
    )
    train_samples: int | None = option(
        None, "use the first N training images", metavar="N", parse=int
    )
    test_samples: int | None = option(None, "use the first N test images", metavar="N", parse=int)
    image_size: int | None = option(
        None,
        "the side of the square images the model sees (at least 32); default: the model's own "
        "(299 for inception_v3), else the data's 32. Generated data (synthetic) is drawn at "
        "this size (its test split then defaults to the first 1000 images); data read from "
        "files is upscaled to it on the device, as is generated data without this option",
        metavar="S",
        parse=int,
    )
    sequence_length: int | None = option(
        None,
        "tokens a sequence, for a model of token sequences (bert_base, bert_large); default: "
        "the model's own (128)",
        metavar="L",
        parse=int,
    )
    data_dir: str = option(
        "~/.cache/keras-profiler/datasets", option_help.data_dir, metavar="DIR", parse=str
    )
    allow_download: bool = option(
        True,
        "never download: fail with a message when the data is not in --data-dir",
        flag="--no-download",
        switch=False,
    )
    timeout_seconds: float | None = option(
        None,
        "stop a run after this long and record it as a timeout",
        flag="--timeout",
        metavar="SECONDS",
        parse=float,
    )
    strategy: str | None = option(None, option_help.strategy)
    bucket_mb: float | None = option(None, option_help.bucket_mb, metavar="MB", parse=float)
    lr_scaling: str = option(
        "fixed",
        "fixed: the same learning rate at any device count; linear: multiplied by the devices",
        choices=LR_SCALINGS,
    )
    jit_compile: bool | None = option(
        None, option_help.jit_compile, metavar="{on,off}", parse=on_off
    )
    data_format: str | None = option(None, option_help.data_format, choices=DATA_FORMATS)
    profile_layers: bool = option(
        False,
        "after training, time when each layer's gradient is ready in a step (torch: autograd "
        "hooks; other backends: the step apportioned by each layer's multiply-adds), for "
        "`predict`; one device on one node",
        switch=True,
    )
    distortions: bool = option(
        False,
        "random crop and horizontal flip of each training image on the input path (real data "
        "only), as tf_cnn_benchmarks' distortions runs",
        switch=True,
    )
    repeat: int = 1
    # "train", or "infer" (python -m keras_profiler infer): forward only,
    # batch latencies; the infer command sets these from its own options.
    mode: str = "train"
    infer_iterations: int | None = None
    infer_seconds: float | None = None
    input_on_device: bool = False
    steps_per_execution: int = option(
        1,
        "train N steps per call of Keras's compiled train function (Keras 3 backends): less "
        "Python per step; callbacks see one batch per call, so --sync-every must be a "
        "multiple of N",
        metavar="N",
        parse=int,
    )
    sync_every: int = option(
        10,
        "wait for the device every K steps (at least 2; never every step) and time each "
        "K-step interval: the steady speed's standard error, jitter and 95% interval",
        metavar="K",
        parse=int,
    )
    until_stable: float | None = option(
        None,
        "a speed-only run: stop training as soon as the steady speed's 95% interval is within "
        "PCT percent of it (at most --epochs), with no test evaluation",
        metavar="PCT",
        parse=float,
    )
    peak_tflops: float | None = option(
        None,
        "the device's peak TFLOP/s for MFU (model FLOPs utilisation), where keras-profiler's "
        "table of known GPUs lacks it or you know better",
        metavar="TFLOPS",
        parse=float,
    )

    def __post_init__(self):
        _check_choice("backend", self.backend, backends.NAMES)
        _check_registry("model", model_registry.check, self.model)
        kind = model_registry.input_kind(self.model)
        if self.dataset is None:
            object.__setattr__(self, "dataset", dataset_registry.default_for(kind))
        _check_registry("dataset", dataset_registry.check, self.dataset)
        _check_input_kind(self.model, kind, self.dataset)
        _check_sample_size(self.model, kind, self.image_size, self.sequence_length)
        _check_choice("precision", self.precision, PRECISIONS)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        for field in ("devices", "batch_size", "epochs"):
            _check_at_least(field, getattr(self, field), 1)
        for field in ("steps_per_epoch", "train_samples", "test_samples"):
            if getattr(self, field) is not None:
                _check_at_least(field, getattr(self, field), 1)
        _check_at_least("seed", self.seed, 0)
        self._check_nodes()
        self._check_profile_layers()
        self._check_mode()
        if self.image_size is not None:
            _check_at_least("image_size", self.image_size, 32)
        if self.sequence_length is not None:
            _check_at_least("sequence_length", self.sequence_length, 2)
        if self.test_samples is None:
            dataset = dataset_registry.get(self.dataset)
            # Stated here, so that the record says so.
            object.__setattr__(self, "test_samples", dataset.default_test_samples(self.image_size))
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
        if self.distortions and (dataset_registry.get(self.dataset).SYNTHETIC or kind != "images"):
            raise ValueError(
                f"{flag('distortions')} distorts real images: use {flag('dataset')} "
                f"{dataset_registry.DEFAULT}, or leave it out for synthetic data"
            )
        self._resolve_distribution()

    def _resolve_distribution(self) -> None:
        """Fills in the backend's defaults, so that every record states the
        strategy, bucket size and jit setting it ran with."""
        adapter = backends.get(self.backend)
        if self.strategy is None and self.nodes > 1:
            # The strategy that spans nodes; for a backend that cannot, its
            # data-parallel one, which checks.unsupported then refuses.
            spanning = adapter.multi_node_strategy or adapter.data_parallel_default(gpus.count())
            object.__setattr__(self, "strategy", spanning)
        if self.strategy is None:
            default = adapter.default_strategy(self.devices, gpus.count())
            object.__setattr__(self, "strategy", default)
        spanning = adapter.multi_node_strategy
        if self.nodes > 1 and spanning is not None and self.strategy != spanning:
            raise ValueError(
                f"{flag('nodes')} {self.nodes} trains with {flag('strategy')} "
                f"{adapter.multi_node_strategy} under {self.backend}, not {self.strategy}"
            )
        _check_strategy(self.backend, self.strategy, self.devices)
        self._resolve_bucket_mb(adapter.bucket_mb_defaults)
        if self.bucket_mb is not None and not self.bucket_mb > 0:
            raise ValueError(f"{flag('bucket_mb')} must be positive, got {self.bucket_mb}")
        if self.jit_compile is None:
            object.__setattr__(self, "jit_compile", adapter.default_jit_compile)
        if self.data_format is None:
            object.__setattr__(self, "data_format", adapter.default_data_format)
        _check_choice("data_format", self.data_format, DATA_FORMATS)

    def _check_mode(self) -> None:
        _check_choice("mode", self.mode, MODES)
        if self.mode != "infer":
            return
        if self.nodes > 1:
            raise ValueError(f"infer measures one node for now: drop {flag('nodes')} {self.nodes}")
        if self.infer_iterations is not None and self.infer_iterations < 1:
            raise ValueError(f"--iterations must be at least 1, got {self.infer_iterations}")
        if self.infer_seconds is not None and not self.infer_seconds > 0:
            raise ValueError(f"--duration must be positive, got {self.infer_seconds}")

    def _check_profile_layers(self) -> None:
        if not self.profile_layers:
            return
        for name, value in (("devices", self.devices), ("nodes", self.nodes)):
            if value > 1:
                raise ValueError(
                    f"{flag('profile_layers')} profiles one device on one node: drop "
                    f"{flag(name)} {value}"
                )

    def _check_nodes(self) -> None:
        """--nodes, --node-rank and --coordinator make one consistent cluster."""
        _check_at_least("nodes", self.nodes, 1)
        if not 0 <= self.node_rank < self.nodes:
            raise ValueError(
                f"{flag('node_rank')} {self.node_rank} is out of range for {flag('nodes')} "
                f"{self.nodes}: give 0 to {self.nodes - 1}"
            )
        if not self.join_timeout > 0:
            raise ValueError(f"{flag('join_timeout')} must be positive, got {self.join_timeout}")
        if self.nodes == 1:
            if self.coordinator is not None:
                raise ValueError(
                    f"{flag('coordinator')} is where several nodes meet: add {flag('nodes')} N"
                )
            return
        # A backend that cannot span nodes: checks.unsupported says so (a
        # sweep records it as not supported).
        if self.coordinator is None:
            raise ValueError(
                f"{flag('nodes')} {self.nodes} needs {flag('coordinator')} HOST:PORT, node 0's "
                "address, the same on every node"
            )
        host, _, port = self.coordinator.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(
                f"{flag('coordinator')} {self.coordinator!r} is not HOST:PORT (a port from 1 "
                "to 65535): give node 0's address, e.g. 10.0.0.1:29500"
            )

    def _resolve_bucket_mb(self, bucketed: dict[str, float]) -> None:
        """The gradient bucket size, where the strategy buckets gradients."""
        if self.bucket_mb is not None and self.strategy not in bucketed:
            raise ValueError(
                f"{flag('bucket_mb')} sets the gradient buckets of "
                f"{', '.join(option_help.bucketed())}; it does not apply to {self.backend} with "
                f"{flag('strategy')} {self.strategy}"
                + (f": add {flag('strategy')} {next(iter(bucketed))}" if bucketed else "")
            )
        if self.bucket_mb is None and self.strategy in bucketed:
            object.__setattr__(self, "bucket_mb", bucketed[self.strategy])

    @property
    def world_size(self) -> int:
        """Devices over all nodes: the data-parallel replicas."""
        return self.devices * self.nodes

    @property
    def global_batch_size(self) -> int:
        """Samples per training step over all devices of all nodes."""
        return self.batch_size * self.world_size

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
            ("infer-" if self.mode == "infer" else "")
            + f"{model}-{self.backend}-{self.strategy}-{self.devices}dev-b{self.batch_size}"
            f"-{self.precision}"
            f"-{self.dataset}{'-distorted' if self.distortions else ''}"
            + (f"-{self.image_size}px" if self.image_size else "")
            + (f"-{self.sequence_length}tok" if self.sequence_length else "")
            + (f"-{self.nodes}nodes" if self.nodes > 1 else "")
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


_FIELDS = {field.name: field for field in dataclasses.fields(RunConfig)}


def _check_input_kind(model: str, kind: str, dataset: str) -> None:
    """A model is fed the kind of sample it reads: images or token sequences."""
    given = dataset_registry.input_kind(dataset)
    if given != kind:
        raise ValueError(
            f"{model} reads {_KIND_WORDS[kind]}, {flag('dataset')} {dataset} holds "
            f"{_KIND_WORDS[given]}: use {flag('dataset')} {dataset_registry.default_for(kind)}"
            " or leave it out"
        )


def _check_sample_size(model: str, kind: str, image_size, sequence_length) -> None:
    """--image-size sizes images, --sequence-length token sequences."""
    if kind == "tokens" and image_size is not None:
        raise ValueError(
            f"{flag('image_size')} sizes images; {model} reads token sequences: "
            f"use {flag('sequence_length')}"
        )
    if kind == "images" and sequence_length is not None:
        raise ValueError(
            f"{flag('sequence_length')} sizes token sequences; {model} reads images: "
            f"use {flag('image_size')}"
        )


_KIND_WORDS = {"images": "images", "tokens": "token sequences"}


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
