"""bench/gpu_suite.py, the GPU lease's one script: the budget skips what does
not fit and keeps what was measured, the loops stage runs every measurement
on one model, and the report's figures are the records' own."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from test_report import tables
from test_speed_report import gpu_run

from keras_profiler.records import RunSummary

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import gpu_suite  # noqa: E402
import gpu_suite_report  # noqa: E402


def test_the_budget_skips_what_does_not_fit_and_keeps_every_result(tmp_path, monkeypatch):
    clock = [1000.0]  # each fake measurement takes 30 s of a 100 s budget

    def measure(stage):
        def fake(suite, backend, precision, left):
            clock[0] += 30.0
            failed = {"error": f"{stage} {backend} failed"} if backend == "torch" else {}
            return {"ran": left, **failed}

        return fake

    monkeypatch.setattr(gpu_suite.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(gpu_suite, "measure_tool", measure("tool"))
    monkeypatch.setattr(gpu_suite, "measure_loops", measure("loops"))
    suite = gpu_suite.Suite(precisions=("float32",), budget_seconds=100.0, measurement_seconds=80)
    assert gpu_suite.run(suite, tmp_path) == 1  # a measurement failed
    results = json.loads((tmp_path / "suite.json").read_text())["results"]
    # Every tool stage before any loops stage, each given what is left of the
    # budget up to its own cap; 60 s at least to start one.
    assert results == {
        "tool jax float32": {"ran": 80.0, "wall": 30.0},
        "tool torch float32": {"ran": 70.0, "wall": 30.0} | {"error": "tool torch failed"},
        "loops jax float32": {"skipped": "40 s of the budget left"},
        "loops torch float32": {"skipped": "40 s of the budget left"},
    }
    assert not list(tmp_path.glob("*.tmp"))


def test_unknown_stages_and_bad_settings_are_refused(capsys):
    with pytest.raises(SystemExit):
        gpu_suite.parse(["run", "--out", "x", "--stages", "tool,warmup"])
    assert "--stages takes tool, loops; not warmup" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        gpu_suite.parse(["run", "--out", "x", "--precisions", "float8"])
    assert "precision" in capsys.readouterr().err


@pytest.mark.slow
def test_the_loops_stage_measures_fit_pairs_and_both_hand_loops_on_one_model():
    # jax's hand loop donates the model's buffers; the NumPy-fed loop after
    # the device-fed one only runs if the first gave the model its state back.
    suite = gpu_suite.Suite(
        backends=("jax",), model="tiny", image_size=32, batch_size=16, epochs=2,
        steps_per_epoch=6, sync_every=2, pairs=1,
    )  # fmt: skip
    result = gpu_suite.measure_loops(suite, "jax", "float32", left=300)
    assert "error" not in result, result
    ((without, with_profiler),) = result["pairs"]["pairs"]
    assert without > 0 and with_profiler > 0
    assert result["pairs"]["ratio"] == pytest.approx(with_profiler / without)
    # Plain fit as harness_efficiency.py times it: one figure per steady epoch.
    assert len(result["fit"]["epoch_rates"]) == 1 and result["fit"]["rate"] > 0
    for feed in ("device", "numpy"):
        assert result[feed]["rate"] > 0
        assert math.isfinite(result[feed]["mean_loss"])


def test_the_profilers_ratio_is_the_median_of_each_pairs_own():
    # Ratios 0.9 and 0.99; the ratio of the medians would be 144 / 150 = 0.96.
    assert gpu_suite.pairs_ratio([[100.0, 90.0], [200.0, 198.0]]) == pytest.approx(0.945)


def _gpu_record():
    record = gpu_run(precision="float32")  # one H100; epochs 2 and 3: 2,700 images in 1 s each
    record.timeline = {"setup_seconds": 4.0, "fit_seconds": 8.5}
    record.environment = {"keras": "3.16.0"}
    return record.to_dict()


def _write(folder: Path, results: dict) -> Path:
    folder.mkdir()
    suite = gpu_suite.Suite(precisions=("float32",), commit="abc123")
    document = {
        "suite": {k: list(v) if isinstance(v, tuple) else v for k, v in vars(suite).items()},
        "machine": "Machine: test.",
        "command": "python bench/gpu_suite.py run",
        "results": results,
    }
    (folder / "suite.json").write_text(json.dumps(document))
    return folder


def test_the_report_gives_the_records_figures_and_says_what_is_missing(tmp_path):
    first = _write(
        tmp_path / "first",
        {
            "tool jax float32": {"record": _gpu_record(), "command_wall": 14.0},
            "tool torch float32": {"error": "out of memory: CUDA out of memory"},
            "loops jax float32": {"skipped": "10 s of the budget left"},
        },
    )
    rates = [[2800.0, 2780.0], [2790.0, 2770.0]]
    loops = {"fit": {"rate": 2795.0}, "device": {"rate": 3000.0}, "numpy": {"rate": 2900.0}}
    loops["pairs"] = {"pairs": rates, "ratio": gpu_suite.pairs_ratio(rates)}
    second = _write(tmp_path / "second", {"loops jax float32": loops})  # fills in the skipped
    page = gpu_suite_report.markdown(*gpu_suite_report.load([first, second]))
    found = {heading.split(" (")[0]: table for heading, table in tables(page).items()}

    speed = found["Speed, memory, energy and MFU"]
    jax = dict(zip(speed["columns"], speed["jax"]))
    assert jax["steady images/sec"] == "**2,700.0**"
    assert jax["of the published 2,600-2,800"] == "0.96 - 1.04"
    # 6 x 3,857,973,248 multiply-adds x 2,700 images/sec over H100's 494.7 TF32 TFLOP/s.
    assert jax["MFU (peak TFLOP/s)"] == "12.6% (494.7)"
    assert jax["J per epoch"] == "400"  # (500 + 300) / 2
    assert jax["images per J"] == "6.75"  # 5,400 images / 800 J
    assert speed["torch"][1] == "failed: out of memory: CUDA out of memory"

    fidelity = found["Timing fidelity"]
    cells = dict(zip(fidelity["columns"], fidelity["jax"]))
    # 8,100 images over 7.0 s timed, and over 8.5 s of fit less 1.5 s of tests.
    assert cells["tool images/sec"] == cells["outside images/sec"] == "1,157.1"
    assert cells["difference"] == "+0.00%"
    assert cells["target met"] == "yes"

    stable = found["Time to a trustworthy figure"]
    assert stable["jax"][2] == "never stable"  # two steady intervals, not 50

    callback = found["Callback overhead"]
    assert callback["jax"][1:] == ["2,800.0, 2,780.0; 2,790.0, 2,770.0", "0.9928", "yes"]
    assert callback["torch"][1] == "not run"

    harness = dict(zip(found["Harness efficiency"]["columns"], found["Harness efficiency"]["jax"]))
    assert harness["tool / best hand"] == "0.900"  # 2,700 / 3,000
    assert harness["plain fit / best hand"] == "0.932"
    assert harness["tool / plain fit"] == "0.966"
    assert harness["target met"] == "NO"
    assert "abc123" in page and "Machine: test." in page


def test_the_stopping_rule_replayed_stops_where_the_run_would_have(tmp_path):
    # Three epochs of 20 ten-step intervals at 27,000 and 26,471 images/sec
    # in turn. The rule needs 50 steady intervals: epochs 1 and 2 give 37
    # (each epoch's last and the run's first left out), so it stops after the
    # 13th of epoch 3, as the step after it begins: 400 + 130 + 1 steps.
    record = gpu_run(precision="float32")
    for each in record.epochs:
        each.interval_seconds, each.interval_steps = [0.100, 0.102] * 10, [10] * 20
        each.steps = 200
    record.timeline = {"setup_seconds": 4.0, "fit_seconds": 9.0}
    record.summary = RunSummary.from_epochs(record.epochs, 10, 270)
    suite = _write(
        tmp_path / "run", {"tool jax float32": {"record": record.to_dict(), "command_wall": 30.0}}
    )
    page = gpu_suite_report.markdown(*gpu_suite_report.load([suite]))
    stable = tables(page)["Time to a trustworthy figure (benchmark 4)"]
    fixed, two, within_two, one, within_one = stable["jax"][1:]
    assert fixed.startswith("600, 26,7")
    assert two.startswith("531 (88%), 26,7") and within_two == "yes"
    assert one.startswith("531 (88%)") and within_one == "yes"
