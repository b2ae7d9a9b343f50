"""Which configurations of a sweep are already recorded.

A configuration is identified by its RunConfig fields, all but those that do
not change what is measured (where data is looked up, whether it may be
downloaded, the time limit, the peak FLOP/s that MFU divides by). It needs no
further run when the records hold an ok run of it made on this machine (see
``keras_profiler.machine``), or one that ran out of
memory or past its time limit: those are results too, shown as such in the
reports, and would only fail again. A run that ended in an error (a crash, or
a kill: a stopped sweep leaves one) is run again. ``--force`` runs everything
again. Records from other machines settle nothing here: they are measurements
of other hardware, reported beside this machine's.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from keras_profiler import environment, records
from keras_profiler.config import RunConfig

# Statuses that settle a configuration.
SETTLED = ("ok", "oom", "timeout", "not_supported")
# Where the nodes meet and over which interface changes nothing measured
# (the link does, and --interconnect names it); node 0 writes the record.
_NOT_MEASURED = {
    "data_dir", "allow_download", "timeout_seconds", "peak_tflops", "coordinator", "interface",
    "node_rank", "join_timeout",
}  # fmt: skip
_DEFAULTS = {
    f.name: f.default for f in dataclasses.fields(RunConfig) if f.default is not dataclasses.MISSING
}


def identity(config: dict) -> tuple:
    """A hashable key of what a run measures, from a config as records hold
    it; fields a record predates take their defaults."""
    full = {**_DEFAULTS, **config}
    return tuple(sorted((k, repr(v)) for k, v in full.items() if k not in _NOT_MEASURED))


def this_machine() -> str:
    """The identity of the machine this process runs on."""
    return environment.collect()["machine_id"]


def settled(results_dir: str | Path, machine_id: str) -> dict[tuple, str]:
    """Identity -> the status that settles it, for every configuration settled
    in results_dir by a record made on machine ``machine_id`` (ok where there
    is an ok run)."""
    loaded, _ = records.load_all(results_dir)  # the report lists unreadable files
    found: dict[tuple, str] = {}
    for record in loaded:
        if record.status in SETTLED and record.machine_id == machine_id:
            key = identity(record.config)
            if found.get(key) != "ok":
                found[key] = record.status
    return found


def pending(
    configs: list[RunConfig], results_dir: str | Path, force: bool, machine_id: str | None = None
):
    """(the configs to run, in order; how many were skipped as settled, by
    status), settled by records of machine ``machine_id`` (default: this one)."""
    done = {} if force else settled(results_dir, machine_id or this_machine())
    todo, skipped = [], {}
    for config in configs:
        status = done.get(identity(config.to_dict()))
        if status:
            skipped[status] = skipped.get(status, 0) + 1
        else:
            todo.append(config)
    return todo, skipped
