"""An all-reduce probe between processes, reported as nccl-tests reports it.

For each message size (4 KiB to 64 MiB by default, powers of 4) every rank
all-reduces (sum) a float32 CPU tensor with torch.distributed's gloo backend:
a warm-up, then timed iterations. Per size: the bytes, the time of one
all-reduce, and the two bandwidths of nccl-tests' doc/PERFORMANCE.md
(https://github.com/NVIDIA/nccl-tests/blob/master/doc/PERFORMANCE.md):

- algorithm bandwidth, algbw = bytes / time;
- bus bandwidth, busbw = algbw * 2(n-1)/n for all-reduce, the rate each
  rank's link must carry in a ring all-reduce, comparable with the link's
  rate whatever the number of ranks.

A time is the mean over the timed iterations of each rank, then the slowest
rank's (the all-reduce is done when the last rank has its sum); the
bandwidths are computed from it, as nccl-tests does. Each size also has the
median of the single iterations (slowest rank's), which a busy machine's
scheduling stalls move far less than the mean. Over the sizes, a latency +
bandwidth model, time = alpha + bytes / beta, is fitted to the medians by
weighted least squares, weights 1 / time: between plain least squares, where
the largest size alone sets alpha (often below zero), and least squares on
relative error, where the small sizes, which pass a token-bucket link above
its rate, pull beta above it.

The iterations are bounded: after the first warm-up (timed, slowest rank's)
the ranks agree on how many more warm-ups and timed iterations fit in
``budget_s`` for that size (at least one timed), up to ``warmup`` and
``iters``. Every process exits on an error, on gloo's timeout, and at
``timeout_s`` at the latest (a watchdog), and dies with its parent.

As a worker, one process per rank (rank 0 prints the JSON):

    python -m keras_profiler.nodes.probe --rank R --world N \\
        --master ADDR:PORT --interface IF

``across(network)`` runs it on every node of a ``netns`` network.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from keras_profiler.errors import UsageError
from keras_profiler.nodes import rollcall

KIB = 1024
MIB = 1024 * KIB
DEFAULT_SIZES = tuple(4 * KIB * 4**k for k in range(8))  # 4 KiB .. 64 MiB
# nccl-tests' defaults (-w 5, -n 20), cut short by the budget for large sizes.
DEFAULT_WARMUP = 5
DEFAULT_ITERS = 20
DEFAULT_BUDGET_S = 1.0
DEFAULT_TIMEOUT_S = 300.0
FLOAT32_BYTES = 4
EXIT_TIMEOUT = 3


class ProbeError(RuntimeError):
    """The probe's processes failed or ran out of time."""


def bus_factor(world: int) -> float:
    """nccl-tests' all-reduce bus bandwidth factor, 2(n-1)/n."""
    return 2 * (world - 1) / world


def size_row(nbytes: int, time_s: float, world: int, **extra) -> dict:
    algbw = nbytes / time_s
    busbw = algbw * bus_factor(world)
    return {
        "bytes": nbytes,
        "elements": nbytes // FLOAT32_BYTES,
        "time_s": time_s,
        "algbw_bytes_per_s": algbw,
        "busbw_bytes_per_s": busbw,
        # nccl-tests' unit (GB/s, 10**9 bytes) and a link's (Gbit/s).
        "algbw_gb_per_s": algbw / 1e9,
        "busbw_gb_per_s": busbw / 1e9,
        "algbw_gbit_per_s": algbw * 8 / 1e9,
        "busbw_gbit_per_s": busbw * 8 / 1e9,
        **extra,
    }


def fit(rows: list[dict], world: int, key: str = "median_s") -> dict:
    """time = alpha + bytes / beta by least squares weighted 1 / time, over
    each size's ``key`` time; alpha at least 0."""
    xs = [float(r["bytes"]) for r in rows]
    ts = [float(r[key]) for r in rows]
    result = {
        "model": "time = alpha + bytes / beta",
        "method": f"weighted least squares (weights 1/time), alpha >= 0, on {key}",
        "sizes": len(rows),
    }
    if len(rows) < 2 or len(set(xs)) < 2:
        return {**result, "alpha_s": None, "beta_bytes_per_s": None}
    ws = [1 / t for t in ts]
    sw = sum(ws)
    sx = sum(w * x for w, x in zip(ws, xs))
    st = sum(w * t for w, t in zip(ws, ts))
    sxx = sum(w * x * x for w, x in zip(ws, xs))
    sxt = sum(w * x * t for w, x, t in zip(ws, xs, ts))
    slope = (sw * sxt - sx * st) / (sw * sxx - sx * sx)
    alpha = (st - slope * sx) / sw
    # A latency below zero is noise at the small sizes: the best fit with
    # alpha >= 0 then has alpha = 0 (the problem is a convex quadratic).
    clamped = alpha < 0
    if clamped:
        alpha, slope = 0.0, sxt / sxx
    residuals = [abs(t - alpha - slope * x) / t for x, t in zip(xs, ts)]
    beta = 1 / slope if slope > 0 else None
    return {
        **result,
        "alpha_s": alpha,
        "alpha_clamped_at_zero": clamped,
        "beta_bytes_per_s": beta,
        "beta_gbit_per_s": None if beta is None else beta * 8 / 1e9,
        "busbw_gbit_per_s": None if beta is None else beta * bus_factor(world) * 8 / 1e9,
        "max_relative_residual": max(residuals),
    }


# --- one rank ---------------------------------------------------------------


def measure(
    sizes=DEFAULT_SIZES,
    warmup: int = DEFAULT_WARMUP,
    iters: int = DEFAULT_ITERS,
    budget_s: float = DEFAULT_BUDGET_S,
) -> list[dict]:
    """Times the all-reduce at each size in an initialised process group; every
    rank returns the same rows."""
    import torch
    import torch.distributed as dist

    world = dist.get_world_size()
    rank = dist.get_rank()

    def slowest(value: float) -> float:
        box = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(box, op=dist.ReduceOp.MAX)
        return float(box.item())

    rows = []
    for nbytes in sizes:
        x = torch.ones(nbytes // FLOAT32_BYTES, dtype=torch.float32)
        start = time.perf_counter()
        dist.all_reduce(x)
        first = slowest(time.perf_counter() - start)
        if not bool((x == world).all()):
            raise ProbeError(f"all-reduce of {nbytes} bytes summed wrong on rank {rank}")
        # Zeros from here: sums neither grow nor leave the normal range.
        x.zero_()
        more_warmup = max(0, min(warmup - 1, int(budget_s / first) - 1))
        timed = max(1, min(iters, int(budget_s / first)))
        for _ in range(more_warmup):
            dist.all_reduce(x)
        dist.barrier()
        marks = [time.perf_counter()]
        for _ in range(timed):
            dist.all_reduce(x)
            marks.append(time.perf_counter())
        each = torch.zeros(2, world, dtype=torch.float64)
        each[0, rank] = (marks[-1] - marks[0]) / timed
        each[1, rank] = statistics.median(b - a for a, b in zip(marks, marks[1:]))
        dist.all_reduce(each)
        means, medians = each.tolist()
        rows.append(
            size_row(
                nbytes,
                max(means),
                world,
                median_s=max(medians),
                warmup=1 + more_warmup,
                iterations=timed,
                time_s_by_rank=means,
            )
        )
    return rows


def run(
    rank: int,
    world: int,
    master: str,
    interface: str | None,
    *,
    sizes=DEFAULT_SIZES,
    warmup: int = DEFAULT_WARMUP,
    iters: int = DEFAULT_ITERS,
    budget_s: float = DEFAULT_BUDGET_S,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    join_timeout_s: float = DEFAULT_TIMEOUT_S,
    coordinator: str | None = None,
) -> dict:
    """Joins the group (every rank within ``join_timeout_s``, each once:
    keras_profiler.nodes.rollcall), measures, leaves; the record (the same
    on every rank), naming each rank's host and address."""
    if interface:
        os.environ["GLOO_SOCKET_IFNAME"] = interface
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    began = time.perf_counter()
    kv = rollcall.store(master, rank, join_timeout_s, coordinator)
    nodes = rollcall.join(kv, rank, world, join_timeout_s, _this_node(master))
    dist.init_process_group(
        "gloo",
        store=dist.PrefixStore("probe", kv),
        rank=rank,
        world_size=world,
        timeout=timedelta(seconds=timeout_s),
    )
    try:
        joined = time.perf_counter() - began
        rows = measure(sizes, warmup, iters, budget_s)
    finally:
        dist.destroy_process_group()
    return {
        "probe": "all-reduce",
        "engine": f"torch.distributed gloo (torch {torch.__version__})",
        "dtype": "float32",
        "op": "sum",
        "world_size": world,
        "master": master,
        "interface": interface,
        "bus_factor": bus_factor(world),
        "definitions": (
            "algbw = bytes / time; busbw = algbw * 2(n-1)/n "
            "(nccl-tests doc/PERFORMANCE.md, all-reduce)"
        ),
        "timing": "time_s: mean of the timed iterations; median_s: their median; slowest rank's",
        "sizes": rows,
        "fit": fit(rows, world),
        "nodes": nodes,
        "join_s": joined,
        "wall_s": time.perf_counter() - began,
    }


def _this_node(master: str) -> dict:
    """This rank's host name and its address on the route to ``master``."""
    from keras_profiler.training.nodes import address_towards

    return {"host": socket.gethostname(), "address": address_towards(master)}


# --- as a worker ------------------------------------------------------------


_SIZE = re.compile(r"^(\d+)(b|k|kib|m|mib)?$")
_SIZE_UNITS = {None: 1, "b": 1, "k": KIB, "kib": KIB, "m": MIB, "mib": MIB}


def parse_sizes(text: str) -> tuple[int, ...]:
    """ "4KiB,1MiB,64MiB" (or bytes) -> sizes in bytes, each a whole number of
    float32s."""
    sizes = []
    for item in text.split(","):
        match = _SIZE.match(item.strip().lower())
        if not match:
            raise argparse.ArgumentTypeError(f"{item!r} is not a size (e.g. 4096, 4KiB, 64MiB)")
        nbytes = int(match.group(1)) * _SIZE_UNITS[match.group(2)]
        if nbytes < FLOAT32_BYTES or nbytes % FLOAT32_BYTES:
            raise argparse.ArgumentTypeError(f"{item!r}: a size is a whole number of float32s")
        sizes.append(nbytes)
    return tuple(sizes)


def format_size(nbytes: int) -> str:
    for unit, scale in (("MiB", MIB), ("KiB", KIB)):
        if nbytes % scale == 0:
            return f"{nbytes // scale}{unit}"
    return str(nbytes)


def parser() -> argparse.ArgumentParser:
    from keras_profiler.options import Parser

    p = Parser(
        prog="python -m keras_profiler.nodes.probe",
        description="One rank of the all-reduce probe; rank 0 prints the record as JSON.",
    )
    p.add_argument("--rank", type=int, required=True)
    p.add_argument("--world", type=int, required=True, help="number of ranks")
    p.add_argument("--master", required=True, metavar="ADDR:PORT", help="rank 0's address")
    p.add_argument(
        "--interface",
        metavar="IF",
        help="the network interface gloo uses (GLOO_SOCKET_IFNAME); default: gloo's choice",
    )
    p.add_argument(
        "--sizes",
        type=parse_sizes,
        default=DEFAULT_SIZES,
        metavar="LIST",
        help="message sizes, comma-separated (default: 4KiB to 64MiB, powers of 4)",
    )
    p.add_argument("--warmup", type=int, default=DEFAULT_WARMUP, metavar="N")
    p.add_argument("--iters", type=int, default=DEFAULT_ITERS, metavar="N")
    p.add_argument(
        "--budget", type=float, default=DEFAULT_BUDGET_S, metavar="S", help="seconds per size"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help="gloo's timeout, and the most this process lives",
    )
    p.add_argument(
        "--join-timeout",
        type=float,
        default=None,
        metavar="S",
        help="how long the ranks wait for each other to join (default: --timeout)",
    )
    p.add_argument(
        "--coordinator", metavar="HOST:PORT", help="the run's --coordinator, for error messages"
    )
    return p


def check_args(args) -> None:
    if args.world < 1:
        raise UsageError(f"--world must be at least 1, not {args.world}")
    if not 0 <= args.rank < args.world:
        raise UsageError(f"--rank must be from 0 to {args.world - 1}, not {args.rank}")
    host, _, port = args.master.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--master must be ADDR:PORT, not {args.master!r}")
    for flag, value in (("--warmup", args.warmup), ("--iters", args.iters)):
        if value < 1:
            raise UsageError(f"{flag} must be at least 1, not {value}")
    for flag, value in (("--budget", args.budget), ("--timeout", args.timeout)):
        if not value > 0:
            raise UsageError(f"{flag} must be above 0, not {value}")


def _die_with_parent() -> None:
    """SIGKILL this process when its parent dies (Linux prctl)."""
    with contextlib.suppress(Exception):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _watchdog(timeout_s: float, rank: int) -> None:
    def expire():
        print(f"probe rank {rank}: error: not done after {timeout_s:g} s", file=sys.stderr)
        sys.stderr.flush()
        os._exit(EXIT_TIMEOUT)

    timer = threading.Timer(timeout_s, expire)
    timer.daemon = True
    timer.start()


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
        check_args(args)
    except UsageError as error:
        print(f"keras-profiler: error: {error}", file=sys.stderr)
        return 2
    _die_with_parent()
    # The watchdog leaves gloo's own timeout (on joining, on a collective)
    # time to report first.
    if args.join_timeout is None:
        args.join_timeout = args.timeout
    _watchdog(args.join_timeout + args.timeout + 30, args.rank)
    try:
        record = run(
            args.rank,
            args.world,
            args.master,
            args.interface,
            sizes=args.sizes,
            warmup=args.warmup,
            iters=args.iters,
            budget_s=args.budget,
            timeout_s=args.timeout,
            join_timeout_s=args.join_timeout,
            coordinator=args.coordinator,
        )
    except UsageError as error:  # the nodes given make no cluster
        print(f"keras-profiler: error: {error}", file=sys.stderr)
        return rollcall.EXIT_USAGE
    except rollcall.RanksMissing as error:
        print(f"keras-profiler: error: {error}", file=sys.stderr)
        return rollcall.EXIT_MISSING
    except Exception as error:  # one line, whatever gloo raised
        message = " ".join(str(error).split())[:2000]
        print(f"probe rank {args.rank}: error: {type(error).__name__}: {message}", file=sys.stderr)
        return 1
    if args.rank == 0:
        print(json.dumps(record, indent=1))
    return 0


# --- across a netns network -------------------------------------------------


def across(
    network,
    *,
    sizes=DEFAULT_SIZES,
    warmup: int = DEFAULT_WARMUP,
    iters: int = DEFAULT_ITERS,
    budget_s: float = DEFAULT_BUDGET_S,
    timeout_s: float = 120.0,
    port: int | None = None,
    python: str = sys.executable,
) -> dict:
    """Runs one probe process per node of a ``netns.Network`` (rank i on node
    i, rank 0's address the master) and returns rank 0's record, with the
    network's description under "network". Any rank failing, or the whole
    taking over ``timeout_s``, kills every rank and raises ProbeError."""
    from keras_profiler.nodes import netns

    nodes = network.nodes
    master = f"{nodes[0].address}:{port or random.randrange(20000, 30000)}"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with tempfile.TemporaryDirectory(prefix="kp-probe-") as folder:
        logs = Path(folder)
        procs = []
        try:
            for rank, node in enumerate(nodes):
                argv = [
                    python, "-m", "keras_profiler.nodes.probe",
                    "--rank", str(rank), "--world", str(len(nodes)),
                    "--master", master, "--interface", network.interface,
                    "--sizes", ",".join(map(str, sizes)),
                    "--warmup", str(warmup), "--iters", str(iters),
                    "--budget", str(budget_s), "--timeout", str(timeout_s),
                    "--join-timeout", str(timeout_s),
                ]  # fmt: skip
                with (
                    open(logs / f"{rank}.out", "w") as out,
                    open(logs / f"{rank}.err", "w") as err,
                ):
                    cores = netns.cores_of(rank, len(nodes))
                    procs.append(
                        netns.run_in(node, argv, env=env, cores=cores, stdout=out, stderr=err)
                    )
            _wait_all(procs, timeout_s + 5, logs)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
        record = json.loads((logs / "0.out").read_text())
    record["network"] = network.to_dict()
    return record


def _wait_all(procs: list[subprocess.Popen], timeout_s: float, logs: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        codes = [proc.poll() for proc in procs]
        failed = [rank for rank, code in enumerate(codes) if code not in (None, 0)]
        if failed or time.monotonic() > deadline:
            why = (
                f"rank {failed[0]} exited {codes[failed[0]]}"
                if failed
                else f"not done after {timeout_s:g} s"
            )
            tails = "; ".join(
                f"rank {rank}: {(logs / f'{rank}.err').read_text().strip()[-500:]}"
                for rank in range(len(procs))
                if (logs / f"{rank}.err").read_text().strip()
            )
            raise ProbeError(f"all-reduce probe failed: {why}. {tails}")
        if all(code == 0 for code in codes):
            return
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
