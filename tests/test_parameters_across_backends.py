"""Cross-backend agreement: every model has the same parameter count under
jax, tensorflow and torch (each counted in its own process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import BACKENDS

COUNT = """
import json, keras
from keras_profiler import models
sizes = {"inception_v3": 299}
print(json.dumps({name: models.load(name).build((sizes.get(name, 32),) * 2 + (3,), 10)
                  .count_params() for name in models.available()}))
"""


@pytest.fixture(scope="module")
def counts():
    result = {}
    for backend in BACKENDS:
        env = dict(os.environ, KERAS_BACKEND=backend)
        out = subprocess.run(
            [sys.executable, "-c", COUNT],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        ).stdout
        result[backend] = json.loads(out.strip().splitlines()[-1])
    return result


def test_every_backend_counts_the_same(counts):
    assert counts["jax"] == counts["tensorflow"] == counts["torch"]
    # Independent figures: keras.applications' own counts (test_models.py checks
    # them in-process; here they pin the cross-backend numbers to real values).
    assert counts["jax"]["resnet50"] == 23_608_202
    assert counts["jax"]["inception_v3"] == 21_823_274
