"""What does the all-reduce probe measure over shaped netns links?

Makes N nodes on this machine (``keras_profiler.nodes.netns``: namespaces, a
bridge, tc tbf on both ends of each link), then for each link rate runs the
all-reduce probe (``keras_profiler.nodes.probe``: torch gloo, float32, 4 KiB
to 64 MiB) with one process per node, and writes every size's time, algbw
and busbw (nccl-tests' definitions) and the latency + bandwidth fit, with the
machine named, to bench/results/netns-allreduce.{md,json}. Needs root.

    python bench/netns_allreduce.py [--nodes 2,4] [--rates 100mbit,1gbit,unshaped]
        [--rounds 2] [--budget 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import _tool_runs  # (bench/ is on the path when this file is run)

from keras_profiler.nodes import command, netns, probe

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", default="2,4")
    parser.add_argument("--rates", default="100mbit,1gbit,unshaped")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--budget", type=float, default=probe.DEFAULT_BUDGET_S)
    parser.add_argument("--output", type=Path, default=RESULTS / "netns-allreduce")
    args = parser.parse_args()
    ok, why = netns.available()
    if not ok:
        raise SystemExit(f"netns_allreduce: {why}")
    runs = []
    try:
        for count in (int(n) for n in args.nodes.split(",")):
            netns.up(count, netns.UNSHAPED)
            for round_ in range(1, args.rounds + 1):
                for rate in args.rates.split(","):
                    network = netns.shape(rate)
                    load = os.getloadavg()[0]
                    start = time.perf_counter()
                    record = probe.across(network, budget_s=args.budget, timeout_s=600)
                    record.update(
                        round=round_,
                        load_average_before=load,
                        load_average_after=os.getloadavg()[0],
                        bench_wall_s=time.perf_counter() - start,
                    )
                    runs.append(record)
                    print(command.table(record), flush=True)
    finally:
        netns.down()
    header = _tool_runs.header("All-reduce probe over netns links shaped with tc tbf")
    args.output.with_suffix(".json").write_text(
        json.dumps({"machine": header[2], "command": header[3], "runs": runs}, indent=1) + "\n"
    )
    _tool_runs.write(args.output.with_suffix(".md"), markdown(header, runs, args))


def markdown(header: list[str], runs: list[dict], args) -> str:
    lines = [
        *header,
        "",
        f"Every figure is in [{args.output.with_suffix('.json').name}]"
        f"({args.output.with_suffix('.json').name}). torch.distributed gloo, float32 sum, "
        "CPU tensors, one process per node (namespace). busbw = algbw x 2(n-1)/n "
        "(nccl-tests doc/PERFORMANCE.md); time = mean of the timed iterations, slowest "
        "rank; the fit (time = alpha + bytes / beta) is on each size's median iteration, "
        "least squares weighted 1 / time. Each link is shaped at the rate in both "
        "directions.",
        "",
        "| nodes | link | round | 64 MiB time (s) | 64 MiB busbw (Gbit/s) | of the rate "
        "| fit alpha (us) | fit busbw (Gbit/s) | load avg before |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        largest = run["sizes"][-1]
        bits = run["network"]["rate_bits_per_s"]
        share = f"{largest['busbw_bytes_per_s'] * 8 / bits:.0%}" if bits else "-"
        fit = run["fit"]
        lines.append(
            f"| {run['world_size']} | {run['network']['rate']} | {run['round']} "
            f"| {largest['time_s']:.3f} | {largest['busbw_gbit_per_s']:.3f} | {share} "
            f"| {_number(fit['alpha_s'], 1e6, '.0f')} | {_number(fit.get('busbw_gbit_per_s'))} "
            f"| {run['load_average_before']:.2f} |"
        )
    lines.append("")
    for run in runs:
        lines += [
            f"## {run['world_size']} nodes, {run['network']['rate']}, round {run['round']}",
            "",
            "```",
            command.table(run),
            "```",
            "",
        ]
    return "\n".join(lines)


def _number(value, scale: float = 1.0, spec: str = ".3f") -> str:
    return "-" if value is None else format(value * scale, spec)


if __name__ == "__main__":
    main()
