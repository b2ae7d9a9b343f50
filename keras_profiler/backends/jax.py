"""JAX: Keras 3's jax backend, data parallel through keras.distribution."""

from __future__ import annotations

import os

from keras_profiler import environment
from keras_profiler.backends.base import (
    SINGLE,
    Backend,
    batch_part,
    max_abs_difference,
    test_part,
)


class JaxBackend(Backend):
    name = "jax"
    library = "jax"
    pip_requirement = "jax"
    strategies = {
        "data-parallel": "keras.distribution.DataParallel: one program over all devices, "
        "the batch sharded, gradients all-reduced by XLA",
    }
    # Keras on jax always compiles the train step; without it every op dispatches alone.
    default_jit_compile = True
    peak_device_memory_label = "jax memory_stats peak_bytes_in_use"
    multi_node_strategy = "data-parallel"
    multi_node_engine = "jax.distributed: its coordination service, gloo CPU collectives"

    def child_environment(self, config, gpus_present, rank):
        env = {
            # Without this XLA reserves 75% of GPU memory up front, and NVML
            # would report the reservation instead of what training uses.
            "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
        }
        if not gpus_present:
            # N virtual CPU devices; XLA reads this when jax starts.
            flags = os.environ.get("XLA_FLAGS", "")
            env["XLA_FLAGS"] = (
                f"{flags} --xla_force_host_platform_device_count={config.devices}".strip()
            )
            env.update(_dispatch_threads(config.devices))
        return env

    def setup(self, config):
        import jax
        import keras

        self.rank = config.node_rank
        if config.nodes > 1:
            # One process per node, every node's devices in one program;
            # between CPU processes XLA's collectives go through gloo.
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
            _initialize_processes(config)
            self._devices = jax.local_devices()[: config.devices]
            distribution = keras.distribution.DataParallel(devices=jax.devices())
            # Each process is fed its own rows already (local_batch).
            distribution.auto_shard_dataset = False
            keras.distribution.set_distribution(distribution)
            return
        self._devices = jax.devices()[: config.devices]
        if config.strategy != SINGLE:
            keras.distribution.set_distribution(
                keras.distribution.DataParallel(devices=self._devices)
            )

    def prepare(self, model, config):
        if config.strategy == SINGLE:
            return
        import jax

        # Under keras.distribution, jit compiles train_step again for every new
        # mix of committed and uncommitted arrays among its inputs. Freshly
        # built weights and optimizer slots are uncommitted and the steps'
        # outputs committed, so without this the second epoch opened with a
        # compilation of its own, counted in the steady state. Committed
        # first, every mix the run will see occurs in epoch 1, which is
        # reported apart.
        model.optimizer.build(model.trainable_variables)
        for variable in [*model.variables, *model.optimizer.variables]:
            variable.assign(jax.device_put(variable.value, variable.value.sharding))

    def local_batch(self, x, y, config):
        if config.nodes == 1:
            return super().local_batch(x, y, config)
        # One process per node, which feeds its devices' rows of every global
        # batch (Keras makes the global array from the processes' parts).
        share = config.batch_size * config.devices
        return batch_part(x, y, share, config.nodes, config.node_rank)

    def local_test(self, x, y, config):
        if config.nodes == 1:
            return super().local_test(x, y, config)
        share = config.batch_size * config.devices
        return test_part(x, y, share, config.nodes, config.node_rank)

    def engine_collectives(self, config):
        if config.nodes == 1:
            return None
        from keras_profiler.nodes import jax_collectives

        # One all-reduce per weight tensor under XLA on CPUs: the probe's
        # torch gloo does not see what each costs (nodes/jax_collectives.py).
        return jax_collectives.measure()

    def serving(self, model):
        from keras_profiler.inference.serving import ThreadedJaxState

        return ThreadedJaxState(model)

    def inference_input(self, batch):
        import keras

        distribution = keras.distribution.distribution()
        if distribution is None:
            return batch
        # predict_on_batch hands its input to jit as it is, which would run
        # the whole batch on every device; Keras's predict lays each batch
        # out over the devices first, as this does.
        layout = distribution.get_data_layout(batch.shape)
        return keras.distribution.distribute_tensor(batch, layout)

    def rows_per_device(self, placed, model):
        shards = getattr(placed, "addressable_shards", None)
        if not shards:
            return super().rows_per_device(placed, model)
        return [int(shard.data.shape[0]) for shard in shards]

    def data_parallel_sync_points(self, model):
        # Under keras.distribution.DataParallel, XLA's SPMD partitioner
        # makes a batch-sharded reduction global: each BatchNormalization
        # that trains all-reduces its mean and then its variance in forward,
        # and two sums in backward (tests/test_predict_sync_points.py counts
        # them in the compiled step). Layers in parallel branches may share
        # some, so this is at most what the step holds.
        import keras

        from keras_profiler import model_stats

        return 4 * sum(
            1
            for layer in model_stats.leaf_layers(model)
            if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable
        )

    def gather(self, value):
        import json

        import jax
        import numpy as np
        from jax.experimental import multihost_utils

        if jax.process_count() == 1:
            return [value]
        # Fixed-width bytes, as process_allgather gathers arrays.
        encoded = json.dumps(value).encode()
        width = int(np.max(multihost_utils.process_allgather(np.array([len(encoded)]))))
        padded = np.frombuffer(encoded.ljust(width), dtype=np.uint8)
        rows = multihost_utils.process_allgather(padded)
        return [json.loads(bytes(row).decode().rstrip()) for row in np.asarray(rows)]

    def replica_differences(self, model):
        def largest(variables):
            return max(
                (
                    max_abs_difference([shard.data for shard in v.value.addressable_shards])
                    for v in variables
                ),
                default=0.0,
            )

        return largest(model.weights), largest(model.trainable_weights)

    def synchronize(self, model):
        import jax

        # Within an epoch Keras keeps the newest state apart from the model's
        # variables (it writes them back at the epoch's end): waiting on that
        # state waits on the whole step that produced it.
        state = getattr(model, "_jax_state", None)
        jax.block_until_ready(state or [v.value for v in model.variables])

    def peak_device_memory(self):
        stats = [device.memory_stats() for device in self._used_devices()]
        if not stats or any(s is None or "peak_bytes_in_use" not in s for s in stats):
            return None
        return [int(s["peak_bytes_in_use"]) for s in stats]

    def describe_devices(self, config):
        return [
            {"kind": d.platform, "name": d.device_kind, "index": d.id} for d in self._used_devices()
        ]

    def _used_devices(self):
        import jax

        # The run's devices once setup() ran; every local device for a
        # ProfilerCallback used in the user's own script.
        return getattr(self, "_devices", None) or jax.local_devices()

    def library_versions(self):
        import jax
        import jax.extend
        import jaxlib

        backend = jax.extend.backend.get_backend()
        cuda = backend.platform_version if backend.platform == "gpu" else None
        return {"jax": jax.__version__, "jaxlib": jaxlib.__version__, "cuda": cuda}


def _initialize_processes(config) -> None:
    """keras.distribution.initialize, with --join-timeout as jax.distributed's
    timeouts: to join, and without a heartbeat from a node before the others
    stop (jax's default: 100 s; Keras's initialize passes neither)."""
    import jax
    from keras.src.backend.jax.distribution_lib import initialize_rng

    timeout = max(1, round(config.join_timeout))
    jax.distributed.initialize(
        coordinator_address=config.coordinator,
        num_processes=config.nodes,
        process_id=config.node_rank,
        initialization_timeout=timeout,
        heartbeat_timeout_seconds=timeout,
    )
    initialize_rng()  # what keras.distribution.initialize does next: one seed on every node


def _dispatch_threads(devices: int) -> dict[str, str]:
    """PJRT_NPROC, the thread count of XLA's CPU client, where the CPU has
    fewer cores than twice the virtual devices; else nothing.

    The client sizes its dispatch pool at max(cores, devices). Each device's
    launch of a step takes a pool thread and blocks there once the device has
    its limit of computations in flight; the device's half of a collective
    then needs a pool thread too. Keras's evaluation, dispatched without a
    wait per step, reaches that limit: with 2 devices on 2 cores one thread
    runs device 0 inside an all-reduce while the other waits to launch on
    device 1, whose half of the all-reduce is queued behind them, and XLA
    aborts the process after its rendezvous timeout. Launches for one step
    take at most one thread per device and one collective runs at a time,
    so twice the devices always leaves threads for it. The same count sizes
    the pool the kernels run on, which then has more threads than cores:
    virtual devices test the multi-device code path, not its speed. A
    PJRT_NPROC the user set is kept.
    """
    needed = 2 * devices
    if devices < 2 or "PJRT_NPROC" in os.environ or _usable_cores() >= needed:
        return {}
    return {"PJRT_NPROC": str(needed)}


def _usable_cores() -> int:
    """The cores this process may run on, as XLA counts them by default."""
    return environment.usable_cores()


ADAPTER = JaxBackend()
