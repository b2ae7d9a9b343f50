"""The small interface each backend adapter implements.

Data parallelism is where backends differ most, so each adapter owns its
strategies: how N devices are exposed (real GPUs, or N virtual CPU devices
when there are none), how the model is built and wrapped, which slice of each
batch a process trains on, and how replicas are compared after training.
One device defaults to ``single``, a plain fit: what a one-GPU user runs, and
the baseline speedups are taken against. Every other strategy also runs at
one device when named, which measures what the data-parallel wrapper costs.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import sys

SINGLE = "single"  # plain model.fit on one device, no distribution at all


class Backend:
    """What the engine needs to know about one Keras backend.

    ``child_environment``, ``processes``, ``default_strategy`` and
    ``problem`` run in the launcher, which never imports a framework. The
    other methods run inside the worker, after Keras is imported; they import
    the framework lazily.
    """

    name: str = ""
    library: str = ""  # the framework's import name
    pip_requirement: str = ""  # what to install when it is missing
    # Data-parallel strategies besides "single": name -> what it does.
    strategies: dict[str, str] = {}
    # The strategies that all-reduce gradients in buckets whose size
    # --bucket-mb sets, each with the size in MB it takes when not given.
    bucket_mb_defaults: dict[str, float] = {}
    default_jit_compile: bool = False
    # Runs in a Python environment of its own, built by keras-profiler (MXNet).
    own_environment: bool = False
    # Which of models.FEATURES this backend's Keras cannot express: a model
    # that needs one is refused here (a sweep records it as not supported).
    lacks: frozenset[str] = frozenset()
    # Its Keras, in words, for the refusal.
    keras_api: str = "Keras 3"
    # MXNet's kernels are NCHW (channels_first); Keras 3's default is NHWC.
    default_data_format: str = "channels_last"
    # Whether training may feed tf.data, so that TensorFlow must be seeded
    # too (Keras's set_random_seed imports it for that whenever installed).
    seeds_tensorflow: bool = False
    peak_device_memory_label: str = ""
    # What the reports call things (report/data/series.py asks these).
    # Each data-parallel strategy in the reference tables' words; one not
    # given is named as it is.
    strategy_labels: dict[str, str] = {}
    # What compiles the train step when --jit-compile is on; None where
    # there is nothing to switch.
    compiler: str | None = "XLA"
    # Whether compiling is opt-in for the backend's users, so that a table
    # heading leaves its usual 'off' unsaid.
    compiler_opt_in: bool = False
    # The strategy that spans several nodes (--nodes), or None with the
    # reason it cannot, in words for a one-line refusal.
    multi_node_strategy: str | None = None
    # What meets the nodes and carries their collectives, in words.
    multi_node_engine: str | None = None
    multi_node_refusal: str = "it cannot train across machines here"

    def strategy_label(self, strategy: str) -> str:
        """``strategy`` in the words of the reference tables."""
        if strategy == SINGLE:
            return "single device, no distribution"
        return self.strategy_labels.get(strategy, strategy)

    # --- in the launcher -------------------------------------------------

    def default_strategy(self, devices: int, gpus_present: int) -> str:
        # A data-parallel wrapper at one device costs time and buys nothing
        # (bench/results/harness-efficiency.md measures it per backend), so
        # one device trains plainly.
        return SINGLE if devices == 1 else self.data_parallel_default(gpus_present)

    def data_parallel_default(self, gpus_present: int) -> str:
        return next(iter(self.strategies))

    def problem(self, config, gpus_present: int) -> str | None:
        """Why ``config`` cannot run on this machine with this install, as one
        line saying what to change, or None."""
        return None

    def missing_requirement(self) -> str | None:
        """The pip requirement to install when the framework or Keras is absent, else None."""
        if importlib.util.find_spec(self.library) is None:
            return self.pip_requirement
        if importlib.util.find_spec("keras") is None:
            return "keras"
        return None

    def worker_python(self, requested: str | None) -> str:
        """The interpreter the workers run in (``requested``: --mxnet-python,
        which only MXNet takes): this one, where Keras 3 is installed."""
        return sys.executable

    def worker_command(self, python: str) -> list[str]:
        """The command that runs a module of keras-profiler's in ``python``,
        before the module name."""
        return [python, "-m"]

    def processes(self, config) -> int:
        """Worker processes a run needs (one per device for torch's DDP)."""
        return 1

    def child_environment(self, config, gpus_present: int, rank: int) -> dict[str, str]:
        """Environment variables a worker needs before the framework is imported."""
        return {}

    # --- in the worker ---------------------------------------------------

    rank: int = 0  # this worker's process rank; 0 writes the record

    def setup(self, config) -> None:
        """Exposes the run's devices; called before any model is built."""

    def engine_collectives(self, config) -> dict | None:
        """What one all-reduce costs through this backend's own collectives
        across the nodes, timed by every node's worker before it trains (a
        collective: all must call it), where that differs from the probe's;
        None here."""
        return None

    def serving(self, model):
        """What times one batch of inference (keras_profiler.inference.serving):
        here ``predict_on_batch``."""
        from keras_profiler.inference.serving import PredictOnBatch

        return PredictOnBatch(model)

    def inference_share(self, rows):
        """The rows of one global batch that this process serves: all of
        them here, where one process drives every device."""
        return rows

    def lockstep(self):
        """How this run's serving processes keep in step
        (keras_profiler.inference.lockstep): here one process, alone."""
        from keras_profiler.inference.lockstep import SOLO

        return SOLO

    def inference_input(self, batch):
        """``batch`` as ``predict_on_batch`` takes it, split over the run's
        devices where the backend's predict step would not split it itself;
        here, one device: as it is."""
        return batch

    def rows_per_device(self, placed, model) -> list[int]:
        """How many rows of ``placed`` (``inference_input``'s) each device
        holds, once ``model`` has served it."""
        return [len(placed)]

    # Keras 3's API; the MXNet adapter answers these with Keras 2.2's.

    def set_globals(self, config) -> None:
        """Seeds every generator and sets the dtype policy and data format,
        before the model is built."""
        import keras

        with contextlib.nullcontext() if self.seeds_tensorflow else _tensorflow_hidden():
            keras.utils.set_random_seed(config.seed)
        keras.mixed_precision.set_global_policy(config.precision)
        keras.config.set_image_data_format(config.data_format)

    def optimizer(self, config):
        """The optimizer ``config`` asks for, at its effective learning rate."""
        import keras

        if config.optimizer == "adam":
            return keras.optimizers.Adam(learning_rate=config.effective_learning_rate)
        return keras.optimizers.SGD(learning_rate=config.effective_learning_rate, momentum=0.9)

    def compile_options(self, config) -> dict:
        """Keyword arguments of ``model.compile`` that only this backend takes."""
        return {
            "jit_compile": config.jit_compile,
            "steps_per_execution": config.steps_per_execution,
        }

    def counted_weights(self, model) -> list:
        """The weights the model definition has, trainable or not: what the
        records' parameter count and parameter memory count."""
        return list(model.weights)

    def parameter_count(self, model) -> int:
        """The parameters the model definition has (trainable or not)."""
        return sum(math.prod(int(d) for d in w.shape) for w in self.counted_weights(model))

    def weight_values(self, model) -> list:
        """Every weight of ``model`` as a NumPy array, in the model's order."""
        import keras

        return [keras.ops.convert_to_numpy(v.value) for v in model.weights]

    def learning_rate(self, model) -> float:
        """The learning rate the optimizer trains with."""
        import keras

        return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))

    def scope(self):
        """The context in which the model is built and compiled."""
        return contextlib.nullcontext()

    def prepare(self, model, config) -> None:
        """Wraps a compiled model for data parallelism, where the backend needs it."""

    def local_batch(self, x, y, config):
        """This process's part of the training data, and the batch size to give
        fit: the whole global batch where one process drives every device."""
        return x, y, config.global_batch_size

    def local_test(self, x, y, config):
        """This process's part of the test data, and the batch size to evaluate it with."""
        return x, y, config.global_batch_size

    def fit_batches(self, model, batches, **options) -> None:
        """Trains ``model`` on ``batches`` (an ``input_pipeline.DistortedBatches``),
        each built on the host when Keras asks for it, through Keras's own
        mechanism for that: a ``keras.utils.PyDataset`` in Keras 3, under every
        backend and distribution. ``options``: epochs, verbose, callbacks.

        The dataset orders its rows itself (seeded), so fit does not shuffle.
        Its default of one worker builds each batch in the training loop
        (tf.data prefetches it under tensorflow).
        """
        import keras

        class EpochNumber(keras.callbacks.Callback):
            # Keras's own epoch number, set before the epoch's batches are
            # asked for. Not PyDataset.on_epoch_end: Keras 3 calls it once
            # more, after taking a batch to build the model (seen in 3.15.1).
            def on_epoch_begin(self, epoch, logs=None):
                dataset.epoch = epoch

        dataset = batch_sequence(keras.utils.PyDataset, batches)()
        callbacks = [EpochNumber(), *options.pop("callbacks", [])]
        model.fit(dataset, shuffle=False, callbacks=callbacks, **options)

    def applied_settings(self, model) -> dict:
        """Settings read back from what trained the model (torch: the DDP
        wrapper's bucket size), to record beside what was asked for."""
        return {}

    def replica_differences(self, model) -> tuple[float, float]:
        """Largest absolute difference between device replicas, over (all
        weights, trainable weights); (0.0, 0.0) with one replica."""
        return 0.0, 0.0

    def gather(self, value) -> list:
        """``value`` from every process of the run, in rank order."""
        return [value]

    def teardown(self) -> None:
        """Releases what ``setup`` acquired (process groups)."""

    def synchronize(self, model) -> None:
        """Returns once the device has finished all work queued for ``model``."""

    def gradient_timer(self, model):
        """A context timing, in each ``train_on_batch`` inside it, when the
        forward pass ends, backward starts and each weight's gradient is
        ready (keras_profiler.training.layer_profile); None where the
        backend has no hooks for it (its step is apportioned instead)."""
        return None

    def data_parallel_sync_points(self, model) -> int:
        """How many collectives this backend's data parallelism puts inside
        ``model``'s forward and backward, that the computation waits on
        (keras_profiler.predict.schedules): none here, where each device
        computes its own step and only the gradients are exchanged."""
        return 0

    def all_agree(self, decision: bool) -> bool:
        """Whether every process of the run decided ``decision``: True only if
        all did. One process per run here; see torch's for several."""
        return decision

    def peak_device_memory(self) -> list[int] | None:
        """Peak bytes allocated per device by the framework, or None where it keeps
        no such counter (CPUs)."""
        return None

    def describe_devices(self, config) -> list[dict]:
        """The devices this process trains on: kind ('gpu' or 'cpu'), name, index."""
        raise NotImplementedError

    def library_versions(self) -> dict[str, str | None]:
        """Versions of the framework and its CUDA/cuDNN builds."""
        raise NotImplementedError

    def is_out_of_memory(self, error: BaseException) -> bool:
        """Whether ``error`` means a device ran out of memory."""
        if isinstance(error, MemoryError):
            return True
        text = f"{type(error).__name__}: {error}"
        return any(mark in text for mark in _OOM_MARKS)


class _NoTensorFlow:
    """An import finder under which TensorFlow is not installed."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "tensorflow":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


@contextlib.contextmanager
def _tensorflow_hidden():
    """Keras sees no TensorFlow meanwhile, and remembers that (its lazy
    module caches the failed import), as for a user without TensorFlow.
    Without this a jax or torch run that feeds no tf.data would import it
    only to seed it: seconds of set-up and hundreds of MiB of host memory,
    which the run's memory peak would count against its backend. A
    TensorFlow already imported is seeded as before."""
    finder = _NoTensorFlow()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def batch_sequence(base: type, batches) -> type:
    """A subclass of ``base`` (Keras 3's ``PyDataset``, Keras 2's ``Sequence``)
    serving ``batches`` (an ``input_pipeline.DistortedBatches``) of the epoch
    its ``epoch`` attribute names; the adapters keep that attribute current,
    each the way its Keras line allows."""

    class Batches(base):
        epoch = 0

        def __len__(self):
            return len(batches)

        def __getitem__(self, index):
            return batches.batch(self.epoch, index)

    return Batches


def batch_part(x, y, share: int, parts: int, part: int):
    """Part ``part`` of ``parts`` of every global batch of ``share * parts``
    rows (rows [part * share, (part + 1) * share) of each), and the batch
    size it trains with: what one process feeds where several do."""
    import numpy as np

    batches = len(x) // (share * parts)
    rows = (np.arange(batches)[:, None] * share * parts + part * share + np.arange(share)).ravel()
    return x[rows], y[rows], share


def test_part(x, y, batch_size: int, parts: int, part: int):
    """Every ``parts``-th test row from ``part`` on, and the batch size to
    evaluate them with: the same count in every process, as Keras
    all-reduces the metrics after each step and a process with an extra
    step would wait forever. At most ``parts - 1`` rows are left out."""
    usable = len(x) - len(x) % parts
    return x[part:usable:parts], y[part:usable:parts], batch_size


def max_abs_difference(arrays) -> float:
    """Largest absolute difference of each array from the first (NumPy arrays)."""
    import numpy as np

    first = np.asarray(arrays[0])
    return max(
        (float(np.max(np.abs(np.asarray(a) - first), initial=0.0)) for a in arrays), default=0.0
    )


_OOM_MARKS = (
    "RESOURCE_EXHAUSTED",
    "ResourceExhausted",
    "out of memory",
    "OutOfMemory",
    "OOM ",
    # Host memory, which CPU runs train in: torch's CPU allocator, C++.
    "can't allocate memory",
    "std::bad_alloc",
)
