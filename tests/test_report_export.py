"""The exports: records.csv and records.jsonl round-trip, are byte-identical
for the same records, are rewritten whole and removed when stale."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from test_report import rate, run, spread, write_all

from keras_profiler import report
from keras_profiler.records import RunRecord


def runs():
    return [
        spread("b", "jax", 2, steady=rate(300, 640), images=640),
        spread("a", "jax", 1, steady=rate(100)),
        run("c", "torch", 1, status="oom"),
        run("d", "tensorflow", 1, repeat=2, distortions=True),
    ]


def exported(tmp_path, records, name="reports"):
    write_all(tmp_path / "results", records)
    report.generate(tmp_path / "results", tmp_path / name)
    return tmp_path / name / "records.csv", tmp_path / name / "records.jsonl"


def test_csv_has_one_row_per_record_with_its_figures(tmp_path):
    csv, _ = exported(tmp_path, runs())
    frame = pd.read_csv(csv)

    assert list(frame["run_id"]) == ["a", "b", "c", "d"]
    rates = dict(zip(frame["run_id"], frame["steady_images_per_second"]))
    assert rates["a"] == pytest.approx(100.0) and rates["b"] == pytest.approx(300.0)
    assert pd.isna(rates["c"])
    assert list(frame["status"]) == ["ok", "ok", "oom", "ok"]
    assert list(frame["repeat"]) == [1, 1, 1, 2]
    assert list(frame["data_kind"]) == ["real", "real", "real", "real, distorted"]
    assert "document" not in frame  # the full documents are in the JSONL
    assert frame.columns[0] == "run_id" and "host_peak_rss_mib" in frame


def test_jsonl_holds_every_full_record_by_run_id(tmp_path):
    originals = {each.run_id: each.to_dict() for each in runs()}
    _, jsonl = exported(tmp_path, runs())
    lines = jsonl.read_text().splitlines()

    assert len(lines) == 4
    documents = [json.loads(line) for line in lines]
    assert [d["run_id"] for d in documents] == ["a", "b", "c", "d"]
    for document, line in zip(documents, lines):
        assert RunRecord.from_dict(document).to_dict() == originals[document["run_id"]]
        assert line == json.dumps(document, sort_keys=True)


def test_byte_identical_whatever_the_order_records_were_written(tmp_path):
    first = exported(tmp_path / "one", runs())
    second = exported(tmp_path / "two", list(reversed(runs())))
    again = exported(tmp_path / "one", [], name="reports-again")
    for ours, theirs, rerun in zip(first, second, again):
        assert ours.read_bytes() == theirs.read_bytes() == rerun.read_bytes()


def test_rewritten_whole_and_removed_when_no_record_remains(tmp_path):
    csv, jsonl = exported(tmp_path, runs())
    report.generate(tmp_path / "results", tmp_path / "reports")
    assert len(pd.read_csv(io.StringIO(csv.read_text()))) == 4  # not appended to
    assert len(jsonl.read_text().splitlines()) == 4
    for folder in (tmp_path / "results").iterdir():
        (folder / "record.json").unlink()

    report.generate(tmp_path / "results", tmp_path / "reports")

    assert not csv.exists() and not jsonl.exists()


def test_a_users_own_files_of_those_names_are_left_alone(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "records.csv").write_text("name,score\nme,1\n")
    (reports / "records.jsonl").write_text('{"mine": true}\n')

    report.generate(tmp_path / "results", reports)  # no records at all

    assert (reports / "records.csv").read_text() == "name,score\nme,1\n"
    assert (reports / "records.jsonl").read_text() == '{"mine": true}\n'
