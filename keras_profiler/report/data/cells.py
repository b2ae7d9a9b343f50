"""Cells: the runs of one configuration reduced to one row of figures, and
a cell's figures as the text every report table shows.

A cell is one (setup, table, device count). Its runs are the latest record
of each repeat (``--repeats K`` gives repeats 1 to K; a rerun replaces the
earlier record of the same repeat). Its figures are the mean over the ok
repeats, with the sample standard deviation beside each as ``<figure>_std``
where two or more repeats were ok. The replica checks take the worst ok
repeat, so that one drifting repeat is not averaged away.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

from keras_profiler.report.data import clock_check
from keras_profiler.report.data.frame import (
    MEMORY_FIGURES,
    SETUP_COLUMNS,
    SUMMARY_FIGURES,
    TABLE_COLUMNS,
    TOKEN_FIGURES,
)

CELL_KEYS = [*SETUP_COLUMNS, *TABLE_COLUMNS, "devices"]
# Figures averaged over a cell's ok repeats.
FIGURES = [*SUMMARY_FIGURES, *TOKEN_FIGURES, *MEMORY_FIGURES]
# Figures where the worst ok repeat speaks for the cell.
WORST = ["replica_max_diff", "replica_trainable_max_diff"]


def per_cell(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per cell, in a stable order. Besides the frame's columns (the
    latest ok record's settings, or the latest record's where none is ok):

    * each figure of FIGURES: the mean over the ok repeats;
    * ``<figure>_std``: their sample standard deviation (NaN under 2 repeats);
    * ``status``: ``ok`` when any repeat is ok, else the latest record's;
    * ``repeats``, ``ok_repeats``: how many repeats were run, how many are ok;
    * ``run_ids``: the records behind the cell, sorted;
    * ``failed_run_ids``: those of them that failed;
    * ``failures``: one (repeat, status, error, run_id) tuple per failed
      record, by repeat, so that a failed repeat of an ok cell is still told;
    * the replica differences of WORST: the largest over the ok repeats;
    * ``clock_checks``: each ok repeat's steady speed by the epoch clock and
      by step intervals (``clock_check.ClockCheck``), for those timed in
      intervals.

    A record that repeats an earlier record's repeat number (a rerun) replaces
    it: the later ``finished_at`` wins, then the larger run id.
    """
    if not len(frame):
        added = ["repeats", "ok_repeats", "run_ids", "failed_run_ids", "failures", "clock_checks"]
        stds = [f"{figure}_std" for figure in FIGURES]
        return frame.reindex(columns=[*frame.columns, *stds, *added])
    ordered = frame.sort_values(["finished_at", "run_id"], kind="stable")
    latest = ordered.groupby([*CELL_KEYS, "repeat"], dropna=False, sort=False).tail(1)
    rows = [_cell(runs) for _, runs in latest.groupby(CELL_KEYS, dropna=False, sort=False)]
    cells = pd.DataFrame(rows)
    return cells.sort_values(["finished_at", "run_id"], kind="stable").reset_index(drop=True)


def _cell(runs: pd.DataFrame) -> dict:
    ok = runs[runs["status"] == "ok"]
    row = (ok if len(ok) else runs).iloc[-1].to_dict()
    for figure in FIGURES:
        values = ok[figure].dropna().astype(float)
        row[figure] = float(values.mean()) if len(values) else math.nan
        row[f"{figure}_std"] = float(values.std(ddof=1)) if len(values) > 1 else math.nan
    for figure in WORST:
        values = ok[figure].dropna().astype(float)
        row[figure] = float(values.max()) if len(values) else math.nan
    row["status"] = "ok" if len(ok) else runs["status"].iloc[-1]
    row["repeats"] = len(runs)
    row["ok_repeats"] = len(ok)
    row["run_ids"] = sorted(runs["run_id"])
    failed = runs[runs["status"] != "ok"].sort_values(["repeat", "run_id"])
    row["failed_run_ids"] = sorted(failed["run_id"])
    row["failures"] = [
        (int(r.repeat), r.status, r.error, r.run_id) for r in failed.itertuples(index=False)
    ]
    checks = (clock_check.of(repeat) for repeat in ok.sort_values("repeat").to_dict("records"))
    row["clock_checks"] = [check for check in checks if check is not None]
    return row


# A cell where no repeat was ok shows how the latest one failed.
FAILED = {
    "oom": "out of memory",
    "error": "error",
    "timeout": "timeout",
    "not_supported": "not supported",
}
# A table cell that no record backs.
NOT_RUN = "not run"
SPEED = "steady_images_per_second"
# Figures shown as 'mean +- stdev' over repeats: timing noise is what repeats
# measure. Accuracy (same seed) and memory show the mean alone.
WITH_STDEV = {
    "training_seconds",
    "first_epoch_seconds",
    "steady_epoch_seconds",
    "steady_images_per_second",
    "steady_tokens_per_second",
}
ACCURACY = {"train_accuracy", "test_accuracy"}


def figure_text(cell, column: str = SPEED, fmt: str = "{:.2f}", count_repeats: bool = True) -> str:
    """One figure of one cell (a row of ``per_cell``, as a dict or Series).

    'mean +- stdev' over the ok repeats for the timings of WITH_STDEV, the
    mean alone for the rest; the failure where no repeat was ok; 'n/a' where
    nothing was measured ('n/a (1 epoch)' for a steady-state figure, which
    needs a second epoch); with ``count_repeats``, '(2 of 3 ok)' after it
    where some repeats failed (the model pages give that a row of its own).
    """
    if cell["status"] != "ok":
        return FAILED[cell["status"]]
    if column in ACCURACY and cell["synthetic"]:
        return "n/a (synthetic)"
    value = cell[column]
    if not given(value):
        return "n/a (1 epoch)" if column.startswith("steady") else "n/a"
    text = fmt.format(value)
    stdev = cell[f"{column}_std"] if column in WITH_STDEV else None
    if given(stdev):
        text += " +- " + fmt.format(stdev)
    if count_repeats and cell["ok_repeats"] < cell["repeats"]:
        text += f" ({repeats_text(cell)})"
    return text


def repeats_text(cell) -> str:
    """'3' when every repeat of the cell is ok, else '2 of 3 ok'."""
    if cell["ok_repeats"] == cell["repeats"]:
        return str(int(cell["repeats"]))
    return f"{int(cell['ok_repeats'])} of {int(cell['repeats'])} ok"


def model_table(
    cells: pd.DataFrame, by: str, values: list, headers: list[str], column: str, fmt: str
) -> str:
    """Rows: models; a column per value of ``by``, headed by ``headers``;
    each cell the figure as text, NOT_RUN where no cell has that model and
    value. The layout of the reference's model x batch size and model x
    machine tables."""
    body = {}
    for model in sorted(cells["model"].unique()):
        runs = cells[cells["model"] == model]
        body[model] = [_text_at(runs[runs[by] == value], column, fmt) for value in values]
    table = pd.DataFrame.from_dict(body, orient="index", columns=headers)
    table.index.name = "model"
    align = ("left",) + ("right",) * len(headers)
    return table.to_markdown(colalign=align, disable_numparse=True)


def _text_at(match: pd.DataFrame, column: str, fmt: str) -> str:
    return figure_text(match.iloc[-1], column, fmt) if len(match) else NOT_RUN


def groups(cells: pd.DataFrame, keys: list[str]) -> list[pd.DataFrame]:
    """The cells split by ``keys``, ordered by the keys' values (numbers as
    numbers, missing first), so that the same records give the same order
    whatever order the cells come in."""
    if not len(cells):
        return []
    found = [group for _, group in cells.groupby(keys, dropna=False, sort=False)]
    return sorted(found, key=lambda group: tuple(_order(group[k].iloc[0]) for k in keys))


def _order(value) -> tuple:
    """A sort key for a value of any column: missing < numbers < text."""
    if not given(value):
        return (0, 0.0, "")
    if isinstance(value, (numbers.Number, np.bool_)):
        return (1, float(value), "")
    return (2, 0.0, str(value))


def given(value) -> bool:
    """False for None and NaN: a setting not set, a figure not measured."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))
