"""Images/sec by machine, in the layout of the reference hardware-comparison
tables: records copied in from several machines (their results folders merged
into one) pivot into model x machine tables, one per configuration (data,
strategy, device count, backend, precision and the other settings) that was
run on two or more machines.

A machine is what a record says it ran on (the ``hardware`` column): the GPU
model and driver, or the CPU model and its core count. Two machines that share
that name are two columns, each naming its machine identity (see
``report.data.frame``).
"""

from __future__ import annotations

import pandas as pd

from keras_profiler.report.data.cells import CELL_KEYS, NOT_RUN, SPEED, groups, model_table
from keras_profiler.report.data.series import describe
from keras_profiler.report.parts.marks import markdown
from keras_profiler.report.parts.setups import device_count, settings_line

PAGE = "machines.md"
# Where the index lists it (pages.registered).
POSITION = 60
DESCRIPTIONS = {PAGE: "images/sec by machine: model x machine tables, one per configuration"}
# A table's cells share everything but the model (rows) and the machine
# (columns); CPU and GPU machines may sit side by side.
GROUP_KEYS = [key for key in CELL_KEYS if key not in ("model", "hardware", "device_kind")]


def page(frame: pd.DataFrame, cells: pd.DataFrame, epochs: pd.DataFrame) -> dict[str, str]:
    """machines.md; {} when no configuration was run on two machines."""
    tables = [group for group in groups(cells, GROUP_KEYS) if len(_machines(group)) > 1]
    if not tables:
        return {}
    lines = [
        "# Images/sec by machine",
        "",
        "One table per configuration run on two or more machines: rows are models, columns "
        "machines (GPU model and driver, or CPU model and core count), cells steady-state "
        "images/sec over all devices; 'mean +- stdev' over ok repeats where two or more were "
        f"ok; failed runs say how they failed; '{NOT_RUN}' where no record exists.",
        "",
    ]
    for table in tables:
        lines += [f"**{heading(table)}**", "", _settings_line(table), "", machine_table(table), ""]
    return {PAGE: markdown(lines)}


def heading(cells: pd.DataFrame) -> str:
    """'synthetic-replicated-4devices, tensorflow, float32, batch 32 per device',
    as the reference's 'syn-replicated-4gpus' (distortions after the strategy,
    as there); the batch size too, which the reference kept fixed."""
    first = cells.iloc[0]
    parts = [
        "synthetic" if first["data_kind"] == "synthetic" else "real",
        str(first["strategy"]),
        *(["distortions"] if first["data_kind"] == "real, distorted" else []),
        device_count(int(first["devices"])).replace(" ", ""),
    ]
    batch = f"batch {int(first['batch_size'])} per device"
    return f"{'-'.join(parts)}, {first['backend']}, {first['precision']}, {batch}"


def machine_table(cells: pd.DataFrame) -> str:
    """Rows: models; columns: machines; cells: steady images/sec."""
    machines = _machines(cells)
    headers = [_column(cells, machine) for machine in machines]
    return model_table(cells, "hardware", machines, headers, SPEED, "{:.2f}")


def _machines(cells: pd.DataFrame) -> list[str]:
    return sorted(cells["hardware"].dropna().unique())


def _column(cells: pd.DataFrame, machine: str) -> str:
    """The machine's name; said where its devices were virtual CPU devices,
    which share one CPU: a figure there is no multi-device speed."""
    runs = cells[cells["hardware"] == machine]
    if (runs["devices"] > 1).any() and runs["virtual_devices"].astype(bool).any():
        return f"{machine}, virtual devices"
    return machine


def _settings_line(cells: pd.DataFrame) -> str:
    """The settings the heading leaves out, in one line."""
    skip = {"Data", "Precision"}
    return f"{describe(cells)}; {settings_line(cells.iloc[0].to_dict(), skip)}."
