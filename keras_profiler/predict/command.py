"""``python -m keras_profiler predict``: images/sec for node counts, networks
and gradient-exchange methods, from one ``--profile-layers`` run, written to
reports/prediction.md beside any measured run of the same configuration.

Example:

    python -m keras_profiler predict --from results/RUN --gpus-per-node 4 \\
        --nodes 1,2,4,8 --network 10gbe,56gb-ib --methods bsp,wfbp,mg-wfbp,ps
"""

from __future__ import annotations

import sys
from pathlib import Path

from keras_profiler.errors import UsageError
from keras_profiler.options import Parser
from keras_profiler.predict import networks, page
from keras_profiler.predict.measured import Source, matching_runs
from keras_profiler.predict.scenarios import ALGORITHMS, DEFAULT_METHODS, METHODS, Scenario

PROG = "python -m keras_profiler predict"


def parser() -> Parser:
    p = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--from", dest="source", required=True, metavar="RECORD_OR_RESULTS",
                   help="a --profile-layers record (record.json or its folder), or a results "
                        "folder holding one")  # fmt: skip
    p.add_argument("--gpus-per-node", type=_whole, default=1, metavar="G")
    p.add_argument("--nodes", type=_wholes, default=[1, 2, 4, 8], metavar="LIST")
    p.add_argument("--network", type=_items, default=["10gbe", "56gb-ib"], metavar="LIST",
                   help=f"comma-separated: {', '.join(networks.PRESETS)}, measured:RECORD, "
                        "custom:BANDWIDTH,LATENCY (docs/prediction.md)")  # fmt: skip
    p.add_argument("--intra", default="nvlink", metavar="LINK",
                   help=f"the link within a node: {', '.join(networks.INTRA)} or "
                        "custom:BANDWIDTH,LATENCY")  # fmt: skip
    p.add_argument("--methods", type=_items, default=list(DEFAULT_METHODS), metavar="LIST",
                   help=f"comma-separated: {', '.join(METHODS)} (default: all but "
                        "unfused)")  # fmt: skip
    p.add_argument("--allreduce", choices=ALGORITHMS, default="ring")
    p.add_argument("--bucket-mb", type=float, default=25.0, metavar="MB",
                   help="DDP's bucket size, for ddp-buckets (PyTorch's default: 25)")  # fmt: skip
    p.add_argument("--ps-servers", type=_whole, default=None, metavar="K",
                   help="parameter servers, for ps (default: one a node)")  # fmt: skip
    p.add_argument("--no-overlap", dest="overlap", action="store_false",
                   help="no exchange runs beside compute: CPU devices whose nodes have no "
                        "core to spare for the exchanges (docs/prediction.md)")  # fmt: skip
    p.add_argument("--results-dir", type=Path, default=Path("results"),
                   help="measured runs to set beside the predictions")  # fmt: skip
    p.add_argument("--reports-dir", type=Path, default=Path("reports"))
    return p


def _whole(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ValueError(text)
    return int(text)


def _wholes(text: str) -> list[int]:
    return [_whole(item.strip()) for item in text.split(",")]


def _items(text: str) -> list[str]:
    """Comma-separated items; ``custom:BANDWIDTH,LATENCY`` keeps its comma."""
    items = []
    for item in (i.strip() for i in text.split(",")):
        if items and items[-1].startswith("custom:") and "," not in items[-1]:
            items[-1] += f",{item}"
        elif item:
            items.append(item)
    return items


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        raise UsageError(f"--methods {','.join(unknown)}: give any of {', '.join(METHODS)}")
    chosen = [networks.parse(n) for n in args.network]
    intra = networks.parse(args.intra, networks.INTRA)
    source = Source.load(args.source)
    rows = predict(source, args, chosen, intra)
    args.reports_dir.mkdir(parents=True, exist_ok=True)
    picture = args.reports_dir / "prediction-1.png"
    page.plot(rows, picture)
    target = args.reports_dir / "prediction.md"
    target.write_text(page.markdown(source, rows, [*chosen, intra], picture.name))
    print(f"keras-profiler predict: wrote {target} and {picture}")
    return 0


def predict(source: Source, args, chosen: list, intra) -> list[page.Row]:
    """A row per network and method, a cell per GPU count."""
    measured = matching_runs(args.results_dir, source) if args.results_dir.is_dir() else []
    rows = []
    for network in chosen:
        for method in args.methods:
            where = _connection(network, args.gpus_per_node, intra)
            row = page.Row(connection=where, method=method)
            for nodes in args.nodes:
                scenario = Scenario(
                    per_node=args.gpus_per_node, nodes=nodes, network=network, method=method,
                    intra=intra, algorithm=args.allreduce, bucket_mb=args.bucket_mb,
                    servers=args.ps_servers, overlap=args.overlap,
                )  # fmt: skip
                try:
                    predicted = scenario.images_per_second(source.profile, source.batch_size)
                except networks.OutsideFit as outside:
                    predicted = str(outside)
                row.cells[scenario.devices] = (predicted, _measured(measured, scenario))
            rows.append(row)
    return rows


def _connection(network, per_node: int, intra) -> str:
    return network.name + (f" ({per_node} a node over {intra.name})" if per_node > 1 else "")


def _measured(records: list[dict], scenario: Scenario) -> float | None:
    """The mean steady images/sec of the records of this cell: the same
    devices a node and nodes, over this network (any, on one node), by this
    method (torch's DDP runs beside ddp-buckets of their bucket size only)."""
    speeds = []
    for record in records:
        config = record["config"]
        if (config.get("devices"), config.get("nodes") or 1) != (scenario.per_node, scenario.nodes):
            continue
        if scenario.nodes > 1 and config.get("interconnect") != scenario.network.recorded_as:
            continue
        if not _same_method(config, scenario):
            continue
        speed = (record.get("summary") or {}).get("steady_images_per_second")
        if speed:
            speeds.append(speed)
    return sum(speeds) / len(speeds) if speeds else None


def _same_method(config: dict, scenario: Scenario) -> bool:
    if scenario.method == "ps":
        return False  # no backend here runs a parameter server
    if config.get("strategy") == "ddp":
        return scenario.method == "ddp-buckets" and config.get("bucket_mb") == scenario.bucket_mb
    return scenario.method != "ddp-buckets"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
