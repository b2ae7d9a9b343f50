"""A setup in words: the settings that make runs comparable (frame.SETUP_COLUMNS),
said the same way on every page: as the bullet list heading a model page's
tables, as bullets or one line above a summary table, in headings.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from keras_profiler.report.data.cells import given

# The data axis of the tf_cnn_benchmarks tables, in words.
DATA_KINDS = {
    "synthetic": "synthetic: seeded random images and labels, so accuracy means nothing",
    "real": "real images, no distortions",
    "real, distorted": "real images with distortions: random crop and horizontal flip of "
    "each training image on the host input path (4 pixels of zero padding, a random crop "
    "back to the image size, a left-right flip with probability 0.5; test images "
    "undistorted)",
}
# The same, short enough for a heading.
DATA_IN_HEADINGS = {
    "synthetic": "synthetic data",
    "real": "real data",
    "real, distorted": "real data with distortions",
}


# The data kinds of a text model's runs.
TOKEN_DATA_KINDS = {
    "synthetic": "synthetic: seeded random token sequences, each position labelled with its "
    "own token (learnable: accuracy shows that the model trains)",
}


def _tokens(length, unset: str) -> str:
    """'128 tokens', or ``unset`` where no length was given."""
    return f"{int(length)} tokens" if given(length) else unset


def settings(cell: dict) -> dict[str, str]:
    """Name -> words for each setting of a cell's setup that a table does not
    show by itself, in the order of the model pages' bullet lists."""
    data = cell["dataset"]
    if given(cell["train_samples"]):
        data += f", first {int(cell['train_samples'])} training images"
    if given(cell["test_samples"]):
        data += f", first {int(cell['test_samples'])} test images"
    epochs = str(int(cell["epochs"]))
    if given(cell["steps_per_epoch"]):
        epochs += f" (capped at {int(cell['steps_per_epoch'])} steps each)"
    if given(cell.get("until_stable")):
        epochs = (
            f"at most {epochs}, stopped as soon as the steady speed's 95% interval was "
            f"within {cell['until_stable']:g}% of it (speed only, no test evaluation)"
        )
    if cell.get("sample_unit") == "sequences":
        size = ("Sequence length", _tokens(cell.get("sequence_length"), "each model's default"))
        kind = TOKEN_DATA_KINDS.get(cell["data_kind"], cell["data_kind"])
    else:
        size = ("Image size", _square(cell["image_size"], "each model's default"))
        kind = DATA_KINDS.get(cell["data_kind"], cell["data_kind"])
    return {
        "Dataset": data,
        "Data": kind,
        size[0]: size[1],
        "Batch size": f"{int(cell['batch_size'])} per device",
        "Epochs": epochs,
        "Random seed": str(cell["seed"]),
        "Precision": str(cell["precision"]),
        "Optimizer": f"{cell['optimizer']}, learning rate {cell['learning_rate']:g}",
    }


def settings_line(cell: dict, skip: Iterable[str] = ()) -> str:
    """The settings in one line, 'Name: words; ...', leaving out ``skip``."""
    skip = set(skip)
    return "; ".join(f"{name}: {text}" for name, text in settings(cell).items() if name not in skip)


def setup_lines(runs: pd.DataFrame) -> list[str]:
    """The bullet list heading one setup's tables on its model page: the
    settings, with the image size the model saw and the global batch, then
    learning-rate scaling and the machine."""
    setup = runs.iloc[0].to_dict()
    words = settings(setup)
    if "Sequence length" in words and not given(setup.get("sequence_length")):
        recorded = runs["model_sequence_length"].dropna()
        length = recorded.iloc[0] if len(recorded) else None
        words["Sequence length"] = _tokens(length, "the model's default")
    elif "Image size" in words and not given(setup["image_size"]):
        # One model here: the size it recorded choosing.
        recorded = runs["model_image_size"].dropna()
        size = recorded.iloc[0] if len(recorded) else None
        words["Image size"] = _square(size, "the model's default")
    batch = int(setup["batch_size"])
    words["Batch size"] += f" (global batch = {batch} x devices)"
    return [
        *(f"* `{name}` - {text}" for name, text in words.items()),
        *_scaling_lines(runs),
        f"* `Hardware` - {hardware(setup, runs)}",
    ]


def hardware(setup: dict, runs: pd.DataFrame) -> str:
    """The setup's machine, and how CPU runs got several devices out of one CPU."""
    virtual = runs[runs["virtual_devices"].astype(bool)]
    counts = ", ".join(str(n) for n in sorted(virtual["devices"].astype(int).unique()))
    if not counts:
        return setup["hardware"]
    # Say it where the figures are read: a "speedup" here is not one.
    return (
        f"{setup['hardware']}, as N virtual CPU devices for N = {counts}: they share the same "
        "cores, so these runs test the multi-device code path and show its overhead; "
        "speedups need real devices"
    )


def device_count(count: int) -> str:
    """'1 device', '4 devices'."""
    return f"{count} device{'s' if count != 1 else ''}"


def _scaling_lines(runs: pd.DataFrame) -> list[str]:
    linear = runs["lr_scaling"] == "linear"
    if not linear.any():
        return []
    which = "" if linear.all() else " for some runs"
    return [
        f"* `Learning rate scaling` - linear{which}: learning rate x devices "
        "(each table's Learning rate row gives the rate used)"
    ]


def _square(size, unset: str) -> str:
    return f"{int(size)}x{int(size)}" if given(size) else unset
