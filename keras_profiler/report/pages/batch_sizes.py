"""Speed and memory by batch size, in the layout of the reference
speed-and-memory-by-batch-size tables.

For each configuration run at two or more per-device batch sizes (the same
backend, strategy, data format, machine, data, precision and device count): a
model x batch size table of steady-state images/sec, one of peak memory, and
a plot of peak memory against batch size. Failed runs keep their cell ('out
of memory'); a cell no record backs says 'not run'.
"""

from __future__ import annotations

import pandas as pd

from keras_profiler.report.data.cells import CELL_KEYS, FAILED, NOT_RUN, SPEED, groups, model_table
from keras_profiler.report.data.series import describe
from keras_profiler.report.parts import figures
from keras_profiler.report.parts.backend_tables import memory_source
from keras_profiler.report.parts.marks import markdown
from keras_profiler.report.parts.setups import DATA_IN_HEADINGS, device_count, hardware, settings

PAGE = "batch-sizes.md"
# Where the index lists it (pages.registered).
POSITION = 50
DESCRIPTIONS = {
    PAGE: "speed and peak memory of each model by per-device batch size, out-of-memory cells "
    "named; a memory plot per configuration"
}
# A section's cells share everything but the model (rows) and the batch size
# (columns), so that no cell mixes runs that differ in any other setting.
GROUP_KEYS = [key for key in CELL_KEYS if key not in ("model", "batch_size")]


def page(frame: pd.DataFrame, cells: pd.DataFrame, epochs: pd.DataFrame) -> dict[str, str | bytes]:
    """batch-sizes.md and its plots; {} when no configuration has two batch sizes."""
    sections = [group for group in groups(cells, GROUP_KEYS) if group["batch_size"].nunique() > 1]
    if not sections:
        return {}
    lines = [
        "# Speed and memory by batch size",
        "",
        "One section per configuration run at two or more per-device batch sizes. Cells: the "
        "mean over a cell's ok repeats (images/sec with '+- stdev' where two or more were ok); "
        f"failed runs say how they failed; '{NOT_RUN}' where no record exists.",
        "",
    ]
    files: dict[str, str | bytes] = {}
    for number, section in enumerate(sections, start=1):
        section_lines, images = _section(number, section)
        lines += section_lines
        files.update(images)
    return {PAGE: markdown(lines), **files}


def _section(number: int, cells: pd.DataFrame) -> tuple[list[str], dict[str, bytes]]:
    first = cells.iloc[0].to_dict()
    devices = int(first["devices"])
    column, label = memory_figure(cells)
    sizes = ", ".join(str(size) for size in _sizes(cells))
    bullets = [
        f"* `Configuration` - {describe(cells)}",
        f"* `Batch size` - {sizes} per device",
        *(f"* `{name}` - {text}" for name, text in settings(first).items() if name != "Batch size"),
        f"* `Devices` - {devices}",
        f"* `{'GPU' if first['device_kind'] == 'gpu' else 'CPU'}` - {hardware(first, cells)}",
    ]
    name = f"batch-sizes-{number}.png"
    data = f"{DATA_IN_HEADINGS[first['data_kind']]}, {first['precision']}, {device_count(devices)}"
    title = f"Peak memory by batch size, {describe(cells)}\n{first['hardware']}; {data}"
    lines = [
        f"## {number}. {describe(cells)} on {first['hardware']}: {data}",
        "",
        *bullets,
        "",
        "### Speed (images/sec, steady state)",
        "",
        _batch_table(cells, SPEED, "{:.2f}"),
        "",
        f"### Memory usage (MiB, {label})",
        "",
        _batch_table(cells, column, "{:.0f}"),
        "",
        f"![Peak memory ({label}) by batch size, section {number}]({name})",
        "",
    ]
    return lines, {name: memory_png(cells, column, label, title)}


def memory_figure(cells: pd.DataFrame) -> tuple[str, str]:
    """(column, words for it) of the memory table: the framework's device peak
    counter on GPUs (NVML per process where no counter was read), host peak
    RSS on CPUs, as on the model pages."""
    if (cells["device_kind"] == "gpu").all():
        if cells["device_peak_mib"].notna().any():
            return "device_peak_mib", f"{memory_source(cells)}, peak summed over devices"
        if cells["nvml_process_mib"].notna().any():
            return "nvml_process_mib", "NVML per process"
    return "host_peak_rss_mib", "host peak RSS, all processes"


def _batch_table(cells: pd.DataFrame, column: str, fmt: str) -> str:
    """Rows: models; columns: 'batch size N', ascending; cells: the figure."""
    sizes = _sizes(cells)
    headers = [f"batch size {size}" for size in sizes]
    return model_table(cells, "batch_size", sizes, headers, column, fmt)


def _sizes(cells: pd.DataFrame) -> list[int]:
    return sorted(int(size) for size in cells["batch_size"].unique())


def memory_png(cells: pd.DataFrame, column: str, label: str, title: str) -> bytes:
    """Peak memory against batch size, one line per model; a run out of
    memory is an 'x' at the top of the plot in its model's colour."""
    figure = figures.new_figure()
    axes = figure.add_subplot()
    sizes = _sizes(cells)
    top = 0.0
    for index, model in enumerate(sorted(cells["model"].unique())):
        colour = figures.COLOURS[index % len(figures.COLOURS)]
        runs = cells[cells["model"] == model].sort_values("batch_size")
        ok = runs[(runs["status"] == "ok") & runs[column].notna()]
        top = max([top, *ok[column]])
        failed = runs[runs["status"] != "ok"]
        notes = [
            f"{FAILED[status]} at {', '.join(str(int(b)) for b in group['batch_size'])}"
            for status, group in failed.groupby("status", sort=True)
        ]
        legend = model + (f" ({'; '.join(notes)})" if notes else "")
        axes.plot(ok["batch_size"], ok[column], marker="o", color=colour, label=legend)
        oom = failed[failed["status"] == "oom"]
        if len(oom):
            axes.scatter(
                oom["batch_size"],
                [0.96] * len(oom),
                marker="x",
                s=90,
                linewidths=2.5,
                color=colour,
                transform=axes.get_xaxis_transform(),  # x in data, y in axes fraction
                clip_on=False,
                zorder=3,
            )
    # Limits set by hand: the 'x' marks do not widen the data limits.
    if sizes[-1] >= 8 * sizes[0]:
        axes.set_xscale("log", base=2)
        axes.set_xlim(sizes[0] / 1.25, sizes[-1] * 1.25)
    else:
        pad = 0.06 * (sizes[-1] - sizes[0])
        axes.set_xlim(sizes[0] - pad, sizes[-1] + pad)
    axes.set_xticks(sizes, [str(size) for size in sizes])
    axes.minorticks_off()
    axes.set_ylim(0, top * 1.15 if top > 0 else 1.0)
    oom_note = " (x at the top: out of memory)" if (cells["status"] == "oom").any() else ""
    axes.set_xlabel(f"batch size per device{oom_note}")
    axes.set_ylabel(f"peak memory (MiB)\n{label}", fontsize=9)
    axes.set_title(title, fontsize=10)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    return figures.to_png(figure)
