"""What tests that run under several Keras backends share: the backends of
this interpreter, and a way to run a script in the MXNet environment.

Example:

```python
from backend_runs import BACKENDS, run_in_mxnet

@pytest.mark.parametrize("backend", BACKENDS)
def test_something(backend): ...

def test_under_mxnet(mxnet_python):  # the fixture in conftest.py
    out = run_in_mxnet(mxnet_python, "import keras; print(keras.__version__)")
```
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BACKENDS = ["jax", "tensorflow", "torch"]  # Keras 3's, in this interpreter


def run_in_mxnet(python: str, script: str, *args: str, timeout: float = 600) -> str:
    """Runs a Python ``script`` (source text) in the MXNet environment through
    the worker's bootstrap, with a private Keras home; returns its stdout."""
    from keras_profiler.backends.mxnet import environment as mxnet_env

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "script.py"
        path.write_text(script)
        env = dict(
            os.environ,
            **mxnet_env.bootstrap_environment(),
            KERAS_BACKEND="mxnet",
            KERAS_HOME=str(Path(folder) / "keras_home"),
        )
        completed = subprocess.run(
            [python, str(mxnet_env.BOOTSTRAP), str(path), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def tool_env(home, **extra) -> dict:
    """The environment of a ``python -m keras_profiler`` a test starts: its
    own HOME, no KERAS_BACKEND from the caller."""
    env = dict(os.environ, HOME=str(home), **extra)
    env.pop("KERAS_BACKEND", None)
    return env


def tool(*arguments: str, home) -> subprocess.CompletedProcess:
    """``python -m keras_profiler ARGUMENTS`` to its end, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "keras_profiler", *arguments],
        capture_output=True, text=True, env=tool_env(home), timeout=600,
    )  # fmt: skip


def start_tool(*arguments: str, home, namespace: str | None = None, **env) -> subprocess.Popen:
    """``python -m keras_profiler ARGUMENTS`` started, inside network
    namespace ``namespace`` where given; stdout and stderr together."""
    inside = ["ip", "netns", "exec", namespace] if namespace else []
    return subprocess.Popen(
        [*inside, sys.executable, "-m", "keras_profiler", *arguments],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=tool_env(home, **env),
    )  # fmt: skip


def records_in(folder) -> list[dict]:
    """The records under a results folder, in run-id order."""
    return [json.loads(p.read_text()) for p in sorted(Path(folder).glob("*/record.json"))]
