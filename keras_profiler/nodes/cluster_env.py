"""The cluster a launcher describes in the environment: how many nodes,
which one this is, and where they meet, as torchrun / Kubeflow, Slurm and
TensorFlow's TF_CONFIG say it. keras-profiler runs once per node; the
flags (--nodes, --node-rank, --coordinator) say the same and win.

Example:

```python
cluster = detect(os.environ)   # None: one node, or nothing said
if cluster:
    print(cluster.nodes, cluster.node_rank, cluster.coordinator, cluster.source)
```
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

# torch.distributed's default rendezvous port, where the launcher gives none.
DEFAULT_PORT = 29500


@dataclass(frozen=True)
class Cluster:
    nodes: int
    node_rank: int
    coordinator: str  # HOST:PORT of node 0
    source: str  # which launcher's variables said so


def detect(environ: Mapping[str, str]) -> Cluster | None:
    """The cluster of several nodes ``environ`` describes, or None.

    Raises:
        ValueError: the variables are there but do not make a cluster
            (saying which and why).
    """
    for reader in (_tf_config, _slurm, _torchrun):
        cluster = reader(environ)
        if cluster is not None:
            return cluster if cluster.nodes > 1 else None
    return None


def _torchrun(environ) -> Cluster | None:
    # torchrun --nproc-per-node 1 and Kubeflow's PyTorchJob (one pod per
    # node) set these per process: here, per node.
    if "WORLD_SIZE" not in environ or "RANK" not in environ:
        return None
    nodes, rank = _integer(environ, "WORLD_SIZE"), _integer(environ, "RANK")
    host = environ.get("MASTER_ADDR")
    if nodes > 1 and not host:
        raise ValueError("WORLD_SIZE and RANK are set but MASTER_ADDR is not: set it")
    port = environ.get("MASTER_PORT") or DEFAULT_PORT
    return Cluster(nodes, rank, f"{host}:{port}", "torchrun (WORLD_SIZE, RANK, MASTER_ADDR)")


def _slurm(environ) -> Cluster | None:
    # Inside srun with one task per node.
    if "SLURM_PROCID" not in environ or "SLURM_NTASKS" not in environ:
        return None
    nodes, rank = _integer(environ, "SLURM_NTASKS"), _integer(environ, "SLURM_PROCID")
    listed = environ.get("SLURM_STEP_NODELIST") or environ.get("SLURM_NODELIST") or ""
    port = environ.get("MASTER_PORT") or DEFAULT_PORT
    return Cluster(
        nodes, rank, f"{first_host(listed)}:{port}", "Slurm (SLURM_PROCID, SLURM_NTASKS)"
    )


def _tf_config(environ) -> Cluster | None:
    if "TF_CONFIG" not in environ:
        return None
    try:
        config = json.loads(environ["TF_CONFIG"])
        workers = list(config["cluster"]["worker"])
        index = int(config["task"]["index"])
    except (ValueError, KeyError, TypeError):
        raise ValueError(
            'TF_CONFIG is not {"cluster": {"worker": [HOST:PORT, ...]}, "task": {"index": N}}'
        ) from None
    return Cluster(len(workers), index, workers[0], "TF_CONFIG")


def first_host(nodelist: str) -> str:
    """The first host of a Slurm node list: "gpu[03-05,07],cpu1" -> "gpu03"."""
    match = re.match(r"([^,\[]+)(?:\[([^\]]+)\])?", nodelist.strip())
    if not match or not match.group(1):
        raise ValueError(f"cannot read a host from the Slurm node list {nodelist!r}")
    prefix, ranges = match.groups()
    return prefix + (ranges.split(",")[0].split("-")[0] if ranges else "")


def _integer(environ, name: str) -> int:
    try:
        return int(environ[name])
    except ValueError:
        raise ValueError(f"{name}={environ[name]!r} is not a whole number") from None
