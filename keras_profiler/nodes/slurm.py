"""The sweep's ``slurm`` node launcher: inside an allocation (salloc or
sbatch), a run over N nodes is one ``srun`` step on the allocation's first
N nodes, one task each; every task takes its rank from Slurm's variables
(SLURM_PROCID, read by keras_profiler/nodes/cluster_env.py) and meets the
others at the first node's port. The interface is
keras_profiler/nodes/launch.py's.

```toml
[cluster]
launcher = "slurm"
port = 29600          # node 0's rendezvous port (the probe takes the next)
```
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from keras_profiler import records
from keras_profiler.config import RunConfig
from keras_profiler.nodes import launch

KEYS = ("port", "interconnect", "interface", "python", "workdir")
NO_ALLOCATION = "launcher slurm needs a Slurm allocation: run the sweep inside salloc or sbatch"


def settle(cluster: dict, nodes: list[int]) -> dict:
    """The allocation's hosts (enough of them for max(nodes)) and the
    shared settings; the link is named "slurm" where [cluster] interconnect
    is not given."""
    if "SLURM_JOB_ID" not in os.environ:
        raise ValueError(NO_ALLOCATION)
    missing = [tool for tool in ("srun", "scontrol") if shutil.which(tool) is None]
    if missing:
        raise ValueError(f"launcher slurm needs {' and '.join(missing)}, not on PATH")
    settings = launch.node_settings(cluster, "slurm")  # its checks before scontrol's
    hosts = allocated_hosts()
    if len(hosts) < max(nodes):
        raise ValueError(
            f"launcher slurm: the allocation has {len(hosts)} node(s), and nodes {nodes} needs "
            f"{max(nodes)}: allocate {max(nodes)} (salloc --nodes {max(nodes)})"
        )
    return {**settings, "hosts": hosts}


def allocated_hosts() -> list[str]:
    """The allocation's nodes, in Slurm's order: ``scontrol show hostnames``
    of its node list."""
    listed = os.environ.get("SLURM_JOB_NODELIST") or os.environ.get("SLURM_NODELIST")
    if not listed:
        raise ValueError(f"{NO_ALLOCATION} (SLURM_JOB_ID is set, SLURM_JOB_NODELIST is not)")
    done = subprocess.run(
        ["scontrol", "show", "hostnames", listed], capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise ValueError(f"launcher slurm: scontrol show hostnames {listed} failed: {said}")
    return done.stdout.split()


def clusters(settings: dict, nodes: int) -> list[dict]:
    """A run over the allocation's first ``nodes`` nodes, meeting at the
    first's port."""
    return [launch.node_fields(settings, nodes, settings["hosts"][0])]


def command(config: RunConfig, results_dir: str | Path, settings: dict) -> list[str]:
    """The srun step of a run: its nodes named, so that task 0, the
    coordinator, is on the first."""
    n = str(config.nodes)
    chdir = ["--chdir", settings["workdir"]] if settings["workdir"] else []
    return [
        "srun", "--nodes", n, "--ntasks", n, "--ntasks-per-node", "1", "--kill-on-bad-exit=1",
        "--nodelist", ",".join(settings["hosts"][: config.nodes]), *chdir,
        *launch.node_command(settings["python"], config, launch.RANK_FROM_ENVIRONMENT,
                             str(Path(results_dir).absolute())),
    ]  # fmt: skip


def run(config: RunConfig, results_dir: str | Path, settings: dict) -> records.RunRecord:
    """Runs ``config`` as one srun step; node 0's record, or LaunchFailed
    saying how srun ended."""
    hosts = settings["hosts"][: config.nodes]
    step = launch.Node(f"srun on {','.join(hosts)}", command(config, results_dir, settings))
    timeout = launch.timeout_of(config)
    timed_out = launch.wait_for([step], timeout)
    if step.run_id:
        return launch.record_of(results_dir, step.run_id, hosts[0])
    why = f"ran past {timeout:.0f} s and was stopped" if timed_out else step.failure()
    raise launch.LaunchFailed(f"launcher slurm: node 0 wrote no record: {step.name} {why}")
