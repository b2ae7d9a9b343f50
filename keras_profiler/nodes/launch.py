"""A run over several nodes started from one place: the sweep's node
launcher. ``netns`` makes the nodes network namespaces on this machine
(keras_profiler/nodes/netns.py), shaped to the rate the run's
interconnect names, and starts ``python -m keras_profiler.nodes.launch``
in each: one keras-profiler launcher per node, as on real machines. Node 0
writes the record.

Example:

```python
config = RunConfig(backend="torch", model="tiny", nodes=2, **netns_cluster("1gbit"))
record = run_netns(config, "results")
```
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from keras_profiler import records
from keras_profiler.config import RunConfig
from keras_profiler.nodes import netns

LAUNCHERS = ("netns",)
# Node 0's rendezvous port inside the namespaces (the probe takes the next).
PORT = 29600
# Beyond the run's own timeout: starting, joining and the probe.
SLACK_S = 600


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
                                str(rank), str(results_dir), str(run_id)])
            for rank in reversed(range(config.nodes))
        ]  # fmt: skip
        _wait(nodes, (config.timeout_seconds or 0) + SLACK_S)
        if not run_id.exists():
            return None
        path = Path(results_dir) / run_id.read_text() / records.RECORD_FILE
        return records.RunRecord.from_dict(json.loads(path.read_text()))


def _wait(processes: list[subprocess.Popen], timeout: float) -> None:
    """Waits for every node; past ``timeout`` stops them all."""
    try:
        for process in processes:
            process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        for process in processes:
            process.kill()
            process.wait()


def main(argv: list[str]) -> int:
    """One node: ``CONFIG_JSON NODE_RANK RESULTS_DIR RUN_ID_FILE``."""
    from keras_profiler import launcher

    config_path, rank, results_dir, run_id = argv
    given = json.loads(Path(config_path).read_text())
    config = RunConfig.from_dict({**given, "node_rank": int(rank)})
    record = launcher.run(config, results_dir)
    if config.node_rank == 0:
        Path(run_id).write_text(record.run_id)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
