"""--until-stable end to end: every backend stops a speed-only run once its
interval is narrow enough, and the record says how far it got and why.

torch runs on 2 processes (DDP over gloo): the processes must agree to stop at
the same step, or the one that went on would wait for the other forever.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

SPEED_ONLY = (
    "--model", "tiny", "--dataset", "synthetic", "--batch-size", "8",
    "--epochs", "2", "--steps-per-epoch", "300", "--sync-every", "2",
    "--until-stable", "40", "--no-report", "--timeout", "300",
)  # fmt: skip


@pytest.mark.parametrize(
    "backend, devices", [("jax", 1), ("tensorflow", 1), ("torch", 2), ("mxnet", 1)]
)
def test_stops_once_stable(run_cli, request, backend, devices):
    if backend == "mxnet":
        request.getfixturevalue("mxnet_python")  # the environment, built once per session
    result = run_cli("--backend", backend, *SPEED_ONLY, "--gpus", str(devices))

    assert result.returncode == 0, result.stderr[-3000:]
    record = result.record
    assert record["status"] == "ok", record["error"]
    summary = record["summary"]
    assert summary["stopped_when_stable"] is True
    speed = summary["interval_speed"]
    assert speed["steps_per_interval"] == 2
    assert speed["intervals"] >= 50  # never stable on fewer
    assert 10 <= speed["batches"] <= 19  # the interval is from batch means, in every backend
    assert speed["ci95_half_width_percent"] < 40
    # Stopped in the first epoch, long before its 300 steps; the images
    # counted are the steps trained, not the epoch's planned length.
    (epoch,) = record["epochs"]
    assert 103 <= epoch["steps"] < 300
    assert epoch["images"] == epoch["steps"] * 8 * devices
    assert epoch["test_accuracy"] is None  # speed only: no test evaluation
    assert f"stable after {epoch['steps']} steps" in result.stderr + result.stdout
