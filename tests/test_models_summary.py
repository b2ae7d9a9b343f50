"""The reference summary at the top of models.md: the committed model
catalogue (sizes and costs at each model's reference input size), the
published ImageNet errors beside it, and the table the page makes of them."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import pytest
from test_report import run, tables

from keras_profiler import model_catalogue, models
from keras_profiler.report.data.cells import per_cell
from keras_profiler.report.data.frame import epochs_frame, records_frame
from keras_profiler.report.pages import models as models_page

SUMMARY = "Summary at reference input sizes"


def summary_table(runs=None):
    """The reference summary of models.md rendered from ``runs`` (one
    resnet50 record by default): heading -> {"columns": ..., row: cells}."""
    runs = runs or [run("a", "jax", 1)]
    frame = records_frame(runs)
    page = models_page.page(frame, per_cell(frame), epochs_frame(runs))["models.md"]
    return page, tables(page)[SUMMARY]


# The catalogue.


def test_catalogue_matches_a_fresh_build_of_every_model(tmp_path):
    # Every registered model built again, shapes only, in a fresh process
    # (the generator picks its own backend before importing Keras).
    fresh = tmp_path / "catalogue.json"
    completed = subprocess.run(
        [sys.executable, "-m", "keras_profiler.model_catalogue", "--output", str(fresh)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    committed = model_catalogue.load()
    assert json.loads(fresh.read_text()) == committed, (
        "keras_profiler/model_catalogue.json is stale: run python -m keras_profiler.model_catalogue"
    )


def test_every_registered_model_is_catalogued_and_has_a_published_row():
    registered = set(models.available())
    assert set(model_catalogue.load()) == registered
    assert set(model_catalogue.published_errors()) == registered


def test_resnet18_parameter_memory_is_torchvisions_parameters_plus_moving_statistics():
    # Batch norm channels of ResNet-18: the stem's 64, two per basic block
    # at each stage's width, and one projection shortcut in each of the
    # last three stages.
    channels = 64 + 2 * 2 * 64 + (2 * 2 * 128 + 128) + (2 * 2 * 256 + 256) + (2 * 2 * 512 + 512)
    assert channels == 4_800
    # torchvision's published count, plus each channel's moving mean and
    # variance (buffers in torch), 4 bytes each as float32.
    expected = 4 * (11_689_512 + 2 * channels)
    entry = model_catalogue.load()["resnet18"]
    assert entry["parameter_bytes"] == expected == 46_796_448
    assert entry["sample_shape"] == [224, 224, 3]


def test_reference_sizes_are_the_models_own_or_imagenets():
    catalogue = model_catalogue.load()
    assert catalogue["inception_v3"]["sample_shape"] == [299, 299, 3]  # DEFAULT_IMAGE_SIZE
    assert catalogue["alexnet"]["sample_shape"] == [227, 227, 3]
    assert catalogue["resnet50"]["sample_shape"] == [224, 224, 3]  # none of its own: 224
    assert catalogue["tiny"]["sample_shape"] == [32, 32, 3]  # on CIFAR-10
    assert catalogue["tiny"]["parameters"] == 2_842  # 10 classes, as its docstring says
    bert = models.load("bert_base")
    assert catalogue["bert_base"]["sample_shape"] == list(bert.sample_shape()) == [128]


# The published errors.


def test_published_accuracies_become_errors_exactly():
    published = model_catalogue.published_errors()
    # torchvision gives resnet18 acc@1 69.758 and acc@5 89.078.
    assert (published["resnet18"].top1, published["resnet18"].top5) == (
        Decimal("30.242"),
        Decimal("10.922"),
    )
    # convnet-burden gives errors as they are.
    assert published["resnext101_64x4d"].top1 == Decimal("20.81")
    assert published["bert_base"].top1 is None and published["bert_base"].url == ""


def test_a_published_row_is_read_as_accuracy_or_error_and_nothing_else(tmp_path):
    path = tmp_path / "published.csv"
    path.write_text(
        "model,metric,top1,top5,source,url\n"
        "a,accuracy,57.1,,paper,https://example.org/a\n"
        "b,error,20.0,5.0,paper,https://example.org/b\n"
    )
    found = model_catalogue.published_errors(path)
    assert (found["a"].top1, found["a"].top5) == (Decimal("42.9"), None)
    assert (found["b"].top1, found["b"].top5) == (Decimal("20.0"), Decimal("5.0"))
    path.write_text("model,metric,top1,top5,source,url\nc,top-1,1,2,x,y\n")
    with pytest.raises(ValueError, match="c: metric 'top-1'"):
        model_catalogue.published_errors(path)


# The page.


def test_summary_has_a_row_for_every_registered_model():
    _, table = summary_table()
    rows = {label.strip("[").split("]")[0] for label in table if label != "columns"}
    assert rows == set(models.available())


def test_summary_row_gives_the_catalogue_figures_and_the_published_error_with_its_source():
    _, table = summary_table()
    assert table["columns"] == [
        "input size",
        "parameters",
        "parameter memory (MiB)",
        "feature memory per sample (MiB)",
        "forward pass per sample (G multiply-adds)",
        "published ImageNet top-1 / top-5 error (%)",
        "source of the published error",
    ]
    url = "https://pytorch.org/vision/stable/models/generated/torchvision.models.resnet18.html"
    assert table["resnet18"] == [
        "224 x 224",
        "11,699,112",
        "44.6",  # 46,796,448 bytes
        "37.3",
        "1.81",
        "30.242 / 10.922",
        f"[torchvision, ResNet18_Weights.IMAGENET1K_V1]({url})",
    ]


def test_token_and_unverified_models_show_na_and_why():
    _, table = summary_table()
    assert table["bert_large"][0] == "128 tokens"
    assert table["bert_large"][-2:] == ["n/a", "not an ImageNet model"]
    assert table["resnet200"][-2] == "n/a"
    assert table["resnet200"][-1].startswith("none verified")


def test_summary_marks_the_errors_as_published_not_measured():
    page, table = summary_table()
    assert "published ImageNet" in table["columns"][5]
    assert "The ImageNet errors are published figures, not measured here" in page
    # The summary comes first; the records' own table follows under its heading.
    assert page.index(SUMMARY) < page.index("## Models as run")


def test_a_model_with_records_links_to_its_page():
    _, table = summary_table([run("a", "jax", 1)])
    assert "[resnet50](resnet50.md)" in table
    assert "resnet18" in table  # no records: no page to link to


def test_a_model_missing_from_the_catalogue_shows_na(monkeypatch):
    catalogue = model_catalogue.load()
    del catalogue["vgg19"]
    monkeypatch.setattr(model_catalogue, "load", lambda: catalogue)
    _, table = summary_table()
    assert table["vgg19"][:5] == ["n/a"] * 5
    assert table["vgg19"][5] == "28.744 / 10.012"  # the published figure still shows
