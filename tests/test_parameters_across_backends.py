"""Cross-backend agreement: every model has the same parameter count under
jax, tensorflow and torch (Keras 3) and under mxnet (keras-mxnet 2.2, in its
own environment, channels-first as it runs by default), each counted in its
own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from backend_runs import BACKENDS, run_in_mxnet

# argv[1]: the data format; the same file runs under Keras 3 and Keras 2.2.
# Counted as records count them: by the backend adapter (under mxnet, less
# the stand-in gammas keras-mxnet adds to BatchNormalization(scale=False)).
COUNT = """
import json, sys, keras
from keras_profiler import backends, models
data_format = sys.argv[1]
keras.backend.set_image_data_format(data_format)
sizes = {"inception_v3": 299}
adapter = backends.current()

def count(name):
    side = sizes.get(name, 32)
    shape = (3, side, side) if data_format == "channels_first" else (side, side, 3)
    model = models.load(name).build(shape, 10)
    return [adapter.parameter_count(model), int(model.count_params())]

print(json.dumps({name: count(name) for name in models.available()}))
"""


@pytest.fixture(scope="module")
def counts():
    result = {}
    for backend in BACKENDS:
        env = dict(os.environ, KERAS_BACKEND=backend)
        out = subprocess.run(
            [sys.executable, "-c", COUNT, "channels_last"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        ).stdout
        counted = json.loads(out.strip().splitlines()[-1])
        result[backend] = {name: figures[0] for name, figures in counted.items()}
    return result


@pytest.mark.slow
def test_every_backend_counts_the_same(counts):
    assert counts["jax"] == counts["tensorflow"] == counts["torch"]
    # Independent figures: keras.applications' own counts (test_models.py checks
    # them in-process; here they pin the cross-backend numbers to real values).
    assert counts["jax"]["resnet50"] == 23_608_202
    assert counts["jax"]["inception_v3"] == 21_823_274


@pytest.mark.slow
def test_mxnet_counts_the_same_as_keras_3(counts, mxnet_python):
    out = run_in_mxnet(mxnet_python, COUNT, "channels_first")
    counted = json.loads(out.strip().splitlines()[-1])
    assert {name: figures[0] for name, figures in counted.items()} == counts["jax"]
    assert len(counted) == 6  # every registered model, the largest included
    # Inception-v3's 94 BatchNormalization(scale=False) layers get 17,216
    # stand-in gammas in keras-mxnet (seen here); ResNet's layers have a scale.
    assert counted["inception_v3"][1] - counted["inception_v3"][0] == 17_216
    assert counted["resnet50"][1] == counted["resnet50"][0]
