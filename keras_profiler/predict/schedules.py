"""When each gradient exchange runs against the backward pass, and the step
time that follows: BSP, WFBP, MG-WFBP and DDP's buckets.

A ``Profile`` is one device's step as measured: the forward and backward
time, and per gradient (in the order backward produces them) its bytes and
when it is ready, in seconds from the start of backward. ``exchange`` is
the cost of one exchange of m bytes (keras_profiler.predict.collectives).
Exchanges run one at a time, in order, each once its gradients are ready;
compute is assumed not to slow down while they run (docs/prediction.md).

- BSP: all of backward, then one exchange of every gradient.
- WFBP (Zhang et al., "Poseidon", USENIX ATC 2017): each gradient's
  exchange starts once it is ready and the link is free.
- MG-WFBP (Shi, Chu and Li, INFOCOM 2019): consecutive gradients merged
  into one exchange where that ends the last exchange sooner; here the best
  merge is found exactly, by dynamic programming over the merge points.
- DDP buckets (PyTorch DistributedDataParallel): gradients gathered in
  backward order into buckets of at least ``bucket_bytes`` (the first
  ``first_bucket_bytes``, 1 MiB in PyTorch), each bucket exchanged when its
  last gradient is ready.
- Unfused: all of backward, then one exchange per gradient tensor, one
  after another: what XLA's CPU backend runs at the end of the step (one
  all-reduce of a tuple of every weight gradient, whose tensors gloo
  exchanges one by one), so each tensor pays the collective's latency.

Synchronisation points (``Profile.sync_points``), under every method: the
collectives that data parallelism puts inside forward and backward, where
a layer reduces over the batch, and that the computation waits on. XLA's
SPMD partitioner makes BatchNormalization's batch statistics global: each
such layer all-reduces its mean, then its variance, in forward, and two
sums in backward (the train step of ResNet-18 on 2 CPU devices holds 75
all-reduces: 73 of these, for its 20 BatchNormalization layers, where
three pairs in parallel branches share some, one of the loss's with
them, and the gradients' one). Each is a small collective that no
exchange or compute overlaps: ``with_syncs`` adds their time to forward
and backward, half each.

Without overlap (``Profile.without_overlap``): where a node's devices are
its CPU cores and it has none to spare, an exchange's work (copies,
reductions, the network stack) needs the core the compute holds, so no
exchange runs beside backward: every method's exchanges run after it, one
after another (WFBP and DDP's buckets pay each group's latency; MG-WFBP
then merges everything, as BSP).

Example:

```python
profile = Profile(forward_s=0.02, backward_s=0.04, gradients=[Gradient(4e6, 0.01), ...])
step_time("wfbp", profile, lambda m: ring_allreduce(m, 8, link))
```
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

# PyTorch's first DDP bucket (torch.distributed._DEFAULT_FIRST_BUCKET_BYTES).
FIRST_BUCKET_BYTES = 2**20


@dataclass(frozen=True)
class Gradient:
    """One gradient (a layer's, or a bucket's): bytes, and when it is ready
    (seconds from the start of backward)."""

    nbytes: float
    ready_s: float
    tensors: int = 1  # the weight tensors it holds (a layer's kernel and bias: 2)


@dataclass(frozen=True)
class Profile:
    forward_s: float
    backward_s: float
    gradients: list[Gradient]  # in the order backward produces them
    update_s: float = 0.0  # the optimizer's, once every exchange is done
    # Collectives inside forward and backward that the computation waits on,
    # under the profiled backend's data parallelism (see the module's text).
    sync_points: int = 0

    @property
    def compute_s(self) -> float:
        return self.forward_s + self.backward_s + self.update_s

    def slowed(self, factor: float) -> Profile:
        """The same step with every compute time ``factor`` times longer."""
        return replace(
            self._ready_at(lambda ready: ready * factor),
            forward_s=self.forward_s * factor,
            backward_s=self.backward_s * factor,
            update_s=self.update_s * factor,
        )

    def without_overlap(self) -> Profile:
        """The step with every gradient ready only once backward ends: no
        exchange runs beside compute (a node with no core to spare for it)."""
        return self._ready_at(lambda ready: self.backward_s)

    def _ready_at(self, moved: Callable[[float], float]) -> Profile:
        """The same step with each gradient ready at ``moved(its ready time)``."""
        gradients = [replace(g, ready_s=moved(g.ready_s)) for g in self.gradients]
        return replace(self, gradients=gradients)

    def with_syncs(self, each_s: float) -> Profile:
        """The step with each synchronisation point's collective
        (``each_s``) in it: half of them in forward, half in backward, the
        backward ones spread as its gradients come (ready times stretched)."""
        if not self.sync_points or each_s <= 0:
            return self
        forward, backward = self.sync_points // 2, self.sync_points - self.sync_points // 2
        stretched = self.backward_s + backward * each_s
        stretch = stretched / self.backward_s if self.backward_s else 1.0
        return replace(
            self._ready_at(lambda ready: ready * stretch),
            forward_s=self.forward_s + forward * each_s,
            backward_s=stretched,
        )

    @property
    def total_bytes(self) -> float:
        return sum(g.nbytes for g in self.gradients)


Exchange = Callable[[float], float]


def bsp(profile: Profile, exchange: Exchange) -> float:
    return profile.compute_s + exchange(profile.total_bytes)


def unfused(profile: Profile, exchange: Exchange) -> float:
    """All of backward, then each gradient tensor's own exchange in turn (a
    layer's bytes split evenly over its tensors)."""
    return profile.compute_s + sum(
        g.tensors * exchange(g.nbytes / g.tensors) for g in profile.gradients
    )


def wfbp(profile: Profile, exchange: Exchange) -> float:
    return _overlapped(profile, [[g] for g in profile.gradients], exchange)


def mg_wfbp(profile: Profile, exchange: Exchange) -> float:
    return _overlapped(profile, merged_groups(profile.gradients, exchange), exchange)


def ddp_buckets(
    profile: Profile,
    exchange: Exchange,
    bucket_bytes: float,
    first_bucket_bytes: float = FIRST_BUCKET_BYTES,
) -> float:
    groups = buckets(profile.gradients, bucket_bytes, first_bucket_bytes)
    return _overlapped(profile, groups, exchange)


def _overlapped(profile: Profile, groups: list[list[Gradient]], exchange: Exchange) -> float:
    """Forward, then backward with each group's exchange starting once its
    last gradient is ready and the previous exchange is done."""
    link_free = 0.0
    for group in groups:
        start = max(group[-1].ready_s, link_free)
        link_free = start + exchange(sum(g.nbytes for g in group))
    return profile.forward_s + max(profile.backward_s, link_free) + profile.update_s


def merged_groups(gradients: list[Gradient], exchange: Exchange) -> list[list[Gradient]]:
    """The split into runs of consecutive gradients whose exchanges end
    soonest: ends[j], the earliest end of exchanging the first j gradients,
    is min over i < j of max(ends[i], ready of gradient j) + exchange of
    gradients i..j-1; an earlier end never makes the next exchange end later,
    so the best split of the first j extends a best split of the first i."""
    ends, cut = [0.0], [0]
    for j in range(1, len(gradients) + 1):
        ready = gradients[j - 1].ready_s
        options = [
            (max(ends[i], ready) + exchange(sum(g.nbytes for g in gradients[i:j])), i)
            for i in range(j)
        ]
        end, i = min(options)
        ends.append(end)
        cut.append(i)
    groups, j = [], len(gradients)
    while j > 0:
        groups.append(gradients[cut[j] : j])
        j = cut[j]
    return groups[::-1]


def buckets(
    gradients: list[Gradient], bucket_bytes: float, first_bucket_bytes: float
) -> list[list[Gradient]]:
    """DDP's buckets: gradients in backward order, a bucket closed once it
    holds at least its limit (the first's ``first_bucket_bytes``)."""
    groups, current, limit = [], [], first_bucket_bytes
    for gradient in gradients:
        current.append(gradient)
        if sum(g.nbytes for g in current) >= limit:
            groups.append(current)
            current, limit = [], bucket_bytes
    return groups + ([current] if current else [])


SCHEDULES = {
    "bsp": bsp,
    "unfused": unfused,
    "wfbp": wfbp,
    "mg-wfbp": mg_wfbp,
    "ddp-buckets": ddp_buckets,
}


def step_time(method: str, profile: Profile, exchange: Exchange, **options) -> float:
    """Seconds per step under ``method`` (a key of SCHEDULES)."""
    return SCHEDULES[method](profile, exchange, **options)
