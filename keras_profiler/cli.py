"""Command line: parse, validate everything, then run or report.

Every problem the user can fix is found before the first run starts and is
reported as one line with exit status 2; no record is written for it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from keras_profiler import backends, gpus, launcher, report
from keras_profiler import datasets as dataset_registry
from keras_profiler import models as model_registry
from keras_profiler.backends.mxnet import environment as mxnet_env
from keras_profiler.config import DATA_FORMATS, LR_SCALINGS, OPTIMIZERS, PRECISIONS, RunConfig
from keras_profiler.errors import UsageError

DEFAULT_DATA_DIR = "~/.cache/keras-profiler/datasets"
EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """Bad arguments: one line saying what to change, exit status 2."""

    def error(self, message):
        raise UsageError(f"{message} (see --help)")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["report"]:
            return _report(_report_parser().parse_args(argv[1:]))
        if argv[:1] == ["sweep"]:
            from keras_profiler.sweep import cli as sweep_cli

            return sweep_cli.main(argv[1:])
        if argv[:1] == ["setup-mxnet"]:
            return _setup_mxnet(_setup_mxnet_parser().parse_args(argv[1:]))
        return _profile(_run_parser().parse_args(argv))
    except UsageError as error:
        print(f"keras-profiler: error: {error}", file=sys.stderr)
        return EXIT_USAGE


def _profile(args) -> int:
    configs = _configs(args)
    # Before the first run: a worker interpreter that cannot be had (MXNet's
    # environment cannot be built) is a usage error, not a failed run.
    pythons = {c.backend: backends.get(c.backend).worker_python(args.mxnet_python) for c in configs}
    failed = 0
    for config in configs:
        print(f"keras-profiler: {describe(config)}", flush=True)
        record = launcher.run(config, args.results_dir, python=pythons[config.backend])
        print(f"keras-profiler: {outcome(record)}", flush=True)
        failed += record.status != "ok"
    if not args.no_report:
        regenerate(args.results_dir, args.reports_dir)
    return 1 if failed else 0


def _configs(args) -> list[RunConfig]:
    """One validated config per backend asked for; any problem stops all runs."""
    names = [name.strip() for name in args.backend.split(",") if name.strip()]
    if not names:
        raise UsageError(f"--backend is empty: give one or more of {', '.join(backends.NAMES)}")
    configs = []
    for name in names:
        try:
            configs.append(_config(args, name))
        except ValueError as error:
            raise UsageError(str(error)) from None
    for config in configs:
        check_runnable(config)
    return configs


def _config(args, backend: str) -> RunConfig:
    return RunConfig(
        backend=backend,
        model=args.model,
        dataset=args.dataset,
        devices=args.gpus,
        batch_size=args.batch_size,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        seed=args.seed,
        precision=args.precision,
        optimizer=args.optimizer,
        learning_rate=args.learning_rate,
        train_samples=args.train_samples,
        test_samples=args.test_samples,
        data_dir=str(args.data_dir),
        allow_download=not args.no_download,
        timeout_seconds=args.timeout,
        strategy=args.strategy,
        bucket_mb=args.bucket_mb,
        lr_scaling=args.lr_scaling,
        jit_compile=None if args.jit_compile is None else args.jit_compile == "on",
        data_format=args.data_format,
        image_size=args.image_size,
        distortions=args.distortions,
        sync_every=args.sync_every,
        steps_per_execution=args.steps_per_execution,
        until_stable=args.until_stable,
        peak_tflops=args.peak_tflops,
    )


def check_runnable(config: RunConfig) -> None:
    """Raises UsageError when this machine cannot run ``config``: its backend
    is not installed, or it asks for devices or settings the machine lacks."""
    _check_installed(config.backend)
    _check_devices(config)


def _check_installed(backend: str) -> None:
    requirement = backends.get(backend).missing_requirement()
    if requirement:
        raise UsageError(
            f"backend {backend!r} needs {requirement}, which is not installed in "
            f"{sys.executable}: pip install {requirement}"
        )


def _check_devices(config: RunConfig) -> None:
    """More devices than the machine has, or a setting this machine cannot run."""
    present = gpus.count()
    if present and config.devices > present:
        raise UsageError(
            f"--gpus {config.devices}: this machine has {present} GPU(s): "
            f"use --gpus {present} or fewer"
        )
    problem = backends.get(config.backend).problem(config, present)
    if problem:
        raise UsageError(f"{config.backend}: {problem}")


def describe(config: RunConfig) -> str:
    """One line saying what a run trains."""
    return (
        f"{config.backend} | {config.model} | "
        f"{config.dataset}{', distorted' if config.distortions else ''} | "
        f"{config.devices} device(s), {config.strategy} | batch {config.batch_size}/device | "
        f"{config.epochs} epoch(s) | {config.precision} | {config.data_format}"
        + (f" | {config.image_size}x{config.image_size}" if config.image_size else "")
        + (f" | repeat {config.repeat}" if config.repeat > 1 else "")
    )


def outcome(record) -> str:
    """One line saying how a run ended, and where its record is."""
    where = f"results: {record.run_id}"
    if record.status != "ok":
        return f"{record.status.upper()}: {record.config['backend']} failed ({where})"
    summary = record.summary
    rate = summary.steady_images_per_second or summary.first_epoch_images_per_second
    which = "steady state" if summary.steady_images_per_second else "first epoch only"
    speed = summary.interval_speed
    if summary.stopped_when_stable:
        steps = sum(e.steps or 0 for e in record.epochs)
        return (
            f"ok: {record.config['backend']} {_interval_text(speed)}, stable after "
            f"{steps} steps ({where})"
        )
    if record.config["dataset"] == "synthetic":
        accuracy = "n/a (synthetic data)"
    else:
        accuracy = "n/a" if summary.test_accuracy is None else f"{summary.test_accuracy:.4f}"
    intervals = f"; intervals: {_interval_text(speed)}" if speed else ""
    return (
        f"ok: {record.config['backend']} {rate:.1f} images/sec ({which}{intervals}), "
        f"test accuracy {accuracy} ({where})"
    )


def _interval_text(speed) -> str:
    """'1234.5 +- 6.7 images/sec (95% interval +-1.1%, 40 intervals)'."""
    text = f"{speed.images_per_second_mean:.1f}"
    if speed.standard_error is not None:
        text += f" +- {speed.standard_error:.1f}"
    text += " images/sec"
    if speed.ci95_half_width_percent is not None:
        text += f" (95% interval +-{speed.ci95_half_width_percent:.1f}%, "
        text += f"{speed.intervals} intervals)"
    return text


def _setup_mxnet(args) -> int:
    python = mxnet_env.ensure(base_python=args.python)
    print(f"keras-profiler: the MXNet environment is ready: --mxnet-python {python}")
    return 0


def _report(args) -> int:
    regenerate(args.results_dir, args.reports_dir)
    return 0


def regenerate(results_dir, reports_dir) -> None:
    """Rewrites the reports from the records, naming every file skipped."""
    written, problems = report.generate(results_dir, reports_dir)
    for problem in problems:
        print(f"keras-profiler: {problem}", file=sys.stderr)
    print(f"keras-profiler: wrote {len(written)} report file(s) to {reports_dir}")


def _run_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m keras_profiler",
        description=(
            "Train a Keras model under one or more backends, measure epoch time, images/sec, "
            "accuracy and peak memory, record every run under --results-dir and regenerate "
            "--reports-dir. 'python -m keras_profiler report' regenerates the reports alone; "
            "'python -m keras_profiler sweep' runs a whole matrix of configurations."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add(
        "--backend",
        required=True,
        help=f"Keras backend, or several separated by commas: {', '.join(backends.NAMES)}",
    )
    add(
        "--model",
        required=True,
        help=f"{', '.join(model_registry.available())}, or path/to/file.py:function, "
        "a builder function(input_shape, num_classes) returning a Keras model",
    )
    add(
        "--dataset",
        default="cifar10",
        choices=dataset_registry.available(),
        help="cifar10 (the standard python archive, downloaded when absent) or synthetic "
        "(seeded random images of CIFAR-10's shapes, or of --image-size: speed only, accuracy "
        "means nothing)",
    )
    add(
        "--distortions",
        action="store_true",
        help="random crop and horizontal flip of each training image on the input path "
        "(real data only), as tf_cnn_benchmarks' distortions runs",
    )
    add(
        "--gpus",
        type=int,
        default=1,
        metavar="N",
        help="devices to train on, data parallel: GPUs where the machine has them, else "
        "N virtual devices carved out of the CPU (the multi-device code path, not a speedup)",
    )
    add(
        "--strategy",
        help="how devices share the work; default: the backend's data-parallel one. "
        + "; ".join(f"{b}: {', '.join(n)}" for b, n in backends.strategies_by_backend().items())
        + " (single: plain fit on one device, no distribution)",
    )
    add(
        "--bucket-mb",
        type=float,
        metavar="MB",
        help="torch ddp: gradient bucket size for the all-reduce (PyTorch's default: 25)",
    )
    add(
        "--lr-scaling",
        default="fixed",
        choices=LR_SCALINGS,
        help="fixed: the same learning rate at any device count; linear: multiplied by devices",
    )
    add(
        "--jit-compile",
        choices=("on", "off"),
        help="compile the train step (XLA; torch.compile for torch); default: on for jax, "
        "off for tensorflow (XLA fails under MirroredStrategy) and torch (Keras's default)",
    )
    add(
        "--data-format",
        choices=DATA_FORMATS,
        help="the layout layers compute in; default: channels_first for mxnet (its kernels "
        "are NCHW), channels_last for the others",
    )
    add(
        "--image-size",
        type=int,
        metavar="S",
        help="the side of the square images the model sees (at least 32); default: the "
        "model's own (299 for inception_v3), else the data's 32. Synthetic data is generated "
        "at the size given here (its test split then defaults to the first 1000 images); "
        "CIFAR-10 is upscaled to it on the device, as is synthetic data without this option",
    )
    add(
        "--mxnet-python",
        metavar="PATH",
        help="mxnet: a Python that has mxnet 1.9.1 and keras-mxnet 2.2.4.3; default: the "
        "environment keras-profiler builds on first use (see 'setup-mxnet --help')",
    )
    add("--batch-size", type=int, default=32, help="images per device per step")
    add(
        "--epochs",
        type=int,
        default=10,
        help="epochs; the first (compilation, warm-up) is reported apart",
    )
    add(
        "--steps-per-epoch",
        type=int,
        metavar="N",
        help="cap each epoch at N steps: train on the first N x global-batch images",
    )
    add("--seed", type=int, default=1337, help="seed for weights, data order and synthetic data")
    add("--precision", default="float32", choices=PRECISIONS, help="Keras dtype policy")
    add("--optimizer", default="sgd", choices=OPTIMIZERS, help="sgd has momentum 0.9")
    add("--learning-rate", type=float, default=0.01, help="the optimizer's learning rate")
    add("--train-samples", type=int, metavar="N", help="use the first N training images")
    add("--test-samples", type=int, metavar="N", help="use the first N test images")
    add(
        "--data-dir",
        default=DEFAULT_DATA_DIR,
        help="where cifar-10-python.tar.gz (or cifar-10-batches-py/) is looked up and downloaded",
    )
    add(
        "--no-download",
        action="store_true",
        help="never download: fail with a message when the data is not in --data-dir",
    )
    add(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="stop a run after this long and record it as a timeout",
    )
    add(
        "--steps-per-execution",
        type=int,
        default=1,
        metavar="N",
        help="train N steps per call of Keras's compiled train function (Keras 3 backends): "
        "less Python per step; --sync-every must be a multiple of N",
    )
    add(
        "--sync-every",
        type=int,
        default=10,
        metavar="K",
        help="wait for the device every K steps (at least 2; never every step) and time each "
        "K-step interval: the steady speed's standard error, jitter and 95%% interval",
    )
    add(
        "--until-stable",
        type=float,
        metavar="PCT",
        help="a speed-only run: stop training as soon as the steady speed's 95%% interval is "
        "within PCT percent of it (at most --epochs), with no test evaluation",
    )
    add(
        "--peak-tflops",
        type=float,
        metavar="TFLOPS",
        help="the device's peak TFLOP/s for MFU (model FLOPs utilisation), where keras-profiler's "
        "table of known GPUs lacks it or you know better",
    )
    add_folders(parser)
    add("--no-report", action="store_true", help="do not regenerate the reports after the runs")
    return parser


def _setup_mxnet_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m keras_profiler setup-mxnet",
        description=(
            "Build the isolated environment --backend mxnet runs in (mxnet 1.9.1, keras-mxnet "
            "2.2.4.3, numpy 1.23.5; the CUDA build matching the NVIDIA driver, if any), in "
            "$KERAS_PROFILER_CACHE (~/.cache/keras-profiler). --backend mxnet does this by "
            "itself on first use; this command does it ahead of time."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--python",
        metavar="PATH",
        help="the Python 3.10 or 3.11 to build it from (default: the one running this)",
    )
    return parser


def _report_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m keras_profiler report",
        description="Regenerate the reports from the records alone; nothing is trained.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_folders(parser)
    return parser


def add_folders(parser) -> None:
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=Path("results"),
        help="where run records are written and read",
    )
    parser.add_argument(
        "--reports-dir",
        type=Path,
        default=Path("reports"),
        help="where the markdown reports are written",
    )
