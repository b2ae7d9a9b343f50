"""Reports: the reference layout, failures shown as such, byte-identical output."""

from __future__ import annotations

import shutil

from test_records import epoch, record

from keras_profiler import records, report


def run(run_id, backend, devices, status="ok", finished="2026-01-01T00:01:00+00:00", **config):
    epochs = [] if status != "ok" else [epoch(1, 4.0), epoch(2, 2.0, rss=512.0)]
    result = record(run_id, status, epochs)
    result.finished_at = finished
    result.config = {
        "backend": backend,
        "model": "resnet50",
        "dataset": "cifar10",
        "devices": devices,
        "batch_size": 32,
        "epochs": 2,
        "steps_per_epoch": None,
        "train_samples": None,
        "test_samples": None,
        "seed": 1337,
        "precision": "float32",
        "optimizer": "sgd",
        "learning_rate": 0.01,
        "image_size": None,
        **config,
    }
    result.model = {"name": "resnet50", "parameters": 23608202, "image_size": 32}
    result.environment = {
        "keras": "3.15.1",
        "libraries": {backend: "1.0"},
        "cpu_model": "Test CPU",
        "cpu_cores_logical": 2,
    }
    result.devices = [{"kind": "cpu", "name": "Test CPU", "index": 0}]
    if status == "oom":
        result.error = "Traceback...\nResourceExhaustedError: OOM when allocating tensor"
    return result


def write_all(folder, runs):
    for each in runs:
        records.write(each, folder)


def test_table_has_the_reference_rows_and_a_column_per_device_count(tmp_path):
    write_all(tmp_path / "results", [run("a", "jax", 1), run("b", "jax", 2, status="oom")])
    report.generate(tmp_path / "results", tmp_path / "reports")
    page = (tmp_path / "reports" / "resnet50.md").read_text()

    lines = [line for line in page.splitlines() if line.startswith("|")]
    assert "CPU (1)" in lines[0] and "CPU (2)" in lines[0]
    body = {line.split("|")[1].strip(): line.split("|")[2:4] for line in lines[2:]}
    assert body["Training time (secs)"][0].strip() == "6.00"
    assert body["First epoch, compile and warm-up (secs)"][0].strip() == "4.00"
    assert body["Average time per epoch, steady state (secs)"][0].strip() == "2.00"
    assert body["Images processed per sec, steady state"][0].strip() == "160.00"
    assert body["Training accuracy"][0].strip() == "0.5000"
    assert body["Test accuracy"][0].strip() == "0.4000"
    assert body["Maximum memory consumption (MiB, host process peak RSS)"][0].strip() == "512"
    assert all(cell.strip() == "out of memory" for _, cell in body.values())
    assert "CPU (2): out of memory: `ResourceExhaustedError: OOM when allocating tensor`" in page
    assert "* `Hardware` - Test CPU (2 cores)" in page


def test_latest_record_of_a_cell_wins(tmp_path):
    write_all(
        tmp_path / "results",
        [
            run("old", "jax", 1, status="oom", finished="2026-01-01T00:00:00+00:00"),
            run("new", "jax", 1, finished="2026-01-02T00:00:00+00:00"),
        ],
    )
    report.generate(tmp_path / "results", tmp_path / "reports")
    page = (tmp_path / "reports" / "resnet50.md").read_text()
    assert "out of memory" not in page and "Records: `new`" in page


def test_different_settings_get_different_tables(tmp_path):
    write_all(
        tmp_path / "results", [run("a", "jax", 1), run("b", "jax", 1, precision="mixed_bfloat16")]
    )
    report.generate(tmp_path / "results", tmp_path / "reports")
    page = (tmp_path / "reports" / "resnet50.md").read_text()
    assert page.count("## Setup") == 2


def test_synthetic_accuracy_is_marked_meaningless(tmp_path):
    write_all(tmp_path / "results", [run("a", "torch", 1, dataset="synthetic")])
    report.generate(tmp_path / "results", tmp_path / "reports")
    page = (tmp_path / "reports" / "resnet50.md").read_text()
    assert "accuracy means nothing" in page
    assert "0.4000" not in page and "n/a (synthetic)" in page


def test_same_records_give_byte_identical_reports(tmp_path):
    runs = [run("a", "jax", 1), run("b", "torch", 1), run("c", "jax", 2, status="timeout")]
    write_all(tmp_path / "results", runs)
    report.generate(tmp_path / "results", tmp_path / "one")
    copy = tmp_path / "copied-results"
    shutil.copytree(tmp_path / "results", copy)
    report.generate(copy, tmp_path / "two")
    for page in (tmp_path / "one").iterdir():
        assert page.read_bytes() == (tmp_path / "two" / page.name).read_bytes()


def test_corrupt_files_are_listed_and_stale_pages_removed(tmp_path):
    results, reports = tmp_path / "results", tmp_path / "reports"
    write_all(results, [run("a", "jax", 1)])
    report.generate(results, reports)
    (reports / "mine.md").write_text("my notes")
    shutil.rmtree(results / "a")
    (results / "junk").mkdir()
    (results / "junk" / "record.json").write_text("{")

    written, problems = report.generate(results, reports)

    assert not (reports / "resnet50.md").exists()  # generated, no longer backed
    assert (reports / "mine.md").read_text() == "my notes"  # not ours: untouched
    assert len(problems) == 1 and "junk" in problems[0]
    assert "junk" in (reports / "README.md").read_text()
    assert (results / "junk" / "record.json").read_text() == "{"


def test_report_command_regenerates_from_records_alone(tmp_path, capsys):
    from keras_profiler import cli

    write_all(tmp_path / "results", [run("a", "tensorflow", 1)])
    code = cli.main(
        [
            "report",
            "--results-dir",
            str(tmp_path / "results"),
            "--reports-dir",
            str(tmp_path / "reports"),
        ]
    )
    assert code == 0
    assert "### tensorflow" in (tmp_path / "reports" / "resnet50.md").read_text()
    assert "| resnet50 | tensorflow | 1 |" in (tmp_path / "reports" / "README.md").read_text()
