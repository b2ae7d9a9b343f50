"""GPU telemetry while training or serving: utilisation, SM clock,
temperature, power and energy, sampled from NVML on a background thread.

NVML only: the sampler never touches CUDA or a framework, so it cannot
synchronise a device or slow the training it watches. A caller (a Keras
callback) brackets a span, typically an epoch, with ``begin_span()`` and
``end_span(span)`` and gets a ``DeviceTelemetry`` for the samples taken in
between. Each open span keeps running sums rather than the samples
themselves, so a long epoch costs no memory.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from keras_profiler import gpus

COUNTER = "nvml energy counter"
SAMPLED_POWER = "sampled power"

# What one sample reads on each device: quantity -> reader(nvml, handle).
_READERS = {
    "utilization_percent": lambda nvml, h: nvml.nvmlDeviceGetUtilizationRates(h).gpu,
    "sm_clock_mhz": lambda nvml, h: nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_SM),
    "temperature_c": lambda nvml, h: nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU),
    "power_w": lambda nvml, h: nvml.nvmlDeviceGetPowerUsage(h) / 1000,  # milliwatts
}


def _read_energy_mj(nvml, handle) -> int:
    # Millijoules since the driver loaded; Volta and newer only.
    return nvml.nvmlDeviceGetTotalEnergyConsumption(handle)


@dataclass
class DeviceTelemetry:
    """GPU telemetry over one span, combined over its devices.

    A figure is None where no device reported it. Sums (power, energy) are
    None unless every device reported them: a partial sum would understate.
    ``per_device`` holds one dict per device with the same keys (``index``,
    ``samples``, ``utilization_percent``, ``sm_clock_mhz``,
    ``temperature_max_c``, ``power_mean_w``, ``energy_j``, ``energy_source``).
    """

    span_seconds: float  # wall time from begin_span to end_span
    samples: int  # sampler ticks inside the span
    utilization_percent: float | None = None  # mean over samples, averaged over devices
    sm_clock_mhz: float | None = None  # mean over samples, averaged over devices
    temperature_max_c: float | None = None  # hottest reading of any device
    power_mean_w: float | None = None  # mean over samples, summed over devices
    energy_j: float | None = None  # summed over devices
    energy_source: str | None = None  # COUNTER or SAMPLED_POWER ("a + b" if devices differ)
    per_device: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> DeviceTelemetry:
        data = dict(data)
        data["per_device"] = [dict(device) for device in data.get("per_device", [])]
        return cls(**data)


class _DeviceSpan:
    """Running figures for one device over one span."""

    def __init__(self, index: int, start_energy_mj: int | None):
        self.index = index
        self.start_energy_mj = start_energy_mj
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.temperature_max_c: float | None = None
        self.first_power: tuple[float, float] | None = None  # (time, watts)
        self.last_power: tuple[float, float] | None = None
        self.power_integral_j = 0.0  # trapezoids between the first and last power reading

    def add(self, t: float, reading: dict[str, float]) -> None:
        for name in ("utilization_percent", "sm_clock_mhz", "power_w"):
            if name in reading:
                self.sums[name] = self.sums.get(name, 0.0) + reading[name]
                self.counts[name] = self.counts.get(name, 0) + 1
        temperature = reading.get("temperature_c")
        if temperature is not None and (
            self.temperature_max_c is None or temperature > self.temperature_max_c
        ):
            self.temperature_max_c = temperature
        if "power_w" in reading:
            power = reading["power_w"]
            if self.last_power is None:
                self.first_power = (t, power)
            else:
                last_t, last_power = self.last_power
                self.power_integral_j += (last_power + power) / 2 * (t - last_t)
            self.last_power = (t, power)

    def mean(self, name: str) -> float | None:
        return self.sums[name] / self.counts[name] if self.counts.get(name) else None

    def energy(self, start: float, end: float, end_energy_mj: int | None):
        """Energy (J) from ``start`` to ``end`` and where it came from, or (None, None)."""
        start_mj = self.start_energy_mj
        # A counter that went backwards (driver reloaded) says nothing; fall back.
        if start_mj is not None and end_energy_mj is not None and end_energy_mj >= start_mj:
            return (end_energy_mj - start_mj) / 1000, COUNTER
        if self.counts.get("power_w", 0) < 2:
            return None, None
        (first_t, first_w), (last_t, last_w) = self.first_power, self.last_power
        # The samples begin up to one interval after the span does and end up to one
        # before it: hold the first and last readings out to the span's edges.
        edges = first_w * (first_t - start) + last_w * (end - last_t)
        return self.power_integral_j + edges, SAMPLED_POWER

    def summary(self, start: float, end: float, end_energy_mj: int | None, samples: int):
        energy, source = self.energy(start, end, end_energy_mj)
        return {
            "index": self.index,
            "samples": samples,
            "utilization_percent": _round(self.mean("utilization_percent")),
            "sm_clock_mhz": _round(self.mean("sm_clock_mhz")),
            "temperature_max_c": self.temperature_max_c,
            "power_mean_w": _round(self.mean("power_w")),
            "energy_j": _round(energy),
            "energy_source": source,
        }


class Span:
    """An open span: ``begin_span()`` returns one, ``end_span(span)`` closes it."""

    def __init__(self, start: float, devices: list[_DeviceSpan]):
        self.start = start
        self.devices = devices
        self.samples = 0

    def add(self, t: float, readings: dict[int, dict[str, float]]) -> None:
        if t < self.start:  # read just before the span began, added just after
            return
        self.samples += 1
        for device in self.devices:
            device.add(t, readings[device.index])

    def summary(self, end: float, end_energy_mj: dict[int, int | None]) -> DeviceTelemetry:
        per_device = [
            device.summary(self.start, end, end_energy_mj[device.index], self.samples)
            for device in self.devices
        ]
        return _combine(per_device, end - self.start, self.samples)


class TelemetrySampler:
    """Samples NVML on a daemon thread every ``interval_seconds``, for the
    given NVML device indices, into the spans open at the time.

    A quantity the device answers is not supported (or not permitted) is
    left out for that device for the rest of the run; any other NVML error
    (a timeout, a busy driver) loses that one reading only, and the quantity
    is read again at the next sample. The rest go on either way.

    Use ``TelemetrySampler.create(indices)``, which answers None on CPU runs,
    then ``start()``/``stop()`` or ``with sampler:``.
    """

    def __init__(
        self,
        nvml,
        indices: Sequence[int],
        interval_seconds: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ):
        """Watch ``indices`` through ``nvml``; nothing is sampled before ``start()``.

        Args:
            nvml: the initialised pynvml module (or a stand-in with its API).
            indices: NVML device indices to watch.
            interval_seconds: time between samples.
            clock: seconds, monotonic; tests pass their own to control time.
        """
        if interval_seconds <= 0:
            raise ValueError(f"interval_seconds must be positive, got {interval_seconds}")
        if not indices:
            raise ValueError("indices is empty: give NVML device indices, or use create()")
        self.interval_seconds = interval_seconds
        self.error: Exception | None = None  # what stopped the thread early, if anything
        self._nvml = nvml
        self._clock = clock
        self._handles = {index: nvml.nvmlDeviceGetHandleByIndex(index) for index in indices}
        self._unsupported: dict[int, set[str]] = {index: set() for index in indices}
        self._lock = threading.Lock()  # guards _spans and everything inside them
        self._spans: list[Span] = []
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @classmethod
    def create(
        cls, indices: Sequence[int], interval_seconds: float = 0.1
    ) -> TelemetrySampler | None:
        """A sampler for these NVML device indices, or None where there is
        nothing to watch (no NVML, or no indices: a CPU run)."""
        nvml = gpus._nvml()
        if nvml is None or not indices:
            return None
        return cls(nvml, indices, interval_seconds)

    def start(self) -> None:
        """Start sampling; the first sample is taken at once."""
        if self._thread is not None:
            return
        # One event per thread, so a thread that outlived a stop() cannot be revived.
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(self._stopping,), name="telemetry-sampler", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling and join the thread. The wait between samples is cut
        short, so this returns once an NVML read in flight ends (at most
        ``1 + interval_seconds`` seconds; the daemon thread is then left behind)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0 + self.interval_seconds)
            self._thread = None

    def __enter__(self) -> TelemetrySampler:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def begin_span(self) -> Span:
        """Open a span: the samples from now until ``end_span`` go into it."""
        energy = self._energy_counters()
        with self._lock:
            start = self._clock()
            span = Span(start, [_DeviceSpan(i, energy[i]) for i in self._handles])
            self._spans.append(span)
        return span

    def end_span(self, span: Span) -> DeviceTelemetry:
        """Close ``span`` and summarise it (see ``DeviceTelemetry``)."""
        with self._lock:
            if span not in self._spans:
                raise ValueError("span already ended, or begun by another sampler")
            self._spans.remove(span)
            end = self._clock()
        return span.summary(end, self._energy_counters())

    def sample(self) -> None:
        """Read every quantity of every device once and add it to the open spans.

        The thread calls this every interval; tests call it directly.
        """
        t = self._clock()
        readings = {index: self._read_all(index, handle) for index, handle in self._handles.items()}
        with self._lock:
            for span in self._spans:
                span.add(t, readings)

    def _run(self, stopping: threading.Event) -> None:
        deadline = self._clock()
        try:
            while not stopping.is_set():
                self.sample()
                # A steady cadence: the wait absorbs the time the reads took.
                deadline = max(deadline + self.interval_seconds, self._clock())
                stopping.wait(deadline - self._clock())
        except Exception as error:  # kept for the caller: telemetry must not stop training
            self.error = error

    def _read_all(self, index: int, handle) -> dict[str, float]:
        reading = {}
        for name, reader in _READERS.items():
            value = self._read(index, handle, name, reader)
            if value is not None:
                reading[name] = value
        return reading

    def _energy_counters(self) -> dict[int, int | None]:
        return {i: self._read(i, h, "energy_mj", _read_energy_mj) for i, h in self._handles.items()}

    def _read(self, index: int, handle, name: str, reader):
        """One reading, or None where the device does not support it."""
        if name in self._unsupported[index]:
            return None
        try:
            return reader(self._nvml, handle)
        except self._nvml.NVMLError as error:
            if _is_permanent(self._nvml, error):
                # Not retried every tick: an unsupported quantity stays unsupported.
                self._unsupported[index].add(name)
            return None


def _is_permanent(nvml, error) -> bool:
    """Whether an NVML error says the device will never answer this query."""
    permanent = {
        getattr(nvml, "NVML_ERROR_NOT_SUPPORTED", 3),
        getattr(nvml, "NVML_ERROR_NO_PERMISSION", 4),
    }
    return getattr(error, "value", None) in permanent


def _combine(per_device: list[dict], seconds: float, samples: int) -> DeviceTelemetry:
    """Averages over the devices that report a figure; sums only over all of them."""

    def present(key: str) -> list:
        return [device[key] for device in per_device if device[key] is not None]

    def mean(key: str) -> float | None:
        values = present(key)
        return _round(sum(values) / len(values)) if values else None

    def total(key: str) -> float | None:
        values = present(key)
        return _round(sum(values)) if values and len(values) == len(per_device) else None

    temperatures = present("temperature_max_c")
    energy = total("energy_j")
    sources = sorted({device["energy_source"] for device in per_device if device["energy_source"]})
    return DeviceTelemetry(
        span_seconds=_round(seconds, 4),
        samples=samples,
        utilization_percent=mean("utilization_percent"),
        sm_clock_mhz=mean("sm_clock_mhz"),
        temperature_max_c=max(temperatures) if temperatures else None,
        power_mean_w=total("power_mean_w"),
        energy_j=energy,
        energy_source=" + ".join(sources) if energy is not None else None,
        per_device=per_device,
    )


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def run_sampler(devices: int, rank: int):
    """An NVML sampler of a run's GPUs 0..devices-1 in its first process
    (``rank`` 0, which sees them all: one sampler per run, not per process),
    else a context doing nothing (its value None)."""
    import contextlib

    on_gpus = rank == 0 and gpus.count() >= devices
    sampler = TelemetrySampler.create(list(range(devices)) if on_gpus else [])
    return sampler if sampler is not None else contextlib.nullcontext()


class SpanWatch:
    """One span of ``sampler`` as a context manager, for code that brackets
    its work with ``with``; ``telemetry`` holds the span's DeviceTelemetry
    once it is left. Without a sampler (None: a CPU run) it watches
    nothing and ``telemetry`` stays None."""

    def __init__(self, sampler: TelemetrySampler | None):
        self.sampler = sampler
        self.telemetry: DeviceTelemetry | None = None
        self._span: Span | None = None

    def __enter__(self) -> SpanWatch:
        if self.sampler is not None:
            self._span = self.sampler.begin_span()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._span is not None:
            self.telemetry = self.sampler.end_span(self._span)
            self._span = None
