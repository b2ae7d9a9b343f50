"""How long one gradient exchange takes over a link: the alpha-beta
(latency-bandwidth) cost of the collectives data parallelism uses.

A message of ``m`` bytes over a link costs ``alpha + m / beta``: ``alpha``
its latency (seconds), ``beta`` its bandwidth (bytes/second). Among ``p``
ranks (the formulas of Thakur, Rabenseifner and Gropp, "Optimization of
Collective Communication Operations in MPICH", IJHPCA 2005, sections 4.4
and 4.5; docs/prediction.md gives each):

- ring all-reduce: ``2(p-1) alpha + 2(p-1)/p m / beta`` (a reduce-scatter
  and an all-gather, each p-1 steps of m/p bytes);
- tree all-reduce (binomial reduce, then broadcast): ``2 ceil(log2 p)
  (alpha + m / beta)``;
- hierarchical (g ranks a node over an intra-node link, n nodes): a
  reduce-scatter within each node, a ring all-reduce of m/g between the
  nodes, an all-gather within each node;
- parameter server, k servers, w workers: each worker pushes and pulls m
  bytes, split over the servers; a server's link carries w m / k each way.

Example:

```python
link = Link(alpha_s=50e-6, beta_bytes_per_s=1.25e9)   # 10 Gbit/s, 50 us
ring_allreduce(100 * 2**20, ranks=8, link=link)       # seconds
```
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Link:
    """A link's latency (seconds) and bandwidth (bytes/second).

    ``dependent_alpha_s``: the latency of one message of a collective that
    the computation waits on, where it was measured apart (jax's engine
    figures); otherwise ``alpha_s``.
    """

    alpha_s: float
    beta_bytes_per_s: float
    dependent_alpha_s: float | None = None

    def send(self, nbytes: float) -> float:
        """Seconds to send ``nbytes`` over the link once."""
        return self.alpha_s + nbytes / self.beta_bytes_per_s

    def dependent(self) -> Link:
        """The link as a collective the computation waits on sees it."""
        if self.dependent_alpha_s is None:
            return self
        return Link(self.dependent_alpha_s, self.beta_bytes_per_s)


def ring_allreduce(nbytes: float, ranks: int, link: Link) -> float:
    if ranks < 2 or nbytes <= 0:
        return 0.0
    steps = 2 * (ranks - 1)
    return steps * link.alpha_s + steps / ranks * nbytes / link.beta_bytes_per_s


def tree_allreduce(nbytes: float, ranks: int, link: Link) -> float:
    if ranks < 2 or nbytes <= 0:
        return 0.0
    return 2 * math.ceil(math.log2(ranks)) * link.send(nbytes)


def _ring_half(nbytes: float, ranks: int, link: Link) -> float:
    """A ring reduce-scatter (or all-gather): p-1 steps of m/p bytes."""
    if ranks < 2:
        return 0.0
    return (ranks - 1) * link.send(nbytes / ranks)


def hierarchical_allreduce(
    nbytes: float, per_node: int, nodes: int, intra: Link, inter: Link
) -> float:
    """Reduce-scatter in each node, ring all-reduce of each rank's 1/g part
    between the nodes, all-gather in each node."""
    if nbytes <= 0 or per_node * nodes < 2:
        return 0.0
    within = 2 * _ring_half(nbytes, per_node, intra)
    return within + ring_allreduce(nbytes / per_node, nodes, inter)


def parameter_server(nbytes: float, workers: int, servers: int, link: Link) -> float:
    """Push then pull: each worker sends m bytes (m/k to each server) and
    receives m; each server's link carries w m / k each way, so the slower
    of a worker's and a server's link sets each half."""
    if workers < 2 or nbytes <= 0:
        return 0.0
    carried = max(nbytes, workers * nbytes / servers)
    return 2 * link.send(carried)


ALGORITHMS = {"ring": ring_allreduce, "tree": tree_allreduce}
