"""Records to a pandas DataFrame: one row per run, flat columns with units."""

from __future__ import annotations

import pandas as pd

from keras_profiler.records import RunRecord

# The settings that make two runs comparable: runs differing in any of these
# are never put in the same table.
SETUP_COLUMNS = [
    "model",
    "dataset",
    "synthetic",
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
    "device_kind",
    "hardware",
]


def records_frame(records: list[RunRecord]) -> pd.DataFrame:
    """One row per record, sorted so that the same records give the same frame."""
    rows = [_row(record) for record in records]
    frame = pd.DataFrame(rows, columns=_COLUMNS)
    return frame.sort_values(["finished_at", "run_id"], kind="stable").reset_index(drop=True)


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
        **{key: config.get(key) for key in SETUP_COLUMNS if key in config},
    }
    row["synthetic"] = config["dataset"] == "synthetic"
    # The setup key is the size asked for (None: the model's default), so that a
    # run that died before building its model still lands in the right table.
    row["image_size"] = config.get("image_size")
    row["model_image_size"] = record.model.get("image_size")
    row["device_kind"], row["hardware"] = _hardware(record)
    if summary:
        row.update({name: getattr(summary, name) for name in _SUMMARY_FIGURES})
    if memory:
        row.update(
            device_peak_mib=memory.device_peak_total_mib,
            device_peak_source=memory.device_peak_source,
            nvml_process_mib=memory.nvml_process_mib,
            host_peak_rss_mib=memory.host_peak_rss_mib,
        )
    return row


_SUMMARY_FIGURES = [
    "training_seconds",
    "first_epoch_seconds",
    "first_epoch_images_per_second",
    "steady_epoch_seconds",
    "steady_images_per_second",
    "train_accuracy",
    "test_accuracy",
]
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
    *SETUP_COLUMNS,
    *_SUMMARY_FIGURES,
    "device_peak_mib",
    "device_peak_source",
    "nvml_process_mib",
    "host_peak_rss_mib",
]


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
