"""Scaling by strategy: steady-state images/sec by device count for every
backend and way of spreading the work, against a single-device baseline, in
the layout of the reference scaling-by-method-and-network table.

One table per (hardware, data kind, precision). Rows are model, per-device
batch, backend and strategy; a Baseline column gives the backend's plain fit
on one device (strategy ``single``, no distribution), as the reference's
baseline is one GPU without the distributed framework; then one column per
device count, each cell 'mean +- stdev' over the cell's ok repeats.
"""

from __future__ import annotations

import math

import pandas as pd

from keras_profiler.report import backend_tables, series
from keras_profiler.report.cells import CELL_KEYS, mean_and_stdev, per_cell
from keras_profiler.report.frame import SETUP_COLUMNS

FILE = "scaling.md"
# What the index says of the page.
DESCRIPTIONS = {
    FILE: "steady images/sec by device count for every backend and strategy, beside a plain "
    "single-device baseline, one table per hardware, data kind and precision, as in the "
    "reference scaling-by-method-and-network table (mean +- stdev over repeats)"
}
HEADER = ["model", "batch (per device)", "backend", "strategy", "Baseline"]
BASELINE_STRATEGY = "single"
DATA_KINDS = {
    "synthetic": "synthetic data",
    "real": "real data",
    "real, distorted": "real data with distortions",
}
TABLE_KEYS = ["hardware", "data_kind", "precision"]
# Setup settings not shown as columns: named once above a table where every
# row shares them, added to the model cell where they differ between rows.
_OTHER_SETTINGS = {
    "dataset": "dataset",
    "epochs": "epochs",
    "steps_per_epoch": "steps per epoch",
    "train_samples": "training images",
    "test_samples": "test images",
    "seed": "seed",
    "optimizer": "optimizer",
    "learning_rate": "learning rate",
    "image_size": "image size",
}
_UNSET = {
    "steps_per_epoch": "all",
    "train_samples": "all",
    "test_samples": "all",
    "image_size": "the model's default",
}
# A row: one setup and one way of spreading it, over all its device counts.
_ROW_KEYS = [key for key in CELL_KEYS if key != "devices"]
_INTRO = (
    "Steady-state training images/sec (the epochs after the first) by device count, for "
    "every backend and strategy. Each cell is the mean +- sample standard deviation over "
    "the configuration's ok repeats (the mean alone with one), with '(2 of 3 ok)' where "
    "some repeats failed; 'out of memory', 'error' or 'timeout' where every repeat failed; "
    "empty where nothing was run. **Baseline** is the backend's 1-device run with strategy "
    "'single': a plain fit with no distribution strategy, as the reference's baseline is "
    "one GPU without the distributed framework. The '1 device' column is the strategy's own "
    "1-device run, so the two differ by what the strategy costs on one device."
)


def scaling_page(frame: pd.DataFrame, epochs: pd.DataFrame) -> dict[str, str]:
    """``scaling.md``: one table per (hardware, data kind, precision); {} when
    there are no records."""
    if not len(frame):
        return {}
    cells = per_cell(frame)
    lines = ["# Throughput scaling by strategy", "", _INTRO, ""]
    for key, group in _groups(cells, TABLE_KEYS):
        setup = dict(zip(TABLE_KEYS, key))
        lines += [
            f"## {setup['hardware']}: {DATA_KINDS.get(key[1], key[1])}, {key[2]}",
            "",
            f"* `Hardware` - {backend_tables.hardware(setup, group)}",
            *_shared_settings(group),
            "",
            *_table(group),
        ]
    return {FILE: "\n".join(lines).rstrip() + "\n"}


def scaling_table(cells: pd.DataFrame) -> str:
    """The markdown table of one (hardware, data kind, precision)'s cells."""
    rows, _ = _rows(cells)
    devices = sorted({int(d) for row in rows for d in row.runs["devices"]})
    header = [*HEADER, *(_device_column(d) for d in devices)]
    body = [[*row.labels, row.baseline, *(row.cell(d) for d in devices)] for row in rows]
    table = pd.DataFrame(body, columns=header)
    align = ("left",) * 4 + ("center",) * (len(header) - 4)
    return table.to_markdown(index=False, colalign=align, disable_numparse=True)


class _Row:
    """One table row: a strategy's cells by device count, and its baseline."""

    def __init__(self, labels: list[str], runs: pd.DataFrame, baseline: str):
        self.labels, self.runs, self.baseline = labels, runs, baseline

    def cell(self, devices: int) -> str:
        match = self.runs[self.runs["devices"] == devices]
        return _rate(next(match.itertuples())) if len(match) else ""


def _table(cells: pd.DataFrame) -> list[str]:
    rows, missing = _rows(cells)
    lines = [scaling_table(cells), ""]
    if missing:
        lines += [
            "Baseline empty: no 1-device run with strategy 'single' (a plain fit) was "
            "recorded for " + "; ".join(missing) + ".",
            "",
        ]
    return lines


def _rows(cells: pd.DataFrame) -> tuple[list[_Row], list[str]]:
    """The table's rows in a stable order, and the rows with no baseline."""
    varying = [c for c in _OTHER_SETTINGS if _distinct(cells, c) > 1]
    single = cells["strategy"] == BASELINE_STRATEGY
    baselines = [group for _, group in _groups(cells[single], _ROW_KEYS)]
    used: set[int] = set()
    rows, missing = [], []
    for _, runs in _groups(cells[~single], _ROW_KEYS):
        runs = runs.sort_values("devices")
        found = _baseline(runs, baselines)
        labels = _labels(runs, varying, series.describe(runs, with_backend=False))
        if found is None:
            missing.append(f"{labels[2]} ({labels[0]}, batch {labels[1]}, {labels[3]})")
            rows.append(_Row(labels, runs, ""))
        else:
            used.add(found)
            rows.append(_Row(labels, runs, _one_device(baselines[found])))
    for index, found in enumerate(baselines):
        if index not in used and (found["devices"] == 1).any():
            # No distributed row to stand beside: shown alone, not dropped.
            text = series.describe(found, with_backend=False) + " (baseline only)"
            labels = _labels(found, varying, text)
            rows.append(_Row(labels, found.iloc[:0], _one_device(found)))
    rows.sort(key=lambda row: [_natural(label) for label in row.labels])
    return rows, missing


def _baseline(runs: pd.DataFrame, baselines: list[pd.DataFrame]) -> int | None:
    """Which of the 'single' groups is the row's baseline: same setup, backend
    and data format, run on one device; compiled the same way, else with its
    compilation not recorded (version 1 records); None where there is none."""
    first = runs.iloc[0]
    same = [
        index
        for index, group in enumerate(baselines)
        if all(_same(group[key].iloc[0], first[key]) for key in [*SETUP_COLUMNS, "backend"])
        and _same(group["data_format"].iloc[0], first["data_format"])
        and (group["devices"] == 1).any()
    ]
    for compiled_alike in (True, False):
        for index in same:
            jit = baselines[index]["jit_compile"].iloc[0]
            if _same(jit, first["jit_compile"]) if compiled_alike else not _given(jit):
                return index
    return None


def _one_device(group: pd.DataFrame) -> str:
    return _rate(next(group[group["devices"] == 1].itertuples()))


def _labels(runs: pd.DataFrame, varying: list[str], strategy: str) -> list[str]:
    first = runs.iloc[0]
    model = first["model"]
    if varying:
        model += " (" + ", ".join(f"{_OTHER_SETTINGS[c]} {_value(c, first[c])}" for c in varying)
        model += ")"
    return [model, str(int(first["batch_size"])), first["backend"], strategy]


def _rate(run) -> str:
    """Steady images/sec of one cell, or why there is none."""
    if run.status != "ok":
        return backend_tables.FAILED[run.status]
    rate = run.steady_images_per_second
    if not _given(rate):
        return "n/a (1 epoch)"
    text = mean_and_stdev(rate, run.steady_images_per_second_std)
    if run.ok_repeats < run.repeats:
        text += f" ({int(run.ok_repeats)} of {int(run.repeats)} ok)"
    return text


def _shared_settings(cells: pd.DataFrame) -> list[str]:
    shared = [c for c in _OTHER_SETTINGS if _distinct(cells, c) == 1]
    if not shared:
        return []
    first = cells.iloc[0]
    text = ", ".join(f"{_OTHER_SETTINGS[c]} {_value(c, first[c])}" for c in shared)
    return [f"* `Same in every row` - {text}"]


def _distinct(cells: pd.DataFrame, column: str) -> int:
    """How many settings of column the cells hold, unset counted as one."""
    return len({_value(column, value) for value in cells[column]})


def _value(column: str, value) -> str:
    if not _given(value):
        return _UNSET.get(column, "n/a")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _device_column(devices: int) -> str:
    return f"{devices} device" + ("" if devices == 1 else "s")


def _groups(frame: pd.DataFrame, keys: list[str]) -> list[tuple[tuple, pd.DataFrame]]:
    """The frame split by keys, in an order that does not depend on the frame's."""
    groups = list(frame.groupby(keys, dropna=False, sort=False))
    return sorted(groups, key=lambda item: [_natural(_value("", v)) for v in item[0]])


def _natural(text: str) -> tuple:
    """Sorts '2' before '16', and text by itself."""
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


def _same(a, b) -> bool:
    return (not _given(a) and not _given(b)) or (_given(a) and _given(b) and a == b)


def _given(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))
