"""JAX: Keras 3's jax backend."""

from __future__ import annotations

from keras_profiler.backends.base import Backend


class JaxBackend(Backend):
    name = "jax"
    library = "jax"
    pip_requirement = "jax"
    peak_device_memory_label = "jax memory_stats peak_bytes_in_use"

    def child_environment(self, devices, gpus_present):
        # Without this XLA reserves 75% of GPU memory up front, and NVML would
        # report the reservation instead of what training uses.
        return {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}

    def synchronize(self, model):
        import jax

        # Keras keeps the latest weights in its variables once an epoch ends;
        # waiting on them waits on the whole step that produced them.
        jax.block_until_ready([v.value for v in model.variables])

    def peak_device_memory(self):
        import jax

        stats = [device.memory_stats() for device in jax.local_devices()]
        if not stats or any(s is None or "peak_bytes_in_use" not in s for s in stats):
            return None
        return [int(s["peak_bytes_in_use"]) for s in stats]

    def describe_devices(self):
        import jax

        return [
            {"kind": d.platform, "name": d.device_kind, "index": d.id} for d in jax.local_devices()
        ]

    def library_versions(self):
        import jax
        import jax.extend
        import jaxlib

        backend = jax.extend.backend.get_backend()
        cuda = backend.platform_version if backend.platform == "gpu" else None
        return {"jax": jax.__version__, "jaxlib": jaxlib.__version__, "cuda": cuda}


ADAPTER = JaxBackend()
