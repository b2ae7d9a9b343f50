"""Runs a sweep's configurations one after another on this machine.

Each run is one launcher.run: a fresh worker, its record written atomically
when it ends. A run that fails is recorded and the sweep goes on; a sweep
that is killed loses only the run in flight (its worker dies with it), and
running the same sweep again continues from there (see ``plan``).
"""

from __future__ import annotations

import sys

from keras_profiler import backends, checks, gpus, launcher
from keras_profiler.console import describe, outcome
from keras_profiler.errors import UsageError
from keras_profiler.records import RunRecord
from keras_profiler.sweep.progress import Progress
from keras_profiler.sweep.spec import INSTALLED, SweepSpec, launch_of


def backend_names(spec: SweepSpec) -> tuple[list[str], set[str]]:
    """The matrix's backends, and those of them to leave out, saying why,
    where their environment cannot be had. ``installed``: every Keras 3
    backend installed here, and mxnet if its environment is or can be built
    (found out later, by ``worker_pythons``: building takes a while)."""
    if spec.backends != INSTALLED:
        return list(spec.backends), set()
    names = [
        name
        for name in backends.NAMES
        if not backends.get(name).own_environment and not backends.get(name).missing_requirement()
    ]
    optional = {name for name in backends.NAMES if backends.get(name).own_environment}
    if not names:
        raise UsageError(
            "no Keras 3 backend is installed: pip install keras and jax, tensorflow or torch"
        )
    return names + sorted(optional), optional


def worker_pythons(configs, optional: set[str], requested: str | None):
    """(backend -> its workers' interpreter, the configs that can run).
    A backend whose environment cannot be had stops the sweep (UsageError),
    unless it is optional: then its runs are left out, saying why."""
    pythons = {}
    for name in sorted({c.backend for c in configs}):
        try:
            pythons[name] = backends.get(name).worker_python(requested)
        except UsageError as error:
            if name not in optional:
                raise
            _say(f"leaving {name} out: {error}")
    return pythons, [c for c in configs if c.backend in pythons]


def device_counts(spec: SweepSpec) -> list[int]:
    """The matrix's device counts on this machine: those up to the GPUs
    present (1 without GPUs), unless the matrix asks for virtual devices."""
    if not spec.devices_up_to_present:
        return list(spec.devices)
    present = max(gpus.count(), 1)
    kept = [n for n in spec.devices if n <= present]
    dropped = [n for n in spec.devices if n > present]
    if dropped:
        _say(
            f"leaving out device counts {', '.join(map(str, dropped))}: this machine has "
            f"{gpus.count()} GPU(s)"
        )
    if not kept:
        raise UsageError(
            f"no device count of {spec.devices} fits this machine's {gpus.count()} GPU(s): "
            "add 1, or set devices_up_to_present = false to run virtual CPU devices"
        )
    return kept


def run(
    configs,
    results_dir,
    pythons: dict[str, str],
    progress: Progress,
    spec: SweepSpec | None = None,
) -> list[RunRecord]:
    """Runs each config in turn and returns their records; runs over
    several nodes start with ``spec``'s node launcher (spec.launch_of)."""
    finished = []
    for config in configs:
        progress.starting(describe(config))
        reason = checks.unsupported(config)
        if reason:
            record = launcher.record_not_supported(config, results_dir, reason)
        elif config.nodes > 1:
            record = _over_nodes(config, results_dir, spec)
        else:
            record = launcher.run(config, results_dir, python=pythons[config.backend])
        progress.finished()
        print(f"keras-profiler: {outcome(record)}", flush=True)
        finished.append(record)
    return finished


def _over_nodes(config, results_dir, spec: SweepSpec | None) -> RunRecord:
    """A run over several nodes, started by the node launcher of the sweep
    that made it (netns, ssh, slurm: spec.LAUNCHERS); where node 0 was lost
    before it wrote a record, an error record says which node failed how."""
    from keras_profiler.nodes.launch import LaunchFailed

    starter, settings = launch_of(config, spec)
    try:
        return starter.run(config, results_dir, settings)
    except LaunchFailed as failure:
        return launcher.record_failure(config, results_dir, str(failure))


def _say(line: str) -> None:
    print(f"keras-profiler sweep: {line}", file=sys.stderr, flush=True)
