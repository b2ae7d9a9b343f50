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

from keras_profiler import models

# argv[1]: the data format; the same file runs under Keras 3 and Keras 2.2.
# Counted as records count them: by the backend adapter (under mxnet, less
# the stand-in gammas keras-mxnet adds to BatchNormalization(scale=False)).
COUNT = """
import contextlib, json, sys, keras
from keras_profiler import backends, models
data_format = sys.argv[1]
keras.backend.set_image_data_format(data_format)
adapter = backends.current()

def shapes_only():
    # Keras 3: weights left uninitialised (the count reads shapes; under jax,
    # initialising compiles a random initialiser per weight shape). Keras 2.2
    # has no such scope.
    scope = getattr(keras, "StatelessScope", None)
    return scope(initialize_variables=False) if scope else contextlib.nullcontext()

def count(name):
    spec = models.load(name)
    shape = spec.sample_shape(data_format=data_format)
    classes = 30522 if spec.input_kind == "tokens" else 10  # BERT's vocabulary
    with shapes_only():
        model = spec.build(shape, classes)
    figures = [adapter.parameter_count(model), int(model.count_params())]
    keras.backend.clear_session()
    return figures

expressible = [n for n in models.available() if not set(models.needs(n)) & adapter.lacks]
print(json.dumps({name: count(name) for name in expressible}))
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
    assert len(counts["jax"]) == len(models.available())  # Keras 3 expresses them all


@pytest.mark.slow
def test_mxnet_counts_the_same_as_keras_3(counts, mxnet_python):
    out = run_in_mxnet(mxnet_python, COUNT, "channels_first")
    counted = json.loads(out.strip().splitlines()[-1])
    portable = {name: n for name, n in counts["jax"].items() if not models.needs(name)}
    assert {name: figures[0] for name, figures in counted.items()} == portable
    # Every registered model but those needing what Keras 2.2 lacks (grouped
    # convolutions, local response normalisation, attention, layer
    # normalisation): alexnet, caffenet, the three ResNeXts and the two BERTs.
    assert len(counted) == len(models.available()) - 7 == 15
    # Inception-v3's 94 BatchNormalization(scale=False) layers get 17,216
    # stand-in gammas in keras-mxnet (seen here); ResNet's layers have a scale.
    assert counted["inception_v3"][1] - counted["inception_v3"][0] == 17_216
    assert counted["resnet50"][1] == counted["resnet50"][0]
