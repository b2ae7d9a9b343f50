"""bench/_repeats.py: repeated runs of a configuration become one row, the
median of its ok runs, with every run kept and failures counted."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import _repeats  # noqa: E402


def run(speed, busbw=5.0, status="ok", link="netns unshaped", bucket=1, run_id="r"):
    return {
        "backend": "torch",
        "bucket_mb": bucket,
        "link": link,
        "nodes": 2,
        "status": status,
        "images_per_second": speed if status == "ok" else None,
        "busbw_gbit_per_s": busbw,
        "alpha_s": 2e-4,
        "run_id": run_id,
    }


def test_a_configuration_is_the_median_of_its_ok_runs():
    rows = [run(135.2, 5.6, run_id="a"), run(173.9, 5.8, run_id="b"), run(158.0, 5.7, run_id="c")]
    rows.append(run(None, status="error", run_id="d"))
    rows.append(run(42.8, 0.28, link="netns 300mbit"))
    unshaped, shaped = _repeats.combined(rows)
    assert unshaped["images_per_second"] == 158.0
    assert unshaped["busbw_gbit_per_s"] == 5.7
    assert unshaped["runs"] == [135.2, 173.9, 158.0]
    assert unshaped["run_id"] == ["a", "b", "c"]
    assert unshaped["failed_runs"] == 1
    assert _repeats.spread(unshaped) == "135.2-173.9 (3 runs)"
    assert shaped["images_per_second"] == 42.8
    assert _repeats.spread(shaped) == ""  # one run: no range to show


def test_a_configuration_with_no_ok_run_keeps_its_failure():
    (row,) = _repeats.combined([run(None, status="out of memory"), run(None, status="error")])
    assert row["status"] == "out of memory"
    assert row["images_per_second"] is None
    assert row["failed_runs"] == 2


def test_bucket_sizes_are_configurations_of_their_own():
    rows = [run(100.0, bucket=1), run(120.0, bucket=None), run(110.0, bucket=1)]
    by_bucket = {r["bucket_mb"]: r["images_per_second"] for r in _repeats.combined(rows)}
    assert by_bucket == {1: 105.0, None: 120.0}
