"""A model its backend cannot express: refused by a run, recorded as not
supported by a sweep, and shown as such in the reports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from test_report import run as ok_record

from keras_profiler import models, records, report
from keras_profiler.config import RunConfig
from keras_profiler.sweep import plan, runner
from keras_profiler.sweep.progress import Progress

GROUPED = """
NEEDS = ("grouped convolutions",)


def build(input_shape, num_classes):
    import keras

    inputs = keras.layers.Input(shape=input_shape)
    x = keras.layers.Conv2D(8, 3, groups=1)(inputs)
    x = keras.layers.Conv2D(8, 3, groups=2)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))
"""


@pytest.fixture
def grouped(tmp_path):
    path = tmp_path / "grouped.py"
    path.write_text(GROUPED)
    return f"{path}:build"


def test_a_models_needs_are_read_without_importing_it(grouped, tmp_path):
    assert models.needs(grouped) == ("grouped convolutions",)
    assert models.needs("resnet50") == ()
    odd = tmp_path / "odd.py"
    odd.write_text('NEEDS = ("teleportation",)\n\ndef build(input_shape, num_classes):\n    pass\n')
    with pytest.raises(ValueError, match="NEEDS names 'teleportation': use only 'grouped"):
        models.needs(f"{odd}:build")


def test_every_registered_models_needs_are_known_features():
    for name in models.available():
        assert set(models.needs(name)) <= set(models.FEATURES), name


def test_a_run_on_a_backend_that_lacks_what_the_model_needs_is_refused(grouped, tmp_path):
    results = tmp_path / "results"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_profiler",
            "--backend",
            "mxnet",
            "--model",
            grouped,
            "--dataset",
            "synthetic",
            "--results-dir",
            str(results),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip() == (
        f"keras-profiler: error: model {grouped} needs grouped convolutions, which the mxnet "
        "backend (Keras 2.2 through keras-mxnet) lacks: choose another --backend"
    )
    assert not results.exists() or not any(results.iterdir())


def test_a_sweep_records_it_as_not_supported_and_the_reports_say_so(grouped, tmp_path, capsys):
    results = tmp_path / "results"
    config = RunConfig(backend="mxnet", model=grouped, dataset="cifar10", batch_size=32)
    # No worker may start: its interpreter does not exist.
    finished = runner.run([config], results, {"mxnet": "/nonexistent/python"}, Progress(1))
    assert [(r.status, r.error) for r in finished] == [
        (
            "not_supported",
            f"model {grouped} needs grouped convolutions, which the mxnet backend "
            "(Keras 2.2 through keras-mxnet) lacks: choose another --backend",
        )
    ]
    assert "not supported: model" in capsys.readouterr().out
    assert plan.pending([config], results, force=False) == ([], {"not_supported": 1})
    # Beside an ok run of another backend, the page names the cell as not supported.
    jax = ok_record("jax-run", "jax", 1, model=grouped)
    jax.model["name"], jax.environment = grouped, finished[0].environment
    jax.config = {**finished[0].config, "backend": "jax", "data_format": "channels_last"}
    jax.devices = [{"index": 0, "kind": "cpu", "name": jax.environment["cpu_model"]}]
    records.write(jax, results)
    report.generate(results, tmp_path / "reports")
    pages = {p.name: p.read_text() for p in (tmp_path / "reports").glob("*.md")}
    model_page = next(text for text in pages.values() if "### mxnet" in text)
    assert "## Setup 2" not in model_page  # one setup: both cells in one table
    assert "| mxnet     | not supported |" in model_page
    assert "* CPU (1): not supported: `model " in model_page
    assert "2 run record(s) (1 ok, 0 failed, 1 not supported)" in pages["README.md"]
    record = json.loads(next(results.glob("*mxnet*/record.json")).read_text())
    assert record["status"] == "not_supported" and record["wall_seconds"] == 0.0


@pytest.mark.parametrize(
    "model, missing",
    [
        ("resnext50", "grouped convolutions"),
        ("alexnet", "grouped convolutions and local response normalisation"),
        ("bert_base", "attention and layer normalisation"),
    ],
)
def test_mxnet_refuses_the_registered_models_keras_2_cannot_build(model, missing):
    from keras_profiler import checks
    from keras_profiler.errors import UsageError

    with pytest.raises(UsageError) as refused:
        checks.check_runnable(RunConfig(backend="mxnet", model=model))
    assert str(refused.value) == (
        f"model {model} needs {missing}, which the mxnet backend (Keras 2.2 through "
        "keras-mxnet) lacks: choose another --backend"
    )
    assert checks.unsupported(RunConfig(backend="jax", model=model)) is None


def test_on_a_gpu_machine_the_cell_names_the_gpus_it_would_have_used():
    from keras_profiler import launcher
    from keras_profiler.report.data import frame

    gpus = [{"index": i, "name": "NVIDIA H200", "memory_mib": 143771} for i in range(4)]
    described = {"cpu_model": "AMD EPYC 9654", "gpus": gpus}
    config = RunConfig(backend="mxnet", model="resnext50", dataset="synthetic", devices=2)
    devices = launcher._devices_it_would_use(config, described)
    assert devices == [dict(gpu, kind="gpu") for gpu in gpus[:2]]
    record = records.RunRecord(
        run_id="r",
        status="not_supported",
        config=config.to_dict(),
        started_at="",
        finished_at="",
        wall_seconds=0.0,
        environment=described,
        devices=devices,
    )
    assert frame._hardware(record) == ("gpu", "NVIDIA H200")


def test_a_dry_run_says_which_cells_will_be_recorded_as_not_supported(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_profiler",
            "sweep",
            "--dry-run",
            "--backends",
            "jax,mxnet",
            "--models",
            "resnext50",
            "--gpus",
            "1",
            "--data",
            "synthetic",
            "--results-dir",
            str(tmp_path / "results"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["to run", "not supported, to record"]
    assert lines[1].endswith("lacks: choose another --backend")
