"""The model catalogue: every registered model's size and cost at its
reference input size, and the ImageNet errors published for it.

The runs here train at 32x32, so their records cannot give the figures of a
model at the size it was designed for. ``model_catalogue.json`` holds them:
each model built, shapes only, at its reference size (its own
``DEFAULT_IMAGE_SIZE``, else ImageNet's 224 x 224 with 1,000 classes; a token
model at its default sequence length over its default dataset's vocabulary,
and the test model on CIFAR-10) and read by ``model_stats.describe``.
Building them all needs Keras and a backend, and takes far longer than
writing a report from records; so the file is committed, the report reads
it, and it is rewritten by::

    python -m keras_profiler.model_catalogue

and tests/test_models_summary.py fails when a fresh build differs from it.

``published_errors.csv`` holds, per model, the top-1 and top-5 ImageNet
figures published for the implementation its file mirrors, typed in by hand
with their source: as the source gives them (``metric`` "accuracy" or
"error"), so that each can be checked against it; empty where none could be
verified, with the reason in ``source``. None of them is measured here.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from keras_profiler import datasets, models

CATALOGUE = Path(__file__).with_name("model_catalogue.json")
PUBLISHED = Path(__file__).with_name("published_errors.csv")
IMAGENET_SIZE = 224
IMAGENET_CLASSES = 1000
# Models not meant for ImageNet, described like the token models on the
# dataset their runs use by default: the test model on CIFAR-10.
NOT_IMAGENET = ("tiny",)


@dataclass(frozen=True)
class PublishedError:
    """A model's published ImageNet top-1 and top-5 error, in percent (None
    where no figure was verified), and where it was published."""

    top1: Decimal | None
    top5: Decimal | None
    source: str
    url: str


def reference_size(name: str) -> int | None:
    """The input side an image model is described at: its
    ``DEFAULT_IMAGE_SIZE``, else ImageNet's 224. None for the others: their
    own default (a token model's sequence length, CIFAR-10's 32)."""
    spec = models.load(name)
    if spec.input_kind != "images" or name in NOT_IMAGENET:
        return None
    return spec.default_image_size or IMAGENET_SIZE


def reference_build(name: str):
    """``name`` built at its reference size, its weights left uninitialised
    (only shapes are read)."""
    import keras

    spec = models.load(name)
    shape = spec.sample_shape(reference_size(name))
    with keras.StatelessScope(initialize_variables=False):
        model = spec.build(shape, _classes(name, spec.input_kind))
    # Forgets the weights still to initialise, so that no later scope does.
    keras.utils.clear_session()
    return model, shape


def _classes(name: str, kind: str) -> int:
    """ImageNet's classes; for a model not meant for ImageNet, those of the
    dataset its runs use by default (a token model's: its vocabulary)."""
    if kind == "images" and name not in NOT_IMAGENET:
        return IMAGENET_CLASSES
    return datasets.get(datasets.default_for(kind)).NUM_CLASSES


def measure(name: str) -> dict:
    """The catalogue entry of ``name``: its input kind and sample shape, its
    parameter count and what ``model_stats.describe`` reads from it."""
    from keras_profiler import model_stats

    model, shape = reference_build(name)
    return {
        "input_kind": models.load(name).input_kind,
        "sample_shape": list(shape),
        "parameters": int(model.count_params()),
        **model_stats.describe(model),
    }


def build_all() -> dict[str, dict]:
    """The catalogue of every registered model."""
    return {name: measure(name) for name in models.available()}


def write(path: Path = CATALOGUE) -> None:
    """Writes the catalogue of every registered model to ``path``."""
    text = json.dumps(build_all(), indent=1, sort_keys=True)
    Path(path).write_text(text + "\n")


def load(path: Path = CATALOGUE) -> dict[str, dict]:
    """Model name -> its catalogue entry (see ``measure``)."""
    return json.loads(Path(path).read_text())


def published_errors(path: Path = PUBLISHED) -> dict[str, PublishedError]:
    """Model name -> its published ImageNet errors (accuracies turned into
    errors, exactly, in decimal)."""
    with open(path, newline="") as file:
        return {row["model"]: _published(row) for row in csv.DictReader(file)}


def _published(row: dict) -> PublishedError:
    """One row of published_errors.csv as errors in percent."""
    if row["metric"] not in ("accuracy", "error", ""):
        raise ValueError(f"{row['model']}: metric {row['metric']!r} is not accuracy or error")

    def error(text: str) -> Decimal | None:
        if not text:
            return None
        value = Decimal(text)
        return 100 - value if row["metric"] == "accuracy" else value

    return PublishedError(error(row["top1"]), error(row["top5"]), row["source"], row["url"])


def main(argv: list[str] | None = None) -> None:
    """Rewrites the catalogue (or writes it to ``--output``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=CATALOGUE, help="where to write it")
    args = parser.parse_args(argv)
    import keras

    # The sample shapes are written channels last, whatever the user's
    # keras.json says.
    keras.config.set_image_data_format("channels_last")
    write(args.output)


if __name__ == "__main__":
    # One backend for the committed file and its drift test, whatever the
    # caller's; set before Keras is first imported.
    os.environ["KERAS_BACKEND"] = "jax"
    main()
