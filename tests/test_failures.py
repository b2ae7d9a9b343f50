"""Runs that fail are recorded as failed, with the reason, and the CLI survives."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

SMALL = ("--dataset", "synthetic", "--train-samples", "64", "--test-samples", "32")
FAST = ("--backend", "jax", *SMALL, "--epochs", "1")


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


def test_a_failure_mid_training_keeps_the_finished_epochs(run_cli, tmp_path):
    # Keras's torch backend runs each training step eagerly, so this layer's
    # Python runs every step: 2 steps per epoch, it raises in epoch 3.
    path = tmp_path / "bomb.py"
    path.write_text(
        "import keras\n"
        "from keras_profiler.models import tiny\n\n"
        "class Bomb(keras.layers.Layer):\n"
        "    steps = 0\n\n"
        "    def call(self, x, training=None):\n"
        "        if training:\n"
        "            Bomb.steps += 1\n"
        "            if Bomb.steps > 4:\n"
        "                raise RuntimeError('boom in epoch 3')\n"
        "        return x\n\n"
        "def build(input_shape, num_classes):\n"
        "    inputs = keras.layers.Input(input_shape)\n"
        "    outputs = tiny.build(input_shape, num_classes)(Bomb()(inputs))\n"
        "    return keras.models.Model(inputs, outputs)\n"
    )
    result = run_cli("--backend", "torch", "--model", f"{path}:build", *SMALL, "--epochs", "5")

    assert result.returncode == 1
    record = result.record
    assert record["status"] == "error" and "boom in epoch 3" in record["error"]
    assert [e["epoch"] for e in record["epochs"]] == [1, 2]
    assert record["summary"]["epochs"] == 2


def test_a_timeout_keeps_the_epochs_it_finished(run_cli):
    result = run_cli(
        "--backend", "jax", *SMALL, "--epochs", "100000", "--model", "tiny", "--timeout", "25"
    )

    assert result.returncode == 1
    record = result.record
    assert record["status"] == "timeout"
    assert 25 <= record["wall_seconds"] < 60  # stopped at its limit, not at the end
    numbers = [e["epoch"] for e in record["epochs"]]
    assert numbers and numbers == list(range(1, len(numbers) + 1))
    assert record["summary"]["epochs"] == len(numbers)
