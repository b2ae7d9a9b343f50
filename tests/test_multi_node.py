"""Data parallel over several nodes: network namespaces joined through a
bridge, each link shaped to 1 Gbit/s (keras_profiler/nodes/netns.py), one
``python -m keras_profiler`` per node, as on real machines."""

from __future__ import annotations

import pytest
from backend_runs import records_in as records
from backend_runs import start_tool as cli

from keras_profiler.nodes import netns

AVAILABLE, WHY_NOT = netns.available()
needs_netns = pytest.mark.skipif(not AVAILABLE, reason=WHY_NOT)
RUN = [
    "--model", "tiny", "--dataset", "synthetic", "--epochs", "2", "--steps-per-epoch", "5",
    "--batch-size", "16", "--test-samples", "64", "--no-report",
]  # fmt: skip


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            ["--backend", "tensorflow", "--nodes", "2", "--coordinator", "h:1"],
            "--nodes 2: the tensorflow backend cannot span nodes: Keras 3's fit fails under "
            "tf.distribute.MultiWorkerMirroredStrategy (keras-team/keras#20585, open; "
            "bench/results/tf-multi-worker.md); use jax or torch",
        ),
        (
            ["--backend", "torch", "--nodes", "2"],
            "--nodes 2 needs --coordinator HOST:PORT, node 0's address, the same on every node",
        ),
        (
            ["--backend", "jax", "--nodes", "2", "--node-rank", "2", "--coordinator", "h:1"],
            "--node-rank 2 is out of range for --nodes 2: give 0 to 1",
        ),
        (
            ["--backend", "torch", "--nodes", "2", "--coordinator", "nohost"],
            "--coordinator 'nohost' is not HOST:PORT (a port from 1 to 65535): give node 0's "
            "address, e.g. 10.0.0.1:29500",
        ),
        (
            ["--backend", "torch", "--nodes", "2", "--coordinator", "h:1", "--strategy", "single"],
            "--nodes 2 trains with --strategy ddp under torch, not single",
        ),
    ],
)
def test_a_cluster_that_cannot_be_is_one_line_exit_2_and_no_record(tmp_path, arguments, message):
    done = cli(*arguments, *RUN, "--results-dir", str(tmp_path / "results"), home=tmp_path)
    output = done.communicate(timeout=120)[0]
    assert done.returncode == 2
    assert output.strip() == f"keras-profiler: error: {message}"
    assert not (tmp_path / "results").exists()


@needs_netns
@pytest.mark.slow
def test_a_sweep_runs_its_node_counts_over_netns_links_and_resumes(tmp_path):
    matrix = tmp_path / "nodes.toml"
    matrix.write_text(
        '[matrix]\nbackends = ["torch", "tensorflow"]\ndevices = [1]\n'
        'devices_up_to_present = false\nnodes = [2]\nmodels = ["tiny"]\nbatch_sizes = [16]\n'
        'data = ["synthetic"]\n[cluster]\nlauncher = "netns"\nrates = ["1gbit"]\n'
        "[settings]\nepochs = 2\nsteps_per_epoch = 3\ntest_samples = 32\n"
    )

    def sweep():
        done = cli("sweep", str(matrix), "--results-dir", str(tmp_path / "results"),
                   "--reports-dir", str(tmp_path / "reports"), home=tmp_path)  # fmt: skip
        output = done.communicate(timeout=900)[0]
        return done.returncode, output

    status, output = sweep()
    assert status == 0, output
    found = {r["config"]["backend"]: r for r in records(tmp_path / "results")}
    assert found["torch"]["status"] == "ok" and found["tensorflow"]["status"] == "not_supported"
    assert found["torch"]["config"]["interconnect"] == "netns 1gbit"
    assert found["torch"]["distribution"]["interconnect"]["fit"]["busbw_gbit_per_s"] > 0.6
    # The launcher put each node on cores of its own (netns.cores_of).
    assert found["torch"]["environment"]["cpu_cores_usable"] == len(netns.cores_of(0, 2))
    assert netns.leftovers() == {k: [] for k in netns.leftovers()}  # the sweep took them down
    page = (tmp_path / "reports" / "scaling.md").read_text()
    header = next(line for line in page.splitlines() if line.startswith("| model"))
    rows = [line for line in page.splitlines() if "| netns 1gbit, 2 nodes" in line]
    row = next(line for line in rows if "| torch " in line)
    refused = next(line for line in rows if "| tensorflow " in line)
    assert refused.strip("|").split("|")[-1].strip() == "not supported"
    assert "2 nodes (measured " in row and "measured" not in refused  # its probe never ran
    # The run's column is its devices over both nodes, the table's connection in its row.
    assert [c.strip() for c in header.strip("|").split("|")][-1] == "2 devices"
    assert float(row.strip("|").split("|")[-1]) > 0
    # Run again: both configurations are settled, nothing runs.
    status, output = sweep()
    assert status == 0 and "2 configuration(s), 0 to run" in output


@pytest.mark.parametrize(
    "cluster, message",
    [
        ("", 'nodes [1, 2] need [cluster] launcher = "netns"'),
        ('[cluster]\nlauncher = "ssh"\n', '[cluster] launcher = "ssh" needs hosts'),
        ('[cluster]\nlauncher = "netns"\n', '[cluster] launcher = "netns" needs rates'),
        ('[cluster]\nlauncher = "netns"\nrates = ["fast"]\n', "[cluster] rates: "),
    ],
)
def test_a_sweep_over_nodes_names_its_launcher_and_links(tmp_path, cluster, message):
    matrix = tmp_path / "nodes.toml"
    matrix.write_text(
        f'[matrix]\nbackends = ["torch"]\nmodels = ["tiny"]\nnodes = [1, 2]\n{cluster}'
    )
    done = cli("sweep", "--dry-run", str(matrix), home=tmp_path)
    output = done.communicate(timeout=120)[0]
    assert done.returncode == 2 and message in output, output


@pytest.fixture(scope="module")
def easy_data(tmp_path_factory):
    import fakedata

    folder = tmp_path_factory.mktemp("easy")
    return fakedata.write_quadrant_cifar(folder, n_train=2000, n_test=400, seed=3)


@pytest.fixture
def two_nodes():
    """Two nodes of its own, at 1 Gbit/s: the sweep test takes its own down."""
    netns.down()
    try:
        yield netns.up(2, "1gbit")
    finally:
        netns.down()


@needs_netns
@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_two_nodes_of_two_devices_train_as_one_and_learn(two_nodes, easy_data, tmp_path, backend):
    """2 nodes x 2 devices at 16 a device: the global batch of 64 that the
    2-device test (tests/test_multi_device.py) learns with, to the same bar;
    the coordinator records the run, its nodes and the link."""
    from test_end_to_end import EASY

    coordinator = f"{netns.node_address(0)}:{29720 + (backend == 'jax')}"
    nodes = [
        cli(
            "--backend",
            backend,
            *EASY,
            "--data-dir",
            str(easy_data),
            "--batch-size",
            "16",
            "--gpus",
            "2",
            "--nodes",
            "2",
            "--node-rank",
            str(rank),
            "--coordinator",
            coordinator,
            "--interface",
            two_nodes.interface,
            "--interconnect",
            "veth-1gbit",
            "--no-report",
            "--results-dir",
            str(tmp_path / f"results{rank}"),
            home=tmp_path,
            namespace=netns.node_name(rank),
        )  # fmt: skip
        for rank in (1, 0)
    ]
    outputs = [node.communicate(timeout=600)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs
    assert not (tmp_path / "results1").exists()  # one record, the coordinator's
    (record,) = records(tmp_path / "results0")
    assert record["status"] == "ok", record["error"]
    spread = record["distribution"]
    assert spread["global_batch_size"] == 16 * 2 * 2
    assert [len(n["devices"]) for n in spread["nodes"]] == [2, 2]
    # 2000 images hold 31 whole global batches of 64, each node feeding its
    # half (62 steps a node, had each node taken every row).
    assert all(e["images"] == 31 * 64 and e["steps"] == 31 for e in record["epochs"])
    assert record["summary"]["test_accuracy"] > 0.9
    assert [len(n["ranks"]) for n in spread["nodes"]] == ([1, 1] if backend == "jax" else [2, 2])
    assert spread["rendezvous"]["coordinator"] == coordinator
    assert spread["rendezvous"]["engine"].startswith(f"{backend}.distributed")
    assert [n["address"] for n in spread["nodes"]] == [netns.node_address(0), netns.node_address(1)]
    assert all(n["host_peak_rss_mib"] > 100 for n in spread["nodes"])
    # The same trained weights on both nodes.
    digests = {n["trainable_weights_sha256"] for n in spread["nodes"]}
    assert len(digests) == 1 and isinstance(next(iter(digests)), str)
    # The link as measured near its shaped rate, and as named.
    link = spread["interconnect"]
    assert link["name"] == "veth-1gbit"
    assert 0.6 < link["fit"]["busbw_gbit_per_s"] < 1.05
    assert len(link["sizes"]) == 8 and link["sizes"][-1]["bytes"] == 64 * 2**20
    # jax times its own collectives too, through the run's processes.
    engine = spread.get("engine_collectives")
    if backend == "jax":
        assert engine["processes"] == 2 and engine["small_count"] == 64
        assert 0 < engine["per_collective_s"] < 1.0
        # And one that waits on the one before (a sync point's).
        assert 0 < engine["dependent_s"] < 1.0
        assert 0 < engine["busbw_gbit_per_s"] < 1.05  # no faster than the shaped link
    else:
        assert engine is None
    # The same initial weights as one node's run on as many devices.
    short = ["--epochs", "1", "--train-samples", "256", "--test-samples", "32", "--no-report"]
    alone = cli("--backend", backend, *EASY, "--data-dir", str(easy_data), "--batch-size", "16",
                *short, "--gpus", "4", "--results-dir", str(tmp_path / "alone"),
                home=tmp_path)  # fmt: skip
    alone.communicate(timeout=600)
    assert alone.returncode == 0
    (single,) = records(tmp_path / "alone")
    assert single["distribution"]["initial_weights_sha256"] == spread["initial_weights_sha256"]
