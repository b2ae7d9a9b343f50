"""Reports: pure functions from run records to markdown files and PNG plots.

The same records always give byte-identical reports: nothing here reads the
clock, the machine or the order files were found in.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from keras_profiler import records
from keras_profiler.report import (
    backend_tables,
    batch_sizes,
    comparison,
    curves,
    export,
    machines,
    plots,
    scaling,
    series,
    setups,
    speed,
    summary,
)
from keras_profiler.report.cells import given, groups, per_cell
from keras_profiler.report.frame import SETUP_COLUMNS, epochs_frame, records_frame
from keras_profiler.report.marks import GENERATED_MARK, file_stem, markdown

# Report pages beyond the per-model ones, in the index's order. Each module has
# page(frame, cells, epochs) -> {file name: markdown text, CSV/JSON text or PNG
# bytes}, {} when the records have nothing for it, every markdown page under
# the mark; and DESCRIPTIONS: file name -> what the index says of it, for
# every file but the plots.
PAGES = [scaling, export, summary, batch_sizes, machines, curves, speed]


def generate(results_dir: str | Path, reports_dir: str | Path) -> tuple[list[Path], list[str]]:
    """Regenerates reports_dir from the records in results_dir.

    Returns:
        The files written, and one line per results file that was skipped.
    """
    loaded, problems = records.load_all(results_dir)
    files = render(records_frame(loaded), problems, epochs_frame(loaded))
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files.items():
        path = reports_dir / name
        data = content.encode() if isinstance(content, str) else content
        # Unchanged files are left alone, so their modification times say
        # when their figures last changed.
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
        written.append(path)
    _remove_stale(reports_dir, set(files))
    return written, problems


def render(
    frame: pd.DataFrame, problems: list[str], epochs: pd.DataFrame | None = None
) -> dict[str, str | bytes]:
    """File name -> content of every report file: markdown text, PNG bytes."""
    files: dict[str, str | bytes] = {}
    contents: list[tuple[str, str]] = []  # (file, what it shows) for the index
    epochs = epochs_frame([]) if epochs is None else epochs
    cells = per_cell(frame)
    for model in sorted(cells["model"].unique()) if len(cells) else []:
        runs = cells[cells["model"] == model]
        page, images = _model_page(model, runs)
        files[f"{file_stem(model)}.md"] = page
        files.update(images)
        contents.append((f"{file_stem(model)}.md", _model_description(model, runs)))
    for module in PAGES:
        for name, content in module.page(frame, cells, epochs).items():
            files[name] = content
            if not name.endswith(".png"):
                contents.append((name, module.DESCRIPTIONS[name]))
    # Pages first, then the data files, each in the order made.
    contents.sort(key=lambda item: not item[0].endswith(".md"))
    files["README.md"] = _index(frame, cells, problems, contents)
    return files


def _model_page(model: str, cells: pd.DataFrame) -> tuple[str, dict[str, bytes]]:
    """The model's page, and the plots it links to."""
    lines, images = [f"# {model}", ""], {}
    for number, runs in enumerate(groups(cells, SETUP_COLUMNS), start=1):
        parameters = runs["parameters"].dropna()
        lines += [f"## Setup {number}", ""]
        lines += setups.setup_lines(runs)
        if len(parameters):
            lines.append(f"* `Parameters` - {int(parameters.iloc[0]):,}")
        lines.append("")
        setup_series = series.split(runs)
        lines += [comparison.HEADING, "", comparison.comparison_table(setup_series), ""]
        if plots.worth_plotting(setup_series):
            name = plots.file_name(file_stem(model), number)
            title = _plot_title(model, number, runs)
            images[name] = plots.scaling_png(setup_series, title, int(runs["batch_size"].iloc[0]))
            lines += [f"![{model}, setup {number}: images/sec by device count]({name})", ""]
        for each in setup_series:
            lines += _backend_section(each)
    return markdown(lines), images


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


def _model_description(model: str, cells: pd.DataFrame) -> str:
    count = len(groups(cells, SETUP_COLUMNS))
    return (
        f"{model}: per-backend tables in the keras-mxnet reference layout (training time, "
        "time per epoch, images/sec, speedup and scaling efficiency, accuracy, memory) by "
        f"device count, a cross-backend comparison and a scaling plot; {count} setup(s)"
    )


def _index(frame, cells, problems, contents) -> str:
    ok = int((frame["status"] == "ok").sum()) if len(frame) else 0
    lines = [
        "# keras-profiler reports",
        "",
        f"Generated from {len(frame)} run record(s) ({ok} ok, {len(frame) - ok} failed). "
        "Each configuration's figures are the latest record of each of its repeats (a "
        "rerun replaces the earlier record of the same repeat); with two or more ok "
        "repeats, times and images/sec are 'mean +- sample standard deviation'.",
        "",
    ]
    if contents:
        lines += ["## Contents", "", "| file | what it shows |", "| --- | --- |"]
        for name, description in contents:
            lines.append(f"| [{name}]({name}) | {description.replace('|', '/')} |")
        lines.append("")
    if len(cells):
        lines += ["## Models", ""]
        lines += ["| model | backends | device counts | report |", "| --- | --- | --- | --- |"]
        for model in sorted(cells["model"].unique()):
            runs = cells[cells["model"] == model]
            backends = ", ".join(sorted(runs["backend"].unique()))
            devices = ", ".join(str(d) for d in sorted(runs["devices"].unique()))
            page = f"{file_stem(model)}.md"
            lines.append(f"| {model} | {backends} | {devices} | [{page}]({page}) |")
        lines.append("")
    if problems:
        lines += ["Files skipped in the results folder:", ""]
        lines += [f"* {problem}" for problem in sorted(problems)] + [""]
    return markdown(lines)


def _remove_stale(reports_dir: Path, current: set[str]) -> None:
    """Deletes pages, plots and exports this tool generated earlier that no
    record backs now; files it did not generate are never touched."""
    for path in reports_dir.glob("*.md"):
        if path.name not in current and path.read_text().startswith(GENERATED_MARK):
            path.unlink()
    for path in reports_dir.glob("*.png"):
        if path.name not in current and plots.is_ours(path.read_bytes()):
            path.unlink()
    # The exports cannot carry the mark: only their two exact names, holding
    # what this tool writes there, are ever removed.
    for name in export.FILES:
        path = reports_dir / name
        if name not in current and path.is_file() and export.is_ours(name, path.read_bytes()):
            path.unlink()
