"""Runs that fail are recorded as failed, with the reason, and the CLI survives."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

FAST = (
    "--backend",
    "jax",
    "--dataset",
    "synthetic",
    "--train-samples",
    "64",
    "--test-samples",
    "32",
    "--epochs",
    "1",
)


def user_model(tmp_path, body: str) -> str:
    path = tmp_path / "broken.py"
    source = "import os, signal, time\n\ndef build(input_shape, num_classes):\n"
    path.write_text(f"{source}    {body}\n")
    return f"{path}:build"


def test_error_in_the_model_is_recorded(run_cli, tmp_path):
    result = run_cli(*FAST, "--model", user_model(tmp_path, "raise RuntimeError('bad layer')"))
    assert result.returncode == 1
    record = result.record
    assert record["status"] == "error"
    assert "RuntimeError: bad layer" in record["error"]
    assert record["summary"] is None and record["epochs"] == []
    assert record["environment"]["keras"]
    report = (tmp_path / "reports" / "README.md").read_text()
    assert "0 ok, 1 failed" in report


def test_killed_worker_is_recorded(run_cli, tmp_path):
    body = "os.kill(os.getpid(), signal.SIGKILL)"
    result = run_cli(*FAST, "--model", user_model(tmp_path, body))
    assert result.returncode == 1
    assert result.record["status"] == "error"
    assert "SIGKILL" in result.record["error"]


def test_timeout_is_recorded(run_cli, tmp_path):
    result = run_cli(*FAST, "--timeout", "20", "--model", user_model(tmp_path, "time.sleep(600)"))
    assert result.returncode == 1
    assert result.record["status"] == "timeout"
    assert result.record["wall_seconds"] < 120
