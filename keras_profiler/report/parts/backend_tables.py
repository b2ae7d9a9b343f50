"""Per-backend, per-model tables in the layout of the keras-mxnet reference:
rows are the measured figures, columns the device counts.

The tables take cells (``cells.per_cell``), not records: each column is one
configuration, its figures the mean over its ok repeats; time and images/sec
show 'mean +- stdev' where two or more repeats were ok.
"""

from __future__ import annotations

import pandas as pd

from keras_profiler.report.data.cells import ACCURACY, FAILED, figure_text, given, repeats_text
from keras_profiler.report.parts import clock_rows, units

# (row label, column, format); a row shows only where some cell has a figure.
FIGURE_ROWS = [
    ("Training time (secs)", "training_seconds", "{:.2f}"),
    ("First epoch, compile and warm-up (secs)", "first_epoch_seconds", "{:.2f}"),
    ("Average time per epoch, steady state (secs)", "steady_epoch_seconds", "{:.2f}"),
    (clock_rows.EPOCH_CLOCK, "steady_images_per_second", "{:.2f}"),
    ("Tokens processed per sec, steady state (epoch clock)", "steady_tokens_per_second", "{:.1f}"),
    ("Training accuracy", "train_accuracy", "{:.4f}"),
    ("Test accuracy", "test_accuracy", "{:.4f}"),
    ("Maximum memory consumption (MiB, {source}, all devices)", "device_peak_mib", "{:.0f}"),
    ("Maximum memory per device (MiB, {source}, largest device)", "device_peak_max_mib", "{:.0f}"),
    ("Maximum memory consumption (MiB, NVML per process)", "nvml_process_mib", "{:.0f}"),
    (
        "Maximum memory consumption (MiB, host peak RSS, all processes)",
        "host_peak_rss_mib",
        "{:.0f}",
    ),
]
REPEATS = "Repeats"
SPEEDUP = "Speedup vs 1 device"
EFFICIENCY = "Scaling efficiency"
REPLICAS = "Replicas identical after training"
NO_BASELINE = "n/a (no 1-device run)"


def backend_table(runs: pd.DataFrame) -> str:
    """One table: a column per device count, failed runs named as such."""
    order = runs.sort_values("devices").to_dict("records")
    columns = [column_name(run) for run in order]
    unit = order[0].get("sample_unit") or "images"
    body = {units.reword([label], unit)[0]: cells for label, cells in _body(runs, order).items()}
    table = pd.DataFrame(body, index=columns).T
    table.index.name = ""
    align = ("left",) + ("center",) * len(columns)
    # Cells are preformatted text: stop tabulate re-parsing "1.0000" into "1".
    return table.to_markdown(colalign=align, disable_numparse=True)


def column_name(run: dict) -> str:
    """'GPU (2)' / 'CPU (2)', as in the reference tables: the devices over
    all nodes, the nodes named where there are several ('CPU (4 over 2 nodes)')."""
    kind = "GPU" if run["device_kind"] == "gpu" else "CPU"
    nodes = int(run.get("nodes") or 1) if given(run.get("nodes")) else 1
    total = int(run["devices"]) * nodes
    return f"{kind} ({total})" if nodes == 1 else f"{kind} ({total} over {nodes} nodes)"


def _body(runs: pd.DataFrame, order: list[dict]) -> dict[str, list[str]]:
    """Row label -> cells: the settings that vary by column, then the figures."""
    body = {"Global batch": [_integer(run["global_batch"]) for run in order]}
    if (runs["repeats"] > 1).any():
        body[REPEATS] = [repeats_text(run) for run in order]
    if (runs["lr_scaling"] == "linear").any():
        body["Learning rate"] = [_learning_rate(run) for run in order]
    for label, column, fmt in FIGURE_ROWS:
        if runs[column].notna().any() or (column in ACCURACY and runs["synthetic"].any()):
            # The Repeats row counts failed repeats: no '(2 of 3 ok)' in each cell.
            texts = [figure_text(run, column, fmt, count_repeats=False) for run in order]
            body[label.format(source=memory_source(runs))] = texts
            if column == "steady_images_per_second":
                body.update(_scaling_rows(order))
                body.update(clock_rows.rows(order))
    if (runs["devices"] > 1).any():
        body[REPLICAS] = [_replicas(run) for run in order]
    return body


def _scaling_rows(order: list[dict]) -> dict[str, list[str]]:
    """Speedup over the table's own ok 1-device run, and that per device."""
    baseline = next((r for r in order if r["devices"] == 1 and r["status"] == "ok"), None)
    speedup, efficiency = [], []
    for run in order:
        ratio = _speedup(run, baseline)
        speedup.append(f"{ratio:.2f}x" if isinstance(ratio, float) else ratio)
        efficiency.append(
            f"{100 * ratio / run['devices']:.0f}%" if isinstance(ratio, float) else ratio
        )
    return {SPEEDUP: speedup, EFFICIENCY: efficiency}


def _speedup(run: dict, baseline: dict | None) -> float | str:
    """The ratio, or the text to show in its place."""
    if run["status"] != "ok":
        return FAILED[run["status"]]
    if baseline is None:
        return NO_BASELINE
    rates = (run["steady_images_per_second"], baseline["steady_images_per_second"])
    if not all(given(rate) for rate in rates):
        return "n/a (1 epoch)"  # no steady state to compare
    return float(rates[0] / rates[1])


def _replicas(run: dict) -> str:
    """Whether the replicas' weights still agree after the last epoch."""
    if run["status"] != "ok":
        return FAILED[run["status"]]
    difference = run["replica_max_diff"]
    if run["devices"] == 1 or not given(difference):
        return "n/a"
    if difference == 0:
        return "yes"
    if run["replica_trainable_max_diff"] == 0:
        return f"trainable yes, non-trainable differ by {difference:.2g}"
    return f"no (max diff {difference:.2g})"


def _learning_rate(run: dict) -> str:
    rate = run["effective_learning_rate"]
    return f"{rate:g}" if given(rate) else "n/a"


def _integer(value) -> str:
    return str(int(value)) if given(value) else "n/a"


def failure_lines(runs: pd.DataFrame) -> list[str]:
    """Why each failed record failed, one line each: failed cells, and the
    failed repeats of cells whose other repeats were ok."""
    lines = []
    for run in runs.sort_values("devices").to_dict("records"):
        for repeat, status, error, _ in run["failures"]:
            where = column_name(run) + (f", repeat {repeat}" if run["repeats"] > 1 else "")
            reason = error if given(error) else "no error text recorded"  # None or NaN
            lines.append(f"* {where}: {FAILED[status]}: `{reason}`")
    return lines


def memory_source(runs: pd.DataFrame) -> str:
    """What read the device memory peaks: the frameworks' counters by name."""
    sources = sorted(set(runs["device_peak_source"].dropna()))
    return " / ".join(sources) if sources else "framework counter"
