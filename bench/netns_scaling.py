"""How does the link between nodes change training speed?

Runs ResNet-18 (CIFAR-10 size, synthetic data) data parallel over 2 (or
``--nodes``) netns nodes (``keras_profiler.nodes.netns``), one device each, at several link
rates, under jax and torch, torch at two DDP bucket sizes, beside the same
model on one node; one sweep (``[cluster] launcher = "netns"``), so the
runs are the tool's own. Writes each run's steady images/sec and the
link's measured bus bandwidth, with the machine named, to
bench/results/netns-scaling.{md,json}. Needs root.

    python bench/netns_scaling.py [--rates unshaped,1gbit,300mbit,100mbit]
        [--nodes 1,2] [--steps 6] [--batch-size 32] [--repeats 1] [--output PATH]

With ``--repeats N`` the whole matrix runs N times over, one pass after the
other (so that a slow spell of the machine falls on every configuration
alike, not on one), and each configuration's figure is the median of its
runs, their range beside it (bench/_repeats.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import _repeats
import _tool_runs  # (bench/ is on the path when this file is run)

from keras_profiler.nodes import netns

RESULTS = Path(__file__).parent / "results"
MATRIX = """
[matrix]
backends = ["jax", "torch"]
devices = [1]
devices_up_to_present = false
nodes = {nodes}
models = ["resnet18"]
batch_sizes = [{batch}]
data = ["synthetic"]

[strategies]
jax = ["data-parallel"]
torch = ["ddp"]

[cluster]
launcher = "netns"
rates = {rates}

[settings]
epochs = 2
steps_per_epoch = {steps}
test_samples = 64
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="unshaped,1gbit,300mbit,100mbit")
    parser.add_argument("--nodes", default="1,2", help="node counts, 1 for the baseline")
    parser.add_argument("--backends", default="jax,torch")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=1, help="passes over the matrix")
    parser.add_argument("--output", type=Path, default=RESULTS / "netns-scaling")
    args = parser.parse_args()
    ok, why = netns.available()
    if not ok:
        raise SystemExit(f"netns_scaling: {why}")
    rates = [r.strip() for r in args.rates.split(",")]
    nodes = [int(n) for n in args.nodes.split(",")]
    runs = []
    with tempfile.TemporaryDirectory(prefix="kp-bench-") as scratch:
        backends = [b.strip() for b in args.backends.split(",")]
        for repeat in range(args.repeats):
            runs += _pass(args, backends, rates, nodes, Path(scratch) / f"pass-{repeat}")
    args.output.with_suffix(".json").write_text(json.dumps(runs, indent=1) + "\n")
    _tool_runs.write(args.output.with_suffix(".md"), _markdown(runs))


def _pass(args, backends: list[str], rates: list[str], nodes: list[int], scratch: Path) -> list:
    """One sweep of the whole matrix; its runs' rows."""
    scratch.mkdir()
    runs = []
    # torch's default 25 MB buckets, then 1 MB (torch only)
    for bucket in (None, 1) if "torch" in backends else (None,):
        matrix = Path(scratch) / f"matrix-{bucket}.toml"
        text = MATRIX.format(
            batch=args.batch_size, rates=json.dumps(rates), steps=args.steps, nodes=nodes
        ).replace('["jax", "torch"]', json.dumps(backends))
        if bucket:  # the second pass: torch only, its buckets smaller
            text = text.replace('["jax", "torch"]', '["torch"]') + f"bucket_mb = {bucket}\n"
        matrix.write_text(text)
        results = Path(scratch) / f"results-{bucket}"
        subprocess.run(
            [sys.executable, "-m", "keras_profiler", "sweep", str(matrix), "--results-dir",
             str(results), "--reports-dir", str(Path(scratch) / "reports")],
            check=True, timeout=3600,
        )  # fmt: skip
        runs += [_row(json.loads(p.read_text())) for p in sorted(results.glob("*/record.json"))]
    return runs


def _row(record: dict) -> dict:
    config, spread = record["config"], record["distribution"]
    link = spread.get("interconnect") or {}
    return {
        "backend": config["backend"],
        "nodes": config.get("nodes", 1),
        "link": config.get("interconnect") if config.get("nodes", 1) > 1 else "one node",
        "bucket_mb": config.get("bucket_mb"),
        "status": record["status"],
        "images_per_second": (record.get("summary") or {}).get("steady_images_per_second"),
        "busbw_gbit_per_s": (link.get("fit") or {}).get("busbw_gbit_per_s"),
        "alpha_s": (link.get("fit") or {}).get("alpha_s"),
        "global_batch": spread.get("global_batch_size"),
        # Node 0's cores: a netns node runs on its share (netns.cores_of).
        "cores": record["environment"].get("cpu_cores_usable"),
        "run_id": record["run_id"],
    }


def _markdown(runs: list[dict]) -> str:
    lines = [
        *_tool_runs.header("ResNet-18 images/sec against the link between netns nodes"),
        "",
        "One device per node, each node on its share of the cores (netns.cores_of; "
        "with more nodes than cores, two share one); synthetic 32x32 images; steady state "
        "of the second epoch; where a configuration ran more than once (--repeats), the "
        "median of its runs, their range beside it. "
        "'busbw' is the all-reduce probe's fitted bus bandwidth on that link, measured "
        "before each run (the median of the runs').",
        "",
        "| backend | bucket (MB) | link | nodes | cores per node | status | images/sec | "
        "range | busbw (Gbit/s) |",
        "|" + " --- |" * 9,
    ]
    combined = _repeats.combined(runs)
    order = sorted(
        combined, key=lambda r: (r["backend"], r["bucket_mb"] or 0, r["nodes"], r["link"])
    )
    for run in order:
        speed = f"{run['images_per_second']:.1f}" if run["images_per_second"] else "n/a"
        busbw = f"{run['busbw_gbit_per_s']:.3f}" if run["busbw_gbit_per_s"] else ""
        lines.append(
            f"| {run['backend']} | {run['bucket_mb'] or ''} | {run['link']} | {run['nodes']} | "
            f"{run.get('cores') or ''} | {run['status']} | {speed} | {_repeats.spread(run)} | "
            f"{busbw} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
