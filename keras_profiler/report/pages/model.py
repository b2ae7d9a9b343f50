"""<model>.md, one page per model, in the keras-mxnet reference layout: per
setup, its settings, a cross-backend comparison table, a scaling plot
(<model>-scaling-<setup>.png) and one table per backend and strategy with a
column per device count. Its images/sec are the epoch clock, with the step
intervals' figure beside it where a record has one (``parts.clock_rows``).
"""

from __future__ import annotations

import pandas as pd

from keras_profiler.report.data import series
from keras_profiler.report.data.cells import given, groups
from keras_profiler.report.data.frame import SETUP_COLUMNS
from keras_profiler.report.parts import (
    backend_tables,
    clock_rows,
    comparison,
    scaling_plot,
    setups,
    units,
)
from keras_profiler.report.parts.marks import file_stem, markdown

# Where the index lists it (pages.registered): the model pages come first.
POSITION = 10


def page(frame: pd.DataFrame, cells: pd.DataFrame, epochs: pd.DataFrame) -> dict[str, str | bytes]:
    """Every model's page and its plots; {} when there are no records."""
    files: dict[str, str | bytes] = {}
    for model in sorted(cells["model"].unique()) if len(cells) else []:
        text, images = model_page(model, cells[cells["model"] == model], frame)
        files[page_name(model)] = text
        files.update(images)
    return files


def page_name(model: str) -> str:
    """The file of a model's page: 'resnet50' -> 'resnet50.md'."""
    return f"{file_stem(model)}.md"


def describe_page(name: str, cells: pd.DataFrame) -> str:
    """What the index says of the page ``name`` (a model's page)."""
    model = next(m for m in sorted(cells["model"].unique()) if page_name(m) == name)
    count = len(groups(cells[cells["model"] == model], SETUP_COLUMNS))
    return (
        f"{model}: per-backend tables in the keras-mxnet reference layout (training time, "
        "time per epoch, images/sec, speedup and scaling efficiency, accuracy, memory) by "
        f"device count, a cross-backend comparison and a scaling plot; {count} setup(s)"
    )


def model_page(
    model: str, cells: pd.DataFrame, frame: pd.DataFrame | None = None
) -> tuple[str, dict[str, bytes]]:
    """The model's page, and the plots it links to. A table of runs over
    several nodes is headed by their connection as scaling.md's connection
    column gives it, measured over ``frame``'s records (``series.connection``)."""
    lines, images = [f"# {model}", "", *clock_rows.note(cells)], {}
    unit = cells["sample_unit"].dropna().iloc[0] if cells["sample_unit"].notna().any() else None
    for number, runs in enumerate(groups(cells, SETUP_COLUMNS), start=1):
        parameters = runs["parameters"].dropna()
        lines += [f"## Setup {number}", ""]
        lines += setups.setup_lines(runs)
        if len(parameters):
            lines.append(f"* `Parameters` - {int(parameters.iloc[0]):,}")
        lines.append("")
        setup_series = series.split(runs, frame)
        lines += [comparison.HEADING, "", comparison.comparison_table(setup_series), ""]
        if scaling_plot.worth_plotting(setup_series):
            name = scaling_plot.file_name(file_stem(model), number)
            title = _plot_title(model, number, runs)
            batch = int(runs["batch_size"].iloc[0])
            images[name] = scaling_plot.scaling_png(setup_series, title, batch, unit or "images")
            lines += [f"![{model}, setup {number}: images/sec by device count]({name})", ""]
        for each in setup_series:
            lines += _backend_section(each)
    return markdown(units.reword(lines, unit)), images


def _plot_title(model: str, number: int, runs: pd.DataFrame) -> str:
    setup = runs.iloc[0]
    virtual = " (virtual CPU devices: not a speedup)" if runs["virtual_devices"].any() else ""
    return (
        f"{model}, setup {number}: training throughput by device count\n"
        f"{setup['hardware']}{virtual}; {setup['dataset']}, {setup['precision']}"
    )


def _backend_section(table: series.Series) -> list[str]:
    runs = table.runs
    versions = sorted(
        {f"Keras {k}, {lib}" for k, lib in zip(runs["keras"], runs["libraries"]) if given(k)}
    )
    heading = f"### {table.heading}" + (f" ({'; '.join(versions)})" if versions else "")
    lines = [heading, "", backend_tables.backend_table(runs), ""]
    failures = backend_tables.failure_lines(runs)
    if failures:
        lines += ["Failed runs:", "", *failures, ""]
    behind = sorted(run_id for run_ids in runs["run_ids"] for run_id in run_ids)
    lines += ["Records: " + ", ".join(f"`{r}`" for r in behind), ""]
    return lines
