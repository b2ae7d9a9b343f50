"""A record's speed in depth, as flat report columns: the steady speed from
k-step intervals with its uncertainty, the GPUs' telemetry and energy over
the steady epochs, and model FLOPs utilisation (MFU) against the device's peak.
"""

from __future__ import annotations

from keras_profiler import peaks
from keras_profiler.records import RunRecord

COLUMNS = [
    "sync_every",
    "until_stable",
    "stopped_when_stable",
    "steps_trained",
    "interval_images_per_second",
    "interval_standard_error",
    "interval_jitter",
    "interval_ci95_percent",
    "intervals",
    "gpu_utilization_percent",
    "sm_clock_mhz",
    "power_mean_w",
    "temperature_max_c",
    "steady_energy_per_epoch_j",
    "steady_images_per_joule",
    "peak_tflops_per_device",
    "peak_source",
    "mfu",
]
# Telemetry averaged over the steady epochs, weighted by their length.
_TELEMETRY = {
    "gpu_utilization_percent": "utilization_percent",
    "sm_clock_mhz": "sm_clock_mhz",
    "power_mean_w": "power_mean_w",
}


def of(record: RunRecord) -> dict:
    """The columns above for one record; absent figures are None."""
    config, summary = record.config, record.summary
    row = dict.fromkeys(COLUMNS)
    row.update(
        sync_every=config.get("sync_every"),
        until_stable=config.get("until_stable"),
        stopped_when_stable=bool(summary and summary.stopped_when_stable),
        steps_trained=_steps(record),
    )
    if summary is None:
        return row
    speed = summary.interval_speed
    if speed is not None:
        row.update(
            interval_images_per_second=speed.images_per_second_mean,
            interval_standard_error=speed.standard_error,
            interval_jitter=speed.jitter,
            interval_ci95_percent=speed.ci95_half_width_percent,
            intervals=speed.intervals,
        )
    row.update(_telemetry(record))
    row.update(
        steady_energy_per_epoch_j=summary.steady_energy_per_epoch_j,
        steady_images_per_joule=summary.steady_images_per_joule,
    )
    row.update(_mfu(record, headline_speed(summary)))
    return row


def headline_speed(summary) -> float | None:
    """The steady images/sec a run stands for: over epochs 2 and later, or,
    for a run that --until-stable ended in its first epoch, over its steady
    intervals."""
    if summary.steady_images_per_second is not None:
        return summary.steady_images_per_second
    if summary.stopped_when_stable and summary.interval_speed is not None:
        return summary.interval_speed.images_per_second_mean
    return None


def _steps(record: RunRecord) -> int | None:
    steps = [e.steps for e in record.epochs]
    return sum(steps) if steps and None not in steps else None


def _telemetry(record: RunRecord) -> dict:
    """Means over the steady epochs (the first holds compilation), or over the
    only epoch a run has; the hottest temperature seen."""
    epochs = [e for e in (record.epochs[1:] or record.epochs) if e.telemetry]
    if not epochs:
        return {}
    seconds = sum(e.seconds for e in epochs)
    row = {}
    for column, key in _TELEMETRY.items():
        weighted = [(e.telemetry.get(key), e.seconds) for e in epochs]
        if all(value is not None for value, _ in weighted) and seconds > 0:
            row[column] = sum(value * s for value, s in weighted) / seconds
    temperatures = [e.telemetry.get("temperature_max_c") for e in epochs]
    temperatures = [t for t in temperatures if t is not None]
    row["temperature_max_c"] = max(temperatures) if temperatures else None
    return row


def _mfu(record: RunRecord, speed: float | None) -> dict:
    """MFU of a GPU run: the peak given with --peak-tflops, else the table's
    for the device and precision; none for CPUs or unknown devices."""
    devices = record.devices
    if not devices or devices[0].get("kind") != "gpu":
        return {}
    config = record.config
    if config.get("peak_tflops"):
        peak, source = float(config["peak_tflops"]), "--peak-tflops"
    else:
        found = peaks.peak_tflops(devices[0].get("name") or "", config.get("precision"))
        if found is None:
            return {}
        peak, source = found
    macs = record.model.get("forward_macs_per_image")
    value = peaks.mfu(macs, speed, int(config["devices"]), peak)
    return {"peak_tflops_per_device": peak, "peak_source": source, "mfu": value}
