"""One setup's runs split into series: one per backend and way of spreading
the run over devices (strategy, compilation, DDP bucket size). A series is one
per-backend table, one row of the comparison table and one line of the plot."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from keras_profiler import backends
from keras_profiler.report.data.cells import given, groups
from keras_profiler.report.data.frame import TABLE_COLUMNS


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


def split(runs: pd.DataFrame) -> list[Series]:
    """One setup's runs as series, in a stable order (backend, then strategy)."""
    tables = groups(runs, TABLE_COLUMNS)
    per_backend = pd.Series([table["backend"].iloc[0] for table in tables]).value_counts()
    result = []
    for group in tables:
        backend, heading = group["backend"].iloc[0], describe(group)
        label = heading if per_backend[backend] > 1 else backend
        result.append(Series(backend, heading, label, group.sort_values("devices")))
    return result


def describe(runs: pd.DataFrame, with_backend: bool = True) -> str:
    """Backend, strategy, compilation, data format and steps per call of one
    table's runs, in words; without the backend where a column names it already."""
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
        _over_nodes(first),
    ]
    return ", ".join(part for part in parts if part)


def _over_nodes(first) -> str:
    """'over 2 nodes (netns 1gbit)' for a run across nodes; '' on one."""
    nodes = first.get("nodes")
    if not given(nodes) or int(nodes) == 1:
        return ""
    link = first.get("interconnect")
    return f"over {int(nodes)} nodes" + (f" ({link})" if given(link) else "")


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
