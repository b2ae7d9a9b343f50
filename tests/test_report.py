"""Reports: the reference layout, failures shown as such, byte-identical output."""

from __future__ import annotations

import json
import shutil

from test_records import epoch, record

from keras_profiler import records, report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(
    run_id,
    backend,
    devices,
    status="ok",
    finished="2026-01-01T00:01:00+00:00",
    steady=2.0,
    images=320,
    device=None,
    **config,
):
    """A record whose steady state is one epoch of ``images`` in ``steady`` seconds."""
    epochs = []
    if status == "ok":
        epochs = [epoch(1, 4.0, images), epoch(2, steady, images, rss=512.0, device=device)]
    result = record(run_id, status, epochs)
    result.finished_at = finished
    result.config = {
        "backend": backend,
        "model": "resnet50",
        "dataset": "cifar10",
        "devices": devices,
        "batch_size": 32,
        "epochs": 2,
        "steps_per_epoch": None,
        "train_samples": None,
        "test_samples": None,
        "seed": 1337,
        "precision": "float32",
        "optimizer": "sgd",
        "learning_rate": 0.01,
        "image_size": None,
        **config,
    }
    result.model = {"name": "resnet50", "parameters": 23608202, "image_size": 32}
    result.environment = {
        "keras": "3.15.1",
        "libraries": {backend: "1.0"},
        "cpu_model": "Test CPU",
        "cpu_cores_logical": 2,
    }
    result.devices = [{"kind": "cpu", "name": "Test CPU", "index": 0}]
    if status == "oom":
        result.error = "Traceback...\nResourceExhaustedError: OOM when allocating tensor"
    return result


def write_all(folder, runs):
    for each in runs:
        records.write(each, folder)


def spread(run_id, backend, devices, strategy="data-parallel", jit=True, checks=None, **kwargs):
    """A version-2 record of a data-parallel run, replicas identical unless told."""
    result = run(run_id, backend, devices, strategy=strategy, jit_compile=jit, **kwargs)
    config = result.config
    config.setdefault("lr_scaling", "fixed")
    config.setdefault("bucket_mb", None)
    zero = {"epoch": 2, "max_abs_difference": 0.0, "trainable_max_abs_difference": 0.0}
    result.distribution = {
        "strategy": strategy,
        "devices": devices,
        "device_kind": "cpu",
        "virtual_devices": devices > 1,
        "processes": 1,
        "global_batch_size": config["batch_size"] * devices,
        "learning_rate": config["learning_rate"]
        * (devices if config["lr_scaling"] == "linear" else 1),
        "jit_compile": jit,
        "bucket_mb": config["bucket_mb"],
        "initial_weights_sha256": "0" * 64,
        "replica_checks": checks if checks is not None else ([zero] if devices > 1 else []),
    }
    return result


def generate(tmp_path, runs, reports="reports"):
    write_all(tmp_path / "results", runs)
    report.generate(tmp_path / "results", tmp_path / reports)
    return (tmp_path / reports / "resnet50.md").read_text()


def tables(page):
    """Heading -> {"columns": [...], row label: [cells]} for every table of a page."""
    found, heading = {}, None
    for line in page.splitlines():
        if line.startswith("#") or line.startswith("**"):
            heading = line.lstrip("# ").strip("*")
        elif line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            table = found.setdefault(heading, {})
            if "columns" not in table:
                table["columns"] = cells[1:]
            elif not set(line) <= set("|:- "):
                table[cells[0]] = cells[1:]
    return found


def only_table(page, starts_with):
    (table,) = [t for heading, t in tables(page).items() if heading.startswith(starts_with)]
    return table


def test_table_has_the_reference_rows_and_a_column_per_device_count(tmp_path):
    page = generate(tmp_path, [run("a", "jax", 1), run("b", "jax", 2, status="oom")])

    table = only_table(page, "jax")
    assert table["columns"] == ["CPU (1)", "CPU (2)"]
    assert table["Global batch"] == ["32", "64"]
    assert table["Training time (secs)"] == ["6.00", "out of memory"]
    assert table["First epoch, compile and warm-up (secs)"][0] == "4.00"
    assert table["Average time per epoch, steady state (secs)"][0] == "2.00"
    assert table["Images processed per sec, steady state (epoch clock)"][0] == "160.00"
    assert table["Training accuracy"][0] == "0.5000"
    assert table["Test accuracy"][0] == "0.4000"
    assert table["Maximum memory consumption (MiB, host peak RSS, all processes)"][0] == "512"
    figures = [cells for label, cells in table.items() if label not in ("columns", "Global batch")]
    assert all(cells[1] == "out of memory" for cells in figures)
    assert "CPU (2): out of memory: `ResourceExhaustedError: OOM when allocating tensor`" in page
    assert "* `Hardware` - Test CPU (2 cores)" in page


def test_speedup_and_efficiency_against_the_tables_own_one_device_run(tmp_path):
    # Steady epochs of 320, 640 and 1280 images in 1.9, 2.0 and 2.5 seconds:
    # 320/1.9, 320 and 512 images/sec, so 1.90x and 3.04x, 95% and 76%.
    runs = [
        spread("a", "jax", 1, steady=1.9),
        spread("b", "jax", 2, steady=2.0, images=640),
        spread("c", "jax", 4, steady=2.5, images=1280),
        spread("d", "jax", 8, status="oom"),
    ]
    table = only_table(generate(tmp_path, runs), "jax")

    assert table["columns"] == ["CPU (1)", "CPU (2)", "CPU (4)", "CPU (8)"]
    assert table["Images processed per sec, steady state (epoch clock)"] == [
        "168.42",
        "320.00",
        "512.00",
        "out of memory",
    ]
    assert table["Speedup vs 1 device"] == ["1.00x", "1.90x", "3.04x", "out of memory"]
    assert table["Scaling efficiency"] == ["100%", "95%", "76%", "out of memory"]
    assert table["Global batch"] == ["32", "64", "128", "256"]
    assert table["Replicas identical after training"] == ["n/a", "yes", "yes", "out of memory"]
    labels = list(table)
    assert (
        labels.index("Speedup vs 1 device")
        == labels.index("Images processed per sec, steady state (epoch clock)") + 1
    )
    assert "Learning rate" not in table  # fixed rate: the setup gives it


def test_no_one_device_run_gives_no_speedup(tmp_path):
    runs = [
        spread("a", "jax", 1, status="oom"),
        spread("b", "jax", 2),
        spread("c", "jax", 4, images=1280),
    ]
    table = only_table(generate(tmp_path, runs), "jax")
    assert table["Speedup vs 1 device"] == [
        "out of memory",
        "n/a (no 1-device run)",
        "n/a (no 1-device run)",
    ]
    assert table["Scaling efficiency"][1:] == ["n/a (no 1-device run)"] * 2


def test_heading_names_strategy_compilation_and_versions(tmp_path):
    runs = [
        spread("a", "tensorflow", 2, strategy="replicated", jit=False),
        spread("b", "jax", 2, strategy="data-parallel", jit=True),
        spread("c", "torch", 2, strategy="ddp", jit=False, bucket_mb=25.0),
    ]
    mxnet = spread("d", "mxnet", 2, strategy="multi-context", jit=False)
    mxnet.config["data_format"] = "channels_first"
    mxnet.environment["keras"] = "2.2.4.3"
    headings = set(tables(generate(tmp_path, [*runs, mxnet])))
    tensorflow = "tensorflow, replicated (hierarchical-copy all-reduce), XLA off, channels_last"
    assert f"{tensorflow} (Keras 3.15.1, tensorflow 1.0)" in headings
    assert "jax, data-parallel, XLA on, channels_last (Keras 3.15.1, jax 1.0)" in headings
    assert "torch, ddp (bucket 25 MB), channels_last (Keras 3.15.1, torch 1.0)" in headings
    # No compilation switch on MXNet: its heading says nothing of XLA.
    assert "mxnet, multi-context (kvstore), channels_first (Keras 2.2.4.3, mxnet 1.0)" in headings


def test_each_data_format_gets_its_own_table(tmp_path):
    first = [spread(f"f{n}", "jax", n, data_format="channels_first") for n in (1, 2)]
    last = [spread("l1", "jax", 1, steady=4.0), spread("l2", "jax", 2, images=640)]
    page = generate(tmp_path, [*first, *last])
    comparison = only_table(page, "Images/sec by backend and device count")
    assert comparison["jax, data-parallel, XLA on, channels_first"] == ["160.00", "160.00"]
    assert comparison["jax, data-parallel, XLA on, channels_last"] == ["80.00", "320.00"]


def test_each_steps_per_execution_gets_its_own_table(tmp_path):
    one = [spread(f"a{n}", "jax", n) for n in (1, 2)]
    ten = [spread("b1", "jax", 1, steady=1.0, steps_per_execution=10)]
    page = generate(tmp_path, [*one, *ten])
    comparison = only_table(page, "Images/sec by backend and device count")
    assert comparison["jax, data-parallel, XLA on, channels_last"] == ["160.00", "160.00"]
    assert comparison["jax, data-parallel, XLA on, channels_last, 10 steps per call"] == [
        "320.00",
        "",  # no 2-device run with 10 steps per call
    ]


def test_two_tensorflow_strategies_give_two_tables_and_two_comparison_rows(tmp_path):
    runs = [
        spread("a", "tensorflow", 1, strategy="replicated", jit=False, steady=4.0),
        spread("b", "tensorflow", 2, strategy="replicated", jit=False, images=640),
        spread("c", "tensorflow", 1, strategy="replicated-nccl", jit=False),
        spread("d", "tensorflow", 2, strategy="replicated-nccl", jit=False, images=640, steady=1.0),
    ]
    page = generate(tmp_path, runs)
    hierarchical = only_table(page, "tensorflow, replicated (hierarchical-copy")
    nccl = only_table(page, "tensorflow, replicated (NCCL")
    assert hierarchical["Speedup vs 1 device"] == ["1.00x", "4.00x"]  # 80 -> 320 images/sec
    assert nccl["Speedup vs 1 device"] == ["1.00x", "4.00x"]  # 160 -> 640
    comparison = only_table(page, "Images/sec by backend and device count")
    hierarchical = "tensorflow, replicated (hierarchical-copy all-reduce), XLA off, channels_last"
    assert comparison[hierarchical] == ["80.00", "320.00"]
    nccl = "tensorflow, replicated (NCCL all-reduce), XLA off, channels_last"
    assert comparison[nccl] == ["160.00", "640.00"]


def test_comparison_table_has_a_row_per_backend(tmp_path):
    runs = [
        spread("a", "jax", 1),
        spread("b", "jax", 2, images=640),
        spread("c", "torch", 1, strategy="ddp", steady=4.0),
        spread("d", "torch", 2, strategy="ddp", status="oom"),
        spread("e", "tensorflow", 1, strategy="replicated"),
        spread("f", "jax", 4, status="timeout"),
    ]
    page = generate(tmp_path, runs)
    comparison = only_table(page, "Images/sec by backend and device count")
    assert comparison == {
        "columns": ["CPU (1)", "CPU (2)", "CPU (4)"],
        "jax": ["160.00", "320.00", "timeout"],
        "tensorflow": ["160.00", "", ""],
        "torch": ["80.00", "out of memory", ""],
    }
    # At the top of the setup, before the per-backend tables.
    assert page.index("### Images/sec by backend") < page.index("### jax")


def test_memory_per_device_replicas_and_linear_learning_rate(tmp_path):
    checks = [
        {"epoch": 1, "max_abs_difference": 0.5, "trainable_max_abs_difference": 0.5},
        {"epoch": 2, "max_abs_difference": 1.5e-7, "trainable_max_abs_difference": 0.0},
    ]
    differ = [{"epoch": 2, "max_abs_difference": 0.003, "trainable_max_abs_difference": 0.003}]
    runs = [
        spread("a", "jax", 1, device=[300.0], lr_scaling="linear"),
        spread("b", "jax", 2, device=[100.0, 350.0], lr_scaling="linear", checks=checks),
        spread("c", "jax", 4, device=[100.0] * 4, lr_scaling="linear", checks=differ),
    ]
    page = generate(tmp_path, runs)
    table = only_table(page, "jax")
    source = "framework counter"
    assert table[f"Maximum memory consumption (MiB, {source}, all devices)"] == [
        "300",
        "450",
        "400",
    ]
    assert table[f"Maximum memory per device (MiB, {source}, largest device)"] == [
        "300",
        "350",
        "100",
    ]
    assert table["Learning rate"] == ["0.01", "0.02", "0.04"]
    assert table["Replicas identical after training"] == [
        "n/a",
        "trainable yes, non-trainable differ by 1.5e-07",
        "no (max diff 0.003)",
    ]
    assert "* `Learning rate scaling` - linear:" in page
    hardware = "* `Hardware` - Test CPU (2 cores), as N virtual CPU devices for N = 2, 4: they"
    assert hardware in page


def test_version_1_records_still_report(tmp_path):
    write_all(tmp_path / "results", [run("a", "jax", 1), run("b", "jax", 2, images=640)])
    for path in (tmp_path / "results").glob("*/record.json"):
        data = json.loads(path.read_text())
        data["schema_version"] = 1
        del data["distribution"]
        for figures in [data["summary"]["peak_memory"]] + [e["memory"] for e in data["epochs"]]:
            del figures["host_peak_rss_per_process_mib"]
        path.write_text(json.dumps(data))

    written, problems = report.generate(tmp_path / "results", tmp_path / "reports")

    assert problems == []
    table = only_table((tmp_path / "reports" / "resnet50.md").read_text(), "jax")
    assert "jax, single device, no distribution, channels_last (Keras 3.15.1, jax 1.0)" in tables(
        (tmp_path / "reports" / "resnet50.md").read_text()
    )
    assert table["Speedup vs 1 device"] == ["1.00x", "2.00x"]
    assert table["Replicas identical after training"] == ["n/a", "n/a"]
    assert table["Global batch"] == ["32", "64"]


def test_scaling_plot_is_a_png_linked_from_the_page_and_byte_identical(tmp_path):
    runs = [
        spread("a", "jax", 1),
        spread("b", "jax", 2, images=600),
        spread("c", "jax", 4, images=1100),
        spread("d", "torch", 1, strategy="ddp", steady=3.0),
        spread("e", "torch", 2, strategy="ddp", images=500, steady=3.0),
    ]
    page = generate(tmp_path, runs, reports="one")
    shutil.copytree(tmp_path / "results", tmp_path / "copied-results")
    report.generate(tmp_path / "copied-results", tmp_path / "two")

    png = (tmp_path / "one" / "resnet50-scaling-1.png").read_bytes()
    assert png.startswith(PNG_MAGIC)
    assert png == (tmp_path / "two" / "resnet50-scaling-1.png").read_bytes()
    link = "![resnet50, setup 1: images/sec by device count](resnet50-scaling-1.png)"
    assert link in page
    assert page.index("### Images/sec by backend") < page.index(link) < page.index("### jax")


def test_no_plot_without_two_device_counts_and_stale_plots_removed(tmp_path):
    results, reports = tmp_path / "results", tmp_path / "reports"
    write_all(results, [spread("a", "jax", 1), spread("b", "jax", 2)])
    report.generate(results, reports)
    assert (reports / "resnet50-scaling-1.png").exists()
    (reports / "mine-scaling-1.png").write_bytes(PNG_MAGIC + b"my own plot")
    shutil.rmtree(results / "b")

    written, _ = report.generate(results, reports)

    assert not (reports / "resnet50-scaling-1.png").exists()  # ours, no longer backed
    assert (reports / "mine-scaling-1.png").read_bytes() == PNG_MAGIC + b"my own plot"
    assert ".png" not in (reports / "resnet50.md").read_text()
    assert not [p.name for p in written if p.name.startswith("resnet50-scaling")]
    assert {"README.md", "resnet50.md"} <= {p.name for p in written}


def test_latest_record_of_a_cell_wins(tmp_path):
    write_all(
        tmp_path / "results",
        [
            run("old", "jax", 1, status="oom", finished="2026-01-01T00:00:00+00:00"),
            run("new", "jax", 1, finished="2026-01-02T00:00:00+00:00"),
        ],
    )
    report.generate(tmp_path / "results", tmp_path / "reports")
    page = (tmp_path / "reports" / "resnet50.md").read_text()
    assert "out of memory" not in page and "Records: `new`" in page


def test_different_settings_get_different_tables(tmp_path):
    write_all(
        tmp_path / "results", [run("a", "jax", 1), run("b", "jax", 1, precision="mixed_bfloat16")]
    )
    report.generate(tmp_path / "results", tmp_path / "reports")
    page = (tmp_path / "reports" / "resnet50.md").read_text()
    assert page.count("## Setup") == 2


def test_synthetic_accuracy_is_marked_meaningless(tmp_path):
    write_all(tmp_path / "results", [run("a", "torch", 1, dataset="synthetic")])
    report.generate(tmp_path / "results", tmp_path / "reports")
    page = (tmp_path / "reports" / "resnet50.md").read_text()
    assert "accuracy means nothing" in page
    assert "0.4000" not in page and "n/a (synthetic)" in page
    table = only_table(page, "torch")
    assert table["Training accuracy"] == table["Test accuracy"] == ["n/a (synthetic)"]


def test_setups_are_numbered_by_batch_size_as_a_number(tmp_path):
    page = generate(
        tmp_path, [run("a", "jax", 1, batch_size=128), run("b", "jax", 1, batch_size=16)]
    )
    batches = [line for line in page.splitlines() if line.startswith("* `Batch size`")]
    assert batches == [
        "* `Batch size` - 16 per device (global batch = 16 x devices)",
        "* `Batch size` - 128 per device (global batch = 128 x devices)",
    ]


def test_a_dataset_cut_to_its_first_images_says_so_in_its_bullet(tmp_path):
    page = generate(tmp_path, [run("a", "jax", 1, train_samples=100, test_samples=50)])
    assert "* `Dataset` - cifar10, first 100 training images, first 50 test images\n" in page
    assert page.count("first 100 training images") == 1


def test_a_failure_with_no_error_text_says_so(tmp_path):
    # Beside a record with error text, pandas holds the missing text as NaN.
    runs = [
        run("a", "jax", 1),
        run("b", "jax", 2, status="oom"),
        run("c", "jax", 4, status="timeout"),
    ]
    page = generate(tmp_path, runs)
    assert "* CPU (4): timeout: `no error text recorded`" in page


def test_same_records_give_byte_identical_reports(tmp_path):
    runs = [run("a", "jax", 1), run("b", "torch", 1), run("c", "jax", 2, status="timeout")]
    write_all(tmp_path / "results", runs)
    report.generate(tmp_path / "results", tmp_path / "one")
    copy = tmp_path / "copied-results"
    shutil.copytree(tmp_path / "results", copy)
    report.generate(copy, tmp_path / "two")
    for page in (tmp_path / "one").iterdir():
        assert page.read_bytes() == (tmp_path / "two" / page.name).read_bytes()


def test_corrupt_files_are_listed_and_stale_pages_removed(tmp_path):
    results, reports = tmp_path / "results", tmp_path / "reports"
    write_all(results, [run("a", "jax", 1)])
    report.generate(results, reports)
    (reports / "mine.md").write_text("my notes")
    shutil.rmtree(results / "a")
    (results / "junk").mkdir()
    (results / "junk" / "record.json").write_text("{")

    written, problems = report.generate(results, reports)

    assert not (reports / "resnet50.md").exists()  # generated, no longer backed
    assert (reports / "mine.md").read_text() == "my notes"  # not ours: untouched
    assert len(problems) == 1 and "junk" in problems[0]
    assert "junk" in (reports / "README.md").read_text()
    assert (results / "junk" / "record.json").read_text() == "{"


def test_report_command_regenerates_from_records_alone(tmp_path, capsys):
    from keras_profiler import cli

    write_all(tmp_path / "results", [run("a", "tensorflow", 1)])
    code = cli.main(
        [
            "report",
            "--results-dir",
            str(tmp_path / "results"),
            "--reports-dir",
            str(tmp_path / "reports"),
        ]
    )
    assert code == 0
    assert "### tensorflow" in (tmp_path / "reports" / "resnet50.md").read_text()
    assert "| resnet50 | tensorflow | 1 |" in (tmp_path / "reports" / "README.md").read_text()


def rate(images_per_second, images=320):
    """The steady epoch time that gives ``images_per_second``."""
    return images / images_per_second


def test_repeats_give_mean_and_stdev_and_the_speedup_uses_the_means(tmp_path):
    runs = [
        spread("a1", "jax", 1, steady=rate(100), repeat=1),
        spread("a2", "jax", 1, steady=rate(120), repeat=2),
        # 180 and 260: mean 220, twice the 1-device mean; the latest alone is not.
        spread("b1", "jax", 2, steady=rate(180, 640), images=640, repeat=1),
        spread("b2", "jax", 2, steady=rate(260, 640), images=640, repeat=2),
    ]
    page = generate(tmp_path, runs)
    table = only_table(page, "jax")

    assert table["Repeats"] == ["2", "2"]
    assert table["Images processed per sec, steady state (epoch clock)"] == [
        "110.00 +- 14.14",
        "220.00 +- 56.57",
    ]
    # Training time: 4 s + 3.2 s and 4 s + 2.667 s.
    assert table["Training time (secs)"][0] == "6.93 +- 0.38"
    assert table["Average time per epoch, steady state (secs)"][0] == "2.93 +- 0.38"
    assert table["Training accuracy"] == ["0.5000", "0.5000"]  # mean alone
    assert table["Speedup vs 1 device"] == ["1.00x", "2.00x"]
    assert table["Scaling efficiency"] == ["100%", "100%"]
    comparison = only_table(page, "Images/sec by backend and device count")
    assert comparison["jax"] == ["110.00 +- 14.14", "220.00 +- 56.57"]
    assert "Records: `a1`, `a2`, `b1`, `b2`" in page


def test_a_rerun_of_the_same_repeat_replaces_it(tmp_path):
    runs = [
        run("first", "jax", 1, steady=rate(100), repeat=1, finished="2026-01-01T00:00:00+00:00"),
        run("rerun", "jax", 1, steady=rate(120), repeat=1, finished="2026-01-02T00:00:00+00:00"),
    ]
    page = generate(tmp_path, runs)
    table = only_table(page, "jax")

    assert table["Images processed per sec, steady state (epoch clock)"] == ["120.00"]
    assert "Repeats" not in table  # one repeat, run twice
    assert "Records: `rerun`" in page and "`first`" not in page


def test_a_failed_repeat_of_an_ok_cell_is_counted_and_told(tmp_path):
    runs = [
        spread("a1", "jax", 1, status="oom", repeat=1),
        spread("a2", "jax", 1, steady=rate(100), repeat=2),
        *[
            spread(f"b{n}", "jax", 2, steady=rate(200, 640), images=640, repeat=n)
            for n in (1, 2, 3)
        ],
    ]
    page = generate(tmp_path, runs)
    table = only_table(page, "jax")

    assert table["Repeats"] == ["1 of 2 ok", "3"]
    assert table["Images processed per sec, steady state (epoch clock)"] == [
        "100.00",
        "200.00 +- 0.00",
    ]
    assert table["Speedup vs 1 device"] == ["1.00x", "2.00x"]
    failure = "* CPU (1), repeat 1: out of memory: `ResourceExhaustedError: OOM when allocating"
    assert failure in page
    assert "Records: `a1`, `a2`, `b1`, `b2`, `b3`" in page


def test_each_data_kind_gets_its_own_setup_which_names_it(tmp_path):
    runs = [
        run("s", "jax", 1, dataset="synthetic"),
        run("r", "jax", 1),
        run("d", "jax", 1, distortions=True, steady=4.0),
    ]
    page = generate(tmp_path, runs)

    assert page.count("## Setup") == 3
    assert (
        "* `Data` - synthetic: seeded random images and labels, so accuracy means nothing" in page
    )
    assert "* `Data` - real images, no distortions" in page
    distorted = "* `Data` - real images with distortions: random crop and horizontal flip"
    assert distorted in page
    assert page.count("\n### jax") == 3  # one table each, never shared
    sections = page.split("## Setup")[1:]
    distorted_section = next(s for s in sections if "real images with distortions" in s)
    rates = only_table(distorted_section, "jax")[
        "Images processed per sec, steady state (epoch clock)"
    ]
    assert rates == ["80.00"]  # the distorted run alone


def test_index_links_every_generated_page(tmp_path):
    generate(tmp_path, [spread("a", "jax", 1), spread("b", "jax", 2)])
    index = (tmp_path / "reports" / "README.md").read_text()
    for name in ("resnet50.md", "scaling.md", "records.csv", "records.jsonl"):
        assert f"| [{name}]({name}) | " in index
    assert "| steady images/sec by device count for every backend and strategy" in index
