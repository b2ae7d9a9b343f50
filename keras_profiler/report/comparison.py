"""The cross-backend table of one setup: which backend trains fastest at each
device count, in one place, before the per-backend detail."""

from __future__ import annotations

import pandas as pd

from keras_profiler.report.backend_tables import cell, column_name
from keras_profiler.report.series import Series

HEADING = "### Images/sec by backend and device count"


def comparison_table(series: list[Series]) -> str:
    """Rows: series; columns: every device count of the setup; cells: steady
    images/sec, the status of a failed run, or empty where nothing was run."""
    runs = pd.concat([s.runs for s in series]).sort_values("devices")
    columns = {int(run.devices): column_name(run) for run in runs.itertuples()}
    body = {s.label: [_cell(s.runs, devices) for devices in columns] for s in series}
    table = pd.DataFrame(body, index=list(columns.values())).T
    table.index.name = "backend"
    align = ("left",) + ("center",) * len(columns)
    return table.to_markdown(colalign=align, disable_numparse=True)


def _cell(runs: pd.DataFrame, devices: int) -> str:
    match = runs[runs["devices"] == devices]
    if not len(match):
        return ""
    return cell(next(match.itertuples()), "steady_images_per_second", "{:.2f}")
