"""What does one all-reduce cost through jax itself between netns nodes?

The all-reduce probe (bench/netns_allreduce.py) times torch's gloo; a jax
run's gradients go through XLA's CPU collectives (gloo too, under
jax.distributed), one all-reduce per weight tensor
(keras_profiler/predict/schedules.py, ``unfused``). This times, per node
count and link rate, with one process per node pinned as netns.cores_of
pins a run's node:

- ``per_collective_s``: a jit program of 64 all-reduces of 1 KiB each,
  over the count: what each of a step's many all-reduces costs beyond its
  bytes;
- ``dependent_s``: a chain of 64 all-reduces of 1 KiB, each of the one
  before, over the count: what a collective the computation waits on costs
  (a sync point: synchronized BatchNorm statistics under jax's data
  parallelism);
- ``large_s``: one all-reduce of ``LARGE_BYTES`` (float32), for the bytes'
  rate (busbw, nccl-tests' definition: algbw x 2(p-1)/p).

Medians of ``REPEATS`` timed calls after two untimed, by
keras_profiler/nodes/jax_collectives.py, which every multi-node jax run
also calls (at 4 MiB, 5 calls) and records. Writes
bench/results/netns-jax-collectives.{md,json}. Needs root.

    python bench/netns_jax_collectives.py [--nodes 2,4] [--rates unshaped,1gbit,300mbit,100mbit]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import _tool_runs  # (bench/ is on the path when this file is run)

from keras_profiler.nodes import jax_collectives, netns

RESULTS = Path(__file__).parent / "results"
LARGE_BYTES = 16 * 2**20
REPEATS = 8
PORT = 29811
MARK = "JAX-COLLECTIVES "
TIMEOUT_S = 300


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        _worker(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", default="2,4")
    parser.add_argument("--rates", default="unshaped,1gbit,300mbit,100mbit")
    parser.add_argument("--output", type=Path, default=RESULTS / "netns-jax-collectives")
    args = parser.parse_args()
    ok, why = netns.available()
    if not ok:
        raise SystemExit(f"netns_jax_collectives: {why}")
    rows = []
    try:
        for count in (int(n) for n in args.nodes.split(",")):
            netns.up(count, netns.UNSHAPED)
            for rate in args.rates.split(","):
                netns.shape(rate)
                rows.append({"nodes": count, "link": f"netns {rate}", **_measure(count)})
                print(json.dumps(rows[-1]), flush=True)
    finally:
        netns.down()
    args.output.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    _tool_runs.write(args.output.with_suffix(".md"), _markdown(rows))


def _measure(count: int) -> dict:
    coordinator = f"{netns.node_address(0)}:{PORT}"
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": os.pathsep.join(sys.path)}
    children = [
        netns.run_in(
            i,
            [sys.executable, __file__, "--worker", str(i), str(count), coordinator],
            env=env,
            cores=netns.cores_of(i, count),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for i in range(count)
    ]
    outputs = [child.communicate(timeout=TIMEOUT_S)[0] for child in children]
    for line in outputs[0].splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :])
    raise SystemExit(f"netns_jax_collectives: rank 0 said nothing: {outputs[0][-500:]}")


def _worker(rank: int, world: int, coordinator: str) -> None:
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator, num_processes=world, process_id=rank)
    figures = jax_collectives.measure(large_bytes=LARGE_BYTES, repeats=REPEATS)
    if rank == 0:
        print(MARK + json.dumps({**figures, "jax": jax.__version__}), flush=True)
    jax.distributed.shutdown()


def _markdown(rows: list[dict]) -> str:
    lines = [
        *_tool_runs.header("All-reduce through jax between netns nodes"),
        "",
        f"One process a node, pinned as a run's node is (netns.cores_of); gloo CPU "
        f"collectives under jax.distributed (jax {rows[0]['jax'] if rows else '?'}). Per "
        f"collective: a program of {jax_collectives.SMALL_COUNT} all-reduces of "
        f"{jax_collectives.SMALL_BYTES} bytes, over their count; "
        "dependent: a chain of as many, each of the one before; large: one all-reduce of "
        f"{LARGE_BYTES // 2**20} MiB. Medians of {REPEATS} calls.",
        "",
        "| nodes | link | per collective (ms) | dependent (ms) | 16 MiB (ms) | busbw (Gbit/s) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        dependent = r.get("dependent_s")
        lines.append(
            f"| {r['nodes']} | {r['link']} | {r['per_collective_s'] * 1e3:.2f} | "
            f"{'' if dependent is None else f'{dependent * 1e3:.2f}'} | "
            f"{r['large_s'] * 1e3:.1f} | {r['busbw_gbit_per_s']:.3f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
