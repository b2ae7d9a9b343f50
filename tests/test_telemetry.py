"""TelemetrySampler against a fake NVML whose readings follow a known schedule."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest

from keras_profiler import gpus
from keras_profiler.telemetry import (
    COUNTER,
    SAMPLED_POWER,
    DeviceTelemetry,
    TelemetrySampler,
)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 100.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeNVML:
    """The slice of pynvml the sampler uses. Device ``i`` draws ``watts[i]``
    constantly, so its energy counter advances ``watts[i]`` J per second of
    ``clock``; ``missing`` holds (index, quantity) pairs that raise NVMLError
    "not supported"; ``flaky`` maps such pairs to how many of their first
    readings raise a transient NVMLError (a timeout)."""

    NVML_CLOCK_SM = 1
    NVML_TEMPERATURE_GPU = 0
    NVML_ERROR_NOT_SUPPORTED = 3
    NVML_ERROR_NO_PERMISSION = 4
    NVML_ERROR_TIMEOUT = 10

    class NVMLError(Exception):
        def __init__(self, value):
            super().__init__(value)
            self.value = value  # as pynvml's NVMLError carries its return code

    def __init__(self, watts, utilization, clock=time.monotonic, missing=(), flaky=None):
        self.watts = list(watts)
        self.utilization = list(utilization)
        self.temperature = [60 + i for i in range(len(watts))]
        self.clock = clock
        self.missing = set(missing)
        self.flaky = dict(flaky or {})
        self.calls: dict[tuple[int, str], int] = {}

    def _check(self, handle, quantity):
        self.calls[handle, quantity] = self.calls.get((handle, quantity), 0) + 1
        if (handle, quantity) in self.missing:
            raise self.NVMLError(self.NVML_ERROR_NOT_SUPPORTED)
        if self.calls[handle, quantity] <= self.flaky.get((handle, quantity), 0):
            raise self.NVMLError(self.NVML_ERROR_TIMEOUT)

    def nvmlDeviceGetHandleByIndex(self, index):
        return index  # the handle is the index itself

    def nvmlDeviceGetUtilizationRates(self, handle):
        self._check(handle, "utilization")
        return SimpleNamespace(gpu=self.utilization[handle], memory=0)

    def nvmlDeviceGetClockInfo(self, handle, clock_type):
        assert clock_type == self.NVML_CLOCK_SM
        self._check(handle, "clock")
        return 1410 + handle

    def nvmlDeviceGetTemperature(self, handle, sensor):
        assert sensor == self.NVML_TEMPERATURE_GPU
        self._check(handle, "temperature")
        return self.temperature[handle]

    def nvmlDeviceGetPowerUsage(self, handle):
        self._check(handle, "power")
        return round(self.watts[handle] * 1000)  # milliwatts

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        self._check(handle, "energy")
        return round(self.watts[handle] * self.clock() * 1000)  # millijoules


def _timed_span(sampler: TelemetrySampler, seconds: float):
    """A real-time span of about ``seconds``, with bounds on its true length."""
    before = time.monotonic()
    span = sampler.begin_span()
    inside = time.monotonic()
    time.sleep(seconds)
    ending = time.monotonic()
    telemetry = sampler.end_span(span)
    return telemetry, ending - inside, time.monotonic() - before


def _stepped_span(sampler: TelemetrySampler, clock: FakeClock, samples: int):
    """A span of ``samples`` samples 0.1 s apart by the hand-moved clock."""
    span = sampler.begin_span()
    for _ in range(samples):
        clock.now += 0.1
        sampler.sample()
    return sampler.end_span(span)


def test_energy_from_the_counter_over_half_a_second():
    fake = FakeNVML(watts=[300.0], utilization=[40])
    with TelemetrySampler(fake, [0], interval_seconds=0.1) as sampler:
        telemetry, shortest, longest = _timed_span(sampler, 0.5)

    assert telemetry.energy_source == COUNTER
    assert telemetry.energy_j == pytest.approx(300 * telemetry.span_seconds, rel=0.02)
    assert 300 * shortest * 0.98 <= telemetry.energy_j <= 300 * longest * 1.02
    assert 3 <= telemetry.samples <= 7  # about 5 at 0.1 s, with slack for a loaded machine
    assert telemetry.power_mean_w == 300
    assert telemetry.utilization_percent == 40
    assert telemetry.sm_clock_mhz == 1410
    assert telemetry.temperature_max_c == 60


def test_without_the_counter_energy_is_integrated_from_sampled_power():
    fake = FakeNVML(watts=[300.0], utilization=[40], missing={(0, "energy")})
    with TelemetrySampler(fake, [0], interval_seconds=0.1) as sampler:
        telemetry, shortest, longest = _timed_span(sampler, 0.5)

    assert telemetry.energy_source == SAMPLED_POWER
    # Constant power: the edges held out to the span's ends make the integral exact;
    # leaving them off would lose up to two intervals (40% of this span).
    assert telemetry.energy_j == pytest.approx(300 * telemetry.span_seconds, rel=0.01)
    assert 300 * shortest * 0.99 <= telemetry.energy_j <= 300 * longest * 1.01
    assert fake.calls[0, "energy"] == 1  # unsupported once, not asked again


def test_trapezoids_and_edges_by_hand():
    clock = FakeClock(0.95)
    fake = FakeNVML(watts=[100.0], utilization=[20], clock=clock, missing={(0, "energy")})
    sampler = TelemetrySampler(fake, [0], clock=clock)
    span = sampler.begin_span()  # at 0.95
    for now, watts, utilization, temperature in [
        (1.0, 100.0, 20, 50),
        (1.1, 200.0, 60, 71),
        (1.3, 200.0, 70, 65),
    ]:
        clock.now = now
        fake.watts[0], fake.utilization[0], fake.temperature[0] = watts, utilization, temperature
        sampler.sample()
    clock.now = 1.4
    telemetry = sampler.end_span(span)

    # 100 W x 0.05 s before the first sample, trapezoids 15 J + 40 J, 200 W x 0.1 s after.
    assert telemetry.energy_j == pytest.approx(5 + 15 + 40 + 20)
    assert telemetry.samples == 3
    assert telemetry.utilization_percent == pytest.approx(50)
    assert telemetry.power_mean_w == pytest.approx(500 / 3, abs=1e-3)
    assert telemetry.temperature_max_c == 71
    assert telemetry.span_seconds == pytest.approx(0.45)


def test_a_short_span_takes_energy_from_the_counter_or_gives_none():
    clock = FakeClock(10.0)
    with_counter = TelemetrySampler(FakeNVML([300.0], [40], clock=clock), [0], clock=clock)
    without = TelemetrySampler(
        FakeNVML([300.0], [40], clock=clock, missing={(0, "energy")}), [0], clock=clock
    )
    spans = [with_counter.begin_span(), without.begin_span()]
    without.sample()  # one sample: not enough to integrate
    clock.now = 10.05
    counted, uncounted = with_counter.end_span(spans[0]), without.end_span(spans[1])

    assert counted.samples == 0
    assert counted.energy_j == pytest.approx(15.0)  # 300 W x 0.05 s
    assert counted.energy_source == COUNTER
    assert counted.power_mean_w is None
    assert uncounted.samples == 1
    assert uncounted.energy_j is None and uncounted.energy_source is None
    assert uncounted.power_mean_w == 300


def test_a_device_without_temperature_still_reports_the_rest():
    clock = FakeClock()
    fake = FakeNVML([250.0], [90], clock=clock, missing={(0, "temperature")})
    sampler = TelemetrySampler(fake, [0], clock=clock)
    telemetry = _stepped_span(sampler, clock, samples=4)

    assert telemetry.temperature_max_c is None
    assert telemetry.per_device[0]["temperature_max_c"] is None
    assert telemetry.utilization_percent == 90
    assert telemetry.sm_clock_mhz == 1410
    assert telemetry.power_mean_w == 250
    assert telemetry.energy_j == pytest.approx(250 * 0.4)
    assert fake.calls[0, "temperature"] == 1  # left out for the run after the first NVMLError
    assert fake.calls[0, "power"] == 4


def test_a_transient_nvml_error_loses_one_reading_not_the_quantity():
    clock = FakeClock()
    flaky = {(0, "temperature"): 2, (0, "utilization"): 1}
    fake = FakeNVML([250.0], [90], clock=clock, flaky=flaky)
    sampler = TelemetrySampler(fake, [0], clock=clock)
    telemetry = _stepped_span(sampler, clock, samples=4)

    assert fake.calls[0, "temperature"] == 4  # read again after each timeout
    assert telemetry.temperature_max_c == 60  # from the two readings that came back
    assert telemetry.utilization_percent == 90
    assert telemetry.per_device[0]["samples"] == 4


def test_two_devices_sum_power_and_energy_and_average_utilization():
    clock = FakeClock()
    fake = FakeNVML(watts=[300.0, 100.0], utilization=[40, 80], clock=clock)
    sampler = TelemetrySampler(fake, [0, 1], clock=clock)
    telemetry = _stepped_span(sampler, clock, samples=5)

    assert telemetry.energy_j == pytest.approx(400 * 0.5)
    assert telemetry.power_mean_w == 400
    assert telemetry.utilization_percent == 60
    assert telemetry.sm_clock_mhz == 1410.5
    assert telemetry.temperature_max_c == 61
    assert telemetry.energy_source == COUNTER
    assert [d["index"] for d in telemetry.per_device] == [0, 1]
    assert [d["energy_j"] for d in telemetry.per_device] == pytest.approx([150, 50])
    assert [d["utilization_percent"] for d in telemetry.per_device] == [40, 80]


def test_devices_with_different_energy_sources_say_so():
    clock = FakeClock()
    fake = FakeNVML(
        watts=[300.0, 100.0], utilization=[40, 80], clock=clock, missing={(1, "energy")}
    )
    sampler = TelemetrySampler(fake, [0, 1], clock=clock)
    telemetry = _stepped_span(sampler, clock, samples=3)

    assert telemetry.energy_source == f"{COUNTER} + {SAMPLED_POWER}"
    assert telemetry.energy_j == pytest.approx(400 * 0.3)


def test_a_partial_sum_is_not_reported():
    clock = FakeClock()
    fake = FakeNVML([300.0, 100.0], [40, 80], clock=clock, missing={(1, "energy"), (1, "power")})
    sampler = TelemetrySampler(fake, [0, 1], clock=clock)
    telemetry = _stepped_span(sampler, clock, samples=3)

    assert telemetry.power_mean_w is None and telemetry.energy_j is None
    assert telemetry.per_device[0]["energy_j"] == pytest.approx(300 * 0.3)
    assert telemetry.utilization_percent == 60


def test_create_answers_none_without_nvml_or_devices(monkeypatch):
    fake = FakeNVML([300.0], [40])
    monkeypatch.setattr(gpus, "_nvml", lambda: fake)
    assert TelemetrySampler.create([]) is None
    assert isinstance(TelemetrySampler.create([0], interval_seconds=0.5), TelemetrySampler)
    monkeypatch.setattr(gpus, "_nvml", lambda: None)
    assert TelemetrySampler.create([0]) is None


def test_stop_returns_at_once_and_the_thread_does_not_hold_the_process():
    sampler = TelemetrySampler(FakeNVML([300.0], [40]), [0], interval_seconds=5.0)
    sampler.start()
    thread = sampler._thread
    try:
        assert thread.daemon and thread.is_alive()
        time.sleep(0.05)  # let it reach the wait between samples
    finally:
        began = time.monotonic()
        sampler.stop()
    assert time.monotonic() - began < 0.5
    assert not thread.is_alive()


def test_a_sample_read_before_a_span_began_stays_out_of_it():
    clock = FakeClock(1.0)
    fake = FakeNVML([300.0], [40], clock=clock)
    sampler = TelemetrySampler(fake, [0], clock=clock)
    spans = []
    read_power = fake.nvmlDeviceGetPowerUsage

    def power_while_a_span_begins(handle):
        clock.now = 1.05
        spans.append(sampler.begin_span())
        return read_power(handle)

    fake.nvmlDeviceGetPowerUsage = power_while_a_span_begins
    sampler.sample()  # timestamped 1.0, handed to the spans after one began at 1.05
    clock.now = 1.1
    telemetry = sampler.end_span(spans[0])

    assert telemetry.samples == 0 and telemetry.utilization_percent is None
    assert telemetry.energy_j == pytest.approx(300 * 0.05)


def test_a_span_ends_once():
    sampler = TelemetrySampler(FakeNVML([300.0], [40]), [0])
    span = sampler.begin_span()
    sampler.end_span(span)
    with pytest.raises(ValueError, match="already ended"):
        sampler.end_span(span)


def test_an_unexpected_error_stops_the_thread_and_is_kept():
    fake = FakeNVML([300.0], [40])
    fake.nvmlDeviceGetPowerUsage = lambda handle: 1 / 0
    with TelemetrySampler(fake, [0]) as sampler:
        sampler._thread.join(timeout=2)
        assert not sampler._thread.is_alive()
    assert isinstance(sampler.error, ZeroDivisionError)


def test_the_interval_must_be_positive():
    with pytest.raises(ValueError, match="interval_seconds"):
        TelemetrySampler(FakeNVML([300.0], [40]), [0], interval_seconds=0)


def test_telemetry_survives_json():
    clock = FakeClock()
    sampler = TelemetrySampler(FakeNVML([300.0, 100.0], [40, 80], clock=clock), [0, 1], clock=clock)
    telemetry = _stepped_span(sampler, clock, samples=2)

    restored = DeviceTelemetry.from_dict(json.loads(json.dumps(telemetry.to_dict())))
    assert restored == telemetry
    assert restored.energy_j == pytest.approx(80)


def test_the_worker_samples_the_runs_gpus_from_its_first_process_only(monkeypatch):
    # One sampler per run, in rank 0, watching GPUs 0..N-1 (the launcher
    # makes CUDA's order NVML's); none in other ranks, none without enough GPUs.
    import contextlib

    from keras_profiler.telemetry import run_sampler

    fake = FakeNVML(watts=[300.0, 100.0, 50.0], utilization=[40, 80, 10])
    monkeypatch.setattr(gpus, "_nvml", lambda: fake)
    monkeypatch.setattr(gpus, "count", lambda: 3)

    sampler = run_sampler(devices=2, rank=0)
    assert isinstance(sampler, TelemetrySampler)
    assert sorted(sampler._handles) == [0, 1]
    assert isinstance(run_sampler(devices=2, rank=1), contextlib.nullcontext)
    monkeypatch.setattr(gpus, "count", lambda: 1)
    assert isinstance(run_sampler(devices=2, rank=0), contextlib.nullcontext)


def test_a_span_watch_gives_the_energy_of_what_it_brackets():
    # 300 W and 100 W for the 2 s inside the with: 800 J by the counters;
    # nothing before or after the span counts.
    from keras_profiler.telemetry import SpanWatch

    clock = FakeClock()
    sampler = TelemetrySampler(FakeNVML([300.0, 100.0], [40, 80], clock=clock), [0, 1], clock=clock)
    clock.now += 5  # before the span: not counted
    watch = SpanWatch(sampler)
    with watch:
        for _ in range(2):
            sampler.sample()
            clock.now += 1
    clock.now += 7  # after it: not counted either
    assert watch.telemetry.energy_j == pytest.approx(800)
    assert watch.telemetry.energy_source == COUNTER
    assert watch.telemetry.span_seconds == pytest.approx(2)
    unwatched = SpanWatch(None)
    with unwatched:
        pass
    assert unwatched.telemetry is None
