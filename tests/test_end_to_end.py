"""Every backend end to end through the CLI, as a user runs it, on the CPU.

The accuracy bars can only be met by a model that really learns: the class is
which image quadrant is bright, and with shuffled labels nothing is learnable.
"""

from __future__ import annotations

import fakedata
import pytest
from backend_runs import BACKENDS

pytestmark = pytest.mark.slow

EASY = [
    "--model",
    "tiny",
    "--dataset",
    "cifar10",
    "--no-download",
    "--epochs",
    "3",
    "--learning-rate",
    "0.05",
]


@pytest.fixture(scope="module")
def easy_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("easy")
    return fakedata.write_quadrant_cifar(folder, n_train=2000, n_test=400, seed=3)


@pytest.fixture(scope="module")
def shuffled_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shuffled")
    return fakedata.write_quadrant_cifar(
        folder, n_train=2000, n_test=400, seed=3, shuffle_labels=True
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_learns_the_easy_dataset(run_cli, easy_data, tmp_path, backend):
    result = run_cli("--backend", backend, *EASY, "--data-dir", str(easy_data))

    assert result.returncode == 0, result.stderr[-3000:]
    record = result.record
    assert record["status"] == "ok" and record["error"] is None
    summary = record["summary"]
    assert summary["test_accuracy"] > 0.9
    assert summary["train_accuracy"] > 0.9
    assert [e["epoch"] for e in record["epochs"]] == [1, 2, 3]
    # 2000 images hold 62 whole batches of 32.
    assert all(e["images"] == 62 * 32 for e in record["epochs"])
    assert summary["steady_images_per_second"] > 0
    assert summary["peak_memory"]["host_peak_rss_mib"] > 50
    assert record["model"] == {
        "name": "tiny",
        "parameters": 2842,
        "image_size": 32,
        "sequence_length": None,
        "sample_unit": "images",
        "data_format": "channels_last",
        "dtype_policy": "float32",
        # Per-image costs, by hand in test_model_stats.py (TINY).
        "forward_macs_per_image": 106_488,
        "activation_bytes_per_image": 23_856,
        "parameter_bytes": 11_368,
    }
    assert record["devices"][0]["kind"] == "cpu"
    assert record["environment"]["libraries"][backend].count(".") >= 1
    page = (tmp_path / "reports" / "tiny.md").read_text()
    assert f"### {backend}" in page
    assert f"{summary['test_accuracy']:.4f}" in page


@pytest.mark.parametrize("backend", BACKENDS)
def test_learns_with_several_steps_per_call(run_cli, easy_data, backend):
    # 62 steps an epoch at 5 a call: 12 full calls and one of 2, which must
    # count as 2; the model must learn as it does one step a call.
    args = ("--steps-per-execution", "5", "--no-report", "--data-dir", str(easy_data))
    result = run_cli("--backend", backend, *EASY, *args)

    assert result.returncode == 0, result.stderr[-3000:]
    record = result.record
    assert record["status"] == "ok", record["error"]
    assert record["config"]["steps_per_execution"] == 5
    assert "-spe5-" in record["run_id"]
    assert record["summary"]["test_accuracy"] > 0.9
    for epoch in record["epochs"]:
        assert epoch["steps"] == 62 and epoch["images"] == 62 * 32
        assert epoch["interval_steps"] == [10] * 6 + [2]


@pytest.mark.parametrize("backend", BACKENDS)
def test_shuffled_labels_stay_near_chance(run_cli, shuffled_data, backend):
    result = run_cli("--backend", backend, *EASY, "--data-dir", str(shuffled_data))

    assert result.returncode == 0, result.stderr[-3000:]
    # Four classes: chance is 0.25.
    assert result.record["summary"]["test_accuracy"] < 0.45


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_seed_gives_the_same_first_epoch_loss(run_cli, backend):
    args = (
        "--backend",
        backend,
        "--model",
        "tiny",
        "--dataset",
        "synthetic",
        "--epochs",
        "1",
        "--train-samples",
        "640",
        "--test-samples",
        "64",
        "--no-report",
    )
    first, second = run_cli(*args), run_cli(*args)

    assert first.returncode == second.returncode == 0, second.stderr[-3000:]
    losses = [r["epochs"][0]["loss"] for r in second.records]
    assert len(losses) == 2
    assert round(losses[0], 4) == round(losses[1], 4)


def test_learns_under_mixed_precision(run_cli, easy_data):
    result = run_cli(
        "--backend", "jax", *EASY, "--data-dir", str(easy_data), "--precision", "mixed_bfloat16"
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert result.record["model"]["dtype_policy"] == "mixed_bfloat16"
    assert result.record["summary"]["test_accuracy"] > 0.9
