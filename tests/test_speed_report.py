"""speed.md and the record fields behind it: the interval speed with its 95%
interval, GPU telemetry, energy per epoch, images per joule and MFU."""

from __future__ import annotations

import dataclasses
import json

import pytest
from test_report import run, write_all

from keras_profiler import records, report
from keras_profiler.records import RunRecord, RunSummary

RESNET50_MACS = 3_857_973_248  # at 224x224 (test_model_stats checks it)
H100 = "NVIDIA H100 80GB HBM3"


def _telemetry(energy_j, power_w=600.0, utilization=97.0):
    return {
        "utilization_percent": utilization,
        "sm_clock_mhz": 1755.0,
        "temperature_max_c": 61.0,
        "power_mean_w": power_w,
        "energy_j": energy_j,
        "samples": 20,
        "energy_source": "nvml energy counter",
        "per_device": [],
    }


def gpu_run(run_id="gpu", precision="mixed_bfloat16", peak=None, energy=(None, 500.0, 300.0)):
    """A ResNet-50 run on one H100: 3 epochs of 2,700 images, epochs 2 and 3
    in 1.0 s each; each epoch timed in 10-step intervals of batch 270."""
    result = run(run_id, "jax", 1, precision=precision, sync_every=10, peak_tflops=peak)
    second = result.epochs[1]
    result.epochs.append(dataclasses.replace(second, epoch=3))
    for each, joules in zip(result.epochs, energy):
        each.telemetry = _telemetry(joules) if joules is not None else None
        each.images, each.steps = 2700, 20
        each.seconds = 1.0 if each.epoch > 1 else 5.0
        # Two 10-step intervals an epoch: a steady one, then the epoch's end.
        each.interval_seconds, each.interval_steps = [0.4, 0.6], [10, 10]
    result.config["batch_size"] = 270
    result.devices = [{"kind": "gpu", "name": H100, "index": 0}]
    result.model = {"name": "resnet50", "image_size": 224, "forward_macs_per_image": RESNET50_MACS}
    result.summary = RunSummary.from_epochs(result.epochs, 10, 270)
    return result


def test_summary_has_interval_speed_energy_and_round_trips():
    summary = gpu_run().summary
    # Steady intervals: epoch 1's first is warm-up, every epoch's last is its
    # end: epochs 2 and 3 give one each, 10 x 270 images in 0.4 s.
    assert summary.interval_speed.intervals == 2
    assert summary.interval_speed.images_per_second_mean == pytest.approx(6750.0)
    assert summary.interval_speed.ci95_half_width == 0.0
    assert summary.steady_energy_per_epoch_j == pytest.approx(400.0)  # (500 + 300) / 2
    assert summary.steady_images_per_joule == pytest.approx(5400 / 800)
    again = RunRecord.from_dict(json.loads(json.dumps(gpu_run().to_dict())))
    assert again.summary == summary
    assert again.epochs[1].telemetry["energy_j"] == 500.0


def test_energy_is_absent_when_a_steady_epoch_lacks_it():
    summary = gpu_run(energy=(100.0, 500.0, None)).summary
    assert summary.steady_energy_per_epoch_j is None
    assert summary.steady_images_per_joule is None


def test_speed_page_shows_mfu_against_the_h100_bf16_peak(tmp_path):
    write_all(tmp_path / "results", [gpu_run()])
    report.generate(tmp_path / "results", tmp_path / "reports")
    page = (tmp_path / "reports" / "speed.md").read_text()
    row = next(line for line in page.splitlines() if line.startswith("| jax"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    # Steady: 5,400 images in 2 s; MFU = 6 x MACs x 2,700 / 989.4e12.
    mfu = 6 * RESNET50_MACS * 2700 / 989.4e12
    assert cells[9] == "2700.0"
    assert cells[10] == "6750.0 +- 0.0"
    assert cells[13] == "2 x 10"
    assert cells[15:21] == ["97", "1755", "600", "61", "400.0", "6.75"]
    assert cells[21] == f"{100 * mfu:.1f}% (989.4, bf16 dense tensor)"
    assert f"{100 * mfu:.1f}" == "6.3"


def test_peak_override_and_float32_tf32_peak(tmp_path):
    runs = [
        gpu_run("a", precision="float32"),
        gpu_run("b", precision="float32", peak=100.0),
    ]
    write_all(tmp_path / "results", runs)
    report.generate(tmp_path / "results", tmp_path / "reports")
    page = (tmp_path / "reports" / "speed.md").read_text()
    mfu_tf32 = 6 * RESNET50_MACS * 2700 / 494.7e12
    mfu_given = 6 * RESNET50_MACS * 2700 / 100e12
    assert f"{100 * mfu_tf32:.1f}% (494.7, tf32 dense tensor)" in page
    assert f"{100 * mfu_given:.1f}% (100, --peak-tflops)" in page


def test_cpu_runs_have_no_mfu_and_old_records_no_speed_page(tmp_path):
    cpu = gpu_run("cpu")
    cpu.devices = [{"kind": "cpu", "name": "Test CPU", "index": 0}]
    old = run("old", "torch", 1)  # no intervals: a version 2 record
    write_all(tmp_path / "results", [old])
    report.generate(tmp_path / "results", tmp_path / "reports")
    assert not (tmp_path / "reports" / "speed.md").exists()
    write_all(tmp_path / "results", [cpu])
    report.generate(tmp_path / "results", tmp_path / "reports")
    page = (tmp_path / "reports" / "speed.md").read_text()
    assert "dense tensor" not in page and "| jax | resnet50 |" in page


def test_version_2_records_read_without_the_new_fields(tmp_path):
    document = run("v2", "jax", 1).to_dict()
    document["schema_version"] = 2
    for key in ("timeline",):
        document.pop(key)
    for each in document["epochs"]:
        for key in ("steps", "interval_seconds", "interval_steps", "telemetry"):
            each.pop(key)
    for key in ("interval_speed", "steady_energy_per_epoch_j", "steady_images_per_joule"):
        document["summary"].pop(key)
    document["summary"].pop("stopped_when_stable")
    read = RunRecord.from_dict(document)
    assert read.summary.interval_speed is None and read.timeline == {}
    assert records.SCHEMA_VERSION >= 3  # the version that added these fields, or later
