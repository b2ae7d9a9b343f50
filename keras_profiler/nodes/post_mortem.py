"""After a run over several nodes fails: which node failed first.

When one node dies, every other node's workers fail too (their collectives
lose a peer), each with an error of its own that names no node. So each
node's launcher, once its workers ended badly, leaves a report of what it
saw (how its worker ended, and when) with node 0 (keras_profiler.nodes.
rollcall, on the coordinator's port + 2), and node 0 names the node that
failed in its record: a node that sent no report at all was lost whole; a
worker killed by a signal was killed there; else the node whose worker
failed first. The clocks compared are the nodes' own (NTP-close on a
cluster; one clock for netns nodes).
"""

from __future__ import annotations

import json
import subprocess
import sys

from keras_profiler.nodes import rollcall

# How long a node waits for node 0 to take its report: node 0's workers may
# notice the failure later than this node's did (up to --join-timeout, the
# collectives' own timeout, where a peer vanished without closing its links).
REPORT_SLACK_S = 60.0


def name_failed_node(record, config, seen: dict, link: dict | None) -> None:
    """Leaves this node's report with node 0; on node 0, names the failed
    node in ``record`` (its error, and distribution.failed_nodes)."""
    report = {
        **seen,
        "node_rank": config.node_rank,
        "status": record.status,
        "error": _first_line(record.error),
    }
    found = _roll_call(config, report)
    if config.node_rank != 0 or found is None:
        return
    failed, why = blame(found, addresses(link))
    if failed != [0] or found["missing"]:
        record.status = "error"
    record.error = f"{why}\n{record.error or ''}".strip()
    record.distribution = {**record.distribution, "failed_nodes": failed, "node_reports": found}


def _roll_call(config, report: dict) -> dict | None:
    host, _, port = config.coordinator.rpartition(":")
    timeout = config.join_timeout + REPORT_SLACK_S
    command = [
        sys.executable, "-m", "keras_profiler.nodes.rollcall", "--rank", str(config.node_rank),
        "--world", str(config.nodes), "--master", f"{host}:{int(port) + 2}",
        "--report", json.dumps(report), "--timeout", str(timeout),
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout + rollcall.REPORT_WINDOW_S + 30
        )
    except subprocess.TimeoutExpired:
        return None
    if config.node_rank != 0 or done.returncode != 0 or not done.stdout.strip():
        return None
    return json.loads(done.stdout)


def addresses(link: dict | None) -> dict[int, str]:
    """Each rank's address (host name where no address), from the probe."""
    nodes = (link or {}).get("nodes") or []
    return {rank: node.get("address") or node.get("host") for rank, node in enumerate(nodes)}


def blame(found: dict, where: dict[int, str]) -> tuple[list[int], str]:
    """(the failed nodes, a sentence naming them) from node 0's roll call."""
    reports = {int(rank): report for rank, report in found["reports"].items()}
    if found["missing"]:
        lost = found["missing"]
        one = len(lost) == 1
        return lost, (
            f"{_named(lost, where)} {'was' if one else 'were'} lost: no word from "
            f"{'it' if one else 'them'} after the run failed (the node, or keras-profiler on "
            "it, died)"
        )
    killed = [rank for rank in sorted(reports) if reports[rank].get("signal")]
    if killed:
        return killed, f"{_named(killed, where)} failed first: " + "; ".join(
            reports[rank]["describe"] for rank in killed
        )
    if all(report.get("timed_out") for report in reports.values()):
        return sorted(reports), "every node passed its time limit"
    times = {r: rep["failed_at_unix"] for r, rep in reports.items() if rep.get("failed_at_unix")}
    first = min(times, key=times.get) if times else min(reports)
    said = reports[first].get("error") or reports[first]["describe"]
    return [first], f"{_named([first], where)} failed first: {said}"


def _named(ranks: list[int], where: dict[int, str]) -> str:
    return ", ".join(f"node {r}" + (f" ({where[r]})" if where.get(r) else "") for r in ranks)


def _first_line(text: str | None) -> str | None:
    return text.strip().splitlines()[0][:300] if text and text.strip() else None
