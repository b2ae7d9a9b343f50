"""Is the scaling predictor right? Its predictions from one profiled
1-node run against the multi-node runs measured over shaped netns links.

1. Profiles ResNet-18 on one device (``--profile-layers``) under jax and
   torch, as bench/netns_scaling.py trains it (synthetic 32x32, batch 32),
   pinned to the cores one netns node gets (``netns.cores_of``): the
   profile is of one node's machine. ``--profile-repeats`` times; the
   profile of the median speed is the one used (this machine's speed moves
   from run to run: bench/_repeats.py).
2. Measures what sharing the machine does to compute: N copies of the
   same 1-node run at once, each pinned where node i of N runs, for each
   node count N of the measured runs (with more nodes than cores, nodes
   share cores); the slowdown is the profiled speed over the copies' mean.
3. Predicts every multi-node run of ``--measured`` (bench/results/
   netns-scaling*.json files; a configuration measured several times, as
   the median of its runs) from the profile alone: torch as DDP's
   buckets of its bucket size, over a link of the bus bandwidth and
   latency its torch-gloo probe measured (latency 0 where the row has
   none); jax, with ``--jax-collectives`` (bench/netns_jax_collectives.py's
   figures for the same node count and link), as the ``unfused`` method
   (XLA's CPU backend all-reduces each weight tensor apart, once backward
   is done) over the link those figures give, otherwise as BSP over the
   torch probe's link; once as the cost model has it, once with the
   measured slowdown applied to compute.
4. Writes predicted against measured, with the median and worst absolute
   error of each, to bench/results/predict-validation.{md,json}.

    python bench/predict_validation.py [--steps 6] [--backends jax,torch]
        [--measured FILE,FILE] [--jax-collectives FILE] [--profile-repeats 3]
        [--output PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import _repeats
import _tool_runs  # (bench/ is on the path when this file is run)

from keras_profiler.nodes import jax_collectives, netns
from keras_profiler.predict.collectives import Link
from keras_profiler.predict.measured import Source
from keras_profiler.predict.networks import Network
from keras_profiler.predict.scenarios import Scenario

RESULTS = Path(__file__).resolve().parent / "results"
# The Intel Xeon's runs (bench/README.md names the machines): a profile
# predicts the runs of the machine it ran on only.
MEASURED = [RESULTS / "netns-scaling.json", RESULTS / "netns-scaling-4-nodes.json"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--output", type=Path, default=RESULTS / "predict-validation")
    parser.add_argument("--backends", default="jax,torch")
    parser.add_argument("--measured", type=_paths, default=MEASURED)
    parser.add_argument("--jax-collectives", type=Path)
    parser.add_argument("--profile-repeats", type=int, default=3)
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",")]
    collectives = json.loads(args.jax_collectives.read_text()) if args.jax_collectives else None
    rows = _repeats.combined(
        [
            r
            for path in args.measured
            for r in json.loads(path.read_text())
            if r["nodes"] > 1 and r["backend"] in backends
        ]
    )
    node_counts = sorted({r["nodes"] for r in rows})
    shares = {len(netns.cores_of(0, n)) for n in node_counts}
    if len(shares) > 1:
        raise SystemExit(f"predict_validation: nodes get {shares} cores: one profile per share")
    with tempfile.TemporaryDirectory(prefix="kp-validate-") as scratch:
        flags = _flags(args.steps)
        one_node = netns.cores_of(0, max(node_counts))
        profiled = {
            b: _median_profile(b, flags, Path(scratch), one_node, args.profile_repeats)
            for b in backends
        }
        sources = {b: source for b, (source, _) in profiled.items()}
        slowdowns = {
            (b, n): _slowdown(b, flags, n, sources[b], Path(scratch) / f"shared-{b}-{n}")
            for b in backends
            for n in node_counts
        }
    results = [
        _predicted(row, sources, slowdowns, collectives) for row in rows if row["status"] == "ok"
    ]
    output = {
        "measured": [str(p.resolve().relative_to(RESULTS.parent.parent)) for p in args.measured],
        "jax_collectives": collectives,
        "profile_cores": one_node,
        "sharing": {str(n): _sharing(n) for n in node_counts},
        "profiles": {b: _described(s, speeds) for b, (s, speeds) in profiled.items()},
        "slowdowns": {f"{b} {n} nodes": v for (b, n), v in slowdowns.items()},
        "rows": results,
    }
    args.output.with_suffix(".json").write_text(json.dumps(output, indent=1) + "\n")
    _tool_runs.write(args.output.with_suffix(".md"), _markdown(output))


def _paths(text: str) -> list[Path]:
    return [Path(item) for item in text.split(",")]


def _flags(steps: int) -> list[str]:
    return [
        "--model", "resnet18", "--dataset", "synthetic", "--batch-size", "32",
        "--epochs", "2", "--steps-per-epoch", str(steps), "--test-samples", "64", "--no-report",
    ]  # fmt: skip


def _profile(backend: str, flags: list[str], results: Path, cores: list[int]) -> Source:
    profiling = _pinned(cores, backend, [*flags, "--profile-layers", "--results-dir", str(results)])
    if profiling.wait(timeout=3600) != 0:
        raise SystemExit(f"predict_validation: {backend}'s profile exited {profiling.returncode}")
    return Source.load(results)


def _median_profile(
    backend, flags, scratch: Path, cores, repeats: int
) -> tuple[Source, list[float]]:
    """Of ``repeats`` profiles in turn, the one of the median speed (the
    upper of the two middle ones for an even count), and every one's speed."""
    profiles = [
        _profile(backend, flags, scratch / f"profile-{backend}-{i}", cores) for i in range(repeats)
    ]
    ranked = sorted(profiles, key=lambda source: source.images_per_second)
    return ranked[len(ranked) // 2], [p.images_per_second for p in profiles]


def _pinned(cores: list[int], backend: str, flags: list[str]) -> subprocess.Popen:
    """The tool on ``cores`` only, as a netns node runs (its children too)."""
    command = [sys.executable, "-m", "keras_profiler", "--backend", backend, *flags]
    return subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: os.sched_setaffinity(0, cores),  # this script starts no threads
    )


def _sharing(nodes: int) -> int:
    """How many of ``nodes`` netns nodes run on node 0's cores."""
    mine = set(netns.cores_of(0, nodes))
    return sum(1 for i in range(nodes) if mine & set(netns.cores_of(i, nodes)))


def _slowdown(backend, flags, copies: int, source: Source, results: Path) -> float:
    """The profiled speed over the mean of ``copies`` runs at once, each
    pinned where that node would run."""
    running = []
    for i in range(copies):
        folder = ["--results-dir", str(results / str(i))]
        running.append(_pinned(netns.cores_of(i, copies), backend, [*flags, *folder]))
    for process in running:
        process.wait(timeout=3600)
    speeds = [
        json.loads(p.read_text())["summary"]["steady_images_per_second"]
        for p in sorted(results.glob("*/*/record.json"))
    ]
    return source.images_per_second / statistics.fmean(speeds)


def _probe_link(row: dict) -> Link:
    """The torch probe's fit is the whole all-reduce among the nodes: a ring
    link carries busbw, and 1 / 2(p-1) of its latency (networks.measured)."""
    alpha = (row.get("alpha_s") or 0.0) / (2 * (row["nodes"] - 1))
    return Link(alpha, row["busbw_gbit_per_s"] * 1e9 / 8)


def _jax_link(row: dict, collectives: list[dict]) -> Link:
    """A ring link from jax's own all-reduce figures on the same node count
    and link (keras_profiler.nodes.jax_collectives.ring_link)."""
    (found,) = [c for c in collectives if (c["nodes"], c["link"]) == (row["nodes"], row["link"])]
    return jax_collectives.ring_link({"processes": row["nodes"], **found})


def _predicted(row: dict, sources: dict, slowdowns: dict, collectives: list | None) -> dict:
    backend, nodes = row["backend"], row["nodes"]
    if backend == "jax" and collectives:
        method, link = "unfused", _jax_link(row, collectives)
    else:
        method, link = ("ddp-buckets" if backend == "torch" else "bsp"), _probe_link(row)
    source = sources[backend]

    # A node on one core has none to spare for its exchanges.
    spare = len(netns.cores_of(0, nodes)) > 1

    def speed(slowdown: float, method: str = method, link: Link = link, overlap=spare) -> float:
        scenario = Scenario(
            per_node=1, nodes=nodes, network=Network(row["link"], link, "measured"),
            method=method, bucket_mb=row["bucket_mb"] or 25.0, slowdown=slowdown,
            overlap=overlap,
        )  # fmt: skip
        return scenario.images_per_second(source.profile, source.batch_size)

    measured, slowdown = row["images_per_second"], slowdowns[(backend, nodes)]
    plain, fair, shared = speed(1.0), speed(float(_sharing(nodes))), speed(slowdown)
    # For comparison: jax as before, one all-reduce over the torch probe's link.
    bsp = speed(float(_sharing(nodes)), "bsp", _probe_link(row)) if backend == "jax" else None
    # For comparison: exchanges beside compute regardless (the model before).
    overlapped = speed(float(_sharing(nodes)), overlap=True)
    return {
        **{k: row[k] for k in ("backend", "bucket_mb", "link", "nodes", "busbw_gbit_per_s")},
        "method": method,
        "overlap": spare,
        "runs": row.get("runs"),
        "predicted_fair_overlapped": overlapped,
        "error_fair_overlapped": (overlapped - measured) / measured,
        "link_alpha_s": link.alpha_s,
        "link_dependent_alpha_s": link.dependent_alpha_s,
        "link_beta_gbit_per_s": link.beta_bytes_per_s * 8 / 1e9,
        "predicted_fair_bsp_probe": bsp,
        "error_fair_bsp_probe": None if bsp is None else (bsp - measured) / measured,
        "measured": measured,
        "predicted": plain,
        "error": (plain - measured) / measured,
        "predicted_fair": fair,
        "error_fair": (fair - measured) / measured,
        "slowdown": slowdown,
        "predicted_shared": shared,
        "error_shared": (shared - measured) / measured,
    }


def _described(source: Source, speeds: list[float]) -> dict:
    return {
        "run_id": source.record["run_id"],
        "images_per_second": source.images_per_second,
        "repeats": speeds,
        "method": source.method,
        "layer_profile": {k: v for k, v in source.record["layer_profile"].items() if k != "layers"},
    }


def _markdown(output: dict) -> str:
    rows = output["rows"]
    lines = [
        *_tool_runs.header("Predicted against measured: ResNet-18 over netns nodes"),
        "",
        "Each multi-node run of "
        + ", ".join(f"`{p}`" for p in output["measured"])
        + " predicted from one profiled 1-node run (below) by the method named, over the "
        "link its row names: torch's probe's bus bandwidth and latency (latency 0 where the "
        "row has none), or for jax's unfused method jax's own all-reduce figures on that "
        "link (bench/netns_jax_collectives.py; 'alpha' is per ring step, and where those "
        "figures have one, a sync point's dependent collective costs 2(p-1) x 'dep. alpha'). "
        "'as modelled': the cost "
        "model alone; 'fair share': each node's compute slowed by the number of nodes pinned "
        "to its cores (netns.cores_of: more nodes than cores share them); 'shared cores': "
        "each node's compute slowed by the measured slowdown of N 1-node runs at once, each "
        "pinned as node i of N is. A node with one core has none to spare: no exchange runs "
        "beside its compute there (the predictor's overlap off: docs/prediction.md). Error = "
        "(predicted - measured) / measured, where 'measured' is the median of the "
        "configuration's runs where it ran several times ('range': theirs).",
        "",
        f"Each profile ran on cores {output['profile_cores']}, one node's share; nodes "
        "sharing a core: "
        + ", ".join(f"{n} nodes {s}" for n, s in output["sharing"].items())
        + ".",  # fmt: skip
        "Profiles: "
        + "; ".join(
            f"{b} {p['images_per_second']:.1f} images/sec{_of_repeats(p)}, layers by "
            f"{p['method']}, "
            f"{p['layer_profile'].get('data_parallel_sync_points', 0)} sync points"
            for b, p in output["profiles"].items()
        )
        + ".",  # fmt: skip
        "Slowdowns of N runs at once: "
        + ", ".join(f"{k} {v:.2f}x" for k, v in output["slowdowns"].items())
        + ".",  # fmt: skip
        "",
        "| backend | bucket (MB) | link | nodes | busbw (Gbit/s) | method | alpha (ms) | "
        "dep. alpha (ms) | beta (Gbit/s) | measured | range | as modelled | error | "
        "fair share | error | shared cores | error |",
        "|" + " --- |" * 17,
    ]
    for r in sorted(rows, key=lambda r: (r["backend"], r["bucket_mb"] or 0, r["nodes"], r["link"])):
        lines.append(
            f"| {r['backend']} | {r['bucket_mb'] or ''} | {r['link']} | {r['nodes']} | "
            f"{r['busbw_gbit_per_s']:.3f} | {r['method']} | {r['link_alpha_s'] * 1e3:.3f} | "
            f"{_ms(r.get('link_dependent_alpha_s'))} | {r['link_beta_gbit_per_s']:.3f} | "
            f"{r['measured']:.1f} | {_repeats.spread(r)} | {r['predicted']:.1f} | "
            f"{r['error']:+.1%} | {r['predicted_fair']:.1f} | {r['error_fair']:+.1%} | "
            f"{r['predicted_shared']:.1f} | {r['error_shared']:+.1%} |"
        )
    names = [("error", "as modelled"), ("error_fair", "fair share")]
    names.append(("error_shared", "shared cores"))
    for key, name in names:
        errors = [abs(r[key]) for r in rows]
        lines.append(
            f"\n{name}: median absolute error {statistics.median(errors):.1%}, worst "
            f"{max(errors):.1%} over {len(errors)} runs."
        )
    overlapped = [abs(r["error_fair_overlapped"]) for r in rows if "error_fair_overlapped" in r]
    if overlapped and not any(r["overlap"] for r in rows):
        lines.append(
            f"\nWith exchanges beside compute regardless (the model before), fair share: "
            f"median absolute error {statistics.median(overlapped):.1%}, worst "
            f"{max(overlapped):.1%} over {len(overlapped)} runs."
        )
    before = [abs(r["error_fair_bsp_probe"]) for r in rows if r["error_fair_bsp_probe"] is not None]
    if before and any(r["method"] == "unfused" for r in rows):
        lines.append(
            f"\njax as BSP over the torch probe's link (the model before unfused), fair "
            f"share: median absolute error {statistics.median(before):.1%}, worst "
            f"{max(before):.1%} over {len(before)} runs."
        )
    return "\n".join(lines) + "\n"


def _of_repeats(profile: dict) -> str:
    """' (median of 105.1, 107.6, 110.2)' for a profile chosen among several."""
    speeds = profile.get("repeats") or []
    if len(speeds) < 2:
        return ""
    return " (median of " + ", ".join(f"{s:.1f}" for s in sorted(speeds)) + ")"


def _ms(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds * 1e3:.3f}"


if __name__ == "__main__":
    main()
