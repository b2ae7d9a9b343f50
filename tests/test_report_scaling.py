"""The scaling page: the reference's layout, a single-strategy baseline, one
table per (hardware, data kind, precision), failures shown as such."""

from __future__ import annotations

from test_report import rate, run, spread, write_all

from keras_profiler import report

HEADER = ["model", "batch (per device)", "backend", "connection", "strategy", "Baseline"]
ONE = "one machine"


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
            ONE,
            "data-parallel, XLA on, channels_last",
            "80.00",
            "160.00",
            "320.00",
            "out of memory",
        ],
        ["resnet50", "32", "torch", ONE, "ddp, channels_last", "", "50.00", "timeout", ""],
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
            ONE,
            "replicated (NCCL all-reduce), XLA off, channels_last",
            "110.00 +- 14.14",
            "error",
        ],
        [
            "resnet50",
            "32",
            "tensorflow",
            ONE,
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
    row = next(r for r in table if r[4].endswith("10 steps per call"))
    assert row[5:] == ["320.00", "320.00"]  # Baseline, 2 devices: not the 80 of one step a call


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
        ONE,
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


def over_nodes(run_id, backend, devices, nodes=2, name="netns 1gbit", busbw=None, error=None,
               **kwargs):  # fmt: skip
    """A record of a data-parallel run over ``nodes`` nodes, its link as the
    launcher records it: the probe's fit, or what failed."""
    kwargs.setdefault("strategy", "ddp")
    kwargs.setdefault("jit", False)
    result = spread(run_id, backend, devices, nodes=nodes, interconnect=name, **kwargs)
    link = {"name": name}
    if error is not None:
        link["error"] = error
    elif busbw is not None:
        fit = {"busbw_gbit_per_s": busbw, "alpha_s": 1e-4, "beta_gbit_per_s": busbw * 2}
        link.update(fit=fit, sizes=[])
    result.distribution["interconnect"] = link
    return result


def test_a_run_over_nodes_is_a_row_with_its_measured_connection(tmp_path):
    runs = [
        run("base", "torch", 1, steady=rate(100)),
        spread("one", "torch", 2, strategy="ddp", jit=False, steady=rate(180, 640), images=640),
        # 1 device on each of 2 nodes: the '2 devices' column.
        over_nodes("two", "torch", 1, busbw=0.9, steady=rate(150, 640), images=640),
    ]
    page = scaling(tmp_path, runs)

    (table,) = tables(page).values()
    assert table == [
        [*HEADER, "2 devices"],
        ["resnet50", "32", "torch", ONE, "ddp, channels_last", "100.00", "180.00"],
        [
            "resnet50",
            "32",
            "torch",
            "netns 1gbit, 2 nodes (measured 0.90 Gbit/s bus)",
            "ddp, channels_last",
            "100.00",
            "150.00",
        ],
    ]
    assert "over 2 nodes" not in page
    assert "**connection** is the link between the nodes" in page


def test_a_failed_probe_names_the_link_without_a_figure(tmp_path):
    runs = [
        run("base", "torch", 1, steady=rate(100)),
        over_nodes("two", "torch", 1, error="probe timed out after 300s", steady=rate(150, 640),
                   images=640),
        # No --interconnect name: the node count and the measurement alone.
        over_nodes("anon", "jax", 1, name=None, busbw=2.5, strategy="data-parallel", jit=True),
    ]  # fmt: skip
    (table,) = tables(scaling(tmp_path, runs)).values()
    connections = {row[2]: row[3] for row in table[1:]}
    assert connections == {
        "torch": "netns 1gbit, 2 nodes",
        "jax": "2 nodes (measured 2.50 Gbit/s bus)",
    }
    assert "Gbit/s" not in next(row for row in table if row[2] == "torch")[3]


def test_the_measured_link_is_the_mean_over_every_record_of_the_row(tmp_path):
    runs = [
        over_nodes("r1", "torch", 1, busbw=0.8, repeat=1),
        over_nodes("r2", "torch", 1, busbw=1.0, repeat=2, steady=rate(200)),
        over_nodes("r3", "torch", 2, busbw=1.2),  # 2 devices on each node, same link
    ]
    (table,) = tables(scaling(tmp_path, runs)).values()
    (row,) = table[1:]
    assert row[3] == "netns 1gbit, 2 nodes (measured 1.00 Gbit/s bus)"
    assert table[0][-2:] == ["2 devices", "4 devices"]


def test_rows_go_by_connection_one_machine_first_then_nodes_then_name(tmp_path):
    runs = [
        over_nodes("n4", "jax", 1, nodes=4, busbw=0.9),
        over_nodes("n2", "torch", 1, busbw=0.9),
        over_nodes("g10", "torch", 1, name="10gbe", busbw=9.4),
        spread("t", "torch", 2, strategy="ddp", jit=False),
        spread("j", "jax", 2),
    ]
    (table,) = tables(scaling(tmp_path, runs)).values()
    assert [(row[3], row[2]) for row in table[1:]] == [
        (ONE, "jax"),
        (ONE, "torch"),
        ("10gbe, 2 nodes (measured 9.40 Gbit/s bus)", "torch"),
        ("netns 1gbit, 2 nodes (measured 0.90 Gbit/s bus)", "torch"),
        ("netns 1gbit, 4 nodes (measured 0.90 Gbit/s bus)", "jax"),
    ]


def test_the_model_page_heads_a_run_over_nodes_with_the_same_connection(tmp_path):
    runs = [
        over_nodes("r1", "torch", 1, busbw=0.8, repeat=1),
        over_nodes("r2", "torch", 1, busbw=1.0, repeat=2),
        spread("t", "torch", 2, strategy="ddp", jit=False),
    ]
    write_all(tmp_path / "results", runs)
    report.generate(tmp_path / "results", tmp_path / "reports")
    page = (tmp_path / "reports" / "resnet50.md").read_text()
    headings = [line for line in page.splitlines() if line.startswith("### torch")]
    assert [heading.split(" (Keras")[0] for heading in headings] == [
        "### torch, ddp, channels_last",
        "### torch, ddp, channels_last, netns 1gbit, 2 nodes (measured 0.90 Gbit/s bus)",
    ]
    # The records frame carries each record's measurement, last of its columns.
    csv = (tmp_path / "reports" / "records.csv").read_text().splitlines()
    assert csv[0].endswith(",machine_id,link_busbw_gbit_per_s")
    assert sorted(line.rsplit(",", 1)[1] for line in csv[1:]) == ["", "0.8", "1.0"]
