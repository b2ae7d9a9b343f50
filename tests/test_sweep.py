"""Sweeps without training: the matrix, what is already recorded, progress, errors."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from test_report import run as make_record

from keras_profiler import environment, records
from keras_profiler.checks import unsupported
from keras_profiler.config import RunConfig
from keras_profiler.sweep import plan, runner
from keras_profiler.sweep.progress import Progress, clock_text
from keras_profiler.sweep.spec import QUICK, REFERENCE, SpecError, SweepSpec


def test_reference_matrix_has_the_reference_settings():
    configs = SweepSpec.load(REFERENCE).configs(["jax", "torch"], [1, 2])
    assert len(configs) == 2 * 2 * 2  # models x device counts x backends
    by_model = {}
    for config in configs:
        by_model.setdefault(config.model, set()).add(config.epochs)
        assert (config.batch_size, config.seed, config.dataset) == (32, 1337, "cifar10")
        assert config.global_batch_size == 32 * config.devices
        assert config.timeout_seconds == 21600
    assert by_model == {"resnet50": {10}, "inception_v3": {5}}
    # One device a plain fit, the scaling report's baseline; several, data parallel.
    strategies = {(c.backend, c.devices, c.strategy) for c in configs}
    assert strategies == {
        ("jax", 1, "single"),
        ("jax", 2, "data-parallel"),
        ("torch", 1, "single"),
        ("torch", 2, "ddp"),
    }


def test_quick_matrix_is_small_synthetic_and_virtual():
    spec = SweepSpec.load(QUICK)
    assert spec.data == ["synthetic"] and spec.models == ["tiny"]
    assert not spec.devices_up_to_present
    configs = spec.configs(["jax"], runner.device_counts(spec))
    assert [(c.devices, c.batch_size, c.strategy) for c in configs] == [
        (1, 16, "data-parallel"),
        (1, 16, "single"),  # the scaling report's baseline
        (2, 16, "data-parallel"),
        (1, 32, "data-parallel"),
        (1, 32, "single"),
        (2, 32, "data-parallel"),
    ]
    assert all(c.steps_per_epoch == 5 and c.epochs == 2 for c in configs)


def test_repeats_run_pass_by_pass_and_single_is_the_one_device_baseline():
    spec = SweepSpec(
        models=["tiny"],
        devices=[1, 2],
        data=["synthetic"],
        repeats=2,
        strategies={"tensorflow": ["replicated", "single"]},
    )
    configs = spec.configs(["tensorflow"], [1, 2])
    assert [(c.repeat, c.devices, c.strategy) for c in configs] == [
        (1, 1, "replicated"),
        (1, 1, "single"),
        (1, 2, "replicated"),
        (2, 1, "replicated"),
        (2, 1, "single"),
        (2, 2, "replicated"),
    ]


def test_inference_runs_each_device_count_and_batch_size_without_training_settings():
    spec = SweepSpec.from_document(
        {
            "matrix": {"models": ["tiny"], "devices": [1, 2], "batch_sizes": [4, 8],
                       "data": ["synthetic"], "modes": ["train", "infer"]},
            "settings": {"epochs": 3, "infer_iterations": 20},
        }
    )  # fmt: skip
    configs = spec.configs(["jax", "torch"], [1, 2])
    assert [(c.mode, c.batch_size, c.devices, c.backend) for c in configs if c.mode == "infer"] == [
        ("infer", 4, 1, "jax"), ("infer", 4, 1, "torch"), ("infer", 4, 2, "jax"),
        ("infer", 4, 2, "torch"), ("infer", 8, 1, "jax"), ("infer", 8, 1, "torch"),
        ("infer", 8, 2, "jax"), ("infer", 8, 2, "torch"),
    ]  # fmt: skip
    # Both serve over two devices (torch as one process per device).
    assert [unsupported(c) for c in configs if c.mode == "infer"] == [None] * 8
    trained, served = configs[0], configs[-1]
    assert (trained.epochs, served.epochs, served.infer_iterations) == (3, 10, 20)
    with pytest.raises(SpecError, match="unknown mode 'serve': choose from train, infer"):
        spec.replace(modes=["serve"])


def test_data_kinds_set_dataset_and_distortions():
    spec = SweepSpec(models=["tiny"], data=["synthetic", "real", "real-distorted"])
    kinds = [c.data_kind for c in spec.configs(["jax"], [1])]
    assert kinds == ["synthetic", "real", "real, distorted"]


@pytest.mark.parametrize(
    "document, message",
    [
        ({"matrix": {"models": ["tiny"], "gpus": [1]}}, "unknown [matrix] key(s) gpus"),
        ({"matrix": {"models": ["tiny"], "data": ["fake"]}}, "unknown data kind 'fake'"),
        ({"matrix": {"models": ["tiny"], "backends": ["theano"]}}, "unknown backend 'theano'"),
        ({"matrix": {"models": ["tiny"], "repeats": 0}}, "repeats must be a whole number"),
        ({"matrix": {"models": ["tiny"]}, "settings": {"mode": "infer"}}, "the [matrix] decides"),
        ({"matrix": {"models": ["tiny"]}, "settings": {"model": "x"}}, "the [matrix] decides"),
        ({"matrix": {"models": ["tiny"]}, "settings": {"epoch": 3}}, "unknown setting 'epoch'"),
        ({"matrix": {"models": ["tiny"]}, "models": {"vgg16": {"epochs": 1}}}, "[models.vgg16]"),
        ({"matrix": {"models": []}}, "no models: set [matrix] models"),
        ({"matrix": {"models": ["tiny"]}, "extra": {}}, "unknown table(s) extra"),
    ],
)
def test_bad_definitions_say_what_to_change(document, message):
    with pytest.raises(SpecError) as error:
        SweepSpec.from_document(document)
    assert message in str(error.value)


def test_a_combination_run_config_rejects_names_the_run():
    spec = SweepSpec(models=["tiny"], batch_sizes=[0], data=["synthetic"])
    with pytest.raises(SpecError, match="jax, model tiny, devices 1, batch_size 0.*at least 1"):
        spec.configs(["jax"], [1])


def _recorded(folder, run_id, config: RunConfig, status):
    record = make_record(run_id, config.backend, config.devices, status=status)
    record.config = config.to_dict()
    record.environment = environment.collect()  # made here: settles here
    records.write(record, folder)


def test_ok_oom_and_timeout_settle_a_configuration_errors_do_not(tmp_path):
    configs = SweepSpec(models=["tiny"], batch_sizes=[8, 16, 24, 32, 40], data=["synthetic"])
    configs = configs.configs(["jax"], [1])
    for index, status in enumerate(["ok", "oom", "timeout", "error"]):
        _recorded(tmp_path, f"r{index}", configs[index], status)
    todo, skipped = plan.pending(configs, tmp_path, force=False)
    assert [c.batch_size for c in todo] == [32, 40]  # the error is run again
    assert skipped == {"ok": 1, "oom": 1, "timeout": 1}
    todo, skipped = plan.pending(configs, tmp_path, force=True)
    assert len(todo) == 5 and skipped == {}


def test_where_data_lives_and_the_time_limit_do_not_make_a_new_configuration(tmp_path):
    config = RunConfig(backend="jax", model="tiny", dataset="synthetic", timeout_seconds=5)
    _recorded(tmp_path, "r1", config, "ok")
    same = RunConfig(
        backend="jax", model="tiny", dataset="synthetic", data_dir="/elsewhere", timeout_seconds=9
    )
    other_repeat = RunConfig(backend="jax", model="tiny", dataset="synthetic", repeat=2)
    todo, _ = plan.pending([same, other_repeat], tmp_path, force=False)
    assert todo == [other_repeat]


def test_records_older_than_a_field_count_with_its_default(tmp_path):
    config = RunConfig(backend="jax", model="tiny", dataset="synthetic")
    old = config.to_dict()
    del (
        old["repeat"],
        old["distortions"],
        old["steps_per_execution"],
    )  # written before these fields existed
    record = make_record("r1", "jax", 1)
    record.config = old
    record.environment = environment.collect()
    records.write(record, tmp_path)
    assert plan.pending([config], tmp_path, force=False)[0] == []


def test_device_counts_stop_at_the_gpus_present(monkeypatch):
    spec = SweepSpec(models=["tiny"], devices=[1, 2, 4, 8, 16])
    monkeypatch.setattr("keras_profiler.gpus.count", lambda: 4)
    assert runner.device_counts(spec) == [1, 2, 4]
    monkeypatch.setattr("keras_profiler.gpus.count", lambda: 0)
    assert runner.device_counts(spec) == [1]
    assert runner.device_counts(spec.replace(devices_up_to_present=False)) == [1, 2, 4, 8, 16]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_estimates_time_left_from_the_runs_so_far():
    now = [0.0]
    stream = _Terminal()
    progress = Progress(3, stream=stream, clock=lambda: now[0])
    progress.starting("first")
    now[0] = 60.0
    progress.finished()
    progress.starting("second")
    lines = stream.getvalue().splitlines()
    assert lines[0] == (
        "keras-profiler sweep: [1/3] elapsed 0:00:00, time left unknown until a run ends | first"
    )
    assert lines[1] == "keras-profiler sweep: [2/3] elapsed 0:01:00, about 0:02:00 left | second"


def test_progress_without_a_terminal_is_one_plain_line_per_run():
    stream = io.StringIO()
    progress = Progress(2, stream=stream, clock=lambda: 5.0)
    progress.starting("first")
    assert stream.getvalue() == "keras-profiler sweep: [1/2] first\n"
    assert clock_text(3725) == "1:02:05"


def _sweep(tmp_path, *args):
    return subprocess.run(
        [sys.executable, "-m", "keras_profiler", "sweep", *args, "--results-dir", "results"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.toml"], "cannot read sweep file missing.toml"),
        (["--quick", "--backends", "theano"], "unknown backend 'theano'"),
        (["--quick", "--batch-sizes", "0"], "'0': give whole numbers of at least 1"),
        (["--quick", "--data", "imagenet"], "unknown data kind 'imagenet'"),
        (["--quick", "--models", "nosuch"], "--model: unknown model 'nosuch'"),
        (["--quick", "--repeats", "0"], "repeats must be a whole number of at least 1"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_recorded(tmp_path, args, message):
    completed = _sweep(tmp_path, *args)
    assert completed.returncode == 2, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], completed.stderr
    assert not (tmp_path / "results").exists()


def test_command_line_overrides_the_file_per_model_settings_included():
    from keras_profiler.sweep import cli as sweep_cli

    argv = ["--models", "resnet50,inception_v3", "--gpus", "2", "--epochs", "1"]
    argv += ["--data", "real", "--distortions", "--no-download", "--timeout", "60"]
    argv += ["--steps-per-execution", "5"]
    spec = sweep_cli._spec(sweep_cli.parser().parse_args(argv))
    assert spec.devices == [2] and spec.devices_up_to_present is False
    assert spec.data == ["real", "real-distorted"]
    configs = spec.configs(["jax"], spec.devices)
    # inception_v3's own 5 epochs in the file give way to --epochs.
    assert {(c.model, c.epochs) for c in configs} == {("resnet50", 1), ("inception_v3", 1)}
    assert all(c.timeout_seconds == 60 and c.allow_download is False for c in configs)
    assert all(c.steps_per_execution == 5 and c.sync_every == 10 for c in configs)
    assert sorted(c.data_kind for c in configs) == ["real"] * 2 + ["real, distorted"] * 2
    again = sweep_cli._spec(
        sweep_cli.parser().parse_args(["--distortions", "--data", "real-distorted"])
    )
    assert again.data == ["real-distorted"]  # named once, not twice
    untouched = sweep_cli._spec(sweep_cli.parser().parse_args([]))
    assert untouched == SweepSpec.load(REFERENCE)


def test_choosing_models_on_the_command_line_drops_the_files_settings_for_the_others(tmp_path):
    # The reference matrix has [models.inception_v3]; leaving inception_v3 out
    # used to stop the sweep with "[models.inception_v3] sets a model the
    # matrix does not run".
    def dry_run(models):
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "keras_profiler",
                "sweep",
                "--dry-run",
                "--backends",
                "jax",
                "--gpus",
                "1",
                "--models",
                models,
                "--results-dir",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )

    alone = dry_run("resnet50")
    assert alone.returncode == 0, alone.stderr
    assert alone.stdout.splitlines() == [
        "to run: jax | resnet50 | cifar10 | 1 device(s), single | batch 32/device | 10 epoch(s) "
        "| float32 | channels_last"
    ]
    both = dry_run("inception_v3,resnet50")  # inception_v3 keeps its file's 5 epochs
    assert "inception_v3 | cifar10 | 1 device(s), single | batch 32/device | 5 epoch(s)" in (
        both.stdout
    )
