"""The sweep's ``ssh`` node launcher: a run over N nodes runs on the first N
hosts of a file, one keras-profiler launcher each, started with the system
``ssh`` (BatchMode: keys or an agent, never a password prompt). Node 0 is
the first host; it writes the record under the results dir's absolute path
on its own filesystem, so the sweep runs on that host or shares the results
dir with it. The interface is keras_profiler/nodes/launch.py's.

```toml
[cluster]
launcher = "ssh"
hosts = "hosts.txt"   # one host per line, # comments; relative to the matrix file
port = 29600          # node 0's rendezvous port (the probe takes the next)
```
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from keras_profiler import records
from keras_profiler.config import RunConfig
from keras_profiler.nodes import launch

KEYS = ("hosts", "port", "interconnect", "interface", "python", "workdir")
# What ssh itself exits with when it fails (cannot connect, cannot log in).
SSH_FAILED = 255


def settle(cluster: dict, nodes: list[int]) -> dict:
    """The hosts (enough of them for max(nodes)) and the shared settings;
    the link is named "ssh FILE" where [cluster] interconnect is not given."""
    if shutil.which("ssh") is None:
        raise ValueError('[cluster] launcher = "ssh" needs the ssh client: ssh is not on PATH')
    file = cluster.get("hosts")
    if file is None:
        raise ValueError('[cluster] launcher = "ssh" needs hosts, a file of one host per line')
    if not isinstance(file, str) or not file.strip():
        raise ValueError(f"[cluster] hosts must be the path of a file, got {file!r}")
    hosts = read_hosts(Path(file))
    if len(hosts) < max(nodes):
        raise ValueError(
            f"[cluster] hosts: {file} lists {len(hosts)} host(s), and nodes {nodes} needs "
            f"{max(nodes)}: add hosts or leave out the larger node counts"
        )
    return {**launch.node_settings(cluster, f"ssh {Path(file).name}"), "hosts": hosts}


def read_hosts(path: Path) -> list[str]:
    """The hosts a file lists, one a line ([user@]host), in order; ``#``
    starts a comment. ValueError, one line, where it cannot be used."""
    try:
        text = path.read_text()
    except OSError as error:
        raise ValueError(f"[cluster] hosts: cannot read {path}: {error.strerror}") from None
    hosts = []
    for number, line in enumerate(text.splitlines(), 1):
        host = line.split("#", 1)[0].strip()
        if not host:
            continue
        if len(host.split()) > 1 or host.startswith("-"):
            raise ValueError(f"[cluster] hosts: {path} line {number}: {host!r} is not one host")
        if host in hosts:
            raise ValueError(
                f"[cluster] hosts: {path} lists {host} twice: each node is a host of its own"
            )
        hosts.append(host)
    return hosts


def address(host: str) -> str:
    """The host's name for the other nodes: ``user@`` left out."""
    return host.rpartition("@")[2]


def clusters(settings: dict, nodes: int) -> list[dict]:
    """A run over the first ``nodes`` hosts, meeting at the first's port."""
    return [launch.node_fields(settings, nodes, address(settings["hosts"][0]))]


def commands(config: RunConfig, results_dir: str | Path, settings: dict) -> list[list[str]]:
    """The ssh command of each node, in rank order: on host i, in workdir,
    ``PYTHON -m keras_profiler.nodes.launch CONFIG_JSON i RESULTS_DIR -``,
    every word quoted for the remote shell."""
    hosts = settings["hosts"][: config.nodes]
    results = str(Path(results_dir).absolute())
    workdir = settings["workdir"] or str(Path.cwd())
    return [
        [
            "ssh", "-o", "BatchMode=yes", host,
            f"cd {shlex.quote(workdir)} && "
            + shlex.join(launch.node_command(settings["python"], config, rank, results)),
        ]
        for rank, host in enumerate(hosts)
    ]  # fmt: skip


def run(config: RunConfig, results_dir: str | Path, settings: dict) -> records.RunRecord:
    """Runs ``config`` on its hosts; node 0's record, read from the results
    dir, or LaunchFailed naming each node that failed and how."""
    hosts = settings["hosts"][: config.nodes]
    if len(hosts) < config.nodes:
        raise launch.LaunchFailed(f"launcher ssh: {config.nodes} nodes, {len(hosts)} host(s)")
    nodes = [
        launch.Node(f"node {rank} ({host})", argv)
        for rank, (host, argv) in enumerate(zip(hosts, commands(config, results_dir, settings)))
    ]
    timeout = launch.timeout_of(config)
    timed_out = launch.wait_for(nodes, timeout)
    if nodes[0].run_id:
        return launch.record_of(results_dir, nodes[0].run_id, hosts[0])
    if timed_out:
        why = f"the nodes ran past {timeout:.0f} s and were stopped"
    else:
        failed = [nodes[0], *(n for n in nodes[1:] if n.process.returncode != 0)]
        why = "; ".join(f"{node.name} {_how(node)}" for node in failed)
    raise launch.LaunchFailed(f"launcher ssh: node 0 wrote no record: {why}")


def _how(node: launch.Node) -> str:
    if node.process.returncode == SSH_FAILED:
        return "ssh failed (exit 255)" + (f": {node.last_error}" if node.last_error else "")
    return node.failure()
