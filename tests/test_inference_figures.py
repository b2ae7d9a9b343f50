"""Inference figures: percentiles on a hand-made latency list, the warm-up
rule, and profile_predict on a user's model computing what predict does."""

from __future__ import annotations

import numpy as np
import pytest

from keras_profiler.inference import timing
from keras_profiler.inference.latency import LatencyFigures


def test_percentiles_throughput_and_spread_by_hand():
    # 1..10 ms: numpy's linear percentiles of 1..10 are 1 + (n - 1) q.
    latencies = [i / 1000 for i in range(1, 11)]
    figures = LatencyFigures.from_latencies(4, latencies, warmup_s=1.5, warmup_batches=10)
    assert figures.p50_s == pytest.approx(0.0055)
    assert figures.p90_s == pytest.approx(0.0091)
    assert figures.p95_s == pytest.approx(0.00955)
    assert figures.p99_s == pytest.approx(0.00991)
    assert figures.mean_s == pytest.approx(0.0055)
    assert figures.std_s == pytest.approx(0.0030276503540974917)  # sample stdev of 1..10 ms
    # 10 batches of 4 in 55 ms.
    assert figures.samples_per_second == pytest.approx(40 / 0.055)
    assert (figures.warmup_s, figures.warmup_batches, figures.batches) == (1.5, 10, 10)


def test_warm_up_lasts_until_the_latency_settles(monkeypatch):
    # Slow first batches (compiling), then steady: warm-up stops once two
    # windows of 5 agree within 5%, and never before 10 batches.
    costs = iter([1.0] * 8 + [0.01] * 1000)
    clock = [0.0]

    def run_batch():
        clock[0] += next(costs)

    monkeypatch.setattr(timing.time, "perf_counter", lambda: clock[0])
    figures = timing.time_batches(run_batch, 1, iterations=20)
    assert figures.warmup_batches == 18  # 8 slow, then 2 windows of steady ones
    assert figures.batches == 20 and figures.p50_s == pytest.approx(0.01)


class OtherProcess:
    """A second serving process, as a Lockstep sees it: settled only from
    its 15th warm-up decision on, and 4 ms slower on every second measured
    batch."""

    def __init__(self):
        self.barriers = self.decisions = 0

    def barrier(self):
        self.barriers += 1

    def agree(self, decision):
        self.decisions += 1
        return decision and self.decisions >= 15

    def gather(self, latencies):
        theirs = [s + 0.004 if i % 2 else s for i, s in enumerate(latencies)]
        return [latencies, theirs]


def test_processes_in_lockstep_time_together_and_report_the_slowest(monkeypatch):
    from keras_profiler.inference.lockstep import Lockstep

    clock, other = [0.0], OtherProcess()

    def run_batch():
        clock[0] += 0.010

    monkeypatch.setattr(timing.time, "perf_counter", lambda: clock[0])
    lockstep = Lockstep(2, other.barrier, other.agree, other.gather)
    figures = timing.time_batches(run_batch, 8, iterations=20, lockstep=lockstep)
    # Settled here after 10 batches, but warm-up waits for the other: 14.
    assert figures.warmup_batches == 14 and figures.batches == 20
    assert other.barriers == 14 + 20  # every timed batch started together
    # 10 batches of 10 ms and 10 of 14 ms: each batch is the slower's.
    assert figures.p50_s == pytest.approx(0.012) and figures.p99_s == pytest.approx(0.014)
    assert figures.samples_per_second == pytest.approx(8 * 20 / (10 * 0.010 + 10 * 0.014))


def test_processes_that_timed_different_batches_are_an_error():
    from keras_profiler.inference.lockstep import Lockstep

    lockstep = Lockstep(2, lambda: None, bool, lambda latencies: [latencies, latencies[:-1]])
    with pytest.raises(RuntimeError, match=r"different numbers of batches: \[3, 2\]"):
        lockstep.slowest([0.1, 0.2, 0.3])


@pytest.mark.slow
def test_profile_predict_computes_the_model(tmp_path):
    import keras

    import keras_profiler

    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.BatchNormalization(), keras.layers.Dropout(0.5),
                              keras.layers.Dense(3)])  # fmt: skip
    x = np.random.default_rng(0).normal(size=(40, 8)).astype("float32")
    profile = keras_profiler.profile_predict(model, x, batch_sizes=(1, 4), iterations=12)
    assert [r.batch_size for r in profile.rows] == [1, 4]
    assert all(r.batches == 12 and r.p50_s > 0 for r in profile.rows)
    assert profile.single_stream_p90_s == profile.rows[0].p90_s
    assert profile.offline_samples_per_second == max(r.samples_per_second for r in profile.rows)
    assert profile.to_markdown().splitlines()[2].startswith("| 1 | ")
    # What it timed is the model in inference mode: predict's own outputs.
    np.testing.assert_allclose(model.predict_on_batch(x[:4]), model.predict(x[:4], verbose=0))


def test_a_served_models_page_links_its_inference_section(tmp_path):
    from test_report import run as record_of

    from keras_profiler import records, report

    trained = record_of("t1", "jax", 1)
    served = record_of("i1", "jax", 1, mode="infer", batch_size=1)
    served.epochs = []
    served.inference = {"p50_s": 0.002, "p90_s": 0.003, "samples_per_second": 500.0}
    for each in (trained, served):
        records.write(each, tmp_path / "results")
    report.generate(tmp_path / "results", tmp_path / "reports")
    page = (tmp_path / "reports" / "resnet50.md").read_text()
    assert page.endswith(
        "## Inference\n\nForward-only latency and throughput of this model: "
        "[inference.md](inference.md), *resnet50 on Test CPU: cifar10*.\n"
    )
    served_page = (tmp_path / "reports" / "inference.md").read_text()
    assert "| jax | float32 | 1 | 2.00 / 3.00 |" in served_page


def test_several_devices_are_their_own_row_and_no_single_stream(tmp_path):
    from test_report import run as record_of

    from keras_profiler import records, report

    for run_id, devices, p50, rate in (("i1", 1, 0.002, 500.0), ("i2", 2, 0.003, 1333.3)):
        served = record_of(run_id, "jax", devices, mode="infer", batch_size=1)
        served.epochs = []
        served.inference = {"p50_s": p50, "p90_s": p50 * 1.5, "samples_per_second": rate}
        records.write(served, tmp_path / "results")
    report.generate(tmp_path / "results", tmp_path / "reports")
    page = (tmp_path / "reports" / "inference.md").read_text()
    assert "| jax | float32 | 1 | 2.00 / 3.00 |" in page
    assert "| jax | float32 | 2 | 3.00 / 4.50 |" in page
    assert "| jax | float32 | 1 | 3.00 | 500.0 (1) |" in page
    assert "| jax | float32 | 2 | n/a: 2 devices | 1333.3 (1) |" in page


def test_the_telemetry_span_holds_the_measured_batches_alone(monkeypatch):
    # 10 warm-up batches (steady from the first) and 20 measured: the span
    # (the GPUs' energy) opens after warm-up and closes after the last.
    inside, calls = [], []

    class Span:
        def __enter__(self):
            inside.append(len(calls))

        def __exit__(self, *exc):
            inside.append(len(calls))

    figures = timing.time_batches(lambda: calls.append(1), 1, iterations=20, around_measured=Span())
    assert inside == [figures.warmup_batches, figures.warmup_batches + 20]


def test_energy_per_sample_from_the_watched_span():
    from keras_profiler.inference.run import energy_figures
    from keras_profiler.telemetry import DeviceTelemetry

    # 80 J over 100 batches of 4: 0.2 J a sample, 5 samples a joule.
    watched = DeviceTelemetry(span_seconds=2.0, samples=20, power_mean_w=40.0, energy_j=80.0)
    figures = energy_figures(watched, samples=400)
    assert figures["energy_per_sample_j"] == pytest.approx(0.2)
    assert figures["samples_per_joule"] == pytest.approx(5.0)
    assert figures["telemetry"]["power_mean_w"] == 40.0
    assert energy_figures(None, samples=400) == {
        "telemetry": None, "energy_per_sample_j": None, "samples_per_joule": None,
    }  # fmt: skip


def test_gpu_energy_per_sample_is_its_own_table(tmp_path):
    from test_report import run as record_of

    from keras_profiler import records, report

    for run_id, batch, energy in (("i1", 1, 0.0125), ("i2", 8, None)):
        served = record_of(run_id, "jax", 1, mode="infer", batch_size=batch)
        served.epochs = []
        served.inference = {"p50_s": 0.002, "p90_s": 0.003, "samples_per_second": 500.0,
                            "energy_per_sample_j": energy,
                            "telemetry": {"power_mean_w": 312.4} if energy else None}  # fmt: skip
        records.write(served, tmp_path / "results")
    report.generate(tmp_path / "results", tmp_path / "reports")
    page = (tmp_path / "reports" / "inference.md").read_text()
    assert "GPU energy per sample (mJ) / mean power" in page
    assert "| jax | float32 | 1 | 12.50 / 312 W | n/a |" in page


def test_an_inference_run_on_a_gpu_records_the_energy_of_its_measured_batches(monkeypatch):
    # The run's own path, in this process, with NVML a stand-in drawing 250 W
    # on one "GPU" (the model still computes on the CPU): its energy counter
    # advances 250 J a second, so the record's energy is 250 W x the span,
    # shared over the measured samples (12 batches of 2).
    import keras
    from test_telemetry import FakeNVML

    from keras_profiler import backends, gpus
    from keras_profiler.config import RunConfig
    from keras_profiler.inference import run
    from keras_profiler.training.data import load_data
    from keras_profiler.training.model_builder import build_model

    config = RunConfig(backend="jax", model="tiny", dataset="synthetic", mode="infer",
                       batch_size=2, infer_iterations=12, test_samples=8)  # fmt: skip
    adapter = backends.get("jax")
    data = load_data(config)
    model, _ = build_model(keras, config, adapter, data)
    monkeypatch.setattr(gpus, "_nvml", lambda: FakeNVML(watts=[250.0], utilization=[90]))
    monkeypatch.setattr(gpus, "count", lambda: 1)
    figures = run.measure(keras, config, adapter, model, data)
    watched = figures["telemetry"]
    assert watched["energy_source"] == "nvml energy counter"
    assert watched["energy_j"] == pytest.approx(250.0 * watched["span_seconds"], rel=0.05)
    # The span is the measured batches (their latencies add up to 12 x the
    # mean), not the 10 or more warm-up batches before them as well.
    measured_s = 12 * figures["mean_s"]
    assert measured_s <= watched["span_seconds"] <= 1.25 * measured_s + 0.002
    assert figures["energy_per_sample_j"] == pytest.approx(watched["energy_j"] / 24)
    assert figures["samples_per_joule"] == pytest.approx(24 / watched["energy_j"])
