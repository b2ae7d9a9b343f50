"""One predicted cell: images/sec of the profiled step on ``nodes`` nodes of
``per_node`` devices, over a network, with a method of exchanging the
gradients (docs/prediction.md).

Methods (``METHODS``): ``bsp``, ``wfbp``, ``mg-wfbp``, ``ddp-buckets`` and
``unfused`` (one all-reduce per weight tensor, after backward: XLA on
CPUs) all-reduce the gradients (ring by default, or tree); ``ps`` pushes and pulls
them through k parameter servers, each gradient once it is ready (the
reference table's WFBP-PS). Across nodes of several devices the all-reduce
is hierarchical: a reduce-scatter within each node over ``intra``, an
all-reduce of each device's share between the nodes, an all-gather within;
over a fitted network (networks.PRESETS' 10gbe, 56gb-ib), the fit of the
whole cluster's all-reduce at that GPU count instead.

Example:

```python
cell = Scenario(per_node=4, nodes=8, network=PRESETS["10gbe"], method="wfbp")
cell.images_per_second(source.profile, batch_size=64)
```
"""

from __future__ import annotations

from dataclasses import dataclass

from keras_profiler.predict import collectives, schedules
from keras_profiler.predict.networks import INTRA, Network

# What one synchronisation point all-reduces: a layer's batch statistics
# (a float32 a channel, for a few hundred channels).
SYNC_BYTES = 4096
METHODS = ("bsp", "wfbp", "mg-wfbp", "ddp-buckets", "ps", "unfused")
# What predict shows unless --methods says otherwise: unfused is one
# engine's behaviour on CPUs (XLA's), asked for by name.
DEFAULT_METHODS = METHODS[:-1]
ALGORITHMS = ("ring", "tree")


@dataclass(frozen=True)
class Scenario:
    per_node: int
    nodes: int
    network: Network
    method: str
    intra: Network = INTRA["nvlink"]
    algorithm: str = "ring"
    bucket_mb: float = 25.0  # DDP's default
    servers: int | None = None  # parameter servers; default one a node
    # How much slower each device computes than the profiled one did (nodes
    # sharing one machine's cores, measured: bench/predict_validation.py).
    slowdown: float = 1.0
    # Whether exchanges may run beside compute: not where each device is a
    # CPU core with none to spare (schedules: without overlap).
    overlap: bool = True

    @property
    def devices(self) -> int:
        return self.per_node * self.nodes

    def step_s(self, profile: schedules.Profile) -> float:
        if self.slowdown != 1.0:
            profile = profile.slowed(self.slowdown)
        profile = profile.with_syncs(self.sync_point_s())
        if not self.overlap:
            profile = profile.without_overlap()
        if self.method == "ps":
            return schedules.wfbp(profile, self._push_pull)
        options = {"bucket_bytes": self.bucket_mb * 2**20} if self.method == "ddp-buckets" else {}
        return schedules.step_time(self.method, profile, self.allreduce, **options)

    def images_per_second(self, profile: schedules.Profile, batch_size: int) -> float:
        return self.devices * batch_size / self.step_s(profile)

    def allreduce(self, nbytes: float, dependent: bool = False) -> float:
        """One all-reduce of ``nbytes`` among all the devices; ``dependent``:
        one the computation waits on (Link.dependent)."""
        if self.devices < 2:
            return 0.0
        if self.network.fits and self.nodes > 1:  # a fit is the whole cluster's collective
            return self.network.allreduce(nbytes, self.devices)
        if self.nodes == 1:
            return self._over(self.intra, nbytes, self.per_node, dependent)
        if self.per_node == 1:
            return self._over(self.network, nbytes, self.nodes, dependent)
        intra = self.intra.link.dependent() if dependent else self.intra.link
        within = 2 * (self.per_node - 1) * intra.send(nbytes / self.per_node)
        return within + self._over(self.network, nbytes / self.per_node, self.nodes, dependent)

    def sync_point_s(self) -> float:
        """One synchronisation point's collective (schedules.Profile)."""
        return self.allreduce(SYNC_BYTES, dependent=True)

    def _over(self, network: Network, nbytes: float, ranks: int, dependent: bool) -> float:
        link = network.link.dependent() if dependent else network.link
        if self.algorithm == "tree":
            return collectives.tree_allreduce(nbytes, ranks, link)
        if network.fits:
            return network.allreduce(nbytes, ranks)
        return collectives.ring_allreduce(nbytes, ranks, link)

    def _push_pull(self, nbytes: float) -> float:
        if self.devices < 2:
            return 0.0
        servers = self.servers or self.nodes
        return collectives.parameter_server(nbytes, self.devices, servers, self.network.link)
