"""Run records: the measured figures of one run, with explicit units, on disk.

One JSON document per run at ``results/<run-id>/record.json``. Records are
written atomically (temporary file, fsync, rename), so a killed run or a
killed writer never leaves a half-written record, and records from several
machines can be copied into one results folder and reported together.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from keras_profiler import intervals, machine
from keras_profiler.intervals import IntervalSpeed

SCHEMA_VERSION = 4
# Version 1 records (before data parallelism) lack ``distribution`` and the
# per-process RSS; version 2 records lack interval timings, telemetry and the
# early stop; version 3 records lack the machine identity (``machine``
# computes one from their host and hardware). They read with those fields empty.
READABLE_VERSIONS = (1, 2, 3, 4)
RECORD_FILE = "record.json"
# not_supported: the backend cannot express the model; nothing was run.
STATUSES = ("ok", "oom", "error", "timeout", "not_supported")


@dataclass
class MemoryFigures:
    """Peak memory, each figure labelled with what it measures (MiB)."""

    device_peak_mib: list[float] | None = None  # per device, framework counter
    device_peak_source: str | None = None  # e.g. "torch max_memory_allocated"
    nvml_process_mib: float | None = None  # all GPUs, NVML, sampled at epoch end
    host_peak_rss_mib: float | None = None  # peak RSS, summed over worker processes
    host_peak_rss_per_process_mib: list[float] | None = None  # one per process (torch: per rank)

    @property
    def device_peak_total_mib(self) -> float | None:
        return round(sum(self.device_peak_mib), 1) if self.device_peak_mib else None

    @staticmethod
    def combine_processes(per_process: list[MemoryFigures]) -> MemoryFigures:
        """One reading of a run spread over several processes (one per device):
        device lists joined in process order, process figures summed."""
        if len(per_process) == 1:
            return per_process[0]
        devices = [f.device_peak_mib for f in per_process]
        rss = [f.host_peak_rss_mib for f in per_process]
        nvml = [f.nvml_process_mib for f in per_process]
        return MemoryFigures(
            device_peak_mib=[m for d in devices for m in d] if all(devices) else None,
            device_peak_source=per_process[0].device_peak_source,
            nvml_process_mib=round(sum(nvml), 1) if None not in nvml else None,
            host_peak_rss_mib=round(sum(rss), 1) if None not in rss else None,
            host_peak_rss_per_process_mib=rss if None not in rss else None,
        )

    @staticmethod
    def peak_of(figures: list[MemoryFigures]) -> MemoryFigures:
        """The largest of each figure over several readings."""
        if not figures:
            return MemoryFigures()

        def largest(name):
            values = [getattr(f, name) for f in figures if getattr(f, name) is not None]
            return max(values) if values else None

        return MemoryFigures(
            device_peak_mib=_largest_each([f.device_peak_mib for f in figures]),
            device_peak_source=next(
                (f.device_peak_source for f in figures if f.device_peak_source), None
            ),
            nvml_process_mib=largest("nvml_process_mib"),
            host_peak_rss_mib=largest("host_peak_rss_mib"),
            host_peak_rss_per_process_mib=_largest_each(
                [f.host_peak_rss_per_process_mib for f in figures]
            ),
        )


def _largest_each(lists: list[list[float] | None]) -> list[float] | None:
    """Element-wise maximum of the lists present."""
    present = [values for values in lists if values]
    return [max(column) for column in zip(*present)] if present else None


@dataclass
class EpochMetrics:
    """One epoch. Training time excludes the test evaluation, timed apart."""

    epoch: int  # 1-based
    seconds: float  # training wall time, measured after the device is idle
    images: int | None  # training images processed in the epoch
    loss: float | None
    accuracy: float | None
    test_loss: float | None = None
    test_accuracy: float | None = None
    test_seconds: float | None = None
    memory: MemoryFigures = field(default_factory=MemoryFigures)
    steps: int | None = None  # training steps run (fewer when stopped as stable)
    # Timed k-step intervals, in order: each one's seconds and steps (the
    # last one of an epoch may be shorter).
    interval_seconds: list[float] | None = None
    interval_steps: list[int] | None = None
    # GPU utilisation, SM clock, temperature, power and energy over the epoch
    # (NVML; telemetry.DeviceTelemetry.to_dict()), None without NVIDIA GPUs.
    telemetry: dict | None = None

    @property
    def images_per_second(self) -> float | None:
        return self.images / self.seconds if self.images and self.seconds > 0 else None

    @property
    def energy_j(self) -> float | None:
        return (self.telemetry or {}).get("energy_j")

    @classmethod
    def from_dict(cls, data: dict) -> EpochMetrics:
        data = dict(data)
        data.pop("images_per_second", None)
        data["memory"] = MemoryFigures(**data.get("memory") or {})
        return cls(**data)

    def to_dict(self) -> dict:
        result = dataclasses.asdict(self)
        result["images_per_second"] = self.images_per_second
        return result


@dataclass
class RunSummary:
    """Whole-run figures. The first epoch (compilation, warm-up) is kept apart
    from the steady state, which averages epochs 2 and later."""

    epochs: int
    training_seconds: float  # all epochs' training time
    first_epoch_seconds: float
    first_epoch_images_per_second: float | None
    steady_epoch_seconds: float | None  # None with a single epoch
    steady_images_per_second: float | None
    train_loss: float | None  # last epoch
    train_accuracy: float | None
    test_loss: float | None
    test_accuracy: float | None
    test_seconds: float | None  # all evaluations, apart from training
    peak_memory: MemoryFigures
    # Steady speed from k-step intervals, with its uncertainty (mean, standard
    # error, jitter, 95% interval); None where no full interval was timed.
    interval_speed: IntervalSpeed | None = None
    # Energy of the steady epochs (joules per epoch, mean) and images per
    # joule; None without NVML energy figures.
    steady_energy_per_epoch_j: float | None = None
    steady_images_per_joule: float | None = None
    stopped_when_stable: bool = False  # --until-stable ended the run early

    @classmethod
    def from_epochs(
        cls,
        epochs: list[EpochMetrics],
        steps_per_interval: int | None = None,
        global_batch: int | None = None,
        stopped_when_stable: bool = False,
    ) -> RunSummary | None:
        """Whole-run figures; the interval speed needs the interval length k
        and the global batch, which epochs do not hold."""
        if not epochs:
            return None
        first, last, steady = epochs[0], epochs[-1], epochs[1:]
        steady_seconds = sum(e.seconds for e in steady) / len(steady) if steady else None
        steady_images = [e.images for e in steady]
        steady_rate = (
            sum(steady_images) / sum(e.seconds for e in steady)
            if steady and all(steady_images)
            else None
        )
        test_times = [e.test_seconds for e in epochs if e.test_seconds is not None]
        return cls(
            epochs=len(epochs),
            training_seconds=sum(e.seconds for e in epochs),
            first_epoch_seconds=first.seconds,
            first_epoch_images_per_second=first.images_per_second,
            steady_epoch_seconds=steady_seconds,
            steady_images_per_second=steady_rate,
            train_loss=last.loss,
            train_accuracy=last.accuracy,
            test_loss=last.test_loss,
            test_accuracy=last.test_accuracy,
            test_seconds=sum(test_times) if test_times else None,
            peak_memory=MemoryFigures.peak_of([e.memory for e in epochs]),
            interval_speed=_interval_speed(epochs, steps_per_interval, global_batch),
            **_energy(steady),
            stopped_when_stable=stopped_when_stable,
        )

    @classmethod
    def from_dict(cls, data: dict) -> RunSummary:
        data = dict(data)
        data["peak_memory"] = MemoryFigures(**data.get("peak_memory") or {})
        if data.get("interval_speed"):
            data["interval_speed"] = IntervalSpeed.from_dict(data["interval_speed"])
        return cls(**data)

    def to_dict(self) -> dict:
        result = dataclasses.asdict(self)
        if self.interval_speed is not None:
            result["interval_speed"] = self.interval_speed.to_dict()
        return result


def _interval_speed(epochs, steps_per_interval, global_batch) -> IntervalSpeed | None:
    if not steps_per_interval or not global_batch:
        return None
    timed = [(e.interval_seconds or [], e.interval_steps or []) for e in epochs]
    return intervals.steady_speed(timed, steps_per_interval, global_batch)


def _energy(steady: list[EpochMetrics]) -> dict:
    """Mean energy per steady epoch and images per joule, where every steady
    epoch has an energy figure (a partial sum would flatter the run)."""
    energies = [e.energy_j for e in steady]
    if not steady or None in energies or not all(e.images for e in steady):
        return {}
    total = math.fsum(energies)
    return {
        "steady_energy_per_epoch_j": total / len(steady),
        "steady_images_per_joule": sum(e.images for e in steady) / total if total > 0 else None,
    }


@dataclass
class RunRecord:
    """Everything known about one run, failed or not."""

    run_id: str
    status: str  # one of STATUSES
    config: dict  # RunConfig.to_dict()
    started_at: str  # ISO 8601, UTC
    finished_at: str
    wall_seconds: float  # the worker process, start to end, launch included
    environment: dict = field(default_factory=dict)
    devices: list[dict] = field(default_factory=list)
    model: dict = field(default_factory=dict)  # name, parameters, image size
    # How the run was spread over devices, and the checks of it: strategy,
    # devices, device_kind, virtual_devices, processes, global_batch_size,
    # learning_rate (after --lr-scaling), jit_compile, bucket_mb,
    # initial_weights_sha256, replica_checks. Empty in version 1 records.
    distribution: dict = field(default_factory=dict)
    epochs: list[EpochMetrics] = field(default_factory=list)
    summary: RunSummary | None = None
    # The worker's own clock around its phases: setup_seconds (process start
    # to fit) and fit_seconds (fit, test evaluations included).
    timeline: dict = field(default_factory=dict)
    # --profile-layers: when each layer's gradient is ready in a step
    # (keras_profiler.training.layer_profile); empty without it.
    layer_profile: dict = field(default_factory=dict)
    # An inference run's figures (keras_profiler.inference): latency
    # percentiles, samples/sec, warm-up; empty for training.
    inference: dict = field(default_factory=dict)
    error: str | None = None
    schema_version: int = SCHEMA_VERSION

    @property
    def machine_id(self) -> str:
        """The machine the run was measured on (see ``machine``)."""
        return machine.identity_of(self.environment)

    def to_dict(self) -> dict:
        result = dataclasses.asdict(self)
        result["epochs"] = [e.to_dict() for e in self.epochs]
        if self.summary is not None:
            result["summary"] = self.summary.to_dict()
        return result

    @classmethod
    def from_dict(cls, data: dict) -> RunRecord:
        version = data.get("schema_version")
        if version not in READABLE_VERSIONS:
            raise ValueError(
                f"record schema version {version!r} is not one this keras-profiler reads "
                f"({', '.join(map(str, READABLE_VERSIONS))}): report it with the version "
                "that wrote it"
            )
        data = dict(data)
        data["epochs"] = [EpochMetrics.from_dict(e) for e in data.get("epochs") or []]
        if data.get("summary") is not None:
            data["summary"] = RunSummary.from_dict(data["summary"])
        if data.get("status") not in STATUSES:
            raise ValueError(f"unknown status {data.get('status')!r}")
        return cls(**data)


def write(record: RunRecord, results_dir: str | Path) -> Path:
    """Writes ``record`` atomically to results_dir/<run-id>/record.json."""
    folder = Path(results_dir) / record.run_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RECORD_FILE
    text = json.dumps(record.to_dict(), indent=2, sort_keys=True) + "\n"
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".record-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_folder(folder)
    return path


def load_all(results_dir: str | Path) -> tuple[list[RunRecord], list[str]]:
    """Every record under results_dir, and one line per entry that is not one.

    Unreadable, corrupt or foreign files, and folders without a record, are
    named and skipped, never changed. Hidden entries are not looked at.
    """
    records, problems = [], []
    folder = Path(results_dir)
    entries = sorted(folder.iterdir()) if folder.is_dir() else []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = entry / RECORD_FILE
        if not path.is_file():
            what = "a folder without" if entry.is_dir() else "not a run folder with"
            problems.append(f"{entry}: skipped: {what} a {RECORD_FILE}")
            continue
        try:
            records.append(RunRecord.from_dict(json.loads(path.read_text())))
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
            problems.append(f"{path}: skipped: {error}")
    return records, problems


def _fsync_folder(folder: Path) -> None:
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
