"""What the commands print: one line per run started and ended, and the
reports written. Shared by the run command and the sweep."""

from __future__ import annotations

import sys

from keras_profiler import datasets, report
from keras_profiler.config import RunConfig


def describe(config: RunConfig) -> str:
    """One line saying what a run trains."""
    return (
        f"{config.backend} | {config.model} | "
        f"{config.dataset}{', distorted' if config.distortions else ''} | "
        f"{config.devices} device(s)"
        + (f" x {config.nodes} nodes (this is node {config.node_rank})" if config.nodes > 1 else "")
        + f", {config.strategy} | batch {config.batch_size}/device | "
        + ("forward only" if config.mode == "infer" else f"{config.epochs} epoch(s)")
        + f" | {config.precision} | {config.data_format}"
        + (f" | {config.image_size}x{config.image_size}" if config.image_size else "")
        + (f" | {config.sequence_length} tokens" if config.sequence_length else "")
        + (f" | over {config.interconnect}" if config.nodes > 1 and config.interconnect else "")
        + (f" | repeat {config.repeat}" if config.repeat > 1 else "")
    )


def outcome(record) -> str:
    """One line saying how a run ended, and where its record is."""
    where = f"results: {record.run_id}"
    node = record.config.get("node_rank") or 0
    if node:
        where = f"node {node} of {record.config['nodes']}: node 0 writes the record"
    if record.status == "not_supported":
        return f"not supported: {record.error} ({where})"
    if record.status != "ok":
        return f"{record.status.upper()}: {record.config['backend']} failed ({where})"
    if record.inference:
        figures = record.inference
        return (
            f"ok: {record.config['backend']} inference, batch {figures['batch_size']}: p50 "
            f"{figures['p50_s'] * 1e3:.3f} ms, p90 {figures['p90_s'] * 1e3:.3f} ms, "
            f"{figures['samples_per_second']:.1f} samples/sec ({where})"
        )
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
    dataset = record.config["dataset"]
    if dataset in datasets.available() and not datasets.is_learnable(dataset):
        accuracy = "n/a (synthetic data)"
    else:
        accuracy = "n/a" if summary.test_accuracy is None else f"{summary.test_accuracy:.4f}"
    intervals = f"; intervals: {_interval_text(speed)}" if speed else ""
    return (
        f"ok: {record.config['backend']} {rate:.1f} {_per_second(record, rate)} "
        f"({which}{intervals}), test accuracy {accuracy} ({where})"
    )


def _per_second(record, rate: float) -> str:
    """The throughput's unit, and tokens/sec beside sequences/sec."""
    unit = record.model.get("sample_unit") or "images"
    length = record.model.get("sequence_length")
    tokens = f" ({rate * length:.1f} tokens/sec)" if length else ""
    return f"{unit}/sec{tokens}"


def regenerate(results_dir, reports_dir) -> list:
    """Rewrites the reports from the records, naming every file skipped;
    returns the files written."""
    written, problems = report.generate(results_dir, reports_dir)
    for problem in problems:
        print(f"keras-profiler: {problem}", file=sys.stderr)
    print(f"keras-profiler: wrote {len(written)} report file(s) to {reports_dir}")
    return written


def machine_words(record) -> str:
    """'Intel(R) Xeon(R) Processor, 2 cores, machine 3621f0c066f9': what a
    record ran on, in words."""
    environment = record.environment
    gpus = sorted({gpu.get("name") for gpu in environment.get("gpus") or []} - {None})
    hardware = " + ".join(gpus) if gpus else environment.get("cpu_model") or "unknown CPU"
    cores = environment.get("cpu_cores_logical")
    return f"{hardware}, {cores} cores, machine {record.machine_id}"


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


def run_each(configs: list[RunConfig], args, what: str = "") -> int:
    """Runs each config in a fresh worker, a line before and after each;
    returns how many failed. ``args``: the command's --mxnet-python and
    --results-dir. Before the first run, a worker interpreter that cannot be
    had (MXNet's environment cannot be built) is a usage error, not a failed
    run."""
    from keras_profiler import backends, launcher

    pythons = {c.backend: backends.get(c.backend).worker_python(args.mxnet_python) for c in configs}
    failed = 0
    for config in configs:
        print(f"keras-profiler: {what}{describe(config)}", flush=True)
        record = launcher.run(config, args.results_dir, python=pythons[config.backend])
        print(f"keras-profiler: {outcome(record)}", flush=True)
        failed += record.status != "ok"
    return failed
