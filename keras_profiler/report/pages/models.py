"""The model summary, as at the top of the reference hardware-comparison pages.

First, the reference layout itself: one row per registered model at its
reference input size (ImageNet's, or the model's own) with its parameter
memory, feature memory and multiply-adds, from the committed model catalogue
(keras_profiler/model_catalogue.py), beside the top-1 / top-5 ImageNet error
published for it and its source. Then the models as run: one row per model
and input size in the records with the same figures, read from the built
model's layers in the worker, and the steady-state images/sec each backend
measured on one device.

Speed columns sit in the summary table when the one-device records share a
single setup; otherwise each setup (machine, data, precision, batch size and
the rest) gets its own images/sec table beneath, so that no table mixes them.
"""

from __future__ import annotations

import pandas as pd

from keras_profiler import model_catalogue
from keras_profiler.models import available as registered_models
from keras_profiler.report.data import series
from keras_profiler.report.data.cells import NOT_RUN, figure_text, given, groups
from keras_profiler.report.data.frame import SETUP_COLUMNS
from keras_profiler.report.pages.model import page_name
from keras_profiler.report.parts.marks import markdown
from keras_profiler.report.parts.setups import DATA_IN_HEADINGS, settings_line

PAGE = "models.md"
# Where the index lists it (pages.registered).
POSITION = 40
DESCRIPTIONS = {
    PAGE: "model summary: input size, parameters, parameter and feature memory, "
    "multiply-adds per image; images/sec per backend on 1 device"
}
MIB = 2**20
# Figures of the model: (column heading, frame column, scale to its unit).
MODEL_FIGURES = [
    ("parameter memory (MiB)", "parameter_bytes", MIB),
    ("feature memory per image (MiB)", "activation_bytes_per_image", MIB),
    ("forward pass per image (G multiply-adds)", "forward_macs_per_image", 1e9),
]
# The reference summary's figures: (column heading, catalogue key, scale).
REFERENCE_FIGURES = [
    ("parameter memory (MiB)", "parameter_bytes", MIB),
    ("feature memory per sample (MiB)", "activation_bytes_per_image", MIB),
    ("forward pass per sample (G multiply-adds)", "forward_macs_per_image", 1e9),
]
PUBLISHED_HEADING = "published ImageNet top-1 / top-5 error (%)"
REFERENCE_NOTE = (
    "Sizes and costs at each model's reference input size (its own, else ImageNet's "
    "224 x 224 with 1,000 classes; a token model at its default sequence length; the test "
    "model tiny on CIFAR-10), computed here from the model built shapes only "
    "(keras_profiler/model_catalogue.json, written by `python -m "
    "keras_profiler.model_catalogue`), not read from run records, and counted as the "
    "figures of the models as run below are: a sample is one image or one token sequence. "
    "The ImageNet errors are published figures, not measured here: "
    "those published for the implementation each model file mirrors, from the source "
    "named beside them (100 minus the published accuracy where the source gives "
    "accuracy; keras_profiler/published_errors.csv). 'n/a': no figure could be verified, "
    "or the model is not an ImageNet classifier. The reference table quotes convnet-burden's "
    "figures, for other ports of some of these models, so some differ from these."
)
# One images/sec table per setup: all of it but the model and the image size
# asked for, which the rows (model, input size) show.
SPEED_KEYS = [key for key in SETUP_COLUMNS if key not in ("model", "image_size")]
NOTE = (
    "Model figures are read from the built model's layers by the worker "
    "(keras_profiler/model_stats.py): multiply-adds of one forward pass of one image "
    "(convolutions and dense layers; a multiply-add is two FLOPs), feature memory is the "
    "input and every layer's output for one image, parameter memory every weight, each at "
    "its own dtype (a figure that differs by precision names it). MiB = 2^20 bytes. 'n/a': "
    "records written before these figures were recorded."
)


def page(frame: pd.DataFrame, cells: pd.DataFrame, epochs: pd.DataFrame) -> dict[str, str]:
    """models.md; {} when there are no records."""
    if not len(frame):
        return {}
    defaults = _default_sizes(frame)
    rows = _model_rows(_with_input_size(frame, defaults))
    speed = groups(_with_input_size(cells[cells["devices"] == 1], defaults), SPEED_KEYS)
    lines = ["# Models", "", *_reference_summary(cells), "## Models as run", ""]
    if len(speed) == 1:  # one setup: its images/sec are columns of the summary table
        first = speed[0].iloc[0].to_dict()
        words = settings_line(first, skip={"Image size"})
        lines += [f"Images/sec: steady state on 1 device, on {first['hardware']}; {words}.", ""]
        lines += [_table(rows, list(rows), _speed_columns(speed[0], list(rows))), "", NOTE]
    else:
        lines += [_table(rows, list(rows), {}), "", NOTE, "", *_speed_tables(speed)]
    return {PAGE: markdown(lines)}


def _reference_summary(cells: pd.DataFrame) -> list[str]:
    """The reference layout's summary: every registered model at its
    reference input size, its published ImageNet error beside it."""
    catalogue = model_catalogue.load()
    published = model_catalogue.published_errors()
    # A model with records has a page of its own: its name links there.
    with_pages = set(cells["model"]) if len(cells) else set()
    header = [
        "model",
        "input size",
        "parameters",
        *(name for name, _, _ in REFERENCE_FIGURES),
        PUBLISHED_HEADING,
        "source of the published error",
    ]
    body = [
        [
            f"[{name}]({page_name(name)})" if name in with_pages else name,
            *_catalogue_cells(catalogue.get(name)),
            *_published_cells(published.get(name)),
        ]
        for name in registered_models()
    ]
    align = ("left", "center", *("right",) * (len(header) - 4), "center", "left")
    table = pd.DataFrame(body, columns=header).to_markdown(
        index=False, colalign=align, disable_numparse=True
    )
    return ["## Summary at reference input sizes", "", table, "", REFERENCE_NOTE, ""]


def _catalogue_cells(entry: dict | None) -> list[str]:
    """Input size, parameters and the reference figures of a catalogue
    entry; 'n/a' throughout for a model the catalogue lacks (added since it
    was written)."""
    if entry is None:
        return ["n/a"] * (2 + len(REFERENCE_FIGURES))
    return [
        _sample_size(entry["sample_shape"]),
        f"{entry['parameters']:,}",
        *(number(entry[key] / scale) for _, key, scale in REFERENCE_FIGURES),
    ]


def _sample_size(shape: list[int]) -> str:
    """'224 x 224' for an image (height, width, channels), '128 tokens' for a sequence."""
    return f"{shape[0]} tokens" if len(shape) == 1 else f"{shape[0]} x {shape[1]}"


def _published_cells(published: model_catalogue.PublishedError | None) -> list[str]:
    """'top-1 / top-5' and the source as a link; 'n/a' and the reason where
    no figure was verified."""
    if published is None:
        return ["n/a", "not in keras_profiler/published_errors.csv"]
    if published.top1 is None and published.top5 is None:
        return ["n/a", published.source]
    figures = " / ".join("n/a" if e is None else str(e) for e in (published.top1, published.top5))
    source = f"[{published.source}]({published.url})" if published.url else published.source
    return [figures, source]


def _speed_tables(speed: list[pd.DataFrame]) -> list[str]:
    """An images/sec table per setup, under the setup in words."""
    if not speed:
        return ["No 1-device run recorded: no images/sec to show here."]
    lines = [
        "## Images/sec on 1 device",
        "",
        "One table per setup. Steady state; 'mean +- stdev' over ok repeats where two or "
        f"more were ok; failed runs say how they failed; '{NOT_RUN}' where no record exists.",
        "",
    ]
    for setup in speed:
        first = setup.iloc[0].to_dict()
        keys = sorted({_row_key(m, s) for m, s in zip(setup["model"], setup["input_size"])})
        lines += [
            f"**{first['hardware']}, {DATA_IN_HEADINGS[first['data_kind']]}, "
            f"{first['precision']}, batch size {int(first['batch_size'])}**",
            "",
            # The rows give the image size, the heading the rest left out here.
            settings_line(first, skip={"Image size", "Data", "Precision", "Batch size"}) + ".",
            "",
            _table(None, keys, _speed_columns(setup, keys)),
            "",
        ]
    return lines


def _with_input_size(rows: pd.DataFrame, defaults: dict[str, int]) -> pd.DataFrame:
    """Records or cells with ``input_size``, the side of the images each one's
    model saw: recorded by the worker; for a run that died before building its
    model, the size asked for, else the model's default (``defaults``)."""
    sizes = []
    for run in rows.itertuples():
        if given(run.model_image_size):
            sizes.append(int(run.model_image_size))
        elif given(run.image_size):
            sizes.append(int(run.image_size))
        else:
            sizes.append(defaults.get(run.model))
    return rows.assign(input_size=sizes)


def _default_sizes(frame: pd.DataFrame) -> dict[str, int]:
    """Model -> the size its latest run with no size asked for recorded."""
    defaults = {}
    for run in frame.sort_values(["finished_at", "run_id"], kind="stable").itertuples():
        if not given(run.image_size) and given(run.model_image_size):
            defaults[run.model] = int(run.model_image_size)
    return defaults


def _model_rows(frame: pd.DataFrame) -> dict[tuple, list[str]]:
    """(model, input size) -> the model's figures as text, sorted by model and size."""
    rows = {}
    ordered = frame.sort_values(["finished_at", "run_id"], kind="stable")
    for (model, size), runs in ordered.groupby(["model", "input_size"], dropna=False, sort=False):
        parameters = runs["parameters"].dropna()
        rows[_row_key(model, size)] = [
            f"{int(parameters.iloc[-1]):,}" if len(parameters) else "n/a",
            *(_figure(runs, column, scale) for _, column, scale in MODEL_FIGURES),
        ]
    return dict(sorted(rows.items()))


def _figure(runs: pd.DataFrame, column: str, scale: float) -> str:
    """The latest recorded value; where precisions give different values
    (feature memory under mixed precision), each with its precision."""
    latest = {}
    for precision, value in zip(runs["precision"], runs[column]):
        if given(value):
            latest[str(precision)] = number(float(value) / scale)
    if not latest:
        return "n/a"
    if len(set(latest.values())) == 1:
        return next(iter(latest.values()))
    return " / ".join(f"{text} ({precision})" for precision, text in sorted(latest.items()))


def _speed_columns(cells: pd.DataFrame, keys: list[tuple]) -> dict[str, list[str]]:
    """A column of images/sec per series of ``cells`` (the backend, or backend
    and strategy where a backend has several), a cell per row key."""
    columns = {}
    for each in series.split(cells):
        found = {
            _row_key(cell["model"], cell["input_size"]): figure_text(cell)
            for cell in each.runs.to_dict("records")
        }
        columns[f"{each.label} (images/sec)"] = [found.get(key, NOT_RUN) for key in keys]
    return columns


def _table(rows: dict | None, keys: list[tuple], speed: dict[str, list[str]]) -> str:
    """model, input size, the model's figures (unless ``rows`` is None), then speed."""
    header = ["model", "input size"]
    if rows is not None:
        header += ["parameters", *(name for name, _, _ in MODEL_FIGURES)]
    header += list(speed)
    body = []
    for index, (model, size) in enumerate(keys):
        figures = rows[(model, size)] if rows is not None else []
        body.append([model, _size(size), *figures, *(cells[index] for cells in speed.values())])
    table = pd.DataFrame(body, columns=header)
    align = ("left", "center", *("right",) * (len(header) - 2))
    return table.to_markdown(index=False, colalign=align, disable_numparse=True)


def number(value: float) -> str:
    """Three significant figures, without an exponent above 0.01."""
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 0.01 or value == 0:
        return f"{value:.2f}"
    return f"{value:.2g}"


def _size(size: int) -> str:
    return f"{size} x {size}" if size >= 0 else "n/a"


def _row_key(model, size) -> tuple[str, int]:
    """(model, input size), -1 for an unknown size, so that keys sort and compare."""
    return (str(model), int(size) if given(size) else -1)
