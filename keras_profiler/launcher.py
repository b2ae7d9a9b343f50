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
from keras_profiler.records import EpochMetrics, RunRecord, RunSummary

STDERR_TAIL_LINES = 40


def run(config: RunConfig, results_dir: str | Path) -> RunRecord:
    """Runs ``config`` in a fresh worker and writes its record under results_dir.

    Raises:
        UsageError: the run could not start for a reason the user must fix;
            no record is written.
    """
    started_at, started = _utc_now(), time.monotonic()
    with tempfile.TemporaryDirectory(prefix="keras-profiler-") as scratch:
        scratch = Path(scratch)
        config_path, result_path = scratch / "config.json", scratch / "result.json"
        epochs_path = scratch / "epochs.jsonl"
        config_path.write_text(json.dumps(config.to_dict()))
        command = [
            sys.executable,
            "-m",
            "keras_profiler.worker",
            config_path,
            result_path,
            epochs_path,
        ]
        outcome = _run_worker(command, child_environment(config, scratch), config.timeout_seconds)
        result = json.loads(result_path.read_text()) if result_path.exists() else None
        epochs = _read_epochs(epochs_path)
    if result and result.get("status") == "usage_error":
        raise UsageError(result["message"])
    record = _record(config, result, epochs, outcome, started_at, time.monotonic() - started)
    records.write(record, results_dir)
    return record


def child_environment(config: RunConfig, scratch: Path) -> dict[str, str]:
    """The worker's environment: the user's, plus what must be set before import."""
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
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(config.devices))
    env.update(backends.get(config.backend).child_environment(config.devices, present))
    return env


class _Outcome:
    """How the worker process ended."""

    def __init__(self, returncode: int | None, timed_out: bool, stderr_tail: str):
        self.returncode = returncode
        self.timed_out = timed_out
        self.stderr_tail = stderr_tail

    def describe(self) -> str:
        if self.timed_out:
            return "the run passed its time limit and was stopped"
        if self.returncode is not None and self.returncode < 0:
            name = signal.Signals(-self.returncode).name
            hint = " (the kernel's out-of-memory killer sends it)" if name == "SIGKILL" else ""
            return f"the worker was killed by {name}{hint}"
        return f"the worker exited with status {self.returncode} without a result"


def _run_worker(command: list[str], env: dict, timeout: float | None) -> _Outcome:
    """Runs the worker, passing its output through, keeping its stderr's tail."""
    process = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, to stop it whole
        preexec_fn=_die_with_parent,
    )
    tail = collections.deque(maxlen=STDERR_TAIL_LINES)
    reader = threading.Thread(target=_forward, args=(process.stderr, tail), daemon=True)
    reader.start()
    timed_out = False
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _stop(process)
    except BaseException:  # Ctrl-C or a signal: never leave the worker running
        _stop(process)
        raise
    reader.join(timeout=10)
    return _Outcome(process.returncode, timed_out, "".join(tail))


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
        epochs=epochs,
        summary=RunSummary.from_epochs(epochs),
        error=error,
    )


def new_run_id(config: RunConfig) -> str:
    """A unique, sortable folder name that says what ran."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{config.slug()}-{uuid.uuid4().hex[:6]}"


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
