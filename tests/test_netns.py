"""Nodes as network namespaces (keras_profiler.nodes): the network up, shaped
and torn down, the all-reduce probe across it, and the command's errors.

The tests that make namespaces skip, saying why, where the machine does not
allow them (no root / CAP_NET_ADMIN, no iproute2). Each tears down whatever
has the prefix before and after, also when it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from keras_profiler.nodes import command, netns, probe

AVAILABLE, WHY_NOT = netns.available()
needs_netns = pytest.mark.skipif(not AVAILABLE, reason=WHY_NOT)

MBIT = 10**6
# Up to 4 MiB: at 100 Mbit/s one all-reduce of 4 MiB between 2 nodes moves
# 4 MiB each way, about 0.35 s; the probe's 1 s budget bounds each size.
SIZES = probe.DEFAULT_SIZES[:6]


@pytest.fixture
def clean():
    """Nothing with the prefix before the test, nor after it, whatever happens."""
    netns.down()
    try:
        yield
    finally:
        netns.down()


def present() -> dict[str, list[str]]:
    """What has the prefix, read without netns.leftovers (which down uses)."""
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    etc = os.listdir("/etc/netns") if os.path.isdir("/etc/netns") else []
    return {
        "namespaces": [n.split()[0] for n in names.splitlines() if n.startswith(netns.PREFIX)],
        "links": [
            line.split(":")[1].strip().split("@")[0]
            for line in links.splitlines()
            if line.split(":")[1].strip().startswith(netns.PREFIX)
        ],
        "netns_dirs": [d for d in etc if d.startswith(netns.PREFIX)],
    }


def run_in_node(node, code: str) -> str:
    proc = netns.run_in(
        node, [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return out.decode().strip()


# --- no namespaces needed -------------------------------------------------


@pytest.mark.parametrize(
    "rate, bits",
    [("100mbit", 10**8), ("1gbit", 10**9), ("2.5GBIT", 25 * 10**8), ("unshaped", None)],
)
def test_rates_read_as_tc_reads_them(rate, bits):
    assert netns.parse_rate(rate) == bits
    assert netns.parse_rate(netns.format_rate(bits)) == bits


def test_bus_bandwidth_and_fit_follow_nccl_tests():
    assert probe.bus_factor(2) == 1.0
    assert probe.bus_factor(4) == 1.5
    row = probe.size_row(4 * probe.MIB, 0.5, 4, median_s=0.5)
    assert row["algbw_bytes_per_s"] == 4 * probe.MIB / 0.5
    assert row["busbw_bytes_per_s"] == pytest.approx(1.5 * 4 * probe.MIB / 0.5)
    # Exact times from alpha = 100 us, beta = 12.5 MB/s come back exactly.
    rows = [probe.size_row(b, 1e-4 + b / 12.5e6, 2, median_s=1e-4 + b / 12.5e6) for b in SIZES]
    fit = probe.fit(rows, 2)
    assert fit["alpha_s"] == pytest.approx(1e-4)
    assert fit["beta_gbit_per_s"] == pytest.approx(0.1)
    assert fit["max_relative_residual"] < 1e-9


@pytest.mark.parametrize(
    "argv, phrase",
    [
        (["up", "--nodes", "0"], "--nodes must be from 1 to 254"),
        (["up", "--nodes", "255"], "--nodes must be from 1 to 254"),
        (["up", "--nodes", "4", "--rate", "fast"], "rate 'fast' is not a rate"),
        (["up", "--nodes", "2", "--rate", "0mbit"], "below 8kbit"),
        (["up", "--nodes", "two"], "invalid int value: 'two'"),
        (["shape"], "--rate"),
        (["sideways"], "invalid choice: 'sideways'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, phrase):
    before = netns.leftovers() if AVAILABLE else None
    assert command.main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("keras-profiler: error:")
    assert phrase in lines[0]
    if AVAILABLE:
        assert netns.leftovers() == before  # nothing made, nothing removed


@pytest.mark.parametrize(
    "argv, phrase",
    [
        (["--rank", "2", "--world", "2", "--master", "10.77.0.1:29500"], "--rank must be"),
        (["--rank", "0", "--world", "2", "--master", "10.77.0.1"], "--master must be ADDR:PORT"),
        (["--rank", "0", "--world", "2", "--master", "a:1", "--sizes", "3"], "float32s"),
    ],
)
def test_probe_worker_bad_input(capsys, argv, phrase):
    assert probe.main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and phrase in lines[0], lines


@pytest.mark.slow
def test_the_command_line_exits_2_in_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "keras_profiler.nodes", "up", "--nodes", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "keras-profiler: error: --nodes must be from 1 to 254 (one address each in "
        "10.77.0.0/24), not 0"
    ]


def test_nodes_split_the_cores_and_take_them_in_turn_when_too_few(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 6, 7}, raising=False)
    assert [netns.cores_of(i, 2) for i in range(2)] == [[0, 1, 2], [3, 6, 7]]
    assert [netns.cores_of(i, 4) for i in range(4)] == [[0], [1], [2], [3]]
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert [netns.cores_of(i, 4) for i in range(4)] == [[0], [1], [0], [1]]


# --- namespaces -----------------------------------------------------------


@needs_netns
def test_up_makes_shaped_nodes_that_resolve_the_host_name_to_themselves(clean):
    network = netns.up(3, "1gbit")
    assert [n.name for n in network.nodes] == ["kp-node0", "kp-node1", "kp-node2"]
    assert netns.status() == network
    assert sorted(present()["namespaces"]) == ["kp-node0", "kp-node1", "kp-node2"]
    for node in network.nodes:
        # Both directions: the node's own interface and the bridge's port.
        assert netns._qdisc_rate(netns.INTERFACE, node.name) == 10**9
        assert netns._qdisc_rate(node.host_veth, None) == 10**9
        resolved = run_in_node(
            node, "import socket; print(socket.gethostbyname(socket.gethostname()))"
        )
        assert resolved == node.address
    # Pinned, a node's program (and what it starts) sees only its cores.
    cores = netns.cores_of(2, 3)
    proc = netns.run_in(
        network.nodes[2],
        [sys.executable, "-c", "import os; print(os.getpid(), sorted(os.sched_getaffinity(0)))"],
        cores=cores,
        stdout=subprocess.PIPE,
    )
    out, _ = proc.communicate(timeout=30)
    assert out.decode().split(" ", 1) == [str(proc.pid), f"{cores}\n"]
    # Up again is a fresh network: the third node is gone.
    again = netns.up(2, "unshaped")
    assert netns.status() == again
    assert sorted(present()["namespaces"]) == ["kp-node0", "kp-node1"]
    assert netns._qdisc_rate(netns.INTERFACE, "kp-node0") is None
    assert netns._qdisc_rate("kp-node0-v", None) is None


@needs_netns
def test_down_leaves_nothing_and_is_idempotent(clean):
    netns.up(2, "100mbit")
    assert all(present().values())
    removed = netns.down()
    assert removed["namespaces"] == ["kp-node0", "kp-node1"]
    assert present() == {"namespaces": [], "links": [], "netns_dirs": []}
    assert netns.leftovers() == {"namespaces": [], "links": [], "netns_dirs": []}
    assert netns.down() == {"namespaces": [], "links": [], "netns_dirs": []}
    assert netns.status() is None


@needs_netns
def test_down_cleans_up_after_a_crash(clean):
    """What a crash half-way through ``up`` leaves (made by hand here: a
    namespace, a lone bridge, a hosts dir), and a process left in a node."""
    subprocess.run(["ip", "netns", "add", "kp-node7"], check=True)
    subprocess.run(["ip", "link", "add", "kp-node-br", "type", "bridge"], check=True)
    os.makedirs("/etc/netns/kp-node9", exist_ok=True)
    left = netns.run_in(7, [sys.executable, "-c", "import time; time.sleep(120)"])
    time.sleep(0.3)
    assert netns.down()["namespaces"] == ["kp-node7"]
    assert left.wait(timeout=10) != 0  # killed by down, not finished
    assert present() == {"namespaces": [], "links": [], "netns_dirs": []}


@needs_netns
@pytest.mark.slow
def test_probe_measures_the_shaped_rate_and_more_without_shaping(clean):
    network = netns.up(2, "100mbit")
    shaped = probe.across(network, sizes=SIZES, timeout_s=90)
    assert shaped["world_size"] == 2
    assert shaped["network"]["rate"] == "100mbit"
    assert [row["bytes"] for row in shaped["sizes"]] == list(SIZES)
    largest = shaped["sizes"][-1]
    rate = largest["busbw_bytes_per_s"] * 8
    assert 0.60 * 100 * MBIT <= rate <= 1.05 * 100 * MBIT, json.dumps(largest)
    # The fit's bandwidth is the link's too (the smallest sizes ride tbf's
    # bucket, above the rate: hence the wider bound).
    assert 0.6 <= shaped["fit"]["busbw_gbit_per_s"] / 0.1 <= 1.3, shaped["fit"]
    assert shaped["fit"]["alpha_s"] < 0.01

    unshaped = probe.across(netns.shape("unshaped"), sizes=SIZES, timeout_s=90)
    assert unshaped["network"]["rate"] == "unshaped"
    assert unshaped["sizes"][-1]["busbw_bytes_per_s"] * 8 > 3 * rate, json.dumps(unshaped)


@needs_netns
@pytest.mark.slow
def test_probe_fails_in_bounded_time_when_a_rank_never_joins(clean):
    """Rank 1 of 2 is never started: rank 0 gives up at its timeout and
    exits, saying so; no process is left."""
    network = netns.up(2, "unshaped")
    start = time.monotonic()
    proc = netns.run_in(
        network.nodes[0],
        [sys.executable, "-m", "keras_profiler.nodes.probe", "--rank", "0", "--world", "2",
         "--master", "10.77.0.1:29511", "--interface", netns.INTERFACE, "--timeout", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err  # rollcall.EXIT_MISSING
    assert time.monotonic() - start < 40
    assert out == ""
    assert err.strip().splitlines()[-1] == (
        "keras-profiler: error: node 1 never joined within 5 s (node 0 did): start "
        "keras-profiler on every node with its own --node-rank, or raise --join-timeout"
    )


@needs_netns
@pytest.mark.slow
def test_probe_across_stops_every_rank_at_its_timeout(clean):
    """A 64 MiB all-reduce at 100 Mbit/s takes over 5 s: with 3 s allowed,
    across raises within its bound and leaves no process in any node."""
    network = netns.up(2, "100mbit")
    start = time.monotonic()
    with pytest.raises(probe.ProbeError, match="probe failed"):
        probe.across(network, sizes=(64 * probe.MIB,), timeout_s=3)
    assert time.monotonic() - start < 3 + 5 + 5
    for node in network.nodes:
        pids = subprocess.run(["ip", "netns", "pids", node.name], capture_output=True, text=True)
        assert pids.stdout.split() == []
