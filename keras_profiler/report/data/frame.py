"""Records to a pandas DataFrame: one row per run, flat columns with units."""

from __future__ import annotations

import json
import math

import pandas as pd

from keras_profiler import datasets
from keras_profiler.config import data_kind
from keras_profiler.records import RunRecord
from keras_profiler.report.data import speed_columns

# The settings that make two runs comparable: runs differing in any of these
# are never put in the same table.
SETUP_COLUMNS = [
    "model",
    "dataset",
    "synthetic",
    "data_kind",
    "batch_size",
    "epochs",
    "steps_per_epoch",
    "train_samples",
    "test_samples",
    "seed",
    "precision",
    "optimizer",
    "learning_rate",
    "image_size",
    "sequence_length",
    "until_stable",
    "device_kind",
    "hardware",
]
# How each device computes, apart from how the devices share the work: a
# scaling row's one-device baseline must have computed alike.
COMPUTE_COLUMNS = ["data_format", "steps_per_execution"]
# Within a setup, each backend gets one table per way of spreading the run
# over devices and of computing: runs differing in these are compared, not mixed.
TABLE_COLUMNS = [
    "backend", "strategy", "jit_compile", "bucket_mb", "nodes", "interconnect", *COMPUTE_COLUMNS,
]  # fmt: skip


# The bus bandwidth (Gbit/s) that the all-reduce probe measured between a
# run's nodes before training (its latency + bandwidth fit); None on one
# node, where the probe failed, and in records written before the probe.
LINK_BUSBW = "link_busbw_gbit_per_s"
# Per-image costs of the model, computed from its layers in the worker.
MODEL_FIGURES = ["forward_macs_per_image", "activation_bytes_per_image", "parameter_bytes"]
# The record's full document, RunRecord.to_dict() as JSON with sorted keys:
# not a figure, carried so that report pages can export the records whole.
DOCUMENT = "document"


def records_frame(records: list[RunRecord]) -> pd.DataFrame:
    """One row per record, sorted so that the same records give the same frame."""
    rows = [_row(record) for record in records]
    frame = _tell_machines_apart(pd.DataFrame(rows, columns=_COLUMNS))
    return frame.sort_values(["finished_at", "run_id"], kind="stable").reset_index(drop=True)


def _tell_machines_apart(frame: pd.DataFrame) -> pd.DataFrame:
    """Names the machine in the hardware label where two machines share one
    (two hosts of one type), so that neither's runs replace or hide the
    other's: cells, setups and tables are keyed by that label."""
    machines = frame.groupby("hardware")["machine_id"].transform("nunique")
    shared = machines > 1
    frame.loc[shared, "hardware"] = (
        frame.loc[shared, "hardware"] + ", machine " + frame.loc[shared, "machine_id"]
    )
    return frame


def _row(record: RunRecord) -> dict:
    config, summary = record.config, record.summary
    memory = summary.peak_memory if summary else None
    row = {
        "run_id": record.run_id,
        "status": record.status,
        "error": _last_line(record.error),
        "finished_at": record.finished_at,
        "backend": config["backend"],
        "devices": config["devices"],
        "keras": record.environment.get("keras"),
        "libraries": _libraries(record.environment.get("libraries") or {}),
        "parameters": record.model.get("parameters"),
        "machine_id": record.machine_id,
        **{key: config.get(key) for key in SETUP_COLUMNS if key in config},
    }
    # Accuracy means nothing where the labels cannot be learnt (noise).
    row["synthetic"] = _unlearnable(config["dataset"])
    row["distortions"] = bool(config.get("distortions"))
    row["data_kind"] = data_kind(config["dataset"], row["distortions"])
    # Records written before --repeats count as the first repetition.
    row["repeat"] = int(config.get("repeat") or 1)
    # Computed from the model in the worker (keras_profiler.model_stats);
    # absent from records written before it.
    row.update({key: record.model.get(key) for key in MODEL_FIGURES})
    # The setup key is the size asked for (None: the model's default), so that a
    # run that died before building its model still lands in the right table.
    row["image_size"] = config.get("image_size")
    row["model_image_size"] = record.model.get("image_size")
    row["sequence_length"] = config.get("sequence_length")
    # Records written before --nodes ran on one node.
    row["nodes"] = int(config.get("nodes") or 1)
    row["interconnect"] = config.get("interconnect") if row["nodes"] > 1 else None
    row[LINK_BUSBW] = _measured_busbw(record) if row["nodes"] > 1 else None
    row["model_sequence_length"] = record.model.get("sequence_length")
    # What one sample is: records written before text models count images.
    row["sample_unit"] = record.model.get("sample_unit") or "images"
    row["device_kind"], row["hardware"] = _hardware(record)
    row.update(_distribution(record))
    if summary:
        row.update({name: getattr(summary, name) for name in SUMMARY_FIGURES})
        # A run --until-stable ended in its first epoch has its speed from
        # its steady intervals alone; its setup (until_stable) says so.
        row["steady_images_per_second"] = speed_columns.headline_speed(summary)
        length = row["model_sequence_length"]
        if length and row["steady_images_per_second"] is not None:
            row["steady_tokens_per_second"] = row["steady_images_per_second"] * length
    row.update(speed_columns.of(record))
    row[DOCUMENT] = json.dumps(record.to_dict(), sort_keys=True)
    if memory:
        per_device = memory.device_peak_mib
        row.update(
            device_peak_mib=memory.device_peak_total_mib,
            device_peak_max_mib=max(per_device) if per_device else None,
            device_peak_source=memory.device_peak_source,
            nvml_process_mib=memory.nvml_process_mib,
            host_peak_rss_mib=memory.host_peak_rss_mib,
        )
    return row


def epochs_frame(records: list[RunRecord]) -> pd.DataFrame:
    """One row per epoch of every run: run_id, epoch, seconds, images_per_second,
    loss, accuracy, test_loss, test_accuracy (for accuracy curves)."""
    rows = [
        {
            "run_id": record.run_id,
            **{k: getattr(e, k) for k in _EPOCH_FIGURES},
            "images_per_second": e.images_per_second,
        }
        for record in records
        for e in record.epochs
    ]
    columns = ["run_id", *_EPOCH_FIGURES, "images_per_second"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["run_id", "epoch"], kind="stable").reset_index(drop=True)


_EPOCH_FIGURES = ["epoch", "seconds", "loss", "accuracy", "test_loss", "test_accuracy"]


def _distribution(record: RunRecord) -> dict:
    """How the run was spread over devices. Version 1 records predate data
    parallelism: a plain fit, fixed learning rate, compilation unknown."""
    config, spread = record.config, record.distribution or {}
    scaling = config.get("lr_scaling") or "fixed"
    rate = spread.get("learning_rate")
    if rate is None and scaling == "fixed":
        rate = config.get("learning_rate")  # unscaled: the rate asked for
    checks = spread.get("replica_checks") or []
    last = checks[-1] if checks else {}
    batch = config.get("batch_size")
    return {
        "strategy": config.get("strategy") or "single",
        "jit_compile": config.get("jit_compile"),
        "jit_compile_resolved": spread.get("jit_compile"),
        "bucket_mb": config.get("bucket_mb"),
        # Every run before the option existed computed channels-last.
        "data_format": config.get("data_format") or "channels_last",
        # Every run before the option existed trained one step per call.
        "steps_per_execution": config.get("steps_per_execution") or 1,
        "lr_scaling": scaling,
        "effective_learning_rate": rate,
        "global_batch": spread.get("global_batch_size")
        or (batch * config["devices"] if batch else None),
        "virtual_devices": bool(spread.get("virtual_devices")),
        "replica_max_diff": last.get("max_abs_difference"),
        "replica_trainable_max_diff": last.get("trainable_max_abs_difference"),
    }


def _measured_busbw(record: RunRecord) -> float | None:
    """The probe's fitted bus bandwidth from ``distribution.interconnect``
    ({"name", "fit": {"busbw_gbit_per_s", ...}, "sizes"}, or {"name",
    "error"} where the probe failed); None where nothing was measured."""
    link = (record.distribution or {}).get("interconnect") or {}
    fit = link.get("fit") if isinstance(link, dict) else None
    value = fit.get("busbw_gbit_per_s") if isinstance(fit, dict) else None
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(value) if is_number and math.isfinite(value) else None


# Peak memory (MiB): framework counter summed over devices and its largest
# device, NVML per process, host RSS.
MEMORY_FIGURES = ["device_peak_mib", "device_peak_max_mib", "nvml_process_mib", "host_peak_rss_mib"]
# Whole-run figures read from each record's summary.
SUMMARY_FIGURES = [
    "training_seconds",
    "first_epoch_seconds",
    "first_epoch_images_per_second",
    "steady_epoch_seconds",
    "steady_images_per_second",
    "train_accuracy",
    "test_accuracy",
]
# Token models' steady sequences/sec times their sequence length.
TOKEN_FIGURES = ["steady_tokens_per_second"]
_COLUMNS = [
    "run_id",
    "status",
    "error",
    "finished_at",
    "backend",
    "devices",
    "keras",
    "libraries",
    "parameters",
    "model_image_size",
    "model_sequence_length",
    "sample_unit",
    *SETUP_COLUMNS,
    "distortions",
    "repeat",
    *MODEL_FIGURES,
    *TABLE_COLUMNS[1:],
    "jit_compile_resolved",
    "lr_scaling",
    "effective_learning_rate",
    "global_batch",
    "virtual_devices",
    "replica_max_diff",
    "replica_trainable_max_diff",
    *SUMMARY_FIGURES,
    *TOKEN_FIGURES,
    *MEMORY_FIGURES,
    "device_peak_source",
    *[c for c in speed_columns.COLUMNS if c not in SETUP_COLUMNS],
    "machine_id",
    LINK_BUSBW,
    DOCUMENT,
]


def _unlearnable(dataset: str) -> bool:
    """Whether ``dataset``'s labels are noise, so that accuracy means
    nothing (a dataset no longer registered: as it was then, real)."""
    return dataset in datasets.available() and not datasets.is_learnable(dataset)


def _hardware(record: RunRecord) -> tuple[str, str]:
    """('gpu' or 'cpu', a name for the machine: GPU model or CPU model)."""
    devices = record.devices
    environment = record.environment
    if devices and devices[0].get("kind") == "gpu":
        names = sorted({d.get("name") or "unknown GPU" for d in devices})
        driver = environment.get("gpu_driver")
        return "gpu", " + ".join(names) + (f" (driver {driver})" if driver else "")
    cores = environment.get("cpu_cores_logical")
    cpu = environment.get("cpu_model") or "unknown CPU"
    return "cpu", f"{cpu} ({cores} cores)" if cores else cpu


def _libraries(libraries: dict) -> str:
    return ", ".join(f"{name} {version}" for name, version in libraries.items() if version)


def _last_line(text: str | None) -> str | None:
    if not text:
        return None
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else None
