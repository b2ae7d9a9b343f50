"""Which nodes are there: before a run, that every rank joined (and no rank
twice), and after a failed run, what each node saw, so that the
coordinator's record names the node that failed.

Both go through torch.distributed's TCPStore, the key-value store its own
rendezvous uses, hosted by rank 0: each rank adds its key, rank 0 (and,
before the run, every rank) looks for the keys of all. torch's own
``init_process_group`` times out with "1/2 clients joined", never which;
this says which.

After a failed run, one process per node (rank 0 prints the JSON):

    python -m keras_profiler.nodes.rollcall --rank R --world N \\
        --master ADDR:PORT --report '{"status": "error", ...}'
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import timedelta

from keras_profiler.errors import UsageError

POLL_S = 0.1
EXIT_USAGE = 2
EXIT_MISSING = 4
# Rank 0 waits this long for the other nodes' reports after a failure.
REPORT_WINDOW_S = 10.0


class RanksMissing(RuntimeError):
    """Some ranks never joined in time; ``missing`` names them."""

    def __init__(self, missing: list[int], joined: list[int], timeout_s: float):
        self.missing, self.joined = missing, joined
        super().__init__(
            f"{_ranks(missing)} never joined within {timeout_s:g} s ({_ranks(joined)} did): "
            "start keras-profiler on every node with its own --node-rank, or raise --join-timeout"
        )


def _ranks(ranks: list[int]) -> str:
    return ("node " if len(ranks) == 1 else "nodes ") + ", ".join(map(str, ranks))


def store(master: str, rank: int, timeout_s: float, coordinator: str | None = None):
    """The TCPStore at ``master`` (rank 0 hosts it). A rank that cannot
    reach it within ``timeout_s`` gets a UsageError naming ``coordinator``
    (the user's --coordinator; default ``master``): the address is wrong, or
    node 0 is not up."""
    import torch.distributed as dist

    host, _, port = master.rpartition(":")
    try:
        return dist.TCPStore(
            host,
            int(port),
            is_master=rank == 0,
            timeout=timedelta(seconds=timeout_s),
            wait_for_workers=False,
        )
    except (RuntimeError, OSError) as error:  # DistNetworkError is a RuntimeError
        if rank == 0:
            raise
        raise UsageError(
            f"--coordinator {coordinator or master} cannot be reached from this node: nothing "
            f"answered on {master} within {timeout_s:g} s; give node 0's address, and start "
            "node 0 within --join-timeout"
        ) from error


def join(kv, rank: int, world: int, timeout_s: float, facts: dict) -> list[dict]:
    """Adds this rank and waits for all; returns every rank's ``facts``.

    Raises:
        UsageError: another process already joined as this rank.
        RanksMissing: not every rank joined within ``timeout_s``.
    """
    if kv.add(f"rank/{rank}", 1) > 1:
        raise UsageError(
            f"--node-rank {rank} is taken: another node already joined as {rank}; give each "
            "node its own rank"
        )
    kv.set(f"facts/{rank}", json.dumps(facts))
    keys = [f"facts/{r}" for r in range(world)]
    deadline = time.monotonic() + timeout_s
    while not kv.check(keys):
        if time.monotonic() > deadline:
            joined = [r for r in range(world) if kv.check([f"facts/{r}"])]
            raise RanksMissing([r for r in range(world) if r not in joined], joined, timeout_s)
        time.sleep(POLL_S)
    return [json.loads(kv.get(key)) for key in keys]


def collect(kv, rank: int, world: int, report: dict, window_s: float) -> dict | None:
    """After a failure: every rank leaves its report; rank 0 waits up to
    ``window_s`` for them and returns {"reports": {rank: report},
    "missing": [ranks that sent none]} (None on the other ranks)."""
    kv.set(f"report/{rank}", json.dumps(report))
    if rank != 0:
        return None
    deadline = time.monotonic() + window_s
    keys = [f"report/{r}" for r in range(world)]
    while not kv.check(keys) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    present = [r for r in range(world) if kv.check([f"report/{r}"])]
    return {
        "reports": {str(r): json.loads(kv.get(f"report/{r}")) for r in present},
        "missing": [r for r in range(world) if r not in present],
    }


def parser() -> argparse.ArgumentParser:
    from keras_profiler.options import Parser

    p = Parser(
        prog="python -m keras_profiler.nodes.rollcall",
        description="After a failed run over several nodes: what each node saw (rank 0 prints).",
    )
    p.add_argument("--rank", type=int, required=True)
    p.add_argument("--world", type=int, required=True)
    p.add_argument("--master", required=True, metavar="ADDR:PORT")
    p.add_argument("--report", required=True, metavar="JSON", help="this node's report")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S", help="to reach rank 0")
    p.add_argument("--window", type=float, default=REPORT_WINDOW_S, metavar="S")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        kv = store(args.master, args.rank, args.timeout)
    except UsageError as error:
        print(f"rollcall rank {args.rank}: {error}", file=sys.stderr)
        return 1
    found = collect(kv, args.rank, args.world, json.loads(args.report), args.window)
    if found is not None:
        print(json.dumps(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
