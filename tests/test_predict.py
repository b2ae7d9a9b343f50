"""--profile-layers and ``predict`` end to end on the CPU: a profiled run
under each way of timing layers, and a prediction from it that, at one
device, is the measurement (docs/prediction.md)."""

from __future__ import annotations

import json

import pytest
from backend_runs import tool as cli

RUN = [
    "--model", "tiny", "--dataset", "synthetic", "--epochs", "2", "--steps-per-epoch", "5",
    "--batch-size", "16", "--test-samples", "32", "--no-report",
]  # fmt: skip
# tiny's layers, backward order, and their gradients' bytes (float32):
# the 10-way Dense over 144 features, 3x3 convolutions 8->16 and 3->8 channels.
GRADIENT_BYTES = {
    "predictions": (144 * 10 + 10) * 4,
    "conv2": (3 * 3 * 8 * 16 + 16) * 4,
    "conv1": (3 * 3 * 3 * 8 + 8) * 4,
}


@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    """backend -> the folder of its --profile-layers record."""
    home = tmp_path_factory.mktemp("home")
    found = {}
    for backend in ("torch", "jax"):
        results = home / f"results-{backend}"
        done = cli("--backend", backend, *RUN, "--profile-layers", "--results-dir", str(results),
                   home=home)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        (found[backend],) = results.glob("*/record.json")
    return found


@pytest.mark.slow
def test_torch_times_each_gradient_with_autograd_hooks(profiled):
    record = json.loads(profiled["torch"].read_text())
    profile = record["layer_profile"]
    assert profile["method"] == "autograd hooks"
    rows = profile["layers"]
    # Backward makes the last layer's gradient first.
    assert [(r["layer"], r["gradient_bytes"]) for r in rows] == list(GRADIENT_BYTES.items())
    assert [r["tensors"] for r in rows] == [2, 2, 2]  # each a kernel and a bias
    ready = [r["ready_s"] for r in rows]
    assert ready == sorted(ready) and ready[0] >= 0 and ready[-1] <= profile["backward_s"] * 1.5
    total = profile["forward_s"] + profile["backward_s"] + profile["update_s"]
    assert total == pytest.approx(profile["step_s"])
    against = profile["hooks_against_multiply_adds"]
    assert (
        0 <= against["mean_abs_difference_of_backward"] <= against["max_abs_difference_of_backward"]
    )


@pytest.mark.slow
def test_jax_apportions_the_step_by_multiply_adds(profiled):
    profile = json.loads(profiled["jax"].read_text())["layer_profile"]
    assert profile["method"] == "multiply-adds"
    # tiny has no BatchNormalization: nothing in its step to synchronize.
    assert profile["data_parallel_sync_points"] == 0
    assert profile["forward_s"] == pytest.approx(profile["step_s"] / 3)
    rows = profile["layers"]
    assert [r["layer"] for r in rows] == list(GRADIENT_BYTES)
    macs = [r["macs_per_image"] for r in rows]
    # Each gradient ready once backward has done its layer's multiply-adds
    # and those of the layers after it.
    for i, row in enumerate(rows):
        assert row["ready_s"] == pytest.approx(
            profile["backward_s"] * sum(macs[: i + 1]) / sum(macs)
        )


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_a_prediction_at_one_device_is_the_measurement(profiled, tmp_path, backend):
    folder = profiled[backend].parent
    record = json.loads(profiled[backend].read_text())
    measured = record["summary"]["steady_images_per_second"]
    done = cli("predict", "--from", str(folder), "--nodes", "1,2,4", "--network",
               "custom:1gbit,50us,custom:10gbit,50us", "--methods", "bsp,wfbp,mg-wfbp,ddp-buckets",
               "--results-dir", str(folder.parent), "--reports-dir", str(tmp_path),
               home=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "prediction.md").read_text()
    assert "**Predictions, not measurements." in page
    assert (tmp_path / "prediction-1.png").stat().st_size > 0
    rows = [line.split(" | ") for line in page.splitlines() if line.startswith("| tiny |")]
    methods = ["bsp", "wfbp", "mg-wfbp", "ddp-buckets"]
    assert [(r[2], r[3]) for r in rows] == [
        (link, m) for link in ("custom 1gbit, 50us", "custom 10gbit, 50us") for m in methods
    ]
    one_gpu = {r[5] for r in rows if r[3] != "ddp-buckets"}  # a torch run is DDP's alone
    assert one_gpu == {f"{measured:.1f} predicted; {measured:.1f} measured (+0.0%)"}
    # More bandwidth never predicts fewer images/sec.
    speed = {(r[2], r[3]): [float(c.split()[0]) for c in r[5:]] for r in rows}
    for m in methods:
        slow, fast = speed["custom 1gbit, 50us", m], speed["custom 10gbit, 50us", m]
        assert all(f >= s for f, s in zip(fast, slow))


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--network", "fast"], "--network 'fast' is not a network: give 10gbe, 56gb-ib, "
         "100gbe, 100gb-ib, measured:RECORD or custom:BANDWIDTH,LATENCY (e.g. "
         "custom:25gbit,20us)"),
        (["--network", "custom:fast,slow"], "custom:fast,slow is not BANDWIDTH,LATENCY: give "
         "e.g. custom:25gbit,20us (gbit, mbit, gb or mb a second; s, ms, us or ns)"),
        (["--methods", "bsp,magic"], "--methods magic: give any of bsp, wfbp, mg-wfbp, "
         "ddp-buckets, ps, unfused"),
    ],
)  # fmt: skip
def test_bad_prediction_input_is_one_line_and_exit_2(tmp_path, arguments, message):
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"status": "ok", "config": {}, "layer_profile": {}}))
    done = cli("predict", "--from", str(record), *arguments, "--reports-dir", str(tmp_path / "r"),
               home=tmp_path)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == f"keras-profiler: error: {message}"
    assert not (tmp_path / "r").exists()


def test_a_record_without_a_layer_profile_says_how_to_make_one(tmp_path):
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"status": "ok", "config": {}, "layer_profile": {}}))
    done = cli("predict", "--from", str(record), home=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"keras-profiler: error: --from {record}: no ok run with a layer profile: run it on one "
        "device with --profile-layers first, e.g. python -m keras_profiler --backend torch "
        "--model resnet18 --profile-layers"
    )


def test_profile_layers_is_one_device_on_one_node(tmp_path):
    done = cli("--backend", "jax", *RUN, "--profile-layers", "--gpus", "2", home=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "keras-profiler: error: --profile-layers profiles one device on one node: drop --gpus 2"
    )
