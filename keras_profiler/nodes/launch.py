"""A run over several nodes started from one place: the sweep's node
launchers. Each starts ``python -m keras_profiler.nodes.launch`` on every
node of the run (``main`` below: one keras-profiler launcher per node, as on
real machines); node 0 writes the record.

Three launchers, one module each with the same small interface (``KEYS``,
``settle``, ``clusters``, ``run``; keras_profiler/sweep/spec.py names them
in ``LAUNCHERS``):

* ``netns``, this module: the nodes are network namespaces on this machine
  (keras_profiler/nodes/netns.py), shaped to the rate the run's
  interconnect names.
* ``ssh`` (keras_profiler/nodes/ssh.py): the hosts listed in a file.
* ``slurm`` (keras_profiler/nodes/slurm.py): ``srun`` inside an allocation.

The interface:

* ``KEYS``: the ``[cluster]`` keys the launcher takes beside ``launcher``.
* ``settle(cluster, nodes) -> settings``: checks ``[cluster]`` for runs
  over each count of ``nodes`` (ValueError, one line, saying what to
  change) and returns what ``clusters`` and ``run`` need.
* ``clusters(settings, nodes) -> [fields]``: the RunConfig fields (nodes,
  coordinator, interface, interconnect) of each run over ``nodes`` nodes.
* ``run(config, results_dir, settings) -> RunRecord``: runs it and returns
  node 0's record; LaunchFailed, saying which node failed how, where node 0
  wrote none.

Example:

```python
config = RunConfig(backend="torch", model="tiny", nodes=2, **netns_cluster("1gbit"))
record = run_netns(config, "results")
```
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from keras_profiler import records
from keras_profiler.config import RunConfig
from keras_profiler.errors import UsageError
from keras_profiler.nodes import cluster_env, netns

# Node 0's rendezvous port (the probe takes the next), inside the
# namespaces and the ssh and slurm launchers' default.
PORT = 29600
# Beyond the run's own timeout: starting, joining and the probe.
SLACK_S = 600
# What node 0 prints on its stdout where it is told to (RUN_ID "-"): the
# record it wrote, for a launcher that reads the node's output.
RUN_ID_LINE = "keras-profiler-run-id: "
_RUN_ID = re.compile(re.escape(RUN_ID_LINE) + r"(\S+)")
# NODE_RANK "env": this node's rank as its launcher's variables say it
# (srun's SLURM_PROCID; see cluster_env).
RANK_FROM_ENVIRONMENT = "env"

KEYS = ("rates",)
# How long a node's output may still come once its launcher has ended.
READ_REST_S = 30.0


class LaunchFailed(RuntimeError):
    """A launcher's run left no record of node 0's to read: the message
    says which node failed how."""


def netns_cluster(rate: str) -> dict:
    """The RunConfig settings of a run over netns nodes at ``rate``."""
    netns.parse_rate(rate)  # UsageError, saying why, where tc would not take it
    return {
        "coordinator": f"{netns.node_address(0)}:{PORT}",
        "interface": netns.INTERFACE,
        "interconnect": f"netns {rate}",
    }


def rate_of(config: RunConfig) -> str:
    """The link rate a netns run's interconnect names ("netns 1gbit")."""
    kind, _, rate = (config.interconnect or "").partition(" ")
    if kind != "netns" or not rate:
        raise ValueError(f"{config.interconnect!r} names no netns link: use netns_cluster(rate)")
    return rate


def settle(cluster: dict, nodes: list[int]) -> dict:
    """The netns launcher's settings: its link rates, each a dimension."""
    rates = cluster.get("rates")
    if not isinstance(rates, list) or not rates:
        raise ValueError('[cluster] launcher = "netns" needs rates, e.g. ["1gbit", "100mbit"]')
    for rate in rates:
        try:
            netns_cluster(rate)
        except (ValueError, UsageError) as error:
            raise ValueError(f"[cluster] rates: {error}") from None
    return {"rates": list(rates)}


def clusters(settings: dict, nodes: int) -> list[dict]:
    """A run over ``nodes`` netns nodes at each rate."""
    return [{"nodes": nodes, **netns_cluster(rate)} for rate in settings["rates"]]


def run(config: RunConfig, results_dir: str | Path, settings: dict) -> records.RunRecord:
    """``run_netns``, then the namespaces taken down."""
    try:
        record = run_netns(config, results_dir)
    finally:
        netns.down()
    if record is None:
        raise LaunchFailed("node 0 ended without a record")
    return record


def run_netns(config: RunConfig, results_dir: str | Path) -> records.RunRecord | None:
    """Runs ``config`` over ``config.nodes`` namespaces, one launcher each;
    returns node 0's record (None where node 0 wrote none: it was killed)."""
    netns.up(config.nodes, rate_of(config))
    with tempfile.TemporaryDirectory(prefix="keras-profiler-nodes-") as scratch:
        config_path = Path(scratch) / "config.json"
        config_path.write_text(json.dumps(config.to_dict()))
        run_id = Path(scratch) / "run_id"
        nodes = [
            netns.run_in(rank, [sys.executable, "-m", __name__, str(config_path),
                                str(rank), str(results_dir), str(run_id)],
                         cores=netns.cores_of(rank, config.nodes))
            for rank in reversed(range(config.nodes))
        ]  # fmt: skip
        _wait(nodes, (config.timeout_seconds or 0) + SLACK_S)
        if not run_id.exists():
            return None
        path = Path(results_dir) / run_id.read_text() / records.RECORD_FILE
        return records.RunRecord.from_dict(json.loads(path.read_text()))


def _wait(processes: list[subprocess.Popen], timeout: float) -> bool:
    """Waits for every node; past ``timeout`` stops them all (and says so)."""
    try:
        for process in processes:
            process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        for process in processes:
            process.kill()
            process.wait()
        return True
    return False


# What the ssh and slurm launchers share.


def node_command(python: str, config: RunConfig, rank: int | str, results_dir: str) -> list[str]:
    """The argv of one node's launcher, the config given inline (the node
    needs no file of this machine's) and node 0 printing its run id."""
    config_json = json.dumps(config.to_dict(), separators=(",", ":"))
    return [python, "-m", "keras_profiler.nodes.launch", config_json, str(rank), results_dir, "-"]


def node_settings(cluster: dict, label: str) -> dict:
    """The [cluster] settings the ssh and slurm launchers share, checked,
    with their defaults: ``label`` names the link where ``interconnect``
    does not."""
    port = cluster.get("port", PORT)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65535:
        raise ValueError(
            f"[cluster] port must be a port number from 1 to 65534 (the probe takes the next), "
            f"got {port!r}"
        )
    for key in ("interconnect", "interface", "python", "workdir"):
        if key in cluster and (not isinstance(cluster[key], str) or not cluster[key].strip()):
            raise ValueError(f"[cluster] {key} must be a non-empty string, got {cluster[key]!r}")
    return {
        "port": port,
        "interconnect": cluster.get("interconnect", label),
        "interface": cluster.get("interface"),
        "python": cluster.get("python", sys.executable),
        "workdir": cluster.get("workdir"),
    }


def node_fields(settings: dict, nodes: int, coordinator_host: str) -> dict:
    """The RunConfig fields of a run over ``nodes`` nodes whose node 0 is
    ``coordinator_host``."""
    return {
        "nodes": nodes,
        "coordinator": f"{coordinator_host}:{settings['port']}",
        "interface": settings["interface"],
        "interconnect": settings["interconnect"],
    }


def timeout_of(config: RunConfig) -> float | None:
    """How long a run over nodes may take before its launcher stops them
    (None: a run without a time limit, as long as it takes)."""
    return None if config.timeout_seconds is None else config.timeout_seconds + SLACK_S


class Node:
    """One node's launcher (ssh HOST ..., or srun ... for all of them),
    started by a sweep's launcher. What it prints passes through; the run id
    node 0 printed and the last line of its stderr are kept."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None):
        self.name = name
        self.run_id: str | None = None
        self.last_error = ""
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, errors="replace", bufsize=1, env=env,
        )  # fmt: skip
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, False), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, True), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, is_stderr: bool) -> None:
        for line in stream:
            found = None if is_stderr else _RUN_ID.search(line)
            if found:
                self.run_id = found.group(1)
                continue
            if is_stderr and line.strip():
                self.last_error = line.strip()[-300:]
            out = sys.stderr if is_stderr else sys.stdout
            out.write(line)
            out.flush()

    def failure(self) -> str:
        """How it ended, for a record: "exited 1: the last line it printed"."""
        code = self.process.returncode
        said = f"exited {code}" if code is None or code >= 0 else f"killed by signal {-code}"
        return said + (f": {self.last_error}" if self.last_error else "")


def wait_for(nodes: list[Node], timeout: float | None) -> bool:
    """Waits for every node; past ``timeout`` (None: none) stops them all,
    asking first (srun passes it on to the tasks) and killing 10 s later.
    True: it stopped them."""
    deadline, timed_out = time.monotonic() + (timeout or 0), False
    try:
        for node in nodes:
            left = None if timeout is None else max(deadline - time.monotonic(), 0)
            node.process.wait(timeout=left)
    except subprocess.TimeoutExpired:
        timed_out = True
        for node in nodes:
            node.process.terminate()
        _wait([node.process for node in nodes], 10)
    # What the nodes printed last is still in the pipes: read it all (a
    # bound only for a child of theirs left holding a pipe open).
    for node in nodes:
        for reader in node._readers:
            reader.join(timeout=READ_REST_S)
    return timed_out


def record_of(results_dir: str | Path, run_id: str, where: str) -> records.RunRecord:
    """Node 0's record ``run_id`` under results_dir; LaunchFailed where this
    machine cannot read it (node 0 wrote it on a filesystem of its own)."""
    path = Path(results_dir) / run_id / records.RECORD_FILE
    try:
        return records.RunRecord.from_dict(json.loads(path.read_text()))
    except OSError:
        raise LaunchFailed(
            f"node 0 ({where}) wrote record {run_id}, but this machine cannot read {path}: run "
            f"the sweep on {where} or share the results dir with it"
        ) from None


# One node: python -m keras_profiler.nodes.launch ...


def main(argv: list[str]) -> int:
    """One node: ``CONFIG NODE_RANK RESULTS_DIR RUN_ID``.

    CONFIG is a file of the run's config as JSON, or the JSON itself (it
    starts with "{"); NODE_RANK a number, or "env": the rank the launcher's
    variables give (srun's SLURM_PROCID); RUN_ID a file node 0 writes its
    record's id to, or "-": node 0 prints it on stdout, after RUN_ID_LINE.
    """
    from keras_profiler import launcher

    config_text, rank, results_dir, run_id = argv
    if not config_text.lstrip().startswith("{"):
        config_text = Path(config_text).read_text()
    given = json.loads(config_text)
    if rank == RANK_FROM_ENVIRONMENT:
        rank = _rank_from_environment(given["nodes"])
    config = RunConfig.from_dict({**given, "node_rank": int(rank)})
    try:
        record = launcher.run(config, results_dir)
    except UsageError as error:  # one line: the launcher's record of it names it
        print(f"keras-profiler: error: {error}", file=sys.stderr, flush=True)
        return 2
    if config.node_rank == 0:
        if run_id == "-":
            print(f"{RUN_ID_LINE}{record.run_id}", flush=True)
        else:
            Path(run_id).write_text(record.run_id)
    return 0


def _rank_from_environment(nodes: int) -> int:
    cluster = cluster_env.detect(os.environ)
    if cluster is None or cluster.nodes != nodes:
        found = f"{cluster.nodes} node(s) ({cluster.source})" if cluster else "no cluster"
        raise SystemExit(
            f"keras-profiler: NODE_RANK env: the environment describes {found}, "
            f"not the run's {nodes}: start one task per node (srun --ntasks-per-node 1)"
        )
    return cluster.node_rank


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
