"""Faults of a run over several nodes: a node that never joins, a rank given
twice, a coordinator nobody answers at, a node that dies mid-run. Each ends
within a bounded time, leaves no process behind, and says which node."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from backend_runs import records_in as records
from backend_runs import start_tool as cli

from keras_profiler.nodes import netns, post_mortem, rollcall

AVAILABLE, WHY_NOT = netns.available()
needs_netns = pytest.mark.skipif(not AVAILABLE, reason=WHY_NOT)
RUN = [
    "--model", "tiny", "--dataset", "synthetic", "--batch-size", "16", "--test-samples", "64",
    "--no-report",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- naming the failed node, from the reports (hand-made) --------------------


def report(rank, *, signal_name=None, at=None, error="gloo: Connection closed by peer"):
    return {
        "node_rank": rank,
        "signal": signal_name,
        "failed_at_unix": at,
        "timed_out": False,
        "error": error,
        "describe": f"the worker was killed by {signal_name}" if signal_name else "exited 1",
    }


WHERE = {0: "10.77.0.1", 1: "10.77.0.2", 2: "10.77.0.3"}


def test_a_node_that_sent_no_report_was_lost():
    found = {"reports": {"0": report(0, at=5.0), "2": report(2, at=5.1)}, "missing": [1]}
    assert post_mortem.blame(found, WHERE) == (
        [1],
        "node 1 (10.77.0.2) was lost: no word from it after the run failed (the node, or "
        "keras-profiler on it, died)",
    )


def test_a_worker_killed_by_a_signal_failed_first_whatever_the_clocks_say():
    found = {
        "reports": {"0": report(0, at=1.0), "1": report(1, signal_name="SIGKILL", at=9.0)},
        "missing": [],
    }
    assert post_mortem.blame(found, WHERE) == (
        [1],
        "node 1 (10.77.0.2) failed first: the worker was killed by SIGKILL",
    )


def test_else_the_node_that_failed_earliest():
    found = {
        "reports": {
            "0": report(0, at=7.5),
            "1": report(1, at=7.0, error="ResourceExhaustedError: out of memory"),
            "2": report(2, at=7.4),
        },
        "missing": [],
    }
    assert post_mortem.blame(found, {}) == (
        [1],
        "node 1 failed first: ResourceExhaustedError: out of memory",
    )


# --- joining ------------------------------------------------------------------


@pytest.mark.slow
def test_a_rank_given_twice_is_refused_and_a_missing_node_is_named(tmp_path):
    """Three nodes on loopback, ranks 0, 1, 1: the second 1 is refused
    (exit 2, one line); node 2 never comes, so 0 and 1 give up after
    --join-timeout, and node 0's record says which node is missing."""
    coordinator = f"127.0.0.1:{free_port()}"
    cluster = ["--nodes", "3", "--coordinator", coordinator, "--join-timeout", "15"]

    def node(rank: int, folder: str) -> subprocess.Popen:
        return cli("--backend", "torch", *RUN, *cluster, "--node-rank", str(rank),
                   "--results-dir", str(tmp_path / folder), home=tmp_path)  # fmt: skip

    began = time.monotonic()
    nodes = [node(0, "r0"), node(1, "r1"), node(1, "r1b")]
    outputs = [n.communicate(timeout=300)[0] for n in nodes]
    took = time.monotonic() - began
    codes = [n.returncode for n in nodes]
    refused = "keras-profiler: error: --node-rank 1 is taken: another node already joined as 1; "
    assert sorted(codes[1:]) == [1, 2], outputs
    twice = outputs[1 + codes[1:].index(2)]
    # What would have run, then why not: found only once the nodes meet.
    assert twice.strip().splitlines()[0].startswith("keras-profiler: torch | tiny")
    assert twice.strip().splitlines()[1:] == [refused + "give each node its own rank"]
    assert codes[0] == 1, outputs[0]
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r1b").exists()
    (record,) = records(tmp_path / "r0")
    assert record["status"] == "error"
    assert record["error"] == (
        "node 2 never joined within 15 s (nodes 0, 1 did): start keras-profiler on every "
        "node with its own --node-rank, or raise --join-timeout"
    )
    assert record["epochs"] == []
    assert took < 15 + 60  # the join timeout, plus starting Python and torch


@pytest.mark.slow
def test_a_coordinator_nobody_answers_at_is_one_line_exit_2_and_no_record(tmp_path):
    coordinator = f"127.0.0.1:{free_port()}"
    done = cli("--backend", "jax", *RUN, "--nodes", "2", "--node-rank", "1",
               "--coordinator", coordinator, "--join-timeout", "5",
               "--results-dir", str(tmp_path / "results"), home=tmp_path)  # fmt: skip
    output = done.communicate(timeout=120)[0]
    assert done.returncode == 2, output
    host, port = coordinator.split(":")
    assert output.strip().splitlines()[1:] == [
        f"keras-profiler: error: --coordinator {coordinator} cannot be reached from this node: "
        f"nothing answered on {host}:{int(port) + 1} within 5 s; give node 0's address, and "
        "start node 0 within --join-timeout"
    ]
    assert not (tmp_path / "results").exists()


# --- a node that dies mid-run -------------------------------------------------


@pytest.fixture(scope="module")
def two_nodes():
    netns.down()
    try:
        yield netns.up(2, netns.UNSHAPED)
    finally:
        netns.down()


def pids_in(namespace: str) -> list[int]:
    done = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True)
    return [int(p) for p in done.stdout.split()]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_for_first_epoch(scratch: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.read_text().strip() for p in scratch.glob("keras-profiler-*/epochs-0.jsonl")):
            return
        time.sleep(0.2)
    raise AssertionError("node 0 finished no epoch")


@needs_netns
@pytest.mark.slow
@pytest.mark.parametrize(
    "backend, kill, said",
    [
        ("torch", "worker", "failed first: the worker was killed by SIGKILL"),
        ("jax", "node", "was lost: no word from it after the run failed"),
    ],
)
def test_a_node_that_dies_mid_run_is_named_and_the_others_stop(
    two_nodes, tmp_path, backend, kill, said
):
    coordinator = f"{netns.node_address(0)}:{29800 + (backend == 'jax')}"
    scratch = {rank: tmp_path / f"tmp{rank}" for rank in (0, 1)}
    for folder in scratch.values():
        folder.mkdir()
    nodes = {
        rank: cli(
            "--backend",
            backend,
            *RUN,
            "--epochs",
            "200",
            "--steps-per-epoch",
            "20",
            "--nodes",
            "2",
            "--node-rank",
            str(rank),
            "--coordinator",
            coordinator,
            "--interface",
            two_nodes.interface,
            "--join-timeout",
            "20",
            "--results-dir",
            str(tmp_path / f"results{rank}"),
            home=tmp_path,
            namespace=netns.node_name(rank),
            TMPDIR=str(scratch[rank]),
        )  # fmt: skip
        for rank in (1, 0)
    }
    try:
        wait_for_first_epoch(scratch[0])
        victims = pids_in(netns.node_name(1))
        if kill == "worker":
            victims = [p for p in victims if "keras_profiler.worker" in cmdline(p)]
        assert victims
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        outputs = {rank: n.communicate(timeout=300)[0] for rank, n in nodes.items()}
        stopped_after = time.monotonic() - killed_at
    finally:
        for n in nodes.values():
            n.kill()
    assert nodes[0].returncode == 1, outputs[0]
    # jax: a node silent for --join-timeout stops the others (heartbeats);
    # torch: the dead peer's closed sockets fail the collective at once.
    assert stopped_after < 20 + rollcall.REPORT_WINDOW_S + 30, stopped_after
    # Nothing left on either node.
    assert [cmdline(p) for r in (0, 1) for p in pids_in(netns.node_name(r))] == []
    (record,) = records(tmp_path / "results0")
    assert record["status"] == "error"
    assert record["error"].startswith(f"node 1 ({netns.node_address(1)}) {said}"), record["error"]
    assert record["distribution"]["failed_nodes"] == [1]
    assert len(record["epochs"]) >= 1 and record["epochs"][0]["steps"] == 20
