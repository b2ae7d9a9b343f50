"""Data parallelism on 2 virtual CPU devices, end to end through the CLI.

The same code paths run on N GPUs; here each backend splits the CPU into two
devices (jax: XLA host devices; tensorflow: logical devices; torch: two
processes on gloo), so CI exercises every multi-device path.
"""

from __future__ import annotations

import textwrap

import fakedata
import pytest
from backend_runs import BACKENDS
from test_end_to_end import EASY

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def easy_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("easy")
    return fakedata.write_quadrant_cifar(folder, n_train=2000, n_test=400, seed=3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_devices_learn_with_identical_replicas_from_one_devices_weights(
    run_cli, easy_data, tmp_path, backend
):
    result = run_cli("--backend", backend, *EASY, "--data-dir", str(easy_data), "--gpus", "2")

    assert result.returncode == 0, result.stderr[-3000:]
    record = result.record
    assert record["status"] == "ok", record["error"]
    assert record["config"]["devices"] == 2
    distribution = record["distribution"]
    assert distribution["devices"] == 2 and distribution["global_batch_size"] == 64
    assert distribution["device_kind"] == "cpu" and distribution["virtual_devices"] is True
    assert [d["kind"] for d in record["devices"]] == ["cpu", "cpu"]
    assert [d["index"] for d in record["devices"]] == [0, 1]
    # Checked inside the worker after the first and the last epoch.
    assert [c["epoch"] for c in distribution["replica_checks"]] == [1, 3]
    assert all(c["max_abs_difference"] == 0.0 for c in distribution["replica_checks"])
    # 2000 images hold 31 whole global batches of 64; images/sec counts them all.
    assert all(e["images"] == 31 * 64 for e in record["epochs"])
    assert record["summary"]["test_accuracy"] > 0.9
    page = (tmp_path / "reports" / "tiny.md").read_text()
    assert "CPU (2)" in page

    # One device, a plain fit, starts from the same weights (the digest is
    # of the weights: test_a_weights_digest_tells_seeds_apart).
    short = ("--epochs", "1", "--train-samples", "128", "--test-samples", "32", "--no-report")
    both = run_cli("--backend", backend, *EASY, "--data-dir", str(easy_data), *short, "--gpus", "1")
    alone = next(r for r in both.records if r["config"]["devices"] == 1)
    assert alone["distribution"]["strategy"] == "single" != distribution["strategy"]
    assert alone["distribution"]["initial_weights_sha256"] == distribution["initial_weights_sha256"]


BATCH_NORM_MODEL = """
import keras
from keras_profiler.models._common import channel_axis

def build(input_shape, num_classes):
    inputs = keras.layers.Input(shape=tuple(input_shape))
    x = keras.layers.Conv2D(4, 3, strides=4, name="conv")(inputs)
    x = keras.layers.BatchNormalization(axis=channel_axis(), name="bn")(x)
    x = keras.layers.Flatten()(keras.layers.Activation("relu")(x))
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.models.Model(inputs, outputs, name="bn_net")
"""


@pytest.mark.parametrize(
    "backend, non_trainable_identical",
    [("jax", True), ("tensorflow", False), ("torch", False), ("mxnet", False)],
)
def test_the_replica_check_sees_batch_norm_statistics_drift(
    run_cli, tmp_path, request, backend, non_trainable_identical
):
    # Each replica updates BatchNormalization's moving statistics from its own
    # slice of the batch, except under jax, where one program sees the whole
    # batch: the check must see the difference where there is one.
    if backend == "mxnet":
        request.getfixturevalue("mxnet_python")  # the environment, built once per session
    model = tmp_path / "bn_net.py"
    model.write_text(BATCH_NORM_MODEL)
    result = run_cli(
        "--backend", backend, "--model", f"{model}:build", "--dataset", "synthetic",
        "--epochs", "1", "--train-samples", "256", "--test-samples", "32", "--gpus", "2",
        "--no-report",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr[-3000:]
    check = result.record["distribution"]["replica_checks"][0]
    assert check["trainable_max_abs_difference"] == 0.0
    assert (check["max_abs_difference"] == 0.0) is non_trainable_identical


@pytest.mark.parametrize(
    "backend, extra, expected",
    [
        (
            "tensorflow",
            ["--strategy", "parameter_server", "--lr-scaling", "linear"],
            {"strategy": "parameter_server", "learning_rate": 0.1, "jit_compile": False},
        ),
        ("torch", ["--bucket-mb", "1"], {"strategy": "ddp", "bucket_mb": 1.0, "processes": 2}),
        ("jax", [], {"strategy": "data-parallel", "jit_compile": True, "processes": 1}),
    ],
)
def test_distribution_settings_are_recorded(run_cli, backend, extra, expected):
    result = run_cli(
        "--backend", backend, "--model", "tiny", "--dataset", "synthetic", "--epochs", "1",
        "--train-samples", "256", "--test-samples", "32", "--learning-rate", "0.05",
        "--gpus", "2", "--no-report", *extra,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr[-3000:]
    distribution = result.record["distribution"]
    assert {key: distribution[key] for key in expected} == expected
    assert distribution["replica_checks"][0]["max_abs_difference"] == 0.0


def test_a_failing_process_fails_the_run_and_stops_the_others(run_cli, tmp_path):
    model = tmp_path / "fails_on_rank_1.py"
    model.write_text(
        textwrap.dedent(
            """
            import os
            from keras_profiler.models import tiny

            def build(input_shape, num_classes):
                if os.environ.get("RANK") == "1":
                    raise RuntimeError("rank 1 cannot build its model")
                return tiny.build(input_shape, num_classes)
            """
        )
    )
    result = run_cli(
        "--backend", "torch", "--model", f"{model}:build", "--dataset", "synthetic",
        "--epochs", "1", "--train-samples", "256", "--gpus", "2", "--no-report", timeout=300,
    )  # fmt: skip

    assert result.returncode == 1
    record = result.record
    assert record["status"] == "error"
    assert "rank 1 cannot build its model" in record["error"]
    assert record["wall_seconds"] < 120
