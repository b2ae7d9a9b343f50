"""Data parallel over several nodes: network namespaces joined through a
bridge, each link shaped to 1 Gbit/s (keras_profiler/nodes/netns.py), one
``python -m keras_profiler`` per node, as on real machines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keras_profiler.nodes import netns

AVAILABLE, WHY_NOT = netns.available()
needs_netns = pytest.mark.skipif(not AVAILABLE, reason=WHY_NOT)
COORDINATOR = f"{netns.node_address(0)}:29711"
RUN = [
    "--model", "tiny", "--dataset", "synthetic", "--epochs", "2", "--steps-per-epoch", "5",
    "--batch-size", "16", "--test-samples", "64", "--no-report",
]  # fmt: skip


def cli(*arguments: str, home: Path, namespace: str | None = None) -> subprocess.Popen:
    """``python -m keras_profiler ARGUMENTS``, inside ``namespace`` where given."""
    inside = ["ip", "netns", "exec", namespace] if namespace else []
    env = dict(os.environ, HOME=str(home))
    env.pop("KERAS_BACKEND", None)
    return subprocess.Popen(
        [*inside, sys.executable, "-m", "keras_profiler", *arguments],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip


def records(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*/record.json"))]


@pytest.fixture(scope="module")
def two_nodes():
    netns.down()
    try:
        yield netns.up(2, "1gbit")
    finally:
        netns.down()


@needs_netns
@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_two_nodes_train_as_one_and_the_coordinator_records_it(two_nodes, tmp_path, backend):
    nodes = [
        cli(
            "--backend",
            backend,
            *RUN,
            "--nodes",
            "2",
            "--node-rank",
            str(rank),
            "--coordinator",
            COORDINATOR,
            "--interface",
            two_nodes.interface,
            "--interconnect",
            "veth-1gbit",
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
    assert record["status"] == "ok"
    spread = record["distribution"]
    assert spread["global_batch_size"] == 16 * 2
    assert spread["rendezvous"]["coordinator"] == COORDINATOR
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
    # The same initial weights as one node's run on as many devices.
    alone = cli("--backend", backend, *RUN, "--gpus", "2", "--results-dir",
                str(tmp_path / "alone"), home=tmp_path)  # fmt: skip
    assert alone.wait(timeout=600) == 0
    (single,) = records(tmp_path / "alone")
    assert single["distribution"]["initial_weights_sha256"] == spread["initial_weights_sha256"]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            ["--backend", "tensorflow", "--nodes", "2", "--coordinator", "h:1"],
            "--nodes 2: the tensorflow backend cannot span nodes: Keras 3's fit is reported not "
            "to train under tf.distribute.MultiWorkerMirroredStrategy (keras-team/keras#20585, "
            "open); use jax or torch",
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
