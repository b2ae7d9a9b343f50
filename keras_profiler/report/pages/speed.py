"""speed.md: each run's steady speed with its uncertainty, its GPUs' telemetry
and energy, and its model FLOPs utilisation, one table per machine.

The epoch figure is what the other pages show (images over epochs 2 and
later, all of Keras's work included). The interval figure is what
tf_cnn_benchmarks prints: the mean of k-step intervals' images/sec +- its
standard error, the jitter (1.4826 x median absolute deviation) and the 95%
confidence interval's half-width.
"""

from __future__ import annotations

import pandas as pd

from keras_profiler.report.data.cells import given
from keras_profiler.report.parts.marks import markdown

PAGE = "speed.md"
# Where the index lists it (pages.registered).
POSITION = 80
DESCRIPTIONS = {
    PAGE: "each run's steady speed with its 95% interval and jitter, GPU telemetry, "
    "energy (images per joule) and MFU"
}

_HEADERS = [
    "backend",
    "model",
    "image size",
    "devices",
    "strategy",
    "batch / device",
    "precision",
    "data format",
    "repeat",
    "images/sec (epochs 2+)",
    "images/sec (intervals: mean +- s.e.)",
    "jitter",
    "95% interval",
    "intervals x steps",
    "steps trained",
    "GPU util %",
    "SM clock MHz",
    "power W",
    "max temp C",
    "energy J / epoch",
    "images / J",
    "MFU (peak TFLOP/s)",
]


def page(frame: pd.DataFrame, cells: pd.DataFrame, epochs: pd.DataFrame) -> dict[str, str]:
    """speed.md; {} when no ok run has interval timings."""
    runs = frame[(frame["status"] == "ok") & frame["intervals"].notna()]
    if runs.empty:
        return {}
    lines = [
        "# Speed in depth: uncertainty, telemetry, energy, MFU",
        "",
        "Every ok run with interval timings. *images/sec (epochs 2+)* is the figure the other "
        "pages show. The interval columns come from the device being waited for every k "
        "steps (never every step) and each k-step interval timed: their images/sec as "
        "tf_cnn_benchmarks prints it, mean +- standard error and jitter (1.4826 x median "
        "absolute deviation), and the 95% confidence interval's half-width as a percentage "
        "of the mean, from batch means (Student's t on the means of consecutive batches of "
        "intervals, 10 to 19 of them, since neighbouring intervals are alike). The run's "
        "first interval (compilation) and each epoch's last (Keras's per-epoch work) are "
        "left out. Telemetry (NVML, sampled every 0.1 s by a thread that never waits for "
        "the device) and energy are means over epochs 2 and later; "
        "MFU is 6 x forward multiply-adds per image x images/sec / (devices x peak), the "
        "peak from keras-profiler's table of known GPUs for the precision (TF32 for float32 "
        "where the GPU has it) or from --peak-tflops. Blank: not measured (CPU runs have "
        "no telemetry or MFU).",
        "",
    ]
    for hardware, group in runs.groupby("hardware", sort=True):
        lines += [f"## {hardware}", "", *_table(group), ""]
    return {PAGE: markdown(lines)}


def _table(runs: pd.DataFrame) -> list[str]:
    order = ["model", "backend", "devices", "batch_size", "precision", "run_id"]
    rows = [_row(run) for run in runs.sort_values(order, kind="stable").itertuples()]
    return [
        "| " + " | ".join(_HEADERS) + " |",
        "| " + " | ".join("---" for _ in _HEADERS) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _row(run) -> list[str]:
    size = run.model_image_size if given(run.model_image_size) else run.image_size
    return [
        str(run.backend),
        str(run.model),
        f"{int(size)}x{int(size)}" if given(size) else "",
        str(int(run.devices)),
        str(run.strategy),
        str(int(run.batch_size)),
        str(run.precision),
        str(run.data_format),
        str(int(run.repeat)),
        _number(run.steady_images_per_second, "{:.1f}")
        + (" (stopped when stable)" if run.stopped_when_stable else ""),
        _plus_minus(run.interval_images_per_second, run.interval_standard_error),
        _number(run.interval_jitter, "{:.1f}"),
        _number(run.interval_ci95_percent, "+-{:.2f}%"),
        f"{int(run.intervals)} x {int(run.sync_every)}" if given(run.intervals) else "",
        _number(run.steps_trained, "{:.0f}"),
        _number(run.gpu_utilization_percent, "{:.0f}"),
        _number(run.sm_clock_mhz, "{:.0f}"),
        _number(run.power_mean_w, "{:.0f}"),
        _number(run.temperature_max_c, "{:.0f}"),
        _number(run.steady_energy_per_epoch_j, "{:.1f}"),
        _number(run.steady_images_per_joule, "{:.2f}"),
        _mfu(run),
    ]


def _plus_minus(mean, error) -> str:
    if not given(mean):
        return ""
    return f"{mean:.1f}" + (f" +- {error:.1f}" if given(error) else "")


def _mfu(run) -> str:
    if not given(run.mfu):
        return ""
    return f"{100 * run.mfu:.1f}% ({run.peak_tflops_per_device:g}, {run.peak_source})"


def _number(value, fmt: str) -> str:
    return fmt.format(value) if given(value) else ""
