"""``python -m keras_profiler.nodes up|down|status|shape|probe``: the netns nodes.

Bad input is one line and exit status 2; a failing ``ip`` or ``tc`` (no
permission, say) is one line naming the command, exit status 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from keras_profiler.errors import UsageError
from keras_profiler.nodes import netns, probe
from keras_profiler.nodes.probe import ProbeError
from keras_profiler.options import Parser

EXIT_USAGE = 2
EXIT_FAILED = 1
PROG = "python -m keras_profiler.nodes"


def parser(prog: str = PROG) -> Parser:
    p = Parser(
        prog=prog,
        description=(
            f"Nodes on this machine: network namespaces ({netns.PREFIX}0, {netns.PREFIX}1, ...) "
            f"joined by a bridge, addresses in {netns.SUBNET}, each link shaped with tc tbf in "
            "both directions. Needs root (CAP_NET_ADMIN)."
        ),
    )
    commands = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True
    up = commands.add_parser("up", help="make the nodes (tearing down any first)")
    up.add_argument("--nodes", type=int, required=True, metavar="N", help="how many nodes")
    _add_rate(up, default=netns.UNSHAPED)
    shape = commands.add_parser("shape", help="re-shape the links of the nodes that are up")
    _add_rate(shape, default=None, required=True)
    commands.add_parser("down", help="remove every node, link and hosts file (idempotent)")
    status = commands.add_parser("status", help="what is up, and any leftovers")
    status.add_argument("--json", action="store_true", help="print it as JSON")
    probing = commands.add_parser(
        "probe", help="time an all-reduce across the nodes that are up (torch gloo)"
    )
    probing.add_argument(
        "--sizes",
        type=probe.parse_sizes,
        default=probe.DEFAULT_SIZES,
        metavar="LIST",
        help="message sizes, comma-separated (default: 4KiB to 64MiB, powers of 4)",
    )
    probing.add_argument(
        "--budget",
        type=float,
        default=probe.DEFAULT_BUDGET_S,
        metavar="S",
        help="seconds of timed iterations per size (at least one runs)",
    )
    probing.add_argument("--timeout", type=float, default=600.0, metavar="S")
    probing.add_argument("--output", type=Path, metavar="FILE", help="write the record here")
    return p


def _add_rate(p, *, default, required=False) -> None:
    p.add_argument(
        "--rate",
        default=default,
        required=required,
        metavar="RATE",
        help=f"each link's rate, as tc spells it (100mbit, 1gbit), or {netns.UNSHAPED}",
    )


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    try:
        args = parser(prog).parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as error:
        print(f"keras-profiler: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (netns.NetnsError, ProbeError) as error:
        print(f"keras-profiler: error: {' '.join(str(error).split())}", file=sys.stderr)
        return EXIT_FAILED


def _up(args) -> int:
    netns.check_nodes(args.nodes)
    netns.parse_rate(args.rate)
    network = netns.up(args.nodes, args.rate)
    print(f"keras-profiler: {_describe(network)}")
    return 0


def _shape(args) -> int:
    network = netns.shape(args.rate)
    print(f"keras-profiler: {_describe(network)}")
    return 0


def _down(args) -> int:
    removed = netns.down()
    counts = {key: len(names) for key, names in removed.items()}
    if not any(counts.values()):
        print(f"keras-profiler: nothing named {netns.PREFIX}* to remove")
    else:
        print(
            f"keras-profiler: removed {counts['namespaces']} namespaces, {counts['links']} links, "
            f"{counts['netns_dirs']} {netns.NETNS_ETC} dirs"
        )
    return 0


def _status(args) -> int:
    network = netns.status()
    found = netns.leftovers()
    if args.json:
        print(json.dumps({"network": network and network.to_dict(), "present": found}, indent=1))
    elif network is not None:
        print(f"keras-profiler: {_describe(network)}")
    elif any(found.values()):
        print(f"keras-profiler: no nodes, but leftovers (remove with down): {found}")
    else:
        print("keras-profiler: no nodes are up")
    return 0


def _probe(args) -> int:
    network = netns.status()
    if network is None:
        raise UsageError(f"no nodes are up: run `{PROG} up --nodes N` first")
    if len(network.nodes) < 2:
        raise UsageError("one node is up: an all-reduce between nodes needs at least 2")
    record = probe.across(network, sizes=args.sizes, budget_s=args.budget, timeout_s=args.timeout)
    print(table(record))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(record, indent=1) + "\n")
    return 0


def table(record: dict) -> str:
    """The probe's record as nccl-tests prints it, plus the fit."""
    format_size = probe.format_size
    lines = [
        f"# all-reduce, float32 sum, {record['world_size']} ranks, {record['engine']}, "
        f"link {record.get('network', {}).get('rate', '?')}",
        f"# {'size':>8} {'time (us)':>11} {'median (us)':>12} {'algbw GB/s':>11} "
        f"{'busbw GB/s':>11} {'busbw Gbit/s':>13} {'iters':>6}",
    ]
    for row in record["sizes"]:
        lines.append(
            f"  {format_size(row['bytes']):>8} {row['time_s'] * 1e6:>11.1f} "
            f"{row['median_s'] * 1e6:>12.1f} {row['algbw_gb_per_s']:>11.4f} "
            f"{row['busbw_gb_per_s']:>11.4f} {row['busbw_gbit_per_s']:>13.4f} "
            f"{row['iterations']:>6}"
        )
    fit = record["fit"]
    if fit.get("beta_bytes_per_s"):
        lines.append(
            f"# fit: time = {fit['alpha_s'] * 1e6:.1f} us + bytes / "
            f"({fit['beta_gbit_per_s']:.4f} Gbit/s); bus bandwidth "
            f"{fit['busbw_gbit_per_s']:.4f} Gbit/s"
        )
    return "\n".join(lines)


def _describe(network: netns.Network) -> str:
    nodes = ", ".join(f"{node.name} {node.address}" for node in network.nodes)
    return (
        f"{len(network.nodes)} nodes at {network.rate} ({nodes}); interface "
        f"{network.interface}; run in one with `ip netns exec {network.nodes[0].name} ...`"
    )


COMMANDS = {"up": _up, "shape": _shape, "down": _down, "status": _status, "probe": _probe}
