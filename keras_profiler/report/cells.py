"""Cells: the runs of one configuration reduced to one row of figures.

A cell is one (setup, table, device count). Its runs are the latest record
of each repeat (``--repeats K`` gives repeats 1 to K; a rerun replaces the
earlier record of the same repeat). Its figures are the mean over the ok
repeats, with the sample standard deviation beside each as ``<figure>_std``
where two or more repeats were ok. The replica checks take the worst ok
repeat, so that one drifting repeat is not averaged away.
"""

from __future__ import annotations

import math

import pandas as pd

from keras_profiler.report.frame import (
    MEMORY_FIGURES,
    SETUP_COLUMNS,
    SUMMARY_FIGURES,
    TABLE_COLUMNS,
)

CELL_KEYS = [*SETUP_COLUMNS, *TABLE_COLUMNS, "devices"]
# Figures averaged over a cell's ok repeats.
FIGURES = [*SUMMARY_FIGURES, *MEMORY_FIGURES]
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
    * the replica differences of WORST: the largest over the ok repeats.

    A record that repeats an earlier record's repeat number (a rerun) replaces
    it: the later ``finished_at`` wins, then the larger run id.
    """
    if not len(frame):
        added = ["repeats", "ok_repeats", "run_ids", "failed_run_ids", "failures"]
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
    return row


def mean_and_stdev(value: float, stdev: float, fmt: str = "{:.2f}") -> str:
    """'925.02 +- 4.42' as in the reference scaling tables; the mean alone
    where there is no standard deviation (a single ok repeat)."""
    text = fmt.format(value)
    if isinstance(stdev, float) and not math.isnan(stdev):
        text += " +- " + fmt.format(stdev)
    return text
