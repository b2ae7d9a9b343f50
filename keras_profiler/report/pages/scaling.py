"""Scaling by strategy: steady-state images/sec by device count for every
backend and way of spreading the work, against a single-device baseline, in
the layout of the reference scaling-by-method-and-network table.

One table per (hardware, data kind, precision). Rows are model, per-device
batch, backend, connection (one machine, or the link between the nodes as
named and measured) and strategy, ordered by connection as the reference
groups by network; a Baseline column gives the backend's plain fit on one
device (strategy ``single``, no distribution), as the reference's baseline is
one GPU without the distributed framework; then one column per device count
over all nodes, each cell 'mean +- stdev' over the cell's ok repeats.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from keras_profiler.report.data import series
from keras_profiler.report.data.cells import CELL_KEYS, figure_text, given, groups
from keras_profiler.report.data.frame import COMPUTE_COLUMNS, SETUP_COLUMNS
from keras_profiler.report.parts.marks import markdown
from keras_profiler.report.parts.setups import DATA_IN_HEADINGS, device_count, hardware

PAGE = "scaling.md"
# Where the index lists it (pages.registered).
POSITION = 20
# What the index says of the page.
DESCRIPTIONS = {
    PAGE: "steady images/sec by device count for every backend and strategy, on one machine "
    "or over nodes (their link as named and measured), beside a plain single-device "
    "baseline, one table per hardware, data kind and precision, as in the reference "
    "scaling-by-method-and-network table (mean +- stdev over repeats)"
}
HEADER = ["model", "batch (per device)", "backend", "connection", "strategy", "Baseline"]
# The columns before Baseline, left-aligned.
_LABELS = len(HEADER) - 1
BASELINE_STRATEGY = "single"
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
    "sequence_length": "sequence length",
}
_UNSET = {
    "steps_per_epoch": "all",
    "train_samples": "all",
    "test_samples": "all",
    "image_size": "the model's default",
    "sequence_length": "the model's default",
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
    "one GPU without the distributed framework, and what one device runs by default. The "
    "'1 device' column is the strategy's own 1-device run, made where a sweep names the "
    "strategy (as `sweep --quick` does), so the two differ by what it costs on one device. "
    "**connection** is the link between the nodes of a run over several: the name given "
    "with `--interconnect`, the node count and the bus bandwidth that the all-reduce probe "
    "measured over it before training (the mean over the row's records; none where the "
    "probe failed); 'one machine' for runs within one host. Rows go by connection, one "
    "machine first, as the reference groups by network, and a run's device count is its "
    "devices over all its nodes (1 device on each of 2 nodes: '2 devices')."
)


def page(frame: pd.DataFrame, cells: pd.DataFrame, epochs: pd.DataFrame) -> dict[str, str]:
    """``scaling.md``: one table per (hardware, data kind, precision); {} when
    there are no records."""
    if not len(cells):
        return {}
    lines = ["# Throughput scaling by strategy", "", _INTRO, ""]
    for table in groups(cells, TABLE_KEYS):
        first = table.iloc[0]
        lines += [
            f"## {first['hardware']}: {DATA_IN_HEADINGS[first['data_kind']]}, {first['precision']}",
            "",
            f"* `Hardware` - {hardware(first, table)}",
            *_shared_settings(table),
            "",
            *_table(table, frame),
        ]
    return {PAGE: markdown(lines)}


@dataclass
class _Row:
    """One table row: a strategy's cells by device count, and its baseline."""

    labels: list[str]  # model, batch, backend, connection, strategy
    runs: pd.DataFrame  # the strategy's cells; none for a baseline shown alone
    baseline: str  # the baseline's images/sec as text; '' where there is none
    order: tuple = ()  # where its connection goes: nodes, then the link's name


def _table(cells: pd.DataFrame, frame: pd.DataFrame) -> list[str]:
    """The markdown table of one (hardware, data kind, precision)'s cells, and
    a line naming the rows left without a baseline."""
    rows, missing = _rows(cells, frame)
    devices = sorted({int(d) for row in rows for d in _total_devices(row.runs)})
    header = [*HEADER, *(device_count(d) for d in devices)]
    body = [[*row.labels, row.baseline, *(_at(row.runs, d) for d in devices)] for row in rows]
    align = ("left",) * _LABELS + ("center",) * (len(header) - _LABELS)
    table = pd.DataFrame(body, columns=header)
    lines = [table.to_markdown(index=False, colalign=align, disable_numparse=True), ""]
    if missing:
        lines += [
            "Baseline empty: no 1-device run with strategy 'single' (a plain fit) was "
            "recorded for " + "; ".join(missing) + ".",
            "",
        ]
    return lines


def _rows(cells: pd.DataFrame, frame: pd.DataFrame) -> tuple[list[_Row], list[str]]:
    """The table's rows in a stable order (one machine first, then by node
    count and link name, as the reference groups by network), and the rows
    with no baseline."""
    varying = [c for c in _OTHER_SETTINGS if _distinct(cells, c) > 1]
    # The baseline is a plain fit on one node.
    single = (cells["strategy"] == BASELINE_STRATEGY) & (cells["nodes"].fillna(1) == 1)
    baselines = groups(cells[single], _ROW_KEYS)
    used: set[int] = set()
    rows, missing = [], []
    for runs in groups(cells[~single], _ROW_KEYS):
        runs = runs.sort_values("devices")
        found = _baseline(runs, baselines)
        strategy = series.describe(runs, with_backend=False, with_connection=False)
        labels = _labels(runs, varying, series.connection(runs, frame), strategy)
        if found is None:
            where = "" if labels[3] == series.ONE_MACHINE else f", {labels[3]}"
            missing.append(f"{labels[2]} ({labels[0]}, batch {labels[1]}, {labels[4]}{where})")
            rows.append(_Row(labels, runs, "", _connection_order(runs)))
        else:
            used.add(found)
            rows.append(_Row(labels, runs, _at(baselines[found], 1), _connection_order(runs)))
    for index, found in enumerate(baselines):
        if index not in used and (found["devices"] == 1).any():
            # No distributed row to stand beside: shown alone, not dropped.
            text = series.describe(found, with_backend=False) + " (baseline only)"
            labels = _labels(found, varying, series.ONE_MACHINE, text)
            rows.append(_Row(labels, found.iloc[:0], _at(found, 1), _connection_order(found)))
    rows.sort(key=lambda row: (row.order, [_natural(label) for label in row.labels]))
    return rows, missing


def _connection_order(runs: pd.DataFrame) -> tuple:
    """One machine first, then by node count, then by the link's name."""
    name = runs["interconnect"].iloc[0]
    return (series.node_count(runs), str(name) if given(name) else "")


def _baseline(runs: pd.DataFrame, baselines: list[pd.DataFrame]) -> int | None:
    """Which of the 'single' groups is the row's baseline: same setup, backend
    and computation (COMPUTE_COLUMNS), run on one device; compiled the same
    way, else with its compilation not recorded (version 1 records); None
    where there is none."""
    first = runs.iloc[0]
    same_computation = [*SETUP_COLUMNS, "backend", *COMPUTE_COLUMNS]
    same = [
        index
        for index, group in enumerate(baselines)
        if all(_same(group[key].iloc[0], first[key]) for key in same_computation)
        and (group["devices"] == 1).any()
    ]
    for compiled_alike in (True, False):
        for index in same:
            jit = baselines[index]["jit_compile"].iloc[0]
            if _same(jit, first["jit_compile"]) if compiled_alike else not given(jit):
                return index
    return None


def _total_devices(runs: pd.DataFrame) -> pd.Series:
    """Each cell's devices over all its nodes (records before --nodes: one)."""
    return runs["devices"] * runs["nodes"].fillna(1)


def _at(runs: pd.DataFrame, devices: int) -> str:
    """Steady images/sec of the cell at a device count over all its nodes;
    '' where none was run."""
    match = runs[_total_devices(runs) == devices]
    return figure_text(match.iloc[0]) if len(match) else ""


def _labels(runs: pd.DataFrame, varying: list[str], connection: str, strategy: str) -> list[str]:
    first = runs.iloc[0]
    model = first["model"]
    if varying:
        model += " (" + ", ".join(f"{_OTHER_SETTINGS[c]} {_value(c, first[c])}" for c in varying)
        model += ")"
    return [model, str(int(first["batch_size"])), first["backend"], connection, strategy]


def _shared_settings(cells: pd.DataFrame) -> list[str]:
    # A size no row's model takes is left unsaid: an image size for text
    # models only, a sequence length for image models only.
    units = set(cells["sample_unit"].dropna())
    unsaid = {"images": "sequence_length", "sequences": "image_size"}
    left_out = {unsaid[u] for u in unsaid if units <= {u}}
    shared = [c for c in _OTHER_SETTINGS if _distinct(cells, c) == 1 and c not in left_out]
    if not shared:
        return []
    first = cells.iloc[0]
    text = ", ".join(f"{_OTHER_SETTINGS[c]} {_value(c, first[c])}" for c in shared)
    return [f"* `Same in every row` - {text}"]


def _distinct(cells: pd.DataFrame, column: str) -> int:
    """How many settings of column the cells hold, unset counted as one."""
    return len({_value(column, value) for value in cells[column]})


def _value(column: str, value) -> str:
    if not given(value):
        return _UNSET.get(column, "n/a")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _natural(text: str) -> tuple:
    """Sorts '2' before '16', and text by itself."""
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


def _same(a, b) -> bool:
    return (not given(a) and not given(b)) or (given(a) and given(b) and a == b)
