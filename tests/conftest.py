"""Test set-up: a private Keras home, a default backend for in-process tests,
markers that skip by themselves, and a helper that runs the CLI as a user would."""

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

BACKENDS = ["jax", "tensorflow", "torch"]


def pytest_collection_modifyitems(config, items):
    from keras_profiler import gpus

    if gpus.count() == 0:
        skip = pytest.mark.skip(reason="needs an NVIDIA GPU")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


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
