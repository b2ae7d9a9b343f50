"""python -m keras_profiler infer end to end on the CPU, every Keras 3
backend: one record of mode "infer" per batch size, latencies in order,
and bad input as one line."""

from __future__ import annotations

import json

import pytest
from backend_runs import tool as cli

INFER = ["--model", "tiny", "--dataset", "synthetic", "--iterations", "12", "--test-samples", "8",
         "--no-report"]  # fmt: skip
# Two batch sizes under jax (two records, two fresh workers); one elsewhere.
# Every backend over 2 virtual devices, each batch split between them: jax
# and tensorflow in one process, torch in one process per device.
BATCH_SIZES = {"jax": [1, 4], "tensorflow": [4], "torch": [4]}
DEVICES = {"jax": 2, "tensorflow": 2, "torch": 2}
# Whose time a batch's latency is.
LATENCY_OF = {
    "jax": "the serving process's call",
    "tensorflow": "the serving process's call",
    "torch": "the slowest of 2 processes, one per device, each serving its share of the "
    "batch, started together",
}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "tensorflow", "torch"])
def test_each_batch_size_is_one_inference_record(tmp_path, backend):
    sizes, devices = BATCH_SIZES[backend], DEVICES[backend]
    done = cli("infer", "--backend", backend, *INFER, "--batch-sizes", ",".join(map(str, sizes)),
               "--gpus", str(devices), "--results-dir", str(tmp_path / "r"),
               home=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    found = [json.loads(p.read_text()) for p in sorted((tmp_path / "r").glob("*/record.json"))]
    assert sorted(r["config"]["batch_size"] for r in found) == sizes
    for record in found:
        assert record["status"] == "ok" and record["config"]["mode"] == "infer"
        assert record["epochs"] == [] and record["run_id"].split("-")[1] == "infer"
        assert record["config"]["devices"] == devices
        figures = record["inference"]
        # Each measured batch holds the batch size on every device.
        assert figures["batch_size"] == record["config"]["batch_size"] * devices
        assert figures["batches"] == 12 and figures["warmup_batches"] >= 10
        assert 0 < figures["p50_s"] <= figures["p90_s"] <= figures["p95_s"] <= figures["p99_s"]
        assert figures["samples_per_second"] == pytest.approx(
            figures["batch_size"] / figures["mean_s"]
        )
        assert figures["host_to_device_copy"] == "timed, each batch"
        # The timed path computes what Keras's predict does, over every share.
        assert figures["max_abs_difference_from_predict"] < 1e-5
        # Split between the devices, not run whole on each.
        assert figures["rows_per_device"] == [record["config"]["batch_size"]] * devices
        assert figures["latency_of"] == LATENCY_OF[backend]
        # No GPU: no telemetry, and no energy figure made up for it.
        assert figures["telemetry"] is figures["energy_per_sample_j"] is None
    lines = [line for line in done.stdout.splitlines() if ": ok: " in line]
    assert len(lines) == len(sizes)
    assert all(f"ok: {backend} inference, batch " in line for line in lines)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--iterations", "5", "--duration", "3"],
         "--iterations and --duration both bound the measurement: give one"),
    ],
)  # fmt: skip
def test_bad_inference_input_is_one_line_exit_2_and_no_record(tmp_path, arguments, message):
    done = cli("infer", "--backend", "jax", "--model", "tiny", *arguments,
               "--results-dir", str(tmp_path / "r"), home=tmp_path)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == f"keras-profiler: error: {message}"
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_a_sweeps_batch_too_large_for_memory_is_recorded_and_the_sweep_goes_on(tmp_path):
    matrix = tmp_path / "infer.toml"
    # 2**27 images of 32x32x3 float32: 1.5 PiB, which no allocator grants.
    matrix.write_text(
        f'[matrix]\nbackends = ["jax"]\nmodels = ["tiny"]\ndata = ["synthetic"]\n'
        f'batch_sizes = [{2**27}, 2]\nmodes = ["infer"]\n'
        "[settings]\ninfer_iterations = 12\ntest_samples = 8\n"
    )
    folders = ("--results-dir", str(tmp_path / "r"), "--reports-dir", str(tmp_path / "reports"))
    done = cli("sweep", str(matrix), *folders, home=tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]
    found = {
        r["config"]["batch_size"]: r
        for r in (json.loads(p.read_text()) for p in (tmp_path / "r").glob("*/record.json"))
    }
    assert found[2**27]["status"] == "oom" and found[2]["status"] == "ok"
    assert {r["config"]["mode"] for r in found.values()} == {"infer"}
    assert found[2]["inference"]["batches"] == 12
    page = (tmp_path / "reports" / "inference.md").read_text()
    row = next(line for line in page.splitlines() if line.startswith("| jax | float32 | "))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[2] == "1"  # device
    assert " / " in cells[3] and cells[4] == "out of memory"  # batch 2, then 2**27
    assert "inference.md" in (tmp_path / "reports" / "README.md").read_text()
    # The training pages hold no inference record: with none else, there are none.
    assert not (tmp_path / "reports" / "records.csv").exists()
    # Out of memory is a result: the sweep again has nothing to run.
    again = cli("sweep", str(matrix), *folders, home=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "0 to run; already recorded on this machine, skipped: 1 ok, 1 oom" in again.stderr
