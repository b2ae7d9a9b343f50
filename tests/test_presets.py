"""sweep --preset: one matrix file per reference table, each planned as the
table needs, and one of them run end to end, capped, on CPUs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import fakedata
import pytest

from keras_profiler import gpus
from keras_profiler.sweep.spec import REFERENCE, SweepSpec, presets

TABLES = {"keras-mxnet", "batch-sizes", "hardware", "scaling"}


def dry_run(*args: str) -> tuple[list[str], str, int]:
    """The runs ``sweep --dry-run ARGS`` lists, its stderr and exit status."""
    completed = subprocess.run(
        [sys.executable, "-m", "keras_profiler", "sweep", "--dry-run", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    runs = [line for line in completed.stdout.splitlines() if line.startswith("to run: ")]
    return runs, completed.stderr, completed.returncode


def test_every_reference_table_has_a_preset_and_each_loads():
    assert set(presets()) == TABLES | {"quick"}
    for path in presets().values():
        assert SweepSpec.load(path).models
    # A bare sweep and run_all.sh run the keras-mxnet table's matrix.
    assert presets()["keras-mxnet"] == REFERENCE


def test_keras_mxnet_preset_lists_the_reference_matrix():
    runs, _, status = dry_run("--preset", "keras-mxnet", "--backends", "jax,torch", "--gpus", "1,2")
    assert status == 0
    # 2 models x 1 batch x 1 data kind x default strategy x 2 device counts x 2 backends
    assert len(runs) == 2 * 1 * 1 * 1 * 2 * 2
    assert sum("resnet50 | cifar10" in run for run in runs) == 4


def test_batch_sizes_preset_lists_every_model_at_batch_10_to_40():
    runs, _, status = dry_run("--preset", "batch-sizes", "--backends", "jax")
    assert status == 0
    # 16 models x 4 batch sizes x 1 data kind (synthetic) x default strategy x 1 device x 1 backend
    assert len(runs) == 16 * 4 * 1 * 1 * 1 * 1
    for batch in (10, 20, 30, 40):
        assert sum(f"batch {batch}/device" in run for run in runs) == 16
    assert all("synthetic" in run for run in runs)
    assert sum("| resnext101_64x4d |" in run for run in runs) == 4


def test_hardware_preset_lists_tensorflows_three_updates_on_4_devices():
    runs, stderr, status = dry_run("--preset", "hardware", "--gpus", "4")
    assert status == 0
    # replicated-nccl needs GPUs: left out, saying so, where there are none.
    strategies = 3 if gpus.count() else 2
    # 7 models x 1 batch x 3 data kinds x strategies x 1 device count x 1 backend (tensorflow)
    assert len(runs) == 7 * 1 * 3 * strategies * 1 * 1
    assert all(run.startswith("to run: tensorflow | ") and "4 device(s)" in run for run in runs)
    assert sum(", parameter_server |" in run for run in runs) == 7 * 3
    assert sum("distorted" in run for run in runs) == 7 * strategies
    if not gpus.count():
        assert "leaving out tensorflow's strategy replicated-nccl" in stderr


def test_scaling_preset_lists_resnet50_and_the_berts_at_the_tables_batches():
    runs, _, status = dry_run("--preset", "scaling", "--backends", "jax,torch", "--gpus", "1,4")
    assert status == 0
    # 3 models x 1 batch x 1 data kind x (data-parallel + single at 1 device, data-parallel
    # at 4) x 2 backends x 5 repeats
    assert len(runs) == 3 * 1 * 1 * (2 + 1) * 2 * 5
    rows = {
        "| resnet50 | cifar10": 0,
        "| resnet50 | synthetic |": 30,
        "| bert_large | tokens |": 30,
        "| bert_base | tokens |": 30,
    }
    assert {row: sum(row in run for run in runs) for row in rows} == rows
    # The table's batches: 64 images, 8 and 64 sequences of the reference's 64 tokens.
    for model, batch in [("resnet50", 64), ("bert_large", 8), ("bert_base", 64)]:
        assert all(f"batch {batch}/device" in r for r in runs if f"| {model} |" in r)
    assert all(r.endswith("| 64 tokens") or " | 64 tokens | " in r for r in runs if "bert" in r)


def test_a_models_own_batch_sizes_give_way_to_the_command_lines():
    runs, _, status = dry_run(
        "--preset", "scaling", "--backends", "jax", "--gpus", "1", "--models", "bert_large",
        "--batch-sizes", "2", "--repeats", "1",
    )  # fmt: skip
    assert status == 0
    assert len(runs) == 2 and all("batch 2/device" in run and "64 tokens" in run for run in runs)


def test_unknown_preset_is_a_usage_error_naming_the_presets():
    runs, stderr, status = dry_run("--preset", "nope")
    assert (runs, status) == ([], 2)
    assert stderr.strip().splitlines() == [
        "keras-profiler: error: argument --preset: unknown preset 'nope': choose from "
        "batch-sizes, hardware, keras-mxnet, quick, scaling (see --help)"
    ]


def test_a_preset_and_a_file_together_is_a_usage_error():
    runs, stderr, status = dry_run("--preset", "scaling", str(REFERENCE))
    assert (runs, status) == ([], 2)
    assert "give one of a sweep file, --preset and --quick" in stderr


@pytest.mark.slow
def test_batch_sizes_preset_capped_writes_the_batch_sizes_page(run_cli, tmp_path):
    result = run_cli(
        "sweep", "--preset", "batch-sizes", "--models", "tiny", "--backends", "jax",
        "--batch-sizes", "10,20", "--epochs", "1", "--steps-per-epoch", "2",
        "--train-samples", "64", "--test-samples", "64",
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [r["status"] for r in result.records] == ["ok", "ok"]
    page = (tmp_path / "reports" / "batch-sizes.md").read_text()
    assert "# Speed and memory by batch size" in page
    header, speed, memory = _table_lines(page)
    assert [cell.strip() for cell in header] == ["model", "batch size 10", "batch size 20"]
    assert speed[0].strip() == "tiny" == memory[0].strip()
    assert all(int(mib) > 0 for mib in memory[1:])  # MiB at each batch size
    assert (tmp_path / "reports" / "batch-sizes-1.png").stat().st_size > 0


def _table_lines(page: str) -> tuple[list[str], list[str], list[str]]:
    """The speed table's header, its tiny row and the memory table's tiny row, as cells."""
    rows = [line.strip("|").split("|") for line in page.splitlines() if line.startswith("| ")]
    tiny = [row for row in rows if row[0].strip() == "tiny"]
    assert len(tiny) == 2, page
    return rows[0], tiny[0], tiny[1]


@pytest.mark.slow
def test_scaling_preset_capped_writes_the_scaling_table_with_a_text_model(run_cli, tmp_path):
    tiny_bert = f"{Path(__file__).parent / 'tiny_bert.py'}:build"
    result = run_cli(
        "sweep", "--preset", "scaling", "--models", f"tiny,{tiny_bert}", "--backends", "jax",
        "--gpus", "1,2", "--repeats", "1", "--batch-sizes", "4", "--epochs", "2",
        "--steps-per-epoch", "2", "--test-samples", "16",
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # Per model: the plain 1-device baseline, data-parallel on 1 and 2 devices.
    assert [r["status"] for r in result.records] == ["ok"] * 6
    page = (tmp_path / "reports" / "scaling.md").read_text()
    header = next(line for line in page.splitlines() if line.startswith("| model"))
    cells = [cell.strip() for cell in header.strip("|").split("|")]
    assert cells[-3:] == ["Baseline", "1 device", "2 devices"]
    rows = [line for line in page.splitlines() if line.startswith("| ")]
    # Each model's row, its data named where the rows' data differ.
    for model in ("tiny (dataset synthetic)", f"{tiny_bert} (dataset tokens)"):
        row = next(r for r in rows if r.startswith(f"| {model} "))
        figures = [cell.strip() for cell in row.strip("|").split("|")][-3:]
        assert all(float(figure) > 0 for figure in figures), row
    assert "images/sec are sequences/sec" in page  # it says what a text model's figure is


def test_a_text_model_takes_the_token_data_and_has_no_real_data(tmp_path):
    spec = tmp_path / "bert.toml"
    spec.write_text(
        '[matrix]\nbackends = ["jax"]\nmodels = ["bert_base", "tiny"]\ndata = ["synthetic"]\n'
        "[settings]\nimage_size = 64\nsequence_length = 32\n"
    )
    runs, _, status = dry_run(str(spec))
    assert status == 0
    assert [r.split(" | ")[1:3] for r in runs] == [["bert_base", "tokens"], ["tiny", "synthetic"]]
    assert runs[0].endswith("| 32 tokens") and runs[1].endswith("| 64x64")
    spec.write_text('[matrix]\nbackends = ["jax"]\nmodels = ["bert_base"]\ndata = ["real"]\n')
    runs, stderr, status = dry_run(str(spec))
    assert (runs, status) == ([], 2)
    assert stderr.strip() == (
        'keras-profiler: error: no real data of tokens for bert_base: give it data = ["synthetic"] '
        "in a sweep of its own"
    )


def test_a_models_own_batch_sizes_must_be_positive_integers(tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text('[matrix]\nmodels = ["tiny"]\n[models.tiny]\nbatch_sizes = [0]\n')
    runs, stderr, status = dry_run(str(spec))
    assert (runs, status) == ([], 2)
    assert stderr.strip().endswith(
        "[models.tiny]: batch_sizes must be a list of positive integers, not [0]"
    )


@pytest.mark.slow
def test_hardware_preset_capped_writes_one_machine_table_per_configuration(run_cli, tmp_path):
    data = fakedata.write_quadrant_cifar(tmp_path / "data", n_train=64, n_test=16, seed=3)
    result = run_cli(
        "sweep", "--preset", "hardware", "--models", "tiny", "--gpus", "2", "--batch-sizes", "2",
        "--epochs", "2", "--steps-per-epoch", "2", "--test-samples", "16",
        "--data-dir", str(data),
        timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # 3 data kinds x 2 strategies (replicated-nccl needs GPUs), tensorflow.
    assert [r["status"] for r in result.records] == ["ok"] * 6
    # The same records from a second machine of this type: the page compares machines.
    for path in (tmp_path / "results").glob("*/record.json"):
        twin = tmp_path / "results" / f"{path.parent.name}-twin" / "record.json"
        twin.parent.mkdir()
        document = json.loads(path.read_text())
        document["environment"]["machine_id"] = "a-second-machine"
        twin.write_text(json.dumps(document))
    assert run_cli("report").returncode == 0
    page = (tmp_path / "reports" / "machines.md").read_text()
    headings = sorted(line.split(",")[0].strip("*") for line in page.splitlines()
                      if line.startswith("**"))  # fmt: skip
    # The reference's syn-parameter_server-4gpus, real-replicated-distortions-4gpus...
    assert headings == sorted(
        f"{kind}-{strategy}{distorted}-2devices"
        for strategy in ("parameter_server", "replicated")
        for kind, distorted in (("synthetic", ""), ("real", ""), ("real", "-distortions"))
    )
    tiny_rows = [line for line in page.splitlines() if line.startswith("| tiny ")]
    assert len(tiny_rows) == 6
    assert all(len(row.strip("|").split("|")) == 3 for row in tiny_rows)  # model, 2 machines
