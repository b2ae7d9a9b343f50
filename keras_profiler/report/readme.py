"""README.md of the reports folder: the index. How many records the pages
come from, every file the pages wrote with what it shows, the models with
their pages, and the results files that could not be read."""

from __future__ import annotations

import pandas as pd

from keras_profiler.report.pages.model import page_name
from keras_profiler.report.parts.marks import markdown

PAGE = "README.md"


def _statuses(frame: pd.DataFrame) -> str:
    """'40 ok, 2 failed', with ', 3 not supported' where some were: a backend
    that cannot express a model is a result, not a failure."""
    counts = frame["status"].value_counts() if len(frame) else pd.Series(dtype=int)
    ok, unsupported = int(counts.get("ok", 0)), int(counts.get("not_supported", 0))
    text = f"{ok} ok, {len(frame) - ok - unsupported} failed"
    return text + (f", {unsupported} not supported" if unsupported else "")


def index(
    frame: pd.DataFrame, cells: pd.DataFrame, problems: list[str], contents: list[tuple[str, str]]
) -> str:
    """The index page; ``contents``: (file, what it shows), in the order listed."""
    lines = [
        "# keras-profiler reports",
        "",
        f"Generated from {len(frame)} run record(s) ({_statuses(frame)}). "
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
        lines += _models(cells)
    if problems:
        lines += ["Files skipped in the results folder:", ""]
        lines += [f"* {problem}" for problem in sorted(problems)] + [""]
    return markdown(lines)


def _models(cells: pd.DataFrame) -> list[str]:
    """A row per model: its backends, device counts and page."""
    lines = ["## Models", ""]
    lines += ["| model | backends | device counts | report |", "| --- | --- | --- | --- |"]
    for model in sorted(cells["model"].unique()):
        runs = cells[cells["model"] == model]
        backends = ", ".join(sorted(runs["backend"].unique()))
        devices = ", ".join(str(d) for d in sorted(runs["devices"].unique()))
        page = page_name(model)
        lines.append(f"| {model} | {backends} | {devices} | [{page}]({page}) |")
    lines.append("")
    return lines
