"""The scaling page: the reference's layout, a single-strategy baseline, one
table per (hardware, data kind, precision), failures shown as such."""

from __future__ import annotations

from test_report import rate, run, spread, write_all

from keras_profiler import report

HEADER = ["model", "batch (per device)", "backend", "strategy", "Baseline"]


def scaling(tmp_path, runs):
    write_all(tmp_path / "results", runs)
    report.generate(tmp_path / "results", tmp_path / "reports")
    return (tmp_path / "reports" / "scaling.md").read_text()


def tables(page):
    """Heading -> [header, row, ...] for each table, cells stripped."""
    found, heading = {}, None
    for line in page.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("# ")
        elif line.startswith("|") and not set(line) <= set("|:- "):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            found.setdefault(heading, []).append(cells)
    return found


def test_layout_baseline_and_failed_cells(tmp_path):
    runs = [
        run("base", "jax", 1, steady=4.0),  # 80 images/sec, a plain fit
        spread("a", "jax", 1),  # 160
        spread("b", "jax", 2, images=640),  # 320
        spread("c", "jax", 4, status="oom"),
        spread("d", "torch", 1, strategy="ddp", jit=False, steady=rate(50)),
        spread("e", "torch", 2, strategy="ddp", jit=False, status="timeout"),
    ]
    page = scaling(tmp_path, runs)

    (heading, table), *others = tables(page).items()
    assert others == []
    assert heading == "Test CPU (2 cores): real data, float32"
    assert table[0] == [*HEADER, "1 device", "2 devices", "4 devices"]
    assert table[1:] == [
        [
            "resnet50",
            "32",
            "jax",
            "data-parallel, XLA on, channels_last",
            "80.00",
            "160.00",
            "320.00",
            "out of memory",
        ],
        ["resnet50", "32", "torch", "ddp, channels_last", "", "50.00", "timeout", ""],
    ]
    # The single run is the baseline, not a row; a missing one is said so.
    assert "single device" not in page
    assert "Baseline empty: no 1-device run with strategy 'single'" in page
    assert "recorded for torch (resnet50, batch 32, ddp, channels_last)." in page
    # Two virtual CPU devices: the page says these are no speedup.
    assert "as N virtual CPU devices for N = 2, 4: they share the same cores" in page


def test_repeats_show_mean_and_stdev_and_failed_repeats(tmp_path):
    runs = [
        run("base1", "tensorflow", 1, steady=rate(100), repeat=1),
        run("base2", "tensorflow", 1, steady=rate(120), repeat=2),
        spread("a1", "tensorflow", 2, strategy="replicated", jit=False, steady=rate(90, 640),
               images=640, repeat=1),
        spread("a2", "tensorflow", 2, strategy="replicated", jit=False, status="oom", repeat=2),
        spread("n", "tensorflow", 2, strategy="replicated-nccl", jit=False, status="error"),
    ]  # fmt: skip
    (table,) = tables(scaling(tmp_path, runs)).values()

    assert table == [
        [*HEADER, "2 devices"],
        [
            "resnet50",
            "32",
            "tensorflow",
            "replicated (NCCL all-reduce), XLA off, channels_last",
            "110.00 +- 14.14",
            "error",
        ],
        [
            "resnet50",
            "32",
            "tensorflow",
            "replicated (hierarchical-copy all-reduce), XLA off, channels_last",
            "110.00 +- 14.14",
            "90.00 (1 of 2 ok)",
        ],
    ]


def test_one_table_per_hardware_data_kind_and_precision(tmp_path):
    gpu = spread("g", "jax", 2)
    gpu.devices = [{"kind": "gpu", "name": "NVIDIA H100", "index": i} for i in range(2)]
    runs = [
        spread("s", "jax", 2, dataset="synthetic"),
        spread("r", "jax", 2),
        spread("d", "jax", 2, distortions=True),
        spread("p", "jax", 2, precision="mixed_bfloat16"),
        gpu,
    ]
    headings = list(tables(scaling(tmp_path, runs)))
    assert headings == [
        "NVIDIA H100: real data, float32",
        "Test CPU (2 cores): real data, float32",
        "Test CPU (2 cores): real data, mixed_bfloat16",
        "Test CPU (2 cores): real data with distortions, float32",
        "Test CPU (2 cores): synthetic data, float32",
    ]


def test_the_baseline_ran_as_many_steps_per_call(tmp_path):
    runs = [
        run("base", "jax", 1, steady=4.0),  # 80 images/sec, one step per call
        run("base10", "jax", 1, steady=1.0, steps_per_execution=10),  # 320
        spread("a", "jax", 2, images=640, steps_per_execution=10),  # 320
    ]
    (table,) = tables(scaling(tmp_path, runs)).values()
    row = next(r for r in table if r[3].endswith("10 steps per call"))
    assert row[4:] == ["320.00", "320.00"]  # Baseline, 2 devices: not the 80 of one step a call


def test_differing_settings_are_named_in_the_row_and_a_lone_baseline_kept(tmp_path):
    runs = [
        spread("a", "jax", 2, epochs=2),
        spread("b", "jax", 2, epochs=3, steady=4.0),
        run("t", "tensorflow", 1),
    ]
    page = scaling(tmp_path, runs)
    (table,) = tables(page).values()
    assert [row[0] for row in table[1:]] == [
        "resnet50 (epochs 2)",
        "resnet50 (epochs 2)",
        "resnet50 (epochs 3)",
    ]
    tensorflow = next(row for row in table if row[2] == "tensorflow")
    assert tensorflow[3:] == [
        "single device, no distribution, channels_last (baseline only)",
        "160.00",
        "",
    ]
    assert "* `Same in every row` - dataset cifar10, steps per epoch all" in page


def test_no_records_no_page_and_a_stale_one_removed(tmp_path):
    results, reports = tmp_path / "results", tmp_path / "reports"
    write_all(results, [spread("a", "jax", 2)])
    report.generate(results, reports)
    assert (reports / "scaling.md").exists()
    (results / "a" / "record.json").unlink()

    report.generate(results, reports)

    assert not (reports / "scaling.md").exists()
    assert "scaling.md" not in (reports / "README.md").read_text()
