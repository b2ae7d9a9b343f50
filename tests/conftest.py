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


def pytest_collection_modifyitems(config, items):
    from keras_profiler import gpus

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
