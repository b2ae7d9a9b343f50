"""The cross-backend table of one setup: which backend trains fastest at each
device count, in one place, before the per-backend detail."""

from __future__ import annotations

import pandas as pd

from keras_profiler.report.data.cells import figure_text
from keras_profiler.report.data.series import Series
from keras_profiler.report.parts.backend_tables import column_name

HEADING = "### Images/sec by backend and device count"


def comparison_table(series: list[Series]) -> str:
    """Rows: series; columns: every device count of the setup; cells: steady
    images/sec, the status of a failed run, or empty where nothing was run."""
    runs = pd.concat([s.runs for s in series]).sort_values("devices")
    columns = {int(run["devices"]): column_name(run) for run in runs.to_dict("records")}
    body = {s.label: [_cell(s.runs, devices) for devices in columns] for s in series}
    table = pd.DataFrame(body, index=list(columns.values())).T
    table.index.name = "backend"
    align = ("left",) + ("center",) * len(columns)
    return table.to_markdown(colalign=align, disable_numparse=True)


def _cell(runs: pd.DataFrame, devices: int) -> str:
    match = runs[runs["devices"] == devices]
    # The per-backend tables below count failed repeats in a row of their own.
    return figure_text(match.iloc[0], count_repeats=False) if len(match) else ""
