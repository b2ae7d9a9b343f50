"""The launcher: one fresh worker process per run, and the record it leaves.

The worker's environment is set before it imports anything, because Keras
fixes its backend at import and JAX/TensorFlow read their allocator switches
then. The parent never imports a framework and survives whatever the worker
does: a crash, an out-of-memory kill or a timeout each become a record.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from keras_profiler import backends, environment, gpus, records
from keras_profiler.config import RunConfig
from keras_profiler.errors import UsageError
from keras_profiler.nodes import post_mortem, rollcall
from keras_profiler.records import EpochMetrics, MemoryFigures, RunRecord, RunSummary

STDERR_TAIL_LINES = 40
# After one worker of a multi-process run dies, how long the others get to
# notice before they are stopped.
PEER_GRACE_SECONDS = 10.0


def run(config: RunConfig, results_dir: str | Path, python: str | None = None) -> RunRecord:
    """Runs ``config`` in fresh workers (one, or one per device where the
    backend needs it) and writes one record of the run under results_dir;
    of a run over several nodes, only node 0 (the coordinator) writes it.
    ``python`` is the workers' interpreter (default: this one; MXNet's
    environment for mxnet, see ``Backend.worker_python``).

    Raises:
        UsageError: the run could not start for a reason the user must fix;
            no record is written.
    """
    started_at, started = _utc_now(), time.monotonic()
    adapter = backends.get(config.backend)
    with tempfile.TemporaryDirectory(prefix="keras-profiler-") as scratch:
        scratch = Path(scratch)
        config_path = scratch / "config.json"
        config_path.write_text(json.dumps(config.to_dict()))
        ranks = [_Rank(scratch, rank) for rank in range(adapter.processes(config))]
        prefix = adapter.worker_command(python or sys.executable)
        commands = [rank.command(prefix, config_path) for rank in ranks]
        try:
            link = probe_link(config)
        except NodesFailed as failed:  # no training without all the nodes
            return _record_without_run(config, results_dir, "error", str(failed))
        port = _free_port()  # one rendezvous port for all ranks of the run
        environments = [child_environment(config, scratch, rank.rank, port) for rank in ranks]
        outcome = _run_workers(commands, environments, config.timeout_seconds)
        results = [rank.result() for rank in ranks]
        epochs = [_read_epochs(rank.epochs_path) for rank in ranks]
    problem = next((r for r in results if r and r.get("status") == "usage_error"), None)
    if problem:
        raise UsageError(problem["message"])
    result = _merge_results(results)
    if link is not None and result and "distribution" in result:
        result["distribution"]["interconnect"] = link
    record = _record(
        config, result, _merge_epochs(epochs), outcome, started_at, time.monotonic() - started
    )
    if config.nodes > 1 and record.status != "ok":
        post_mortem.name_failed_node(record, config, outcome.report(), link)
    if config.node_rank == 0:  # one record per run: the coordinator's
        records.write(record, results_dir)
    return record


def record_not_supported(config: RunConfig, results_dir: str | Path, reason: str) -> RunRecord:
    """Writes the record of a configuration whose backend cannot express its
    model: nothing runs, and reports show the cell as not supported."""
    return _record_without_run(config, results_dir, "not_supported", reason)


def record_failure(config: RunConfig, results_dir: str | Path, reason: str) -> RunRecord:
    """Writes an error record for a run whose launcher left none (a node
    lost before it could write one), saying why."""
    return _record_without_run(config, results_dir, "error", reason)


def _record_without_run(config, results_dir, status: str, reason: str) -> RunRecord:
    """The record of a run that trained nothing; written by node 0 only."""
    now, described = _utc_now(), environment.collect()
    record = RunRecord(
        run_id=new_run_id(config),
        status=status,
        config=config.to_dict(),
        started_at=now,
        finished_at=now,
        wall_seconds=0.0,
        environment=described,
        devices=_devices_it_would_use(config, described),
        error=reason,
    )
    if config.node_rank == 0:
        records.write(record, results_dir)
    return record


def _devices_it_would_use(config: RunConfig, described: dict) -> list[dict]:
    """The devices a run of ``config`` would have trained on, as a worker
    describes them, so that its cell sits beside the runs of the same
    hardware: the first N GPUs, or N (virtual) CPU devices."""
    present = described.get("gpus") or []
    if present:
        return [dict(gpu, kind="gpu") for gpu in present[: config.devices]]
    return [
        {"index": i, "kind": "cpu", "name": described["cpu_model"]} for i in range(config.devices)
    ]


# How long the nodes' all-reduce probe may take once all joined (seconds).
PROBE_TIMEOUT_S = 300


class NodesFailed(RuntimeError):
    """The nodes did not all meet before training (a node missing, or the
    probe between them failing): the run fails, saying which."""


def probe_link(config: RunConfig) -> dict | None:
    """The link between the run's nodes, as named (--interconnect) and as
    measured: the all-reduce probe (keras_profiler.nodes.probe) run on every
    node before the workers start, in a process of its own, so that its
    library never sits in a worker's memory figures. It meets on the
    coordinator's port + 1, every node within --join-timeout. None on one
    node.

    Raises:
        UsageError: the nodes given make no cluster (a rank taken twice, a
            coordinator that cannot be reached).
        NodesFailed: a node never joined (named), or the probe failed.
    """
    if config.nodes == 1:
        return None
    host, _, port = config.coordinator.rpartition(":")
    command = [
        sys.executable, "-m", "keras_profiler.nodes.probe", "--rank", str(config.node_rank),
        "--world", str(config.nodes), "--master", f"{host}:{int(port) + 1}",
        "--timeout", str(PROBE_TIMEOUT_S), "--join-timeout", str(config.join_timeout),
        "--coordinator", config.coordinator,
    ] + (["--interface", config.interface] if config.interface else [])  # fmt: skip
    limit = config.join_timeout + PROBE_TIMEOUT_S + 60
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        raise NodesFailed(f"the nodes' all-reduce probe was not done after {limit:g} s") from None
    said = _last_line(done.stderr).removeprefix("keras-profiler: error: ")
    if done.returncode == rollcall.EXIT_USAGE:
        raise UsageError(said)
    if done.returncode == rollcall.EXIT_MISSING:
        raise NodesFailed(said)
    if done.returncode != 0:
        raise NodesFailed(f"the nodes' all-reduce probe failed: {said}")
    measured = json.loads(done.stdout) if config.node_rank == 0 else {}
    return {"name": config.interconnect, **measured}


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(it said nothing)"


class _Rank:
    """One worker process's files."""

    def __init__(self, scratch: Path, rank: int):
        self.rank = rank
        self.result_path = scratch / f"result-{rank}.json"
        self.epochs_path = scratch / f"epochs-{rank}.jsonl"

    def command(self, prefix: list[str], config_path: Path) -> list:
        return [
            *prefix,
            "keras_profiler.worker",
            config_path,
            self.result_path,
            self.epochs_path,
        ]

    def result(self) -> dict | None:
        try:
            return json.loads(self.result_path.read_text())
        except (OSError, ValueError):
            return None


def child_environment(
    config: RunConfig, scratch: Path, rank: int = 0, port: int = 0
) -> dict[str, str]:
    """A worker's environment: the user's, plus what must be set before import."""
    env = dict(os.environ)
    env.update(
        KERAS_BACKEND=config.backend,
        # A private Keras home: the user's ~/.keras/keras.json is neither read
        # (it could set another backend or dtype) nor written.
        KERAS_HOME=str(scratch / "keras_home"),
        PYTHONUNBUFFERED="1",
        TF_CPP_MIN_LOG_LEVEL="3",  # Keras imports TensorFlow under every backend
        TF_FORCE_GPU_ALLOW_GROWTH="true",
    )
    present = gpus.count()
    if present:
        # CUDA numbers GPUs fastest first unless told otherwise; NVML (device
        # names, telemetry) by PCI bus. One order, so GPU i is the same GPU to both.
        env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(config.devices))
    env.update(backends.get(config.backend).child_environment(config, present, rank))
    if "MASTER_ADDR" in env:  # torch.distributed's rendezvous
        coordinator_port = config.coordinator.rpartition(":")[2] if config.coordinator else None
        env["MASTER_PORT"] = coordinator_port or str(port)
    return env


def _free_port() -> int:
    """A local port free now, for torch.distributed's workers to meet on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _merge_results(results: list[dict | None]) -> dict | None:
    """One result for the run: rank 0's, with every rank's devices, and the
    failure of the rank that failed first (the others failed because of it)."""
    present = [r for r in results if r]
    if not present:
        return None
    merged = dict(results[0] or present[0])
    if "distribution" in merged:  # how many processes reported, not how many were meant to
        merged["distribution"] = dict(merged["distribution"], processes=len(present))
    if len(results) == 1:
        return merged
    merged["devices"] = [d for r in present for d in r.get("devices", [])]
    failed = sorted(
        (r for r in present if r.get("status") != "ok"), key=lambda r: r.get("failed_at", 0)
    )
    if failed:
        merged.update(status=failed[0]["status"], error=failed[0].get("error"))
    elif len(present) < len(results):
        merged.pop("status", None)  # a worker died without a word: the outcome says how
    return merged


def _merge_epochs(per_rank: list[list[EpochMetrics]]) -> list[EpochMetrics]:
    """Rank 0's epochs, with memory read in every process that finished them."""
    epochs = per_rank[0]
    for index, epoch in enumerate(epochs):
        # A process that did not finish the epoch read nothing: totals are absent.
        readings = [
            rank[index].memory if len(rank) > index else MemoryFigures() for rank in per_rank
        ]
        epoch.memory = MemoryFigures.combine_processes(readings)
    return epochs


class _Outcome:
    """How the worker process ended."""

    def __init__(
        self,
        returncode: int | None,
        timed_out: bool,
        stderr_tail: str,
        first_failed: int | None = None,
        failed_at_unix: float | None = None,
    ):
        self.failed_at_unix = failed_at_unix  # when a worker was first seen failed
        self.returncode = returncode
        self.first_failed = first_failed  # the worker process that failed first
        self.timed_out = timed_out
        self.stderr_tail = stderr_tail

    def report(self) -> dict:
        """What this node saw, for the other nodes' post-mortem."""
        killed = self.returncode is not None and self.returncode < 0
        return {
            "returncode": self.returncode,
            "signal": signal.Signals(-self.returncode).name if killed else None,
            "timed_out": self.timed_out,
            "failed_at_unix": self.failed_at_unix,
            "describe": self.describe(),
        }

    def describe(self) -> str:
        if self.timed_out:
            return "the run passed its time limit and was stopped"
        if self.returncode is not None and self.returncode < 0:
            name = signal.Signals(-self.returncode).name
            hint = " (the kernel's out-of-memory killer sends it)" if name == "SIGKILL" else ""
            return f"the worker was killed by {name}{hint}"
        return f"the worker exited with status {self.returncode} without a result"


def _run_workers(commands: list[list], environments: list[dict], timeout) -> _Outcome:
    """Runs the workers together, passing rank 0's output through and every
    rank's stderr, until all end, the time limit passes, or one fails (the
    others would wait for it in a collective forever)."""
    processes, tails, readers = [], [], []
    try:
        for rank, (command, env) in enumerate(zip(commands, environments)):
            process, tail, reader = _start(command, env, quiet=rank > 0)
            processes.append(process)
            tails.append(tail)
            readers.append(reader)
        timed_out, first_failed, failed_at_unix = _wait(processes, timeout)
    except BaseException:  # Ctrl-C or a signal: never leave a worker running
        for process in processes:
            _stop(process)
        raise
    for reader in readers:
        reader.join(timeout=10)
    # The worker that failed first says why; the others were stopped after it.
    which = first_failed if first_failed is not None else 0
    return _Outcome(
        processes[which].returncode, timed_out, "".join(tails[which]), first_failed, failed_at_unix
    )


def _start(command: list, env: dict, quiet: bool):
    process = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL if quiet else None,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, to stop it whole
        preexec_fn=_die_with_parent,
    )
    tail = collections.deque(maxlen=STDERR_TAIL_LINES)
    reader = threading.Thread(target=_forward, args=(process.stderr, tail), daemon=True)
    reader.start()
    return process, tail, reader


def _wait(processes: list[subprocess.Popen], timeout: float | None):
    """Waits for every process. Returns (whether the time limit stopped them,
    the index of the first process that failed, or None, and when (Unix
    time) that failure was seen)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    first_failed, failed_at, failed_at_unix = None, None, None
    while any(p.poll() is None for p in processes):
        now = time.monotonic()
        if deadline is not None and now > deadline:
            for process in processes:
                _stop(process)
            return True, first_failed, failed_at_unix or time.time()
        if first_failed is None:
            first_failed = next(
                (i for i, p in enumerate(processes) if p.returncode not in (None, 0)), None
            )
            if first_failed is not None:
                failed_at, failed_at_unix = now, time.time()
        if failed_at is not None and now - failed_at > PEER_GRACE_SECONDS:
            for process in processes:
                _stop(process)
        time.sleep(0.05)
    if first_failed is None:
        first_failed = next((i for i, p in enumerate(processes) if p.returncode != 0), None)
        failed_at_unix = time.time() if first_failed is not None else None
    return False, first_failed, failed_at_unix


def _forward(stream, tail: collections.deque) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace")
        tail.append(line)
        sys.stderr.write(line)
        sys.stderr.flush()


def _stop(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _die_with_parent() -> None:
    """In the child: be killed if the launcher dies, so that killing a sweep
    never leaves a worker training on its own (Linux only)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _read_epochs(path: Path) -> list[EpochMetrics]:
    """The epochs the worker finished; a line torn by a kill mid-write is dropped."""
    if not path.exists():
        return []
    epochs = []
    for line in path.read_text().splitlines():
        try:
            epochs.append(EpochMetrics.from_dict(json.loads(line)))
        except ValueError:
            break
    return epochs


def _record(config, result, epochs, outcome: _Outcome, started_at: str, wall: float):
    result = result or {}
    if outcome.timed_out:
        status, error = "timeout", outcome.describe()
    elif "status" in result:
        status, error = result["status"], result.get("error")
    else:
        status, error = "error", f"{outcome.describe()}\n{outcome.stderr_tail}".strip()
    return RunRecord(
        run_id=new_run_id(config),
        status=status,
        config=config.to_dict(),
        started_at=started_at,
        finished_at=_utc_now(),
        wall_seconds=round(wall, 3),
        environment=result.get("environment") or environment.collect(),
        devices=result.get("devices", []),
        model=result.get("model", {}),
        distribution=result.get("distribution", {}),
        epochs=epochs,
        summary=RunSummary.from_epochs(
            epochs,
            steps_per_interval=config.sync_every,
            global_batch=config.global_batch_size,
            stopped_when_stable=bool(result.get("stopped_when_stable")),
        ),
        timeline=result.get("timeline") or {},
        layer_profile=result.get("layer_profile") or {},
        inference=result.get("inference") or {},
        error=error,
    )


def new_run_id(config: RunConfig) -> str:
    """A unique, sortable folder name that says what ran."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{config.slug()}-{uuid.uuid4().hex[:6]}"


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
