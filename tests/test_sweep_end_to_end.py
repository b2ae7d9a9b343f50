"""Sweeps that train: killed and resumed, a run out of memory, the quick matrix."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas
import psutil
import pytest
from pytest import approx

pytestmark = pytest.mark.slow

HUGE_MODEL = Path(__file__).with_name("huge_model.py")


# jax alone, 1 device, the tiny model on synthetic data: a few seconds a run.
SMALL_MATRIX = """
[matrix]
backends = ["jax"]
models = ["tiny"]
data = ["synthetic"]
batch_sizes = [8, 16, 32]

[settings]
epochs = 2
steps_per_epoch = 5
test_samples = 256
"""


def _small_matrix(tmp_path) -> str:
    path = tmp_path / "small.toml"
    path.write_text(SMALL_MATRIX)
    return str(path)


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "keras_profiler", "sweep", *args]


def _sweep(tmp_path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        _command(*args), capture_output=True, text=True, cwd=tmp_path, timeout=timeout
    )


def _records(results: Path) -> list[dict]:
    found = [json.loads(p.read_text()) for p in sorted(results.glob("*/record.json"))]
    return sorted(found, key=lambda r: r["finished_at"])


def _by_batch(found: list[dict], status: str) -> list[int]:
    return sorted(r["config"]["batch_size"] for r in found if r["status"] == status)


def _wait_for(condition, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def _worker(parent: psutil.Process) -> psutil.Process | None:
    """The training worker the sweep is running now, if any."""
    for child in parent.children(recursive=True):
        try:
            if "keras_profiler.worker" in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            pass
    return None


def test_a_sweep_killed_twice_resumes_to_one_ok_record_per_configuration(tmp_path):
    results = tmp_path / "results"
    args = (_small_matrix(tmp_path), "--no-report", "--results-dir", str(results))
    with open(tmp_path / "log.txt", "w") as log:
        sweep = subprocess.Popen(_command(*args), cwd=tmp_path, stdout=log, stderr=log)
        try:
            parent = psutil.Process(sweep.pid)
            _wait_for(lambda: len(_records(results)) == 1)
            # SIGKILL to the child: its run is recorded as failed, the sweep goes on.
            _wait_for(lambda: _worker(parent)).kill()
            _wait_for(lambda: len(_records(results)) == 2 and _worker(parent))
            third = _worker(parent)
            # SIGKILL to the parent, mid-run: the run in flight leaves no record,
            # and its worker does not train on alone.
            sweep.kill()
            sweep.wait()
            third.wait(timeout=30)
        finally:
            if sweep.poll() is None:
                sweep.kill()
    found = _records(results)
    log = (tmp_path / "log.txt").read_text()
    assert (_by_batch(found, "ok"), _by_batch(found, "error")) == ([8], [16]), log
    assert "killed by SIGKILL" in next(r["error"] for r in found if r["status"] == "error")

    resumed = _sweep(tmp_path, *args)
    assert resumed.returncode == 0, resumed.stderr
    assert "3 configuration(s), 2 to run; already recorded on this machine, skipped: 1 ok" in (
        resumed.stderr
    )
    found = _records(results)
    assert _by_batch(found, "ok") == [8, 16, 32]  # exactly one ok record each
    assert _by_batch(found, "error") == [16]  # the failure stays on record
    assert not list(results.glob("*/.record-*"))  # no half-written record


def test_a_run_out_of_memory_is_an_out_of_memory_cell_and_the_sweep_goes_on(tmp_path):
    models = f"{HUGE_MODEL}:build,tiny"
    args = (_small_matrix(tmp_path), "--models", models, "--batch-sizes", "8,16")
    args += ("--results-dir", "results", "--reports-dir", "reports")
    completed = _sweep(tmp_path, *args)
    assert completed.returncode == 1, completed.stderr  # some run failed, all recorded
    assert "4 run(s) done, 2 ok, 2 failed (oom), recorded as such" in completed.stderr
    found = _records(tmp_path / "results")
    huge = [r for r in found if r["config"]["model"].endswith("huge_model.py:build")]
    assert [r["status"] for r in huge] == ["oom", "oom"]
    assert "Out of memory" in huge[0]["error"]
    assert _by_batch(found, "ok") == [8, 16]  # the tiny model's runs, after the failures

    page = (tmp_path / "reports" / "batch-sizes.md").read_text()
    huge_rows = [line for line in page.splitlines() if "huge_model.py" in line]
    assert huge_rows and all(row.count("out of memory") == 2 for row in huge_rows), page

    again = _sweep(tmp_path, *args)  # out of memory is a result: not run again
    assert again.returncode == 0, again.stderr
    assert "0 to run; already recorded on this machine, skipped: 2 ok, 2 oom" in again.stderr


# The quick matrix at one of its two batch sizes: its code paths at half
# its runs (the batch-sizes page of several is the batch-sizes preset's test).
QUICK = ("--quick", "--batch-sizes", "16", "--results-dir", "results", "--reports-dir", "reports")


def test_quick_sweep_end_to_end_then_nothing_to_redo(tmp_path):
    completed = _sweep(tmp_path, *QUICK)
    assert completed.returncode == 0, completed.stderr[-3000:]
    found = _records(tmp_path / "results")
    backends = sorted({r["config"]["backend"] for r in found})
    assert len(found) == 3 * len(backends) and {"jax", "tensorflow", "torch"} <= set(backends)
    assert all(r["status"] == "ok" for r in found)
    assert all(r["summary"]["steady_images_per_second"] > 0 for r in found)
    reports = tmp_path / "reports"
    page = (reports / "tiny.md").read_text()
    assert "CPU (1)" in page and "CPU (2)" in page and "Speedup vs 1 device" in page
    for name in ("README.md", "scaling.md", "models.md", "records.csv", "records.jsonl"):
        assert (reports / name).exists(), name
    # The figures in the reports are the records': every run's rate on its
    # model page, the single-device runs as the scaling page's baselines,
    # every record in the exports.
    rates = {r["run_id"]: r["summary"]["steady_images_per_second"] for r in found}
    assert [i for i, rate in rates.items() if f"{rate:.2f}" not in page] == []
    scaling = (reports / "scaling.md").read_text()
    baselines = [r for r in found if r["config"]["strategy"] == "single"]
    assert len(baselines) == len(backends)
    assert all(f"{r['summary']['steady_images_per_second']:.2f}" in scaling for r in baselines)
    exported = pandas.read_csv(reports / "records.csv")
    assert dict(zip(exported["run_id"], exported["steady_images_per_second"])) == approx(rates)
    assert len((reports / "records.jsonl").read_text().splitlines()) == len(found)
    summary = (reports / "models.md").read_text()
    assert "| tiny " in summary and "2,842" in summary  # the tiny model's parameters
    before = {p.name: p.read_bytes() for p in reports.iterdir()}

    again = _sweep(tmp_path, *QUICK)
    assert again.returncode == 0, again.stderr
    assert f"{len(found)} configuration(s), 0 to run" in again.stderr
    assert len(_records(tmp_path / "results")) == len(found)
    assert {p.name: p.read_bytes() for p in reports.iterdir()} == before
