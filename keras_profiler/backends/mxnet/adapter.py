"""MXNet: the legacy Keras 2.2 API of keras-mxnet, in an environment of its own.

The launcher side (checks, the interpreter, the worker's environment) runs
under Keras 3's Python; everything from ``setup`` on runs inside the MXNet
environment (see ``environment``), where ``import keras`` is keras-mxnet 2.2.4.3.
Data parallelism is keras-mxnet's own: ``compile(context=[...])`` binds one
executor per device, splits every batch across them and sums the gradients
in MXNet's kvstore, in one process.
"""

from __future__ import annotations

from keras_profiler.backends.base import SINGLE, Backend, batch_sequence, max_abs_difference
from keras_profiler.backends.mxnet import environment as mxnet_env

MULTI_CONTEXT = "multi-context"


class MxnetBackend(Backend):
    name = "mxnet"
    multi_node_refusal = (
        "keras-profiler runs keras-mxnet's multi-context fit on one machine; MXNet's "
        "distributed kvstore (dist_sync, with its parameter servers) is not wired in; use "
        "jax or torch"
    )
    library = "mxnet"
    strategies = {
        MULTI_CONTEXT: "keras-mxnet's compile(context=[gpu(0), ..., gpu(N-1)]): one process, "
        "each batch split across the devices, gradients summed by the kvstore",
    }
    default_data_format = "channels_first"
    own_environment = True
    peak_device_memory_label = ""  # MXNet keeps no peak counter: NVML or RSS only
    strategy_labels = {MULTI_CONTEXT: "multi-context (kvstore)"}
    compiler = None  # always one compiled symbolic graph: nothing to switch
    # Keras 2.2's Conv2D has no groups, and it has no attention, layer
    # normalisation or local response normalisation layers.
    lacks = frozenset(
        {
            "grouped convolutions",
            "local response normalisation",
            "attention",
            "layer normalisation",
        }
    )
    keras_api = "Keras 2.2 through keras-mxnet"

    # --- in the launcher -------------------------------------------------

    def problem(self, config, gpus_present):
        if config.precision != "float32":
            return (
                f"--precision {config.precision} needs Keras 3's dtype policies; "
                "keras-mxnet (Keras 2.2) trains float32: use --precision float32"
            )
        if config.steps_per_execution > 1:
            return (
                f"--steps-per-execution {config.steps_per_execution} needs Keras 3; "
                "keras-mxnet (Keras 2.2) runs one step per call: leave it out"
            )
        if config.jit_compile:
            return (
                "--jit-compile on does not apply: MXNet always runs the model as one compiled "
                "symbolic graph; leave --jit-compile out"
            )
        if getattr(config, "input_on_device", False):
            return (
                "--input-on-device needs Keras 3's convert_to_tensor; keras-mxnet (Keras 2.2) "
                "copies each batch in predict_on_batch: leave --input-on-device out"
            )
        return None

    def missing_requirement(self):
        return None  # MXNet lives in its own environment: worker_python checks it

    def worker_python(self, requested):
        return mxnet_env.resolve(requested)

    def worker_command(self, python):
        return [python, str(mxnet_env.BOOTSTRAP)]

    def child_environment(self, config, gpus_present, rank):
        env = mxnet_env.bootstrap_environment()
        # Don't let the user's site-packages (Keras 3, numpy 2) leak in.
        env["PYTHONNOUSERSITE"] = "1"
        # Otherwise MXNet logs "Subgraph backend MKLDNN is activated" at every bind.
        env["MXNET_SUBGRAPH_VERBOSE"] = "0"
        return env

    # --- in the worker (Keras 2.2's API) --------------------------------------

    def setup(self, config):
        import warnings

        import mxnet as mx

        # keras-mxnet shows every DeprecationWarning, and mxnet 1.9.1 raises
        # one about SciPy's namespace at every batch.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"mxnet\.")
        # The optimizer's rescale_grad of 1/N is deliberate (see optimizer()).
        warnings.filterwarnings("ignore", message="Optimizer created manually outside Module")

        kind = "gpu" if mx.context.num_gpus() else "cpu"
        # keras-mxnet maps every "cpu(i)" to mx.cpu(): N CPU contexts are N
        # executors on the one host CPU, which is what virtual devices are.
        self._contexts = [f"{kind}({i})" for i in range(config.devices)]

    def set_globals(self, config):
        import random

        import keras
        import mxnet as mx
        import numpy as np

        # Keras 2 draws its initial weights from NumPy's generator.
        random.seed(config.seed)
        np.random.seed(config.seed)
        mx.random.seed(config.seed)
        keras.backend.set_image_data_format(config.data_format)
        _learn_batch_norm_gammas(keras, mx)

    def counted_weights(self, model):
        # keras-mxnet gives BatchNormalization(scale=False) a gamma of ones that
        # the model does not have (MXNet's operator needs one) and that never
        # changes (fix_gamma): it is not counted, as Keras 3 has no such weight.
        stand_ins = {
            id(layer.gamma)
            for layer in _all_layers(model)
            if _is_batch_norm(layer) and not layer.scale
        }
        return [w for w in model.weights if id(w) not in stand_ins]

    def optimizer(self, config):
        import keras

        # Each executor's loss is the mean over its share of the batch, and the
        # kvstore sums the executors' gradients: N contexts would step with N
        # times the mean gradient of the global batch (seen here: twice the
        # update at 2 contexts). Rescaling by 1/N steps with the mean, as the
        # other backends do, so that the learning rate means the same thing.
        options = {"rescale_grad": 1.0 / len(self._contexts)}
        rate = config.effective_learning_rate
        if config.optimizer == "adam":
            return keras.optimizers.Adam(lr=rate, **options)
        return keras.optimizers.SGD(lr=rate, momentum=0.9, **options)

    def compile_options(self, config):
        if config.strategy == SINGLE:
            return {}
        return {"context": list(self._contexts)}

    def weight_values(self, model):
        import keras

        return [keras.backend.get_value(v) for v in model.weights]

    def learning_rate(self, model):
        import keras

        return float(keras.backend.get_value(model.optimizer.lr))

    def fit_batches(self, model, batches, **options):
        import keras

        # Keras 2.2's fit takes arrays only: batches built on the host go
        # through fit_generator and a keras.utils.Sequence. Its one worker
        # thread builds batches ahead of training, the next epoch's before
        # the callbacks hear of that epoch, and calls on_epoch_end once all
        # of an epoch's batches are built (keras-mxnet 2.2.4.3's
        # OrderedEnqueuer): that call is what advances the epoch here.
        class Batches(batch_sequence(keras.utils.Sequence, batches)):
            def on_epoch_end(self):
                self.epoch += 1

        model.fit_generator(
            Batches(), shuffle=False, workers=1, use_multiprocessing=False, **options
        )

    def applied_settings(self, model):
        return {"mxnet_rescale_grad": float(model.optimizer.rescale_grad)}

    def local_test(self, x, y, config):
        # A last batch smaller than the number of executors would leave one
        # with nothing to do, which MXNet refuses ("Too many slices. Some
        # splits are empty.", seen with 65 images on 2 contexts): drop at most
        # N-1 images.
        count = len(x) - len(x) % config.devices
        return x[:count], y[:count], config.global_batch_size

    def rows_per_device(self, placed, model):
        # The compiled module's predict bucket binds one executor per
        # context and splits each batch between them, as fit does.
        predicting = model._module._buckets.get("pred") if model._module else None
        if predicting is None:
            return super().rows_per_device(placed, model)
        return [s.stop - s.start for s in predicting._exec_group.slices]

    def replica_differences(self, model):
        executors = model._module._curr_module._exec_group.execs
        if len(executors) < 2:
            return 0.0, 0.0
        trainable = {w.name for w in model.trainable_weights}

        def largest(names, table):
            return max(
                (
                    max_abs_difference([getattr(e, table)[n].asnumpy() for e in executors])
                    for n in names
                ),
                default=0.0,
            )

        # Trainable weights and BatchNorm's gammas and betas are arguments;
        # BatchNorm's moving statistics are auxiliary states.
        arguments = sorted(model._arg_names)
        every = max(largest(arguments, "arg_dict"), largest(sorted(model._aux_names), "aux_dict"))
        return every, largest([n for n in arguments if n in trainable], "arg_dict")

    def synchronize(self, model):
        import mxnet as mx

        mx.nd.waitall()

    def describe_devices(self, config):
        from keras_profiler import gpus

        names = {g["index"]: g["name"] for g in gpus.describe()}
        described = []
        for index, context in enumerate(self._contexts):
            kind = context.partition("(")[0]
            # GPU names from NVML: the launcher made CUDA's indices NVML's.
            name = names.get(index) if kind == "gpu" else None
            described.append({"kind": kind, "name": name, "index": index, "context": context})
        return described

    def library_versions(self):
        from importlib import metadata

        import mxnet as mx
        import numpy as np

        build = _installed_mxnet_distribution(metadata)
        cuda = build.removeprefix("mxnet-cu") if build.startswith("mxnet-cu") else None
        return {
            "mxnet": mx.__version__,
            "mxnet_build": build,
            "numpy": np.__version__,
            "cuda": f"{cuda[:-1]}.{cuda[-1]}" if cuda else None,
        }


def _learn_batch_norm_gammas(keras, mx) -> None:
    """Makes keras-mxnet's BatchNormalization learn gamma where the layer has one.

    keras-mxnet builds ``mx.sym.BatchNorm`` without ``fix_gamma``, whose
    default (True) pins gamma at 1: every BatchNormalization would train
    without its scale (seen here: gamma exactly 1 after training), unlike the
    same model under Keras 3. Each layer's operator is built with
    ``fix_gamma = not scale`` instead.
    """
    layer_class = keras.layers.BatchNormalization
    if getattr(layer_class, "_keras_profiler_gamma", False):
        return
    build_call, operator = layer_class.call, mx.sym.BatchNorm

    def call(self, inputs, training=None):
        def batch_norm(*args, **kwargs):
            kwargs.setdefault("fix_gamma", not self.scale)
            return operator(*args, **kwargs)

        # Graphs are built synchronously: the swap lasts for this layer only.
        mx.sym.BatchNorm = batch_norm
        try:
            return build_call(self, inputs, training=training)
        finally:
            mx.sym.BatchNorm = operator

    layer_class.call = call
    layer_class._keras_profiler_gamma = True


def _all_layers(model):
    """Every layer of ``model``, inside nested models too."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def _is_batch_norm(layer) -> bool:
    return type(layer).__name__ == "BatchNormalization"


def _installed_mxnet_distribution(metadata) -> str:
    """Which mxnet package provides ``mxnet``: mxnet (CPU) or mxnet-cuXXX."""
    names = {d.metadata["Name"].lower() for d in metadata.distributions()}
    return next((n for n in sorted(names) if n == "mxnet" or n.startswith("mxnet-cu")), "unknown")


ADAPTER = MxnetBackend()
