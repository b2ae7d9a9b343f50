"""TensorFlow: Keras 3's tensorflow backend, data parallel through MirroredStrategy."""

from __future__ import annotations

from keras_profiler.backends.base import SINGLE, Backend, max_abs_difference

NCCL = "replicated-nccl"


class TensorFlowBackend(Backend):
    name = "tensorflow"
    # Tried here: bench/tf_multi_worker.py (two workers, TensorFlow's own
    # tutorial setup) fails in fit as keras-team/keras#20585 reports.
    multi_node_refusal = (
        "Keras 3's fit fails under tf.distribute.MultiWorkerMirroredStrategy "
        "(keras-team/keras#20585, open; bench/results/tf-multi-worker.md); use jax or torch"
    )
    library = "tensorflow"
    pip_requirement = "tensorflow"
    # The reference tables' variable-update modes (tf_cnn_benchmarks names).
    strategies = {
        NCCL: "MirroredStrategy, gradients summed by NCCL all-reduce (GPUs only)",
        "replicated": "MirroredStrategy, gradients summed by hierarchical-copy all-reduce",
        "parameter_server": "MirroredStrategy, gradients reduced to one device and broadcast back",
    }
    # Off by default, for one device and many alike: Keras's "auto" turns XLA
    # off under any tf.distribute strategy, and jit_compile=True fails under a
    # MirroredStrategy of several devices (keras-team/keras#19005).
    default_jit_compile = False
    peak_device_memory_label = "tf get_memory_info peak"
    strategy_labels = {
        NCCL: "replicated (NCCL all-reduce)",
        "replicated": "replicated (hierarchical-copy all-reduce)",
        "parameter_server": "parameter server",
    }
    seeds_tensorflow = True  # fit from NumPy goes through tf.data here

    def data_parallel_default(self, gpus_present):
        return NCCL if gpus_present else "replicated"

    def problem(self, config, gpus_present):
        if config.strategy == NCCL and not gpus_present:
            return (
                f"--strategy {NCCL} needs NVIDIA GPUs and this machine has none: "
                "use --strategy replicated or parameter_server"
            )
        if config.jit_compile and config.strategy != SINGLE and config.devices > 1:
            return (
                "--jit-compile on fails under tensorflow's MirroredStrategy with more than one "
                "device (keras-team/keras#19005): use --jit-compile off"
            )
        return None

    def setup(self, config):
        import tensorflow as tf

        self._strategy = None
        if config.strategy == SINGLE:
            return
        kind = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
        if kind == "CPU":
            # N virtual CPU devices; possible only before TensorFlow starts its runtime.
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * config.devices
            )
        devices = [d.name for d in tf.config.list_logical_devices(kind)][: config.devices]
        self._strategy = tf.distribute.MirroredStrategy(
            devices=devices, cross_device_ops=_cross_device_ops(tf, config.strategy)
        )

    def scope(self):
        if self._strategy is None:
            return super().scope()
        return self._strategy.scope()

    def inference_input(self, batch):
        if self._strategy is None:
            return batch
        import tensorflow as tf

        # predict_on_batch under a strategy runs a plain tensor whole on every
        # replica; per-replica values give each its share, as fit's
        # distributed dataset does.
        shards = tf.split(batch, self._strategy.num_replicas_in_sync)
        return self._strategy.experimental_distribute_values_from_function(
            lambda context: shards[context.replica_id_in_sync_group]
        )

    def rows_per_device(self, placed, model):
        if self._strategy is None:
            return super().rows_per_device(placed, model)
        return [int(t.shape[0]) for t in self._strategy.experimental_local_results(placed)]

    def replica_differences(self, model):
        if getattr(self, "_strategy", None) is None:
            return 0.0, 0.0

        def largest(variables):
            return max(
                (
                    max_abs_difference(
                        [r.numpy() for r in self._strategy.experimental_local_results(v.value)]
                    )
                    for v in variables
                ),
                default=0.0,
            )

        return largest(model.weights), largest(model.trainable_weights)

    def synchronize(self, model):
        import tensorflow as tf

        if tf.config.list_logical_devices("GPU"):
            tf.test.experimental.sync_devices()

    def peak_device_memory(self):
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        if not gpus:
            return None
        return [int(tf.config.experimental.get_memory_info(g.name)["peak"]) for g in gpus]

    def describe_devices(self, config):
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            return [
                {
                    "kind": "gpu",
                    "name": tf.config.experimental.get_device_details(g).get("device_name"),
                    "index": i,
                }
                for i, g in enumerate(gpus)
            ]
        cpus = tf.config.list_logical_devices("CPU")
        return [{"kind": "cpu", "name": None, "index": i} for i in range(len(cpus))]

    def library_versions(self):
        import tensorflow as tf

        # The build's CUDA versions say nothing about a run on the CPU.
        build = tf.sysconfig.get_build_info() if tf.config.list_physical_devices("GPU") else {}
        return {
            "tensorflow": tf.__version__,
            "cuda": build.get("cuda_version"),
            "cudnn": build.get("cudnn_version"),
        }

    def is_out_of_memory(self, error):
        import tensorflow as tf

        return isinstance(error, tf.errors.ResourceExhaustedError) or super().is_out_of_memory(
            error
        )


def _cross_device_ops(tf, strategy: str):
    if strategy == NCCL:
        return tf.distribute.NcclAllReduce()
    if strategy == "replicated":
        return tf.distribute.HierarchicalCopyAllReduce()
    return tf.distribute.ReductionToOneDevice()


ADAPTER = TensorFlowBackend()
