"""TensorFlow: Keras 3's tensorflow backend."""

from __future__ import annotations

from keras_profiler.backends.base import Backend


class TensorFlowBackend(Backend):
    name = "tensorflow"
    library = "tensorflow"
    pip_requirement = "tensorflow"
    peak_device_memory_label = "tf get_memory_info peak"

    def child_environment(self, devices, gpus_present):
        # Grow GPU memory on demand: the default reserves nearly all of it,
        # and the memory figures would measure the reservation.
        return {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}

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

    def describe_devices(self):
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            return [{"kind": "cpu", "name": None, "index": 0}]
        return [
            {
                "kind": "gpu",
                "name": tf.config.experimental.get_device_details(g).get("device_name"),
                "index": i,
            }
            for i, g in enumerate(gpus)
        ]

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


ADAPTER = TensorFlowBackend()
