"""Summary pages: speed and memory by batch size, the model summary, images/sec
by machine and accuracy curves, from hand-built records."""

from __future__ import annotations

import sys

import pytest
from test_report import PNG_MAGIC, run, spread, tables, write_all

from keras_profiler import report
from keras_profiler.report import pages
from keras_profiler.report.data.cells import per_cell
from keras_profiler.report.data.frame import epochs_frame, records_frame
from keras_profiler.report.pages import accuracy, batch_sizes, machines, models
from keras_profiler.report.parts import figures

H100 = "NVIDIA H100 80GB HBM3 (driver 550.54)"
CPU = "Test CPU (2 cores)"


def render(module, runs):
    frame = records_frame(runs)
    return module.page(frame, per_cell(frame), epochs_frame(runs))


def on_gpu(result, source="torch max_memory_allocated"):
    """The record as if run on H100s, the framework's peak counter named."""
    devices = result.config["devices"]
    result.devices = [
        {"kind": "gpu", "name": "NVIDIA H100 80GB HBM3", "index": i} for i in range(devices)
    ]
    result.environment["gpu_driver"] = "550.54"
    if result.summary:
        result.summary.peak_memory.device_peak_source = source
    return result


def only(page, starts_with):
    (table,) = [t for heading, t in tables(page).items() if heading.startswith(starts_with)]
    return table


# Speed and memory by batch size.


def batch_runs():
    # Steady epochs of 320 images in 2 s: 160 images/sec; 640 in 2 s: 320.
    return [
        run("a16", "jax", 1, batch_size=16),
        run("a16r2", "jax", 1, batch_size=16, steady=4.0, repeat=2),  # 80: mean 120
        run("a32", "jax", 1, batch_size=32, images=640),
        run("a64", "jax", 1, batch_size=64, status="oom"),
        run("v16", "jax", 1, batch_size=16, model="vgg16", steady=4.0),
        run("v64", "jax", 1, batch_size=64, model="vgg16", status="timeout"),
    ]


def test_batch_size_tables_have_a_column_per_batch_size_and_name_failures():
    page = render(batch_sizes, batch_runs())["batch-sizes.md"]

    speed = only(page, "Speed (images/sec, steady state)")
    assert speed == {
        "columns": ["batch size 16", "batch size 32", "batch size 64"],
        "resnet50": ["120.00 +- 56.57", "320.00", "out of memory"],
        "vgg16": ["80.00", "not run", "timeout"],
    }
    header = [line for line in page.splitlines() if line.startswith("| model")][0]
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "model",
        "batch size 16",
        "batch size 32",
        "batch size 64",
    ]
    memory = only(page, "Memory usage (MiB, host peak RSS, all processes)")
    assert memory["resnet50"] == ["512", "512", "out of memory"]  # mean alone, as on model pages
    assert "* `Batch size` - 16, 32, 64 per device" in page
    assert "* `Optimizer` - sgd, learning rate 0.01" in page
    assert f"* `CPU` - {CPU}" in page


def test_memory_table_says_which_figure_gpu_records_give():
    runs = [
        on_gpu(run("g16", "torch", 1, batch_size=16, device=[1000.0])),
        on_gpu(run("g32", "torch", 1, batch_size=32, device=[1800.0])),
        on_gpu(run("g64", "torch", 1, batch_size=64, status="oom")),
    ]
    page = render(batch_sizes, runs)["batch-sizes.md"]

    label = "torch max_memory_allocated, peak summed over devices"
    memory = only(page, f"Memory usage (MiB, {label})")
    assert memory["resnet50"] == ["1000", "1800", "out of memory"]
    assert "host peak RSS" not in page
    assert f"* `GPU` - {H100}" in page


def test_batch_size_plot_is_a_png_linked_from_the_page_and_byte_identical():
    first = render(batch_sizes, batch_runs())
    second = render(batch_sizes, batch_runs())

    png = first["batch-sizes-1.png"]
    assert png.startswith(PNG_MAGIC)
    assert png == second["batch-sizes-1.png"]
    assert first["batch-sizes.md"] == second["batch-sizes.md"]
    assert "(batch-sizes-1.png)" in first["batch-sizes.md"]


def test_no_batch_size_page_with_one_batch_size_per_configuration():
    runs = [
        run("a", "jax", 1, batch_size=16),
        run("b", "torch", 1, batch_size=32),  # another backend: another configuration
        run("c", "jax", 2, batch_size=32),  # another device count
    ]
    assert render(batch_sizes, runs) == {}
    assert render(batch_sizes, []) == {}


# The model summary.


def with_figures(result, macs=4.09e9, activations=103.4 * 2**20, parameters=98 * 2**20):
    result.model.update(
        forward_macs_per_image=macs,
        activation_bytes_per_image=activations,
        parameter_bytes=parameters,
    )
    return result


def test_model_summary_formats_the_recorded_figures_and_na_for_old_records():
    runs = [
        with_figures(run("a", "jax", 1)),
        run("b", "jax", 1, model="vgg16", steady=4.0),
        run("c", "torch", 1),
        run("d", "torch", 1, model="vgg16", status="oom"),
        run("e", "jax", 2, images=640),  # 2 devices: not in the 1-device columns
    ]
    page = render(models, runs)["models.md"]

    table = only(page, "Models")
    assert table["columns"] == [
        "input size",
        "parameters",
        "parameter memory (MiB)",
        "feature memory per image (MiB)",
        "forward pass per image (G multiply-adds)",
        "jax (images/sec)",
        "torch (images/sec)",
    ]
    assert table["resnet50"] == ["32 x 32", "23,608,202", "98.0", "103", "4.09", "160.00", "160.00"]
    old = ["32 x 32", "23,608,202", "n/a", "n/a", "n/a"]  # written before the figures
    assert table["vgg16"] == [*old, "80.00", "out of memory"]


def test_model_summary_gives_one_images_per_second_table_per_setup():
    runs = [
        with_figures(run("a", "jax", 1, batch_size=32)),
        run("b", "jax", 1, batch_size=64, images=640),
        run("c", "jax", 1, batch_size=32, dataset="synthetic", steady=1.0),
        on_gpu(run("d", "jax", 1, batch_size=32, steady=0.5)),
    ]
    page = render(models, runs)["models.md"]

    assert "images/sec" not in " ".join(only(page, "Models")["columns"])
    real = only(page, f"{CPU}, real data, float32, batch size 32")
    assert real == {
        "columns": ["input size", "jax (images/sec)"],
        "resnet50": ["32 x 32", "160.00"],
    }
    assert only(page, f"{CPU}, real data, float32, batch size 64")["resnet50"][1] == "320.00"
    assert only(page, f"{CPU}, synthetic data, float32, batch size 32")["resnet50"][1] == "320.00"
    assert only(page, f"{H100}, real data, float32, batch size 32")["resnet50"][1] == "640.00"


def test_feature_memory_that_differs_by_precision_names_each():
    runs = [
        with_figures(run("a", "jax", 1), activations=100 * 2**20),
        with_figures(run("b", "jax", 1, precision="mixed_bfloat16"), activations=50 * 2**20),
    ]
    table = only(render(models, runs)["models.md"], "Models")
    assert table["resnet50"][3] == "100 (float32) / 50.0 (mixed_bfloat16)"
    assert table["resnet50"][2] == "98.0"  # the same under both: said once


def test_no_model_summary_without_records():
    assert render(models, []) == {}


# Images/sec by machine.


def test_machine_table_pivots_two_machines_into_two_columns():
    runs = [
        run("c1", "tensorflow", 1, strategy="replicated", dataset="synthetic"),
        run("c2", "tensorflow", 1, strategy="replicated", dataset="synthetic", model="vgg16"),
        on_gpu(run("g1", "tensorflow", 1, strategy="replicated", dataset="synthetic", steady=0.1)),
        on_gpu(
            run(
                "g2",
                "tensorflow",
                1,
                strategy="replicated",
                dataset="synthetic",
                model="vgg16",
                status="oom",
            )
        ),
        run("c3", "tensorflow", 1, strategy="replicated", dataset="synthetic", model="alexnet"),
        run("x", "jax", 1),  # one machine only: no table
    ]
    page = render(machines, runs)["machines.md"]

    assert only(page, "synthetic-replicated-1device, tensorflow, float32, batch 32 per device") == {
        "columns": [H100, CPU],
        "alexnet": ["not run", "160.00"],
        "resnet50": ["3200.00", "160.00"],
        "vgg16": ["out of memory", "160.00"],
    }
    assert len(tables(page)) == 1
    assert "tensorflow, replicated (hierarchical-copy all-reduce), channels_last; Dataset: " in page


def test_machine_heading_names_distortions_and_device_count():
    runs = [
        run("a", "jax", 4, strategy="data-parallel", distortions=True),
        on_gpu(run("b", "jax", 4, strategy="data-parallel", distortions=True)),
    ]
    page = render(machines, runs)["machines.md"]
    assert "**real-data-parallel-distortions-4devices, jax, float32, batch 32 per device**" in page
    assert f"{CPU}, virtual devices" not in page  # run() records no virtual devices


def test_machine_column_says_where_the_devices_were_virtual():
    cpu = spread("a", "jax", 4)  # 4 virtual devices on one CPU
    gpu = on_gpu(spread("b", "jax", 4))
    gpu.distribution["virtual_devices"] = False
    page = render(machines, [cpu, gpu])["machines.md"]
    table = only(page, "real-data-parallel-4devices, jax")
    assert table["columns"] == [H100, f"{CPU}, virtual devices"]


def test_no_machine_page_from_one_machine():
    assert render(machines, [run("a", "jax", 1), run("b", "torch", 1)]) == {}


# Accuracy curves.


def curve_runs():
    return [
        run("j", "jax", 1),
        run("a2", "jax", 1, repeat=2),  # same seed: repeat 1 draws the curve
        run("t", "torch", 1),
        run("f", "tensorflow", 1, status="oom"),
    ]


def test_accuracy_curves_png_is_linked_and_byte_identical():
    files = render(accuracy, curve_runs())
    again = render(accuracy, curve_runs())

    page = files["accuracy.md"]
    (name,) = [name for name in files if name.endswith(".png")]
    assert name == "accuracy-resnet50-1.png"
    assert files[name].startswith(PNG_MAGIC)
    assert files[name] == again[name]
    assert f"]({name})" in page
    assert "record `j`, after epoch 2: train 0.5000, test 0.4000" in page
    assert "`a2`" not in page
    assert "tensorflow, single device, no distribution, channels_last: out of memory" in page


def test_a_failed_repeat_1_leaves_the_curve_to_the_next_ok_repeat():
    runs = [run("z1", "jax", 1, status="oom"), run("a2", "jax", 1, repeat=2)]
    assert "record `a2`" in render(accuracy, runs)["accuracy.md"]


def test_no_curves_for_synthetic_data_or_a_single_epoch():
    synthetic = [run("a", "jax", 1, dataset="synthetic"), run("b", "torch", 1, dataset="synthetic")]
    assert render(accuracy, synthetic) == {}
    single = run("c", "jax", 1, epochs=1)
    single.epochs = single.epochs[:1]
    assert render(accuracy, [single]) == {}
    assert render(accuracy, [run("d", "jax", 1, status="oom")]) == {}


# Every summary page.


def test_a_failed_repeat_is_counted_in_the_summary_tables():
    runs = [
        run("a1", "jax", 1, batch_size=16),
        run("a2", "jax", 1, batch_size=16, status="oom", repeat=2),
        run("b", "jax", 1, batch_size=32, images=640),
        on_gpu(run("g", "jax", 1, batch_size=16, steady=0.5)),
    ]
    speed = only(render(batch_sizes, runs)["batch-sizes.md"], "Speed")
    assert speed["resnet50"] == ["160.00 (1 of 2 ok)", "320.00"]
    by_machine = only(render(machines, runs)["machines.md"], "real-single-1device")
    assert by_machine["resnet50"] == ["640.00", "160.00 (1 of 2 ok)"]
    summary = render(models, runs)["models.md"]
    assert only(summary, f"{CPU}, real data, float32, batch size 16")["resnet50"] == [
        "32 x 32",
        "160.00 (1 of 2 ok)",
    ]


# The pages in the report.


def every_page_runs():
    """Records that give each registered page something to show."""
    return [*batch_runs(), on_gpu(run("g", "jax", 1, batch_size=32))]


@pytest.mark.parametrize("module", pages.registered(), ids=lambda module: module.__name__)
def test_each_page_marks_its_own_files_and_describes_them(module):
    from test_speed_report import gpu_run  # a run timed in intervals, for speed.md

    runs = [*every_page_runs(), gpu_run("s")]
    files = render(module, runs)
    cells = per_cell(records_frame(runs))

    assert files
    for name, content in files.items():
        if name.endswith(".md"):
            assert content.startswith(report.GENERATED_MARK + "\n")
            assert content.count(report.GENERATED_MARK) == 1
        elif name.endswith(".png"):
            assert figures.is_ours(content)
        if not name.endswith(".png"):
            assert pages.description(module, name, cells)


def test_pages_are_written_and_indexed_by_report_generate(tmp_path):
    runs = every_page_runs()
    write_all(tmp_path / "results", runs)
    report.generate(tmp_path / "results", tmp_path / "reports")

    written = {path.name for path in (tmp_path / "reports").iterdir()}
    expected = {"batch-sizes.md", "batch-sizes-1.png", "models.md", "machines.md", "accuracy.md"}
    assert expected <= written
    index = (tmp_path / "reports" / "README.md").read_text()
    for name in ("batch-sizes.md", "models.md", "machines.md", "accuracy.md"):
        assert f"[{name}]({name})" in index
        text = (tmp_path / "reports" / name).read_text()
        assert text.startswith(report.GENERATED_MARK) and text.count(report.GENERATED_MARK) == 1
    # Every page, the model pages, scaling.md and the index too, carries the mark once.
    for path in (tmp_path / "reports").glob("*.md"):
        text = path.read_text()
        assert text.startswith(report.GENERATED_MARK) and text.count(report.GENERATED_MARK) == 1
    cells = per_cell(records_frame(runs))
    for module in pages.registered():
        for name in module.page(records_frame(runs), cells, epochs_frame(runs)):
            if not name.endswith(".png"):
                description = pages.description(module, name, cells)
                assert f"| [{name}]({name}) | {description} |" in index


def test_a_page_module_added_to_the_pages_package_is_written_and_indexed(tmp_path, monkeypatch):
    # A new page is one module in keras_profiler/report/pages/ and nothing
    # else: here one in a folder added to the package's search path.
    (tmp_path / "runs_counted.py").write_text(
        "from keras_profiler.report.parts.marks import markdown\n"
        "PAGE = 'runs-counted.md'\n"
        "POSITION = 15\n"
        "DESCRIPTIONS = {PAGE: 'how many records there are'}\n"
        "def page(frame, cells, epochs):\n"
        "    return {PAGE: markdown([f'# {len(frame)} records'])}\n"
    )
    monkeypatch.setattr(pages, "__path__", [*pages.__path__, str(tmp_path)])
    monkeypatch.delitem(sys.modules, "keras_profiler.report.pages.runs_counted", raising=False)
    files = report.render(records_frame([run("a", "jax", 1)]), [])

    assert files["runs-counted.md"] == f"{report.GENERATED_MARK}\n# 1 records\n"
    index = files["README.md"]
    assert "| [runs-counted.md](runs-counted.md) | how many records there are |" in index
    # Listed by POSITION: after the model page (10), before scaling.md (20).
    assert index.index("(resnet50.md)") < index.index("(runs-counted.md)")
    assert index.index("(runs-counted.md)") < index.index("(scaling.md)")
    monkeypatch.delitem(sys.modules, "keras_profiler.report.pages.runs_counted")
