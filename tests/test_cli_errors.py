"""Bad input: one line that says what to change, exit status 2, no record."""

from __future__ import annotations

import importlib.util

import pytest

from keras_profiler import cli


def run_main(capsys, tmp_path, *args):
    code = cli.main(
        [
            *args,
            "--results-dir",
            str(tmp_path / "results"),
            "--reports-dir",
            str(tmp_path / "reports"),
        ]
    )
    err = capsys.readouterr().err
    return code, err


def assert_one_line_error(code, err, tmp_path, *phrases):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("keras-profiler: error:")
    for phrase in phrases:
        assert phrase in lines[0]
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    "args, phrases",
    [
        (["--backend", "theano", "--model", "tiny"], ["theano", "jax, tensorflow, torch"]),
        (["--backend", "jax,caffe", "--model", "tiny"], ["caffe"]),
        (["--backend", "jax", "--model", "resnet5"], ["resnet5", "resnet50", "file.py:function"]),
        (["--backend", "jax", "--model", "tiny", "--dataset", "imagenet"], ["imagenet", "cifar10"]),
        (["--backend", "jax", "--model", "tiny", "--gpus", "0"], ["--gpus must be at least 1"]),
        (
            ["--backend", "jax", "--model", "tiny", "--batch-size", "0"],
            ["--batch-size must be at least 1"],
        ),
        (["--backend", "jax", "--model", "tiny", "--epochs", "0"], ["--epochs must be at least 1"]),
        (["--backend", "jax", "--model", "tiny", "--precision", "fp8"], ["fp8"]),
        (["--backend", "jax", "--model", "tiny", "--batch-size", "many"], ["many"]),
        (["--model", "tiny"], ["--backend"]),
        (["--backend", "jax", "--model", "tiny", "--learning-rate", "-1"], ["--learning-rate"]),
    ],
)
def test_bad_arguments(capsys, tmp_path, args, phrases):
    code, err = run_main(capsys, tmp_path, *args)
    assert_one_line_error(code, err, tmp_path, *phrases)


def test_missing_user_model_function(capsys, tmp_path):
    path = tmp_path / "mine.py"
    path.write_text("def other(input_shape, num_classes):\n    pass\n")
    code, err = run_main(capsys, tmp_path, "--backend", "jax", "--model", f"{path}:mine")
    assert_one_line_error(code, err, tmp_path, "mine.py", "'mine'")


def test_user_model_file_that_does_not_parse(capsys, tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("def build(input_shape, num_classes:\n    return None\n")
    code, err = run_main(capsys, tmp_path, "--backend", "jax", "--model", f"{path}:build")
    assert_one_line_error(code, err, tmp_path)
    assert err == (
        f"keras-profiler: error: --model: {str(path)!r} is not valid Python: "
        "line 1: '(' was never closed\n"
    )


def test_backend_library_not_installed(capsys, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    code, err = run_main(capsys, tmp_path, "--backend", "jax,torch", "--model", "tiny")
    assert_one_line_error(code, err, tmp_path, "'torch'", "pip install torch")


def test_missing_data_offline(run_cli, tmp_path):
    empty = tmp_path / "no-data"
    result = run_cli(
        "--backend", "jax", "--model", "tiny", "--data-dir", str(empty), "--no-download"
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("keras-profiler: error:"), result.stderr
    assert "cifar-10-python.tar.gz" in lines[0] and str(empty) in lines[0]
    assert "--dataset synthetic" in lines[0]
    assert result.records == []


def test_corrupt_archive(run_cli, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "cifar-10-python.tar.gz").write_bytes(b"not an archive")
    result = run_cli("--backend", "jax", "--model", "tiny", "--data-dir", str(data))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "corrupt" in lines[0], result.stderr
    assert result.records == []


@pytest.mark.parametrize(
    "args, phrases",
    [
        (
            ["--backend", "jax", "--strategy", "ring-allreduce"],
            ["unknown strategy 'ring-allreduce'", "tensorflow: replicated-nccl", "torch: ddp"],
        ),
        (["--backend", "jax", "--strategy", "ddp"], ["ddp does not apply to jax", "data-parallel"]),
        (
            ["--backend", "jax,tensorflow", "--strategy", "replicated"],
            ["replicated does not apply to jax"],
        ),
        (
            ["--backend", "torch", "--strategy", "parameter_server"],
            ["does not apply to torch", "ddp, single"],
        ),
        (["--backend", "jax", "--strategy", "single", "--gpus", "2"], ["use --gpus 1"]),
        (["--backend", "jax", "--bucket-mb", "10"], ["--bucket-mb", "does not apply to jax"]),
        (
            ["--backend", "torch", "--gpus", "2", "--bucket-mb", "0"],
            ["--bucket-mb must be positive"],
        ),
        (
            ["--backend", "torch", "--bucket-mb", "10"],
            ["does not apply to torch with --strategy single: add --strategy ddp"],
        ),
        (["--backend", "jax", "--lr-scaling", "sqrt"], ["sqrt", "fixed", "linear"]),
        (
            ["--backend", "tensorflow", "--strategy", "replicated-nccl"],
            ["needs NVIDIA GPUs", "--strategy replicated"],
        ),
        (
            ["--backend", "tensorflow", "--gpus", "2", "--jit-compile", "on"],
            ["MirroredStrategy", "--jit-compile off"],
        ),
        (
            ["--backend", "jax", "--steps-per-execution", "4"],
            ["--sync-every 10 is not a multiple of --steps-per-execution 4: use --sync-every 8"],
        ),
        (
            ["--backend", "jax", "--steps-per-execution", "0"],
            ["--steps-per-execution must be at least 1"],
        ),
        (
            ["--backend", "mxnet", "--steps-per-execution", "2"],
            ["needs Keras 3", "keras-mxnet (Keras 2.2) runs one step per call: leave it out"],
        ),
    ],
)
def test_bad_distribution_settings(capsys, tmp_path, args, phrases):
    code, err = run_main(capsys, tmp_path, *args, "--model", "tiny")
    assert_one_line_error(code, err, tmp_path, *phrases)


def test_more_gpus_than_the_machine_has(capsys, tmp_path, monkeypatch):
    from keras_profiler import gpus

    monkeypatch.setattr(gpus, "count", lambda: 2)
    code, err = run_main(capsys, tmp_path, "--backend", "jax", "--model", "tiny", "--gpus", "4")
    assert_one_line_error(code, err, tmp_path, "--gpus 4", "has 2 GPU(s)", "--gpus 2 or fewer")


def test_torch_ddp_needs_a_keras_with_ddp_in_fit(capsys, tmp_path, monkeypatch):
    from keras_profiler.backends import torch as torch_adapter

    monkeypatch.setattr(torch_adapter, "keras_has_ddp", lambda: False)
    code, err = run_main(capsys, tmp_path, "--backend", "torch", "--model", "tiny", "--gpus", "2")
    assert_one_line_error(code, err, tmp_path, "keras-nightly", "--strategy single")


def test_torch_without_ddp_in_keras_still_profiles_one_device(monkeypatch):
    from keras_profiler.backends import torch as torch_adapter
    from keras_profiler.config import RunConfig

    monkeypatch.setattr(torch_adapter, "keras_has_ddp", lambda: False)
    config = RunConfig(backend="torch", model="tiny")
    assert config.strategy == "single"
    assert torch_adapter.TorchBackend().problem(config, gpus_present=0) is None


@pytest.mark.parametrize(
    "backend, several",
    [
        ("jax", "data-parallel"),
        ("tensorflow", "replicated"),  # nccl where GPUs are present
        ("torch", "ddp"),
        ("mxnet", "multi-context"),
    ],
)
def test_one_device_trains_plainly_and_several_in_data_parallel(backend, several):
    from keras_profiler.config import RunConfig

    assert RunConfig(backend=backend, model="tiny").strategy == "single"
    assert RunConfig(backend=backend, model="tiny", devices=2).strategy == several
    # Named, a data-parallel strategy runs at one device too (its cost, measured).
    named = RunConfig(backend=backend, model="tiny", strategy=several)
    assert (named.devices, named.strategy) == (1, several)
