"""Per-backend, per-model tables in the layout of the keras-mxnet reference:
rows are the measured figures, columns the device counts."""

from __future__ import annotations

import math

import pandas as pd

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
    ("Maximum memory consumption (MiB, NVML per process)", "nvml_process_mib", "{:.0f}"),
    ("Maximum memory consumption (MiB, host process peak RSS)", "host_peak_rss_mib", "{:.0f}"),
]
_ACCURACY = {"train_accuracy", "test_accuracy"}


def latest_per_cell(frame: pd.DataFrame) -> pd.DataFrame:
    """The most recent record of each (setup, backend, devices) cell."""
    keys = [*SETUP_COLUMNS, "backend", "devices"]
    ordered = frame.sort_values(["finished_at", "run_id"], kind="stable")
    return ordered.groupby(keys, dropna=False, sort=False).tail(1)


def setups(frame: pd.DataFrame) -> list[tuple[dict, pd.DataFrame]]:
    """The frame split by setup, in a stable order."""
    groups = []
    for key, group in frame.groupby(SETUP_COLUMNS, dropna=False, sort=False):
        groups.append((dict(zip(SETUP_COLUMNS, key)), group))
    return sorted(groups, key=lambda item: _sort_key(item[0]))


def setup_lines(setup: dict, runs: pd.DataFrame) -> list[str]:
    """The bullet list heading one setup's tables."""
    data = setup["dataset"] + (
        " (synthetic: random images and labels, accuracy means nothing)"
        if setup["synthetic"]
        else ""
    )
    epochs = f"{setup['epochs']}"
    if _given(setup["steps_per_epoch"]):
        epochs += f" (capped at {int(setup['steps_per_epoch'])} steps each)"
    lines = [
        f"* `Dataset` - {data}",
        f"* `Image size` - {_image_size(setup, runs)}",
        f"* `Batch size` - {setup['batch_size']} per device (global batch = {setup['batch_size']}"
        " x devices)",
        f"* `Epochs` - {epochs}",
        f"* `Random seed` - {setup['seed']}",
        f"* `Precision` - {setup['precision']}",
        f"* `Optimizer` - {setup['optimizer']}, learning rate {setup['learning_rate']:g}",
        f"* `Hardware` - {setup['hardware']}",
    ]
    for field, label in (("train_samples", "Training images"), ("test_samples", "Test images")):
        if _given(setup[field]):
            lines.append(f"* `{label}` - first {int(setup[field])}")
    return lines


def backend_table(runs: pd.DataFrame) -> str:
    """One backend's table: a column per device count, failed runs named as such."""
    runs = runs.sort_values("devices")
    kind = "GPU" if runs["device_kind"].iloc[0] == "gpu" else "CPU"
    columns = {f"{kind} ({int(r.devices)})": r for r in runs.itertuples()}
    body = {}
    for label, column, fmt in FIGURE_ROWS:
        if runs[column].notna().any() or (column in _ACCURACY and runs["synthetic"].any()):
            label = label.format(source=_source(runs))
            body[label] = [_cell(run, column, fmt) for run in columns.values()]
    table = pd.DataFrame(body, index=list(columns)).T
    table.index.name = ""
    align = ("left",) + ("center",) * len(columns)
    # Cells are preformatted text: stop tabulate re-parsing "1.0000" into "1".
    return table.to_markdown(colalign=align, disable_numparse=True)


def failure_lines(runs: pd.DataFrame) -> list[str]:
    """Why each failed run failed, one line each."""
    kind = "GPU" if runs["device_kind"].iloc[0] == "gpu" else "CPU"
    lines = []
    for run in runs.sort_values("devices").itertuples():
        if run.status != "ok":
            reason = run.error or "no error text recorded"
            lines.append(f"* {kind} ({int(run.devices)}): {FAILED[run.status]}: `{reason}`")
    return lines


def _cell(run, column: str, fmt: str) -> str:
    if run.status != "ok":
        return FAILED[run.status]
    if column in _ACCURACY and run.synthetic:
        return "n/a (synthetic)"
    value = getattr(run, column)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a (1 epoch)" if column.startswith("steady") else "n/a"
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
