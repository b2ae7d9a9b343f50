"""N nodes on one machine: network namespaces joined by a bridge, links shaped.

Each node is a network namespace (``kp-node0``, ``kp-node1``, ...) with one
interface, ``kp-node-eth``, at 10.77.0.(i+1)/24: one end of a veth pair whose
other end (``kp-node<i>-v``) is a port of the bridge ``kp-node-br`` in the
host's namespace. Shaping puts a token-bucket filter (``tc`` tbf) on the
egress of both ends, so that what a node sends (its interface) and what it
receives (the host-side end, which the bridge sends into) are both held to
the rate. ``unshaped`` leaves veth's default (no qdisc).

``ip netns exec`` bind-mounts ``/etc/netns/<name>/hosts`` over /etc/hosts:
each node's file maps this machine's host name to the node's own address
(and every node's name to its address). Without it the host name resolves to
loopback, and gloo (jax's CPU collectives, torch's gloo backend) advertises
127.0.0.1, so each side dials its own loopback and times out (issue 19).

Each node's processes run on cores of their own (``cores_of``): this
machine's usable cores split evenly among the nodes, as separate machines
would not share them; with more nodes than cores, nodes take the cores in
turn and two share one (bench/results/predict-validation.md measures what
that sharing does). Without the pinning every node's thread pools span all
cores and contend, which no multi-machine run would show.

Everything made here is named with ``PREFIX``: ``down`` finds leftovers by
that prefix alone (namespaces, links, /etc/netns dirs), so it cleans up after
a crash as well as after ``up``, and does nothing when nothing is there.

Why ``ip`` and ``tc`` in subprocesses, and not a library: the only Python
library for netlink, pyroute2, is not a dependency of keras-profiler (nor
installed here), while iproute2 is on every Linux machine that can make
namespaces at all; and the commands are the ones a user would type to check
or repair by hand. A failing command raises ``NetnsError`` with the command
and its stderr.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from keras_profiler.errors import UsageError

PREFIX = "kp-node"
BRIDGE = f"{PREFIX}-br"
# The namespace-side interface: the same name in every node, so one
# GLOO_SOCKET_IFNAME (--interface) serves them all.
INTERFACE = f"{PREFIX}-eth"
SUBNET = "10.77.0.0/24"
PREFIX_LENGTH = 24
# One /24: node i is 10.77.0.(i+1), .1 to .254.
MAX_NODES = 254
NETNS_ETC = Path("/etc/netns")
UNSHAPED = "unshaped"
# tbf's queue: a packet that would wait longer than this is dropped.
TBF_LATENCY = "50ms"
# tbf's bucket: one GSO packet (64 KiB, which veth passes whole) must fit, or
# tbf splits it; at high rates a millisecond of traffic, so that the timer's
# granularity does not hold the link below its rate.
MIN_BURST_BYTES = 128 * 1024
BURST_SECONDS = 0.001
COMMAND_TIMEOUT_S = 30.0
# Namespace deletion is lazy in the kernel: how long down() waits for the
# last link to go before it reports what is still there.
SETTLE_TIMEOUT_S = 10.0
TERM_GRACE_S = 3.0

_RATE = re.compile(r"^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit|tbit)$")
_UNITS = {"bit": 1, "kbit": 10**3, "mbit": 10**6, "gbit": 10**9, "tbit": 10**12}
_NODE_NAME = re.compile(rf"^{re.escape(PREFIX)}(\d+)$")


class NetnsError(RuntimeError):
    """A command that builds or removes the network failed."""

    def __init__(self, command: list[str], returncode: int | None, stderr: str):
        self.command = command
        self.returncode = returncode
        self.stderr = stderr.strip()
        status = "timed out" if returncode is None else f"exit {returncode}"
        detail = self.stderr or "no stderr"
        super().__init__(f"`{' '.join(command)}` failed ({status}): {detail}")


@dataclass(frozen=True)
class Node:
    index: int
    name: str
    address: str
    host_veth: str

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "name": self.name,
            "address": self.address,
            "interface": INTERFACE,
            "host_veth": self.host_veth,
        }


@dataclass(frozen=True)
class Network:
    nodes: tuple[Node, ...]
    rate: str
    rate_bits_per_s: int | None
    bridge: str = BRIDGE
    interface: str = INTERFACE
    subnet: str = SUBNET

    def node(self, which: int | str | Node) -> Node:
        if isinstance(which, Node):
            return which
        for node in self.nodes:
            if which in (node.index, node.name):
                return node
        raise KeyError(f"no node {which!r} in {[n.name for n in self.nodes]}")

    def to_dict(self) -> dict:
        """What a record says of the network: nodes, addresses, cores, the
        shaping."""
        count = len(self.nodes)
        return {
            "kind": "netns",
            "nodes": [{**n.to_dict(), "cores": cores_of(n.index, count)} for n in self.nodes],
            "rate": self.rate,
            "rate_bits_per_s": self.rate_bits_per_s,
            "shaping": None if self.rate_bits_per_s is None else "tc tbf, both directions",
            "bridge": self.bridge,
            "subnet": self.subnet,
        }


# --- input ----------------------------------------------------------------


def parse_rate(rate: str) -> int | None:
    """Bits per second for a tc-style rate ("100mbit", "1gbit", "2.5gbit"), or
    None for "unshaped". Units are SI, as tc's: 1mbit = 10**6 bit/s."""
    text = str(rate).strip().lower()
    if text == UNSHAPED:
        return None
    match = _RATE.match(text)
    if not match:
        raise UsageError(
            f"rate {rate!r} is not a rate: give a number and a unit of bit, kbit, mbit, gbit "
            f"or tbit (e.g. 100mbit, 1gbit), or {UNSHAPED!r}"
        )
    bits = round(float(match.group(1)) * _UNITS[match.group(2)])
    if bits < 8000:
        raise UsageError(f"rate {rate!r} is below 8kbit, too slow for any probe or run")
    return bits


def format_rate(bits: int | None) -> str:
    """The shortest tc-style spelling of a rate: 100000000 -> "100mbit"."""
    if bits is None:
        return UNSHAPED
    for unit in ("tbit", "gbit", "mbit", "kbit"):
        if bits % _UNITS[unit] == 0:
            return f"{bits // _UNITS[unit]}{unit}"
    return f"{bits}bit"


def check_nodes(nodes: int) -> int:
    if isinstance(nodes, bool) or not isinstance(nodes, int):
        raise UsageError(f"--nodes must be a whole number, not {nodes!r}")
    if not 1 <= nodes <= MAX_NODES:
        raise UsageError(
            f"--nodes must be from 1 to {MAX_NODES} (one address each in {SUBNET}), not {nodes}"
        )
    return nodes


def node_name(index: int) -> str:
    return f"{PREFIX}{index}"


def node_address(index: int) -> str:
    return f"10.77.0.{index + 1}"


def cores_of(index: int, nodes: int) -> list[int]:
    """The cores node ``index`` of ``nodes`` runs on: an even share of the
    cores this process may use, in order; with more nodes than cores, one
    core each, taken in turn."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not cores:
        return []
    share = len(cores) // nodes
    if share == 0:
        return [cores[index % len(cores)]]
    return cores[index * share : (index + 1) * share]


def _node(index: int) -> Node:
    return Node(index, node_name(index), node_address(index), f"{PREFIX}{index}-v")


# --- commands -------------------------------------------------------------


def _run(command: list[str], *, ok: tuple[str, ...] = ()) -> str:
    """Runs one command; stdout on success. A failure whose stderr contains
    one of ``ok`` is not an error (a thing already gone, for one)."""
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
        )
    except FileNotFoundError:
        raise NetnsError(command, 127, f"{command[0]} not found: install iproute2") from None
    except subprocess.TimeoutExpired as expired:
        raise NetnsError(command, None, str(expired.stderr or "")) from None
    if done.returncode != 0:
        if any(text in done.stderr for text in ok):
            return ""
        raise NetnsError(command, done.returncode, done.stderr)
    return done.stdout


def _json(command: list[str]) -> list:
    out = _run(command).strip()
    return json.loads(out) if out else []


def _ns(name: str | None) -> list[str]:
    return ["-n", name] if name else []


@contextlib.contextmanager
def _lock():
    """One up, shape or down at a time on this machine."""
    folder = Path("/run/lock") if Path("/run/lock").is_dir() else Path(tempfile.gettempdir())
    with open(folder / f"{PREFIX}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- what is there --------------------------------------------------------


def leftovers() -> dict[str, list[str]]:
    """Everything with the prefix that exists now: namespaces, links in the
    host's namespace, /etc/netns dirs. All empty after ``down``."""
    namespaces = [ns["name"] for ns in _json(["ip", "-j", "netns", "list"])]
    links = [link["ifname"] for link in _json(["ip", "-j", "link", "show"])]
    dirs = [p.name for p in NETNS_ETC.glob(f"{PREFIX}*")] if NETNS_ETC.is_dir() else []
    return {
        "namespaces": sorted(n for n in namespaces if n.startswith(PREFIX)),
        "links": sorted(n for n in links if n.startswith(PREFIX)),
        "netns_dirs": sorted(dirs),
    }


def _qdisc_rate(dev: str, namespace: str | None) -> int | None:
    """The tbf rate on a device's root, bits/s; None when it has none."""
    for qdisc in _json(["tc", *_ns(namespace), "-j", "qdisc", "show", "dev", dev]):
        if qdisc.get("root") and qdisc.get("kind") == "tbf":
            options = qdisc.get("options", {})
            return int(options.get("rate64", options.get("rate"))) * 8
    return None


def status() -> Network | None:
    """The network that is up now, read from the system; None when no node is."""
    names = leftovers()["namespaces"]
    indices = sorted(int(m.group(1)) for m in map(_NODE_NAME.match, names) if m)
    if not indices:
        return None
    nodes = []
    rates = set()
    for index in indices:
        node = _node(index)
        addresses = _json(["ip", *_ns(node.name), "-j", "addr", "show", "dev", INTERFACE])
        for info in addresses[0].get("addr_info", []) if addresses else []:
            if info.get("family") == "inet":
                node = Node(index, node.name, info["local"], node.host_veth)
        nodes.append(node)
        rates.add(_qdisc_rate(INTERFACE, node.name))
        rates.add(_qdisc_rate(node.host_veth, None))
    if len(rates) == 1:
        (bits,) = rates
        return Network(tuple(nodes), format_rate(bits), bits)
    return Network(tuple(nodes), "mixed", None)


# --- checks ---------------------------------------------------------------


def available() -> tuple[bool, str]:
    """Whether this machine lets us make the network, and why not when it
    does not: a throwaway namespace with a bridge, a veth pair and a tbf
    qdisc inside it is made and deleted."""
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return False, f"`{tool}` not found: install iproute2"
    name = f"{PREFIX}-check{os.getpid()}"
    try:
        _run(["ip", "netns", "add", name])
    except NetnsError as error:
        return False, f"cannot create a network namespace (needs root or CAP_NET_ADMIN): {error}"
    try:
        _run(f"ip -n {name} link add {PREFIX}-c0 type veth peer name {PREFIX}-c1".split())
        _run(f"ip -n {name} link add {PREFIX}-cb type bridge".split())
        _run(f"tc -n {name} qdisc add dev {PREFIX}-c0 root {_tbf(10**6)}".split())
        NETNS_ETC.mkdir(parents=True, exist_ok=True)
        probe = NETNS_ETC / name
        probe.mkdir(exist_ok=True)
        probe.rmdir()
    except NetnsError as error:
        return False, f"namespaces work but the links cannot be made: {error}"
    except OSError as error:
        return False, f"cannot write {NETNS_ETC} (per-node hosts files): {error}"
    finally:
        with contextlib.suppress(NetnsError):
            _run(["ip", "netns", "del", name], ok=("No such file",))
    return True, "network namespaces, veth, bridge and tc tbf all work here"


# --- up, shape, down ------------------------------------------------------


def up(nodes: int, rate: str = UNSHAPED) -> Network:
    """Makes ``nodes`` namespaces joined by the bridge, shaped at ``rate``.
    Whatever has the prefix is torn down first; a failure half-way tears down
    what was made and raises."""
    count = check_nodes(nodes)
    bits = parse_rate(rate)
    made = tuple(_node(i) for i in range(count))
    with _lock():
        _down()
        try:
            _build(made)
            _shape(made, bits)
            _wait_ready(made)
        except BaseException:
            _down()
            raise
    return Network(made, format_rate(bits), bits)


def shape(rate: str) -> Network:
    """Re-shapes the network that is up to ``rate``, without rebuilding it."""
    bits = parse_rate(rate)
    with _lock():
        network = status()
        if network is None:
            raise UsageError("no nodes are up: run `python -m keras_profiler.nodes up` first")
        _shape(network.nodes, bits)
    return Network(network.nodes, format_rate(bits), bits)


def down() -> dict[str, list[str]]:
    """Removes everything with the prefix, killing any process left in a
    node first; what it removed. Does nothing, and does not fail, when
    nothing is there."""
    with _lock():
        return _down()


def _build(nodes: tuple[Node, ...]) -> None:
    _run(["ip", "link", "add", BRIDGE, "type", "bridge", "stp_state", "0", "forward_delay", "0"])
    # No IPv6 link-local address on the host's side: the host sends nothing
    # of its own (router solicitations, MLD) into the nodes' links.
    _run(["ip", "link", "set", BRIDGE, "addrgenmode", "none"])
    _run(["ip", "link", "set", BRIDGE, "up"])
    for node in nodes:
        _run(["ip", "netns", "add", node.name])
        veth = f"{node.host_veth} type veth peer name {INTERFACE} netns {node.name}"
        _run(f"ip link add {veth}".split())
        _run(["ip", "link", "set", node.host_veth, "addrgenmode", "none"])
        _run(["ip", "link", "set", node.host_veth, "master", BRIDGE])
        _run(["ip", "link", "set", node.host_veth, "up"])
        _run(f"ip -n {node.name} addr add {node.address}/{PREFIX_LENGTH} dev {INTERFACE}".split())
        _run(["ip", "-n", node.name, "link", "set", INTERFACE, "up"])
        _run(["ip", "-n", node.name, "link", "set", "lo", "up"])
        _write_hosts(node, nodes)


def _write_hosts(node: Node, nodes: tuple[Node, ...]) -> None:
    host = socket.gethostname()
    names = [host] + ([host.split(".")[0]] if "." in host else [])
    lines = [
        f"# {node.name}: written by keras_profiler.nodes.netns, removed by its `down`.",
        "# The host name is this node's own address, so gloo does not advertise loopback.",
        "127.0.0.1 localhost",
        "::1 localhost ip6-localhost ip6-loopback",
        f"{node.address} {' '.join(names)} {node.name}",
        *(f"{other.address} {other.name}" for other in nodes if other is not node),
        # A dual-stack server (torch's TCPStore) sees IPv4 peers as IPv4-mapped
        # IPv6 addresses, which glibc looks up as such: name them too, or
        # each lookup falls through to DNS, unreachable here, and warns.
        *(f"::ffff:{other.address} {other.name}" for other in nodes),
    ]
    folder = NETNS_ETC / node.name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hosts").write_text("\n".join(lines) + "\n")


def _tbf(bits: int) -> str:
    """tc's arguments for a token bucket at ``bits`` per second."""
    burst = max(MIN_BURST_BYTES, round(bits / 8 * BURST_SECONDS))
    return f"tbf rate {bits}bit burst {burst} latency {TBF_LATENCY}"


def _shape(nodes: tuple[Node, ...], bits: int | None) -> None:
    for node in nodes:
        for namespace, dev in ((node.name, INTERFACE), (None, node.host_veth)):
            tc = ["tc", *_ns(namespace), "qdisc"]
            if bits is None:
                if _qdisc_rate(dev, namespace) is not None:
                    _run([*tc, "del", "dev", dev, "root"])
            else:
                _run([*tc, "replace", "dev", dev, "root", *_tbf(bits).split()])


def _wait_ready(nodes: tuple[Node, ...]) -> None:
    """Until every node's interface reports carrier (both veth ends up)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    for node in nodes:
        while True:
            (link,) = _json(["ip", "-n", node.name, "-j", "link", "show", "dev", INTERFACE])
            if link.get("operstate") == "UP":
                break
            if time.monotonic() > deadline:
                raise NetnsError(
                    ["ip", "-n", node.name, "link", "show", "dev", INTERFACE],
                    0,
                    f"{INTERFACE} in {node.name} still {link.get('operstate')} "
                    f"after {SETTLE_TIMEOUT_S:.0f} s",
                )
            time.sleep(0.05)


def _down() -> dict[str, list[str]]:
    found = leftovers()
    for namespace in found["namespaces"]:
        _kill_processes(namespace)
    # Host-side veth ends first (deleting one deletes its pair, at once),
    # then the bridge; deleting a namespace alone frees its links lazily.
    kinds = {
        link["ifname"]: link.get("linkinfo", {}).get("info_kind")
        for link in _json(["ip", "-d", "-j", "link", "show"])
    }
    for name in sorted(found["links"], key=lambda n: kinds.get(n) == "bridge"):
        _run(["ip", "link", "del", name], ok=("Cannot find device",))
    for namespace in found["namespaces"]:
        _run(["ip", "netns", "del", namespace], ok=("No such file",))
    for name in found["netns_dirs"]:
        shutil.rmtree(NETNS_ETC / name, ignore_errors=True)
    with contextlib.suppress(OSError):  # only when empty: /etc as it was
        NETNS_ETC.rmdir()
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while any((remaining := leftovers()).values()):
        if time.monotonic() > deadline:
            raise NetnsError(["down"], 1, f"left after {SETTLE_TIMEOUT_S:.0f} s: {remaining}")
        time.sleep(0.05)
    return found


def _kill_processes(namespace: str) -> None:
    """Processes still in a node (a crashed run's workers): TERM, then KILL."""
    pids = [int(p) for p in _run(["ip", "netns", "pids", namespace], ok=("No such",)).split()]
    pids = [pid for pid in pids if pid != os.getpid()]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + TERM_GRACE_S
        while (pids := [p for p in pids if _alive(p)]) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not pids:
            return


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


# --- running in a node ----------------------------------------------------


# Sets the affinity, then becomes the program: the pid stays the program's.
# (Python rather than taskset: one tool fewer that the machine must have.)
_PINNED = "import os, sys; os.sched_setaffinity(0, map(int, sys.argv[1].split(','))); os.execvp(sys.argv[2], sys.argv[2:])"  # noqa: E501


def run_in(
    node: int | str | Node,
    argv: list[str],
    env: dict[str, str] | None = None,
    cores: list[int] | None = None,
    **popen,
) -> subprocess.Popen:
    """Starts ``argv`` inside a node (``ip netns exec``, which execs it: the
    Popen's pid is the program's), on ``cores`` only where given (its
    children inherit them). ``popen`` goes to subprocess.Popen."""
    if isinstance(node, Node):
        name = node.name
    elif isinstance(node, int):
        name = node_name(node)
    else:
        name = node
    if not _NODE_NAME.match(name):
        raise ValueError(f"{name!r} is not a node name ({PREFIX}<i>)")
    if cores:
        argv = [sys.executable, "-c", _PINNED, ",".join(map(str, cores)), *argv]
    return subprocess.Popen(["ip", "netns", "exec", name, *argv], env=env, **popen)
