"""A text model through the command line under every Keras 3 backend: it
learns the token data's task, and its record names sequences and tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_BERT = f"{Path(__file__).parent / 'tiny_bert.py'}:build"
CHANCE = 1 / 100  # the token data draws ids from 100


@pytest.mark.slow
def test_a_tiny_bert_learns_the_token_task_under_jax(run_cli):
    result = run_cli(
        "--backend",
        "jax",
        "--model",
        TINY_BERT,
        "--batch-size",
        "32",
        "--epochs",
        "3",
        "--train-samples",
        "1024",
        "--test-samples",
        "128",
        "--optimizer",
        "adam",
        "--learning-rate",
        "0.001",
        "--no-report",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = result.record
    assert record["status"] == "ok"
    assert record["config"]["dataset"] == "tokens"  # the text model's default data
    assert record["model"]["sample_unit"] == "sequences"
    assert record["model"]["sequence_length"] == 16  # tiny_bert's default
    # Far above chance: only a model that learns gets there.
    assert record["summary"]["test_accuracy"] > 0.9 > 50 * CHANCE
    assert " sequences/sec (" in result.stdout and " tokens/sec)" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "torch"])
def test_a_tiny_bert_trains_under_the_other_backends(run_cli, backend):
    result = run_cli(
        "--backend",
        backend,
        "--model",
        TINY_BERT,
        "--batch-size",
        "8",
        "--epochs",
        "2",
        "--steps-per-epoch",
        "3",
        "--test-samples",
        "16",
        "--sequence-length",
        "12",
        "--no-report",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = result.record
    assert record["status"] == "ok" and record["model"]["sequence_length"] == 12
    first, last = (epoch["loss"] for epoch in (record["epochs"][0], record["epochs"][-1]))
    assert last < first  # it trains
