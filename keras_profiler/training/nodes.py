"""What a run over several nodes records of each node: one entry per node
(host, its address towards the coordinator, processes, devices, peak host
RSS and device memory), gathered from every process at the end of training so that
the coordinator's record names them all. (The link between the nodes is
probed by the launcher, before the workers start: launcher.probe_link.)

Example:

```python
nodes = gather_nodes(config, adapter)       # after fit, in every process
```
"""

from __future__ import annotations

import socket

from keras_profiler.config import RunConfig

MIB = 2**20


def gather_nodes(config: RunConfig, adapter, model) -> list[dict] | None:
    """Every node's entry, in node order (a collective: every process of the
    run calls it); None on one node. Each names the digest of its trained
    weights: data parallelism must leave them identical on every node."""
    if config.nodes == 1:
        return None
    facts = adapter.gather(_this_process(config, adapter, model))
    return [
        _node(rank, [f for f in facts if f["node_rank"] == rank]) for rank in range(config.nodes)
    ]


def _this_process(config: RunConfig, adapter, model) -> dict:
    # Imported here: the callback imports Keras, which the worker imports
    # itself once the backend is set up.
    from keras_profiler.callback import peak_rss_mib

    device_peaks = adapter.peak_device_memory()
    return {
        "trainable_weights_sha256": _local_digest(model.trainable_weights),
        "node_rank": config.node_rank,
        "rank": getattr(adapter, "rank", 0),
        "host": socket.gethostname(),
        "address": address_towards(config.coordinator),
        "devices": adapter.describe_devices(config),
        "peak_rss_mib": peak_rss_mib(),
        "device_peak_mib": [round(b / MIB, 1) for b in device_peaks] if device_peaks else None,
    }


def _local_digest(variables) -> str:
    """A digest of the variables' values as this process holds them (its
    first shard of an array spread over several processes' devices)."""
    import keras

    from keras_profiler.training.description import weights_sha256

    def local(value):
        shards = getattr(value, "addressable_shards", None)
        return keras.ops.convert_to_numpy(shards[0].data if shards else value)

    return weights_sha256([local(v.value) for v in variables])


def _node(node_rank: int, processes: list[dict]) -> dict:
    peaks = [p["device_peak_mib"] for p in processes]
    digests = sorted({p["trainable_weights_sha256"] for p in processes})
    return {
        # One digest where the node's processes agree; each one where not.
        "trainable_weights_sha256": digests[0] if len(digests) == 1 else digests,
        "node_rank": node_rank,
        "host": processes[0]["host"] if processes else None,
        "address": processes[0]["address"] if processes else None,
        "ranks": [p["rank"] for p in processes],
        "devices": [d for p in processes for d in p["devices"]],
        "host_peak_rss_mib": round(sum(p["peak_rss_mib"] for p in processes), 1),
        "device_peak_mib": [m for each in peaks if each for m in each] or None,
    }


def address_towards(coordinator: str | None) -> str | None:
    """This machine's address on the route to the coordinator (a UDP
    socket's local end once connected: no packet is sent)."""
    if not coordinator:
        return None
    host, _, port = coordinator.rpartition(":")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((host, int(port)))
            return probe.getsockname()[0]
    except OSError:
        return None
