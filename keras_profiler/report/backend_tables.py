"""Per-backend, per-model tables in the layout of the keras-mxnet reference:
rows are the measured figures, columns the device counts.

The tables take cells (``cells.per_cell``), not records: each column is one
configuration, its figures the mean over its ok repeats; time and images/sec
show 'mean +- stdev' where two or more repeats were ok.
"""

from __future__ import annotations

import math

import pandas as pd

from keras_profiler.report.cells import mean_and_stdev
from keras_profiler.report.frame import SETUP_COLUMNS

FAILED = {"oom": "out of memory", "error": "error", "timeout": "timeout"}

# (row label, column, format); a row shows only where some cell has a figure.
FIGURE_ROWS = [
    ("Training time (secs)", "training_seconds", "{:.2f}"),
    ("First epoch, compile and warm-up (secs)", "first_epoch_seconds", "{:.2f}"),
    ("Average time per epoch, steady state (secs)", "steady_epoch_seconds", "{:.2f}"),
    ("Images processed per sec, steady state", "steady_images_per_second", "{:.2f}"),
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
_ACCURACY = {"train_accuracy", "test_accuracy"}
# Figures shown as 'mean +- stdev' over repeats: timing noise is what repeats
# measure. Accuracy (same seed) and memory show the mean alone.
_WITH_STDEV = {
    "training_seconds",
    "first_epoch_seconds",
    "steady_epoch_seconds",
    "steady_images_per_second",
}
REPEATS = "Repeats"
SPEEDUP = "Speedup vs 1 device"
EFFICIENCY = "Scaling efficiency"
REPLICAS = "Replicas identical after training"
NO_BASELINE = "n/a (no 1-device run)"


def setups(frame: pd.DataFrame) -> list[tuple[dict, pd.DataFrame]]:
    """The frame split by setup, in a stable order."""
    groups = []
    for key, group in frame.groupby(SETUP_COLUMNS, dropna=False, sort=False):
        groups.append((dict(zip(SETUP_COLUMNS, key)), group))
    return sorted(groups, key=lambda item: _sort_key(item[0]))


def setup_lines(setup: dict, runs: pd.DataFrame) -> list[str]:
    """The bullet list heading one setup's tables."""
    epochs = f"{setup['epochs']}"
    if _given(setup["steps_per_epoch"]):
        epochs += f" (capped at {int(setup['steps_per_epoch'])} steps each)"
    lines = [
        f"* `Dataset` - {setup['dataset']}",
        f"* `Data` - {DATA_KINDS.get(setup['data_kind'], setup['data_kind'])}",
        f"* `Image size` - {_image_size(setup, runs)}",
        f"* `Batch size` - {setup['batch_size']} per device (global batch = {setup['batch_size']}"
        " x devices)",
        f"* `Epochs` - {epochs}",
        f"* `Random seed` - {setup['seed']}",
        f"* `Precision` - {setup['precision']}",
        f"* `Optimizer` - {setup['optimizer']}, learning rate {setup['learning_rate']:g}",
        *_scaling_lines(runs),
        f"* `Hardware` - {hardware(setup, runs)}",
    ]
    for field, label in (("train_samples", "Training images"), ("test_samples", "Test images")):
        if _given(setup[field]):
            lines.append(f"* `{label}` - first {int(setup[field])}")
    return lines


# The data axis of the tf_cnn_benchmarks tables, in words.
DATA_KINDS = {
    "synthetic": "synthetic: seeded random images and labels, so accuracy means nothing",
    "real": "real images, no distortions",
    "real, distorted": "real images with distortions: random crop and horizontal flip of "
    "each training image on the host input path (4 pixels of zero padding, a random crop "
    "back to the image size, a left-right flip with probability 0.5; test images "
    "undistorted)",
}


def hardware(setup: dict, runs: pd.DataFrame) -> str:
    """The setup's machine, and how CPU runs got several devices out of one CPU."""
    virtual = runs[runs["virtual_devices"].astype(bool)]
    counts = ", ".join(str(n) for n in sorted(virtual["devices"].astype(int).unique()))
    if not counts:
        return setup["hardware"]
    # Say it where the figures are read: a "speedup" here is not one.
    return (
        f"{setup['hardware']}, as N virtual CPU devices for N = {counts}: they share the same "
        "cores, so these runs test the multi-device code path and show its overhead; "
        "speedups need real devices"
    )


def _scaling_lines(runs: pd.DataFrame) -> list[str]:
    linear = runs["lr_scaling"] == "linear"
    if not linear.any():
        return []
    which = "" if linear.all() else " for some runs"
    return [
        f"* `Learning rate scaling` - linear{which}: learning rate x devices "
        "(each table's Learning rate row gives the rate used)"
    ]


def backend_table(runs: pd.DataFrame) -> str:
    """One table: a column per device count, failed runs named as such."""
    runs = runs.sort_values("devices")
    columns = [column_name(run) for run in runs.itertuples()]
    table = pd.DataFrame(_body(runs), index=columns).T
    table.index.name = ""
    align = ("left",) + ("center",) * len(columns)
    # Cells are preformatted text: stop tabulate re-parsing "1.0000" into "1".
    return table.to_markdown(colalign=align, disable_numparse=True)


def column_name(run) -> str:
    """'GPU (2)' / 'CPU (2)', as in the reference tables."""
    return f"{'GPU' if run.device_kind == 'gpu' else 'CPU'} ({int(run.devices)})"


def _body(runs: pd.DataFrame) -> dict[str, list[str]]:
    """Row label -> cells: the settings that vary by column, then the figures."""
    order = list(runs.itertuples())
    body = {"Global batch": [_integer(run.global_batch) for run in order]}
    if (runs["repeats"] > 1).any():
        body[REPEATS] = [repeats(run) for run in order]
    if (runs["lr_scaling"] == "linear").any():
        body["Learning rate"] = [_learning_rate(run) for run in order]
    for label, column, fmt in FIGURE_ROWS:
        if runs[column].notna().any() or (column in _ACCURACY and runs["synthetic"].any()):
            body[label.format(source=_source(runs))] = [cell(run, column, fmt) for run in order]
            if column == "steady_images_per_second":
                body.update(_scaling_rows(order))
    if (runs["devices"] > 1).any():
        body[REPLICAS] = [_replicas(run) for run in order]
    return body


def _scaling_rows(order: list) -> dict[str, list[str]]:
    """Speedup over the table's own ok 1-device run, and that per device."""
    baseline = next((r for r in order if r.devices == 1 and r.status == "ok"), None)
    speedup, efficiency = [], []
    for run in order:
        ratio = _speedup(run, baseline)
        speedup.append(f"{ratio:.2f}x" if isinstance(ratio, float) else ratio)
        efficiency.append(
            f"{100 * ratio / run.devices:.0f}%" if isinstance(ratio, float) else ratio
        )
    return {SPEEDUP: speedup, EFFICIENCY: efficiency}


def _speedup(run, baseline) -> float | str:
    """The ratio, or the text to show in its place."""
    if run.status != "ok":
        return FAILED[run.status]
    if baseline is None:
        return NO_BASELINE
    rates = (run.steady_images_per_second, baseline.steady_images_per_second)
    if not all(_given(rate) for rate in rates):
        return "n/a (1 epoch)"  # no steady state to compare
    return float(rates[0] / rates[1])


def _replicas(run) -> str:
    """Whether the replicas' weights still agree after the last epoch."""
    if run.status != "ok":
        return FAILED[run.status]
    if run.devices == 1 or not _given(run.replica_max_diff):
        return "n/a"
    if run.replica_max_diff == 0:
        return "yes"
    if run.replica_trainable_max_diff == 0:
        return f"trainable yes, non-trainable differ by {run.replica_max_diff:.2g}"
    return f"no (max diff {run.replica_max_diff:.2g})"


def _learning_rate(run) -> str:
    rate = run.effective_learning_rate
    return f"{rate:g}" if _given(rate) else "n/a"


def _integer(value) -> str:
    return str(int(value)) if _given(value) else "n/a"


def repeats(run) -> str:
    """'3' when every repeat of the cell is ok, else '2 of 3 ok'."""
    if run.ok_repeats == run.repeats:
        return str(int(run.repeats))
    return f"{int(run.ok_repeats)} of {int(run.repeats)} ok"


def failure_lines(runs: pd.DataFrame) -> list[str]:
    """Why each failed record failed, one line each: failed cells, and the
    failed repeats of cells whose other repeats were ok."""
    lines = []
    for run in runs.sort_values("devices").itertuples():
        for repeat, status, error, _ in run.failures:
            where = column_name(run) + (f", repeat {repeat}" if run.repeats > 1 else "")
            reason = error or "no error text recorded"
            lines.append(f"* {where}: {FAILED[status]}: `{reason}`")
    return lines


def cell(run, column: str, fmt: str) -> str:
    """One figure of one run as text; a failed run shows its status instead."""
    if run.status != "ok":
        return FAILED[run.status]
    if column in _ACCURACY and run.synthetic:
        return "n/a (synthetic)"
    value = getattr(run, column)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a (1 epoch)" if column.startswith("steady") else "n/a"
    if column in _WITH_STDEV:
        return mean_and_stdev(value, getattr(run, f"{column}_std", math.nan), fmt)
    return fmt.format(value)


def _source(runs: pd.DataFrame) -> str:
    sources = sorted(set(runs["device_peak_source"].dropna()))
    return " / ".join(sources) if sources else "framework counter"


def _image_size(setup: dict, runs: pd.DataFrame) -> str:
    sizes = runs["model_image_size"].dropna()
    size = (
        setup["image_size"]
        if _given(setup["image_size"])
        else (sizes.iloc[0] if len(sizes) else None)
    )
    return f"{int(size)}x{int(size)}" if _given(size) else "the model's default"


def _given(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _sort_key(setup: dict) -> tuple:
    return tuple("" if not _given(setup[c]) else str(setup[c]) for c in SETUP_COLUMNS)
