"""What one all-reduce costs through jax itself across the run's processes,
timed by every process of a multi-node jax run before it trains.

The all-reduce probe (keras_profiler.nodes.probe) times torch's gloo, one
all-reduce of each size. A jax step's gradients go through XLA's CPU
collectives instead, one all-reduce per weight tensor (the ``unfused``
method of keras_profiler.predict.schedules), so what each collective costs
beyond its bytes decides the step; bench/results/netns-jax-collectives.md
measures it far above the probe's latency. Timed here, with the run's own
jax.distributed processes:

- ``per_collective_s``: a jit program of ``small_count`` independent
  all-reduces of ``small_bytes`` each, over the count: what each tensor of
  the step's combined gradient exchange costs beyond its bytes;
- ``dependent_s``: a jit program of a chain of ``small_count`` all-reduces
  of ``small_bytes``, each of the one before, over the count: what a
  collective the computation waits on costs, which nothing can overlap.
  Data parallelism over XLA's SPMD partitioner puts such collectives
  inside forward and backward, wherever a layer reduces over the batch
  (BatchNormalization's statistics). Between netns nodes on 2 cores the
  two come out close (bench/results/netns-jax-collectives-xeon-sync.md);
- ``large_s``: one all-reduce of ``large_bytes`` (float32), for the bytes'
  rate: busbw as nccl-tests defines it (algbw x 2(p-1)/p).

Medians of ``repeats`` calls after two untimed. Every process must call
``measure`` (they are collectives).
"""

from __future__ import annotations

import statistics
import time

from keras_profiler.predict.collectives import Link

SMALL_COUNT = 64
SMALL_BYTES = 1024
LARGE_BYTES = 4 * 2**20
REPEATS = 5


def measure(
    small_count: int = SMALL_COUNT,
    small_bytes: int = SMALL_BYTES,
    large_bytes: int = LARGE_BYTES,
    repeats: int = REPEATS,
) -> dict:
    """The figures above, over every process's first device."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    world = jax.process_count()
    # Each process's lowest-numbered device, the same choice on every process.
    firsts = [
        min((d for d in jax.devices() if d.process_index == p), key=lambda d: d.id)
        for p in range(world)
    ]
    mine = firsts[jax.process_index()]
    mesh = Mesh(np.array(firsts), ("processes",))
    sharded = NamedSharding(mesh, PartitionSpec("processes"))
    replicated = NamedSharding(mesh, PartitionSpec())

    def global_array(elements: int):
        local = jax.device_put(np.ones((1, elements), np.float32), mine)
        return jax.make_array_from_single_device_arrays((world, elements), sharded, [local])

    def median_time(function, argument) -> float:
        for _ in range(2):
            jax.block_until_ready(function(argument))
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            jax.block_until_ready(function(argument))
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    def median_call(arrays) -> float:
        summed = jax.jit(
            lambda xs: [jnp.sum(x, axis=0) for x in xs], out_shardings=[replicated] * len(arrays)
        )
        return median_time(summed, arrays)

    small = median_call([global_array(small_bytes // 4) for _ in range(small_count)])
    dependent = median_time(_chained(small_count, replicated), global_array(small_bytes // 4))
    large = median_call([global_array(large_bytes // 4)])
    return {
        "engine": f"jax {jax.__version__}, XLA CPU collectives over gloo",
        "processes": world,
        "per_collective_s": small / small_count,
        "dependent_s": dependent / small_count,
        "small_bytes": small_bytes,
        "small_count": small_count,
        "large_bytes": large_bytes,
        "large_s": large,
        "busbw_gbit_per_s": large_bytes / large * 2 * (world - 1) / world * 8 / 1e9,
        "repeats": repeats,
    }


def _chained(count: int, replicated):
    """A jit program of ``count`` all-reduces over the processes, each of
    the one before (so none can be combined or started early)."""
    import jax
    import jax.numpy as jnp

    def chain(x):
        for _ in range(count):
            x = x * 0.5 + jnp.sum(x, axis=0, keepdims=True)
        return jnp.sum(x, axis=0)

    return jax.jit(chain, out_shardings=replicated)


def ring_link(figures: dict) -> Link:
    """One link of a ring among the processes: a collective's cost is
    2(p-1) alpha (its few bytes are nothing beside it); the large one's
    time less that is 2(p-1)/p m / beta; a dependent collective's cost is
    2(p-1) of the link's dependent alpha (records before it was timed: none)."""
    ranks = int(figures["processes"])
    steps = 2 * (ranks - 1)
    alpha = figures["per_collective_s"] / steps
    moving = max(figures["large_s"] - figures["per_collective_s"], 1e-9)
    dependent = figures.get("dependent_s")
    return Link(
        alpha,
        steps / ranks * figures["large_bytes"] / moving,
        dependent_alpha_s=None if dependent is None else dependent / steps,
    )
