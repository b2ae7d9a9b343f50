"""Accuracy curves: train and test accuracy by epoch, every backend of a setup
on the same axes, one plot per (model, setup, device count) trained on real
data for two or more epochs. Synthetic data has random labels: its accuracy
means nothing, so it gets no curves.

A cell's curve is one run's epochs: repeat 1 (repeats share the seed, so it
stands for them all), or the first ok repeat where repeat 1 failed. A series
with no ok run is named in the caption with how it failed.
"""

from __future__ import annotations

import pandas as pd

from keras_profiler.report.data import series
from keras_profiler.report.data.cells import FAILED, given, groups
from keras_profiler.report.data.frame import SETUP_COLUMNS
from keras_profiler.report.parts import figures
from keras_profiler.report.parts.marks import file_stem, markdown
from keras_profiler.report.parts.setups import DATA_IN_HEADINGS, device_count, settings_line

PAGE = "accuracy.md"
# Where the index lists it (pages.registered).
POSITION = 70
DESCRIPTIONS = {PAGE: "train and test accuracy by epoch, backends on the same axes (real data)"}


def page(frame: pd.DataFrame, cells: pd.DataFrame, epochs: pd.DataFrame) -> dict[str, str | bytes]:
    """accuracy.md and its plots; {} when no real-data setup has two epochs."""
    real = cells[cells["data_kind"] != "synthetic"]
    lines = [
        "# Accuracy by epoch",
        "",
        "Train accuracy solid, test accuracy dashed, one colour per backend; the runs of a "
        "setup share its seed. Real data only: synthetic labels are random.",
        "",
    ]
    files: dict[str, str | bytes] = {}
    per_model: dict[str, int] = {}
    for setup in groups(real, [*SETUP_COLUMNS, "devices"]):
        curves = [(each, _curve(each.runs.iloc[0], frame, epochs)) for each in series.split(setup)]
        if not any(len(points) >= 2 for _, (_, points) in curves):
            continue
        first = setup.iloc[0].to_dict()
        model = str(first["model"])
        per_model[model] = per_model.get(model, 0) + 1
        name = f"accuracy-{file_stem(model)}-{per_model[model]}.png"
        words = _setup_words(first)
        files[name] = accuracy_png(curves, f"{model}: accuracy by epoch\n{words}")
        lines += [
            f"## {model} on {first['hardware']}: {DATA_IN_HEADINGS[first['data_kind']]}, "
            f"{first['precision']}, batch {int(first['batch_size'])} x "
            f"{device_count(int(first['devices']))}",
            "",
            f"![{model}: accuracy by epoch, {words}]({name})",
            "",
            f"Setup: {words}; {_other_settings(first)}.",
            "",
            *(f"* {_caption(each, run_id, points)}" for each, (run_id, points) in curves),
            "",
        ]
    if not files:
        return {}
    return {PAGE: markdown(lines), **files}


def _curve(cell: pd.Series, frame: pd.DataFrame, epochs: pd.DataFrame) -> tuple:
    """(run id, its epochs) of the run that draws a cell's curve; (None, empty)
    where no repeat was ok."""
    runs = frame[frame["run_id"].isin(cell["run_ids"]) & (frame["status"] == "ok")]
    if not len(runs):
        return None, epochs.iloc[0:0]
    run_id = runs.sort_values(["repeat", "run_id"], kind="stable")["run_id"].iloc[0]
    return run_id, epochs[epochs["run_id"] == run_id].sort_values("epoch")


def accuracy_png(curves: list[tuple], title: str) -> bytes:
    """Train (solid) and test (dashed) accuracy by epoch, a colour per series."""
    figure = figures.new_figure()
    axes = figure.add_subplot()
    ticks: set[int] = set()
    for index, (each, (run_id, points)) in enumerate(curves):
        colour = figures.COLOURS[index % len(figures.COLOURS)]
        if run_id is None:  # a legend entry, so that the failure shows on the plot too
            status = each.runs.iloc[0]["status"]
            axes.plot([], [], color=colour, label=f"{each.label}: {FAILED[status]}")
            continue
        ticks.update(int(e) for e in points["epoch"])
        for column, style, what in (("accuracy", "-", "train"), ("test_accuracy", "--", "test")):
            shown = points[points[column].notna()]
            if len(shown):
                axes.plot(
                    shown["epoch"],
                    shown[column],
                    linestyle=style,
                    marker="o",
                    markersize=4,
                    color=colour,
                    label=f"{each.label}, {what}",
                )
    axes.set_xticks(sorted(ticks), [str(t) for t in sorted(ticks)])
    axes.set_ylim(0, 1)
    axes.set_xlabel("epoch")
    axes.set_ylabel("accuracy")
    axes.set_title(title, fontsize=10)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    figure.tight_layout()
    return figures.to_png(figure)


def _caption(each: series.Series, run_id: str | None, points: pd.DataFrame) -> str:
    """The series, the record its curve comes from and where the curve ends."""
    cell = each.runs.iloc[0]
    if run_id is None:
        return f"{each.heading}: {FAILED[cell['status']]}, no curve"
    last = points.iloc[-1] if len(points) else None
    ends = [
        f"{what} {last[column]:.4f}"
        for column, what in (("accuracy", "train"), ("test_accuracy", "test"))
        if last is not None and given(last[column])
    ]
    after = f", after epoch {int(last['epoch'])}: {', '.join(ends)}" if ends else ""
    return f"{each.heading}: record `{run_id}`{after}"


def _setup_words(cell: dict) -> str:
    """Machine, data, precision and batch: the setup in a plot title's words."""
    return (
        f"{cell['hardware']}; {cell['dataset']} ({cell['data_kind']}), {cell['precision']}, "
        f"batch {int(cell['batch_size'])} per device x {device_count(int(cell['devices']))}"
    )


def _other_settings(cell: dict) -> str:
    """The settings the setup words leave out; the dataset again only where
    it was cut to its first images."""
    skip = {"Data", "Precision", "Batch size"}
    if not (given(cell["train_samples"]) or given(cell["test_samples"])):
        skip.add("Dataset")
    return settings_line(cell, skip)
