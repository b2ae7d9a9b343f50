"""Dispatches STEPS data-parallel steps on 2 virtual CPU devices without
waiting on any, then waits for them all: what Keras's evaluation does under
jax with keras.distribution.DataParallel. Each step's mean over the sharded
batch is an all-reduce. Run as a script, in the environment under test."""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def main(steps: int) -> None:
    mesh = Mesh(np.array(jax.devices()[:2]), ("batch",))
    weights = jax.device_put(jnp.full((512, 512), 1e-3), NamedSharding(mesh, PartitionSpec()))
    batch = jax.device_put(jnp.ones((1024, 512)), NamedSharding(mesh, PartitionSpec("batch")))
    # Slow next to its dispatch, so that dispatch runs far ahead of the devices.
    step = jax.jit(lambda w, x: jnp.mean(jnp.tanh(jnp.tanh(x @ w) @ w)))
    jax.block_until_ready(step(weights, batch))  # compiled before the burst
    jax.block_until_ready([step(weights, batch) for _ in range(steps)])
    print(f"{steps} steps done")


if __name__ == "__main__":
    main(int(sys.argv[1]))
