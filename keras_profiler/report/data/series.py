"""One setup's runs split into series: one per backend and way of spreading
the run over devices (strategy, compilation, DDP bucket size). A series is one
per-backend table, one row of the comparison table and one line of the plot."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from keras_profiler import backends
from keras_profiler.report.data.cells import given, groups
from keras_profiler.report.data.frame import LINK_BUSBW, TABLE_COLUMNS


@dataclass
class Series:
    """The runs of one table, and the names it goes by."""

    backend: str
    heading: str  # "tensorflow, replicated (hierarchical-copy all-reduce), XLA off"
    label: str  # the backend alone, unless the setup has several series of it
    runs: pd.DataFrame  # one cell (cells.per_cell) per device count, sorted by devices

    def ok_rates(self) -> dict[int, float]:
        """Device count -> steady-state images/sec (the mean over ok repeats),
        for the ok cells that have one."""
        ok = self._ok()
        return dict(zip(ok["devices"].astype(int), ok["steady_images_per_second"]))

    def ok_stdevs(self) -> dict[int, float]:
        """Device count -> the standard deviation of ok_rates over repeats, for
        the cells with two or more ok repeats."""
        ok = self._ok()
        ok = ok[ok["steady_images_per_second_std"].notna()]
        return dict(zip(ok["devices"].astype(int), ok["steady_images_per_second_std"]))

    def _ok(self) -> pd.DataFrame:
        runs = self.runs
        return runs[(runs["status"] == "ok") & runs["steady_images_per_second"].notna()]


def split(runs: pd.DataFrame, frame: pd.DataFrame | None = None) -> list[Series]:
    """One setup's runs as series, in a stable order (backend, then strategy).
    ``frame`` (the records frame) gives the link measurement of runs over
    nodes as the mean over every record behind them (see ``connection``)."""
    tables = groups(runs, TABLE_COLUMNS)
    per_backend = pd.Series([table["backend"].iloc[0] for table in tables]).value_counts()
    result = []
    for group in tables:
        backend, heading = group["backend"].iloc[0], describe(group, frame=frame)
        label = heading if per_backend[backend] > 1 else backend
        result.append(Series(backend, heading, label, group.sort_values("devices")))
    return result


def describe(
    runs: pd.DataFrame,
    with_backend: bool = True,
    with_connection: bool = True,
    frame: pd.DataFrame | None = None,
) -> str:
    """Backend, strategy, compilation, data format, steps per call and, for
    runs over several nodes, their connection (``connection``) of one table's
    runs, in words; without the backend or the connection where a column
    names it already. One machine, the default, is left unsaid."""
    first = runs.iloc[0]
    strategy = adapter(first["backend"]).strategy_label(first["strategy"])
    if given(first["bucket_mb"]):
        strategy += f" (bucket {first['bucket_mb']:g} MB)"
    parts = [
        first["backend"] if with_backend else "",
        strategy,
        _compilation(first["backend"], runs),
        first["data_format"],
        _steps_per_call(first["steps_per_execution"]),
        connection(runs, frame) if with_connection and node_count(runs) > 1 else "",
    ]
    return ", ".join(part for part in parts if part)


# The connection of runs within one host: the devices of one machine.
ONE_MACHINE = "one machine"


def connection(runs: pd.DataFrame, frame: pd.DataFrame | None = None) -> str:
    """The link between the nodes of one table's runs: ONE_MACHINE for runs
    within one host; else the name given with --interconnect, the node count
    and the bus bandwidth the all-reduce probe measured before training,
    where it did: 'netns 1gbit, 2 nodes (measured 0.89 Gbit/s bus)'. The
    figure is the mean over the records behind the runs (every record of
    every repeat, with ``frame``, the records frame; else each cell's
    latest ok record); a probe that failed or never ran gives no figure."""
    nodes = node_count(runs)
    if nodes == 1:
        return ONE_MACHINE
    name = runs["interconnect"].iloc[0]
    text = ", ".join([*([str(name)] if given(name) else []), f"{nodes} nodes"])
    measured = _measured_busbw(runs, frame)
    return text + (f" (measured {measured:.2f} Gbit/s bus)" if measured is not None else "")


def node_count(runs: pd.DataFrame) -> int:
    """The nodes one table's runs ran over (records before --nodes: one)."""
    nodes = runs["nodes"].iloc[0]
    return int(nodes) if given(nodes) else 1


def _measured_busbw(runs: pd.DataFrame, frame: pd.DataFrame | None) -> float | None:
    if frame is not None and "run_ids" in runs:
        behind = {run_id for run_ids in runs["run_ids"] for run_id in run_ids}
        values = frame.loc[frame["run_id"].isin(behind), LINK_BUSBW]
    else:
        values = runs[LINK_BUSBW]
    values = values.dropna().astype(float)
    return float(values.mean()) if len(values) else None


def _steps_per_call(steps: int) -> str:
    """'10 steps per call' where Keras ran several steps per train call; ''
    for one, the default, left unsaid."""
    return f"{int(steps)} steps per call" if steps > 1 else ""


def _compilation(backend: str, runs: pd.DataFrame) -> str:
    """'XLA on' / 'XLA off', in the name of what compiles the backend's train
    step (its usual 'off' left unsaid where compiling is opt-in, as
    torch.compile is); '' when unknown (version 1 records) or when there is
    nothing to switch. Says so when the model resolved a different setting
    than the one asked for."""
    asked = _flag(runs["jit_compile"].iloc[0])
    resolved = {_flag(v) for v in runs["jit_compile_resolved"]} - {None}
    if asked is None and len(resolved) == 1:
        asked = resolved.pop()
    facts = adapter(backend)
    if asked is None or facts.compiler is None:
        return ""
    text = f"{facts.compiler} {'on' if asked else 'off'}"
    if resolved - {asked}:
        some = " in some runs" if len(resolved) == 2 else ""
        text += f" asked, {'on' if not asked else 'off'} in effect{some}"
    elif facts.compiler_opt_in and not asked:
        text = ""
    return text


def adapter(backend: str) -> backends.Backend:
    """The adapter that knows what a record's backend calls things. Importing
    it imports no framework, so records of a backend not installed here are
    reported too; a name no adapter has (a backend since removed) gets the
    defaults."""
    try:
        return backends.get(backend)
    except ValueError:
        return backends.Backend()


def _flag(value) -> bool | None:
    # A column of bools hands back numpy bools; None or NaN where unknown.
    return bool(value) if isinstance(value, (bool, np.bool_)) else None
