"""How the processes of one inference run keep in step, batch by batch.

Where one process drives every device (jax, tensorflow, mxnet), a batch's
latency is that process's own (``SOLO``). Where each device has a process
of its own (torch, one per device as DDP trains), every process serves its
share of each global batch, and the batch is served when its last share
is: its latency is the slowest process's. So every process must time the
same batches: they start each batch together (a barrier, outside the
timed span) and take each decision (warm-up settled, duration passed)
together, and the latencies are merged batch by batch at the end.
"""

from __future__ import annotations

from collections.abc import Callable


class Solo:
    """One process drives every device: nothing to wait for or merge."""

    latency_of = "the serving process's call"

    def start_batch(self) -> None:
        pass

    def agree(self, decision: bool) -> bool:
        return decision

    def slowest(self, latencies: list[float]) -> list[float]:
        return latencies


SOLO = Solo()


class Lockstep:
    """Several processes, each serving its share of every batch.

    ``barrier()`` waits for every process; ``agree(decision)`` is True in
    every process only where it is True in all; ``gather(value)`` returns
    every process's value, in rank order, to each.
    """

    def __init__(
        self,
        processes: int,
        barrier: Callable[[], None],
        agree: Callable[[bool], bool],
        gather: Callable[[object], list],
    ):
        self.barrier, self._agree, self.gather = barrier, agree, gather
        self.latency_of = (
            f"the slowest of {processes} processes, one per device, each serving its share "
            "of the batch, started together"
        )

    def start_batch(self) -> None:
        self.barrier()

    def agree(self, decision: bool) -> bool:
        return self._agree(decision)

    def slowest(self, latencies: list[float]) -> list[float]:
        per_process = self.gather(list(latencies))
        if len({len(each) for each in per_process}) != 1:
            raise RuntimeError(
                "the serving processes timed different numbers of batches: "
                f"{[len(each) for each in per_process]}"
            )
        return [max(batch) for batch in zip(*per_process)]
