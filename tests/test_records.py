"""Records round-trip, are written atomically, and bad files are skipped by name."""

from __future__ import annotations

import json
import os

import pytest

from keras_profiler import records
from keras_profiler.records import EpochMetrics, MemoryFigures, RunRecord, RunSummary


def epoch(number, seconds, images=320, rss=100.0, device=None):
    return EpochMetrics(
        epoch=number,
        seconds=seconds,
        images=images,
        loss=1.0 / number,
        accuracy=0.5,
        test_loss=1.1,
        test_accuracy=0.4,
        test_seconds=0.5,
        memory=MemoryFigures(device_peak_mib=device, host_peak_rss_mib=rss),
    )


def record(run_id="r1", status="ok", epochs=None):
    epochs = epochs if epochs is not None else [epoch(1, 4.0), epoch(2, 1.0), epoch(3, 3.0)]
    return RunRecord(
        run_id=run_id,
        status=status,
        config={"backend": "jax", "model": "tiny"},
        started_at="2026-01-01T00:00:00+00:00",
        finished_at="2026-01-01T00:01:00+00:00",
        wall_seconds=60.0,
        epochs=epochs,
        summary=RunSummary.from_epochs(epochs),
    )


def test_summary_keeps_the_first_epoch_apart():
    summary = record().summary
    assert summary.first_epoch_seconds == 4.0
    assert summary.steady_epoch_seconds == 2.0  # mean of 1.0 and 3.0
    assert summary.steady_images_per_second == pytest.approx(640 / 4.0)
    assert summary.first_epoch_images_per_second == pytest.approx(80.0)
    assert summary.training_seconds == 8.0
    assert summary.test_seconds == 1.5


def test_single_epoch_has_no_steady_state():
    summary = RunSummary.from_epochs([epoch(1, 2.0)])
    assert summary.steady_epoch_seconds is None and summary.steady_images_per_second is None


def test_unknown_image_count_gives_no_rate():
    summary = RunSummary.from_epochs([epoch(1, 2.0, images=None), epoch(2, 1.0, images=None)])
    assert summary.steady_images_per_second is None


def test_peak_memory_is_the_largest_reading_per_device():
    epochs = [epoch(1, 1.0, rss=10, device=[5.0, 9.0]), epoch(2, 1.0, rss=30, device=[7.0, 8.0])]
    peak = RunSummary.from_epochs(epochs).peak_memory
    assert peak.device_peak_mib == [7.0, 9.0]
    assert peak.device_peak_total_mib == 16.0
    assert peak.host_peak_rss_mib == 30


def test_write_then_load_round_trips(tmp_path):
    original = record()
    path = records.write(original, tmp_path)
    assert path == tmp_path / "r1" / "record.json"
    loaded, problems = records.load_all(tmp_path)
    assert problems == []
    assert loaded[0].to_dict() == original.to_dict()
    assert [p.name for p in (tmp_path / "r1").iterdir()] == ["record.json"]


def test_a_failed_write_leaves_the_old_record_whole(tmp_path, monkeypatch):
    records.write(record(), tmp_path)
    before = (tmp_path / "r1" / "record.json").read_bytes()

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        records.write(record(status="error"), tmp_path)
    assert (tmp_path / "r1" / "record.json").read_bytes() == before
    assert [p.name for p in (tmp_path / "r1").iterdir()] == ["record.json"]


def test_corrupt_foreign_and_old_files_are_named_and_left_alone(tmp_path):
    records.write(record(), tmp_path)
    bad = {"torn": '{"run_id": ', "foreign": "[1, 2, 3]"}
    for name, text in bad.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "record.json").write_text(text)
    old = record("old").to_dict() | {"schema_version": 0}
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "record.json").write_text(json.dumps(old))
    (tmp_path / "notes.txt").write_text("my notes")
    (tmp_path / "empty-run").mkdir()
    (tmp_path / ".hidden").write_text("editor state")

    loaded, problems = records.load_all(tmp_path)

    assert [r.run_id for r in loaded] == ["r1"]
    assert len(problems) == 5, problems
    assert any("old" in p and "schema version 0" in p for p in problems)
    assert f"{tmp_path / 'notes.txt'}: skipped: not a run folder with a record.json" in problems
    assert f"{tmp_path / 'empty-run'}: skipped: a folder without a record.json" in problems
    assert (tmp_path / "torn" / "record.json").read_text() == bad["torn"]
    assert (tmp_path / "notes.txt").read_text() == "my notes"


def test_version_1_records_still_read(tmp_path):
    old = record("v1").to_dict()
    old["schema_version"] = 1
    del old["distribution"]
    for each in old["epochs"] + [old["summary"]]:
        memory = each.get("memory") or each.get("peak_memory")
        del memory["host_peak_rss_per_process_mib"]
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "record.json").write_text(json.dumps(old))

    loaded, problems = records.load_all(tmp_path)

    assert problems == []
    assert loaded[0].distribution == {} and loaded[0].summary.epochs == 3


def test_memory_of_several_processes_is_joined_per_device_and_summed():
    ranks = [
        MemoryFigures(device_peak_mib=[100.0], nvml_process_mib=120.0, host_peak_rss_mib=900.0),
        MemoryFigures(device_peak_mib=[110.0], nvml_process_mib=130.0, host_peak_rss_mib=950.5),
    ]

    combined = MemoryFigures.combine_processes(ranks)

    assert combined.device_peak_mib == [100.0, 110.0]
    assert combined.device_peak_total_mib == 210.0
    assert combined.nvml_process_mib == 250.0
    assert combined.host_peak_rss_mib == 1850.5
    assert combined.host_peak_rss_per_process_mib == [900.0, 950.5]
    # A figure missing in one process is absent, not a partial sum.
    ranks[1].nvml_process_mib = None
    assert MemoryFigures.combine_processes(ranks).nvml_process_mib is None
