"""Speed and memory by batch size, in the layout of the reference
speed-and-memory-by-batch-size tables.

For each configuration run at two or more per-device batch sizes (the same
backend, strategy, data format, machine, data, precision and device count): a
model x batch size table of steady-state images/sec, one of peak memory, and
a plot of peak memory against batch size. Failed runs keep their cell ('out
of memory'); a cell no record backs says 'not run'.

The helpers below the page (cell text, settings in words, stable grouping)
are shared by the other summary pages (summary, machines, curves).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

from keras_profiler.report import plots
from keras_profiler.report.backend_tables import DATA_KINDS, FAILED
from keras_profiler.report.backend_tables import hardware as hardware_text
from keras_profiler.report.cells import CELL_KEYS, mean_and_stdev, per_cell
from keras_profiler.report.series import describe

PAGE = "batch-sizes.md"
DESCRIPTIONS = {
    PAGE: "speed and peak memory of each model by per-device batch size, out-of-memory cells "
    "named; a memory plot per configuration"
}
# A section's cells share everything but the model (rows) and the batch size
# (columns), so that no cell mixes runs that differ in any other setting.
GROUP_KEYS = [key for key in CELL_KEYS if key not in ("model", "batch_size")]
NOT_RUN = "not run"
SPEED = "steady_images_per_second"


def page(frame: pd.DataFrame, epochs: pd.DataFrame) -> dict[str, str | bytes]:
    """batch-sizes.md and its plots; {} when no configuration has two batch sizes."""
    from keras_profiler.report import GENERATED_MARK  # the package imports this module

    sections = [
        cells for cells in groups(per_cell(frame), GROUP_KEYS) if cells["batch_size"].nunique() > 1
    ]
    if not sections:
        return {}
    lines = [
        GENERATED_MARK,
        "# Speed and memory by batch size",
        "",
        "One section per configuration run at two or more per-device batch sizes. Cells: the "
        "mean over a cell's ok repeats (images/sec with '+- stdev' where two or more were ok); "
        f"failed runs say how they failed; '{NOT_RUN}' where no record exists.",
        "",
    ]
    files: dict[str, str | bytes] = {}
    for number, cells in enumerate(sections, start=1):
        section, images = _section(number, cells)
        lines += section
        files.update(images)
    return {PAGE: "\n".join(lines).rstrip() + "\n", **files}


def _section(number: int, cells: pd.DataFrame) -> tuple[list[str], dict[str, bytes]]:
    first = cells.iloc[0].to_dict()
    sizes = sorted(int(size) for size in cells["batch_size"].unique())
    devices = int(first["devices"])
    column, label = memory_figure(cells)
    bullets = [
        f"* `Configuration` - {describe(cells)}",
        f"* `Batch size` - {', '.join(map(str, sizes))} per device",
        *(f"* `{name}` - {text}" for name, text in settings(first, skip={"Batch size"})),
        f"* `Devices` - {devices}",
        f"* `{'GPU' if first['device_kind'] == 'gpu' else 'CPU'}` - {hardware_text(first, cells)}",
    ]
    name = f"batch-sizes-{number}.png"
    title = (
        f"Peak memory by batch size, {describe(cells)}\n"
        f"{first['hardware']}; {first['data_kind']} data, {first['precision']}, "
        f"{_devices(devices)}"
    )
    lines = [
        f"## {number}. {describe(cells)} on {first['hardware']}: {first['data_kind']} data, "
        f"{first['precision']}, {_devices(devices)}",
        "",
        *bullets,
        "",
        "### Speed (images/sec, steady state)",
        "",
        model_table(cells, SPEED, "{:.2f}"),
        "",
        f"### Memory usage (MiB, {label})",
        "",
        model_table(cells, column, "{:.0f}", stdev=False),
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
            sources = sorted(set(cells["device_peak_source"].dropna()))
            source = " / ".join(sources) if sources else "framework counter"
            return "device_peak_mib", f"{source}, peak summed over devices"
        if cells["nvml_process_mib"].notna().any():
            return "nvml_process_mib", "NVML per process"
    return "host_peak_rss_mib", "host peak RSS, all processes"


def model_table(cells: pd.DataFrame, column: str, fmt: str, stdev: bool = True) -> str:
    """Rows: models; columns: 'batch size N', ascending; cells: the figure."""
    sizes = sorted(int(size) for size in cells["batch_size"].unique())
    body = {}
    for model in sorted(cells["model"].unique()):
        runs = cells[cells["model"] == model]
        body[model] = [_at(runs[runs["batch_size"] == size], column, fmt, stdev) for size in sizes]
    table = pd.DataFrame.from_dict(body, orient="index", columns=[f"batch size {s}" for s in sizes])
    table.index.name = "model"
    align = ("left",) + ("right",) * len(sizes)
    return table.to_markdown(colalign=align, disable_numparse=True)


def _at(match: pd.DataFrame, column: str, fmt: str, stdev: bool) -> str:
    return figure_text(match.iloc[-1].to_dict(), column, fmt, stdev) if len(match) else NOT_RUN


def memory_png(cells: pd.DataFrame, column: str, label: str, title: str) -> bytes:
    """Peak memory against batch size, one line per model; a run out of
    memory is an 'x' at the top of the plot in its model's colour."""
    figure = plots.new_figure()
    axes = figure.add_subplot()
    sizes = sorted(int(size) for size in cells["batch_size"].unique())
    top = 0.0
    for index, model in enumerate(sorted(cells["model"].unique())):
        colour = plots.COLOURS[index % len(plots.COLOURS)]
        runs = cells[cells["model"] == model].sort_values("batch_size")
        ok = runs[(runs["status"] == "ok") & runs[column].notna()]
        top = max([top, *ok[column]])
        failed = runs[runs["status"] != "ok"]
        notes = [
            f"{FAILED.get(status, status)} at {', '.join(str(int(b)) for b in group['batch_size'])}"
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
    return plots.to_png(figure)


# Shared by the summary pages.


def figure_text(cell: dict, column: str, fmt: str = "{:.2f}", stdev: bool = True) -> str:
    """One figure of one cell (cells.per_cell): 'mean +- stdev' over its ok
    repeats (the mean alone with ``stdev=False``: memory, as on the model
    pages), the failure where none was ok, 'n/a' where nothing was measured,
    and how many repeats were ok where some failed."""
    if cell["status"] != "ok":
        return FAILED.get(cell["status"], cell["status"])
    value = cell[column]
    if not given(value):
        return "n/a (1 epoch)" if column.startswith("steady") else "n/a"
    spread = float(cell.get(f"{column}_std", math.nan)) if stdev else math.nan
    text = mean_and_stdev(float(value), spread, fmt)
    if cell["ok_repeats"] < cell["repeats"]:
        text += f" ({int(cell['ok_repeats'])} of {int(cell['repeats'])} repeats ok)"
    return text


def settings(cell: dict, skip: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(name, words) for each setting of a cell's setup that a table does not
    show by itself, in the order of the model pages' bullet lists."""
    data = cell["dataset"]
    if given(cell["train_samples"]):
        data += f", first {int(cell['train_samples'])} training images"
    if given(cell["test_samples"]):
        data += f", first {int(cell['test_samples'])} test images"
    epochs = str(int(cell["epochs"]))
    if given(cell["steps_per_epoch"]):
        epochs += f" (capped at {int(cell['steps_per_epoch'])} steps each)"
    size = cell["image_size"]
    items = [
        ("Dataset", data),
        ("Data", DATA_KINDS.get(cell["data_kind"], cell["data_kind"])),
        ("Image size", f"{int(size)}x{int(size)}" if given(size) else "each model's default"),
        ("Batch size", f"{int(cell['batch_size'])} per device"),
        ("Epochs", epochs),
        ("Random seed", str(cell["seed"])),
        ("Precision", str(cell["precision"])),
        ("Optimizer", f"{cell['optimizer']}, learning rate {cell['learning_rate']:g}"),
    ]
    return [(name, text) for name, text in items if name not in set(skip)]


def groups(cells: pd.DataFrame, keys: list[str]) -> list[pd.DataFrame]:
    """The cells split by ``keys``, ordered by the keys' values (numbers as
    numbers, missing first), so that the same records give the same order."""
    if not len(cells):
        return []
    found = [group for _, group in cells.groupby(keys, dropna=False, sort=False)]
    return sorted(found, key=lambda group: tuple(order(group[k].iloc[0]) for k in keys))


def order(value) -> tuple:
    """A sort key for a value of any column: missing < numbers < text."""
    if not given(value):
        return (0, 0.0, "")
    if isinstance(value, (bool, int, float)) or hasattr(value, "dtype"):
        try:
            return (1, float(value), "")
        except (TypeError, ValueError):
            pass
    return (2, 0.0, str(value))


def given(value) -> bool:
    """False for None and NaN."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _devices(count: int) -> str:
    return f"{count} device{'s' if count != 1 else ''}"
