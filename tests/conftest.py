"""Test set-up: a private Keras home, a default backend for in-process tests,
markers that skip by themselves, the MXNet environment, and a fixture that
runs the CLI as a user would. Helpers that tests import are modules of their
own (backend_runs.py, fakedata.py): a conftest is not imported by name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# Before anything imports Keras: in-process tests use one backend and never
# read or write the user's ~/.keras.
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ["KERAS_HOME"] = tempfile.mkdtemp(prefix="keras-profiler-tests-")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# The MXNet environment is built from scratch once per test session (the
# mxnet_python fixture), never taken from the user's cache.
os.environ["KERAS_PROFILER_CACHE"] = tempfile.mkdtemp(prefix="keras-profiler-cache-")


# Modules whose tests make network namespaces: they share the nodes' names
# (kp-node-*), so one such module runs at a time on this machine, whichever
# pytest-xdist worker (setup.cfg: two, each taking whole files) or session it
# is in. A file lock held for the module, around its module-scoped nodes: as
# xdist's own --dist loadgroup does not group under pytest 9.2 (it renames
# item._nodeid, which pytest 9 no longer reads).
NETNS_MODULES = {"test_multi_node", "test_netns", "test_node_faults", "test_node_launchers"}
NETNS_LOCK = Path(tempfile.gettempdir()) / "keras-profiler-tests-netns.lock"


@pytest.fixture(scope="module", autouse=True)
def one_netns_module_at_a_time(request):
    if request.module.__name__ not in NETNS_MODULES:
        yield
        return
    import fcntl

    with open(NETNS_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


# The files that take longest, first: the two workers take whole files in
# collection order (setup.cfg: --no-loadscope-reorder, else xdist sends the
# files with most tests first), so a long file started last would end the
# run alone on one worker while the other waits (longest first is the
# classic schedule). The netns files apart, as they wait for each other.
LONGEST_FIRST = (
    "test_zoo_training", "test_presets", "test_sweep_end_to_end", "test_multi_node",
    "test_end_to_end", "test_bert_end_to_end", "test_multi_device", "test_node_faults",
)  # fmt: skip


def pytest_collection_modifyitems(config, items):
    from keras_profiler import gpus

    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    # A stable sort: each file keeps its own order, the rest theirs.
    items.sort(key=lambda item: rank.get(item.module.__name__, len(rank)))
    if gpus.count() == 0:
        skip = pytest.mark.skip(reason="needs an NVIDIA GPU")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def mxnet_python() -> str:
    """The MXNet environment's interpreter, built by the tool's own setup
    command from its pinned requirements, once per session."""
    completed = subprocess.run(
        [sys.executable, "-m", "keras_profiler", "setup-mxnet"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout.strip().rpartition("--mxnet-python ")[2]


class CliResult:
    """What one CLI call did: exit status, output, and the records it left."""

    def __init__(self, completed: subprocess.CompletedProcess, results_dir: Path):
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.records = [
            json.loads(p.read_text()) for p in sorted(results_dir.glob("*/record.json"))
        ]

    @property
    def record(self) -> dict:
        assert len(self.records) == 1, (self.records, self.stderr[-3000:])
        return self.records[0]


@pytest.fixture
def run_cli(tmp_path):
    """Runs ``python -m keras_profiler ARGS`` in a subprocess with a private HOME."""

    def run(*args: str, timeout: float = 600) -> CliResult:
        results = tmp_path / "results"
        env = dict(os.environ, HOME=str(tmp_path / "home"))
        env.pop("KERAS_BACKEND", None)
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "keras_profiler",
                *args,
                "--results-dir",
                str(results),
                "--reports-dir",
                str(tmp_path / "reports"),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            cwd=tmp_path,
        )
        return CliResult(completed, results)

    return run
