"""Repeated runs of one configuration, as one figure: their median.

This 2-core virtual machine's speed moves from run to run by more than the
predictor's error targets (bench/results/netns-scaling-torch-xeon-r3.md
shows the spread of each configuration's runs), so a benchmark that validates a
prediction measures each configuration several times, interleaved, and
compares against the median, with the runs' range beside it.
"""

from __future__ import annotations

import statistics

CONFIGURATION = ("backend", "bucket_mb", "link", "nodes")
MEDIANS = ("images_per_second", "busbw_gbit_per_s", "alpha_s")


def combined(rows: list[dict]) -> list[dict]:
    """One row per configuration: the median of its ok runs' figures (the
    link's probe is measured afresh by every run), each run's images/sec
    under ``runs``; a configuration none of whose runs is ok keeps its
    first run's status and no figures."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row.get(k) for k in CONFIGURATION), []).append(row)
    return [_median_row(group) for group in groups.values()]


def _median_row(group: list[dict]) -> dict:
    ok = [r for r in group if r["status"] == "ok"]
    if not ok:
        return {**group[0], "runs": [], "failed_runs": len(group)}
    row = {
        **ok[0],
        "runs": [r["images_per_second"] for r in ok],
        "failed_runs": len(group) - len(ok),
    }
    for key in MEDIANS:
        values = [r[key] for r in ok if r.get(key) is not None]
        row[key] = statistics.median(values) if values else None
    row["run_id"] = [r["run_id"] for r in ok]
    return row


def spread(row: dict) -> str:
    """'min-max (n runs)' of a combined row, or '' for a single run."""
    runs = row.get("runs") or []
    if len(runs) < 2:
        return ""
    return f"{min(runs):.1f}-{max(runs):.1f} ({len(runs)} runs)"
