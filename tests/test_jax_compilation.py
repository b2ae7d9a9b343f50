"""jax under keras.distribution compiles its train step in the first epoch only,
so the steady state (epochs 2 and later) measures training, not compilation."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Each test trains in a fresh jax process.
pytestmark = pytest.mark.slow

SCRIPT = """
import logging, sys
import jax
import keras
import numpy as np
from keras_profiler.backends import get
from keras_profiler.config import RunConfig

jax.config.update("jax_log_compiles", True)
epoch = [0]
compiled = []

class Log(logging.Handler):
    def emit(self, record):
        if "Finished XLA compilation of jit(train_step)" in record.getMessage():
            compiled.append(epoch[0])

logging.getLogger("jax").addHandler(Log())
logging.getLogger("jax").setLevel(logging.WARNING)

class Epochs(keras.callbacks.Callback):
    def on_epoch_begin(self, index, logs=None):
        epoch[0] = index + 1

config = RunConfig(backend="jax", model="tiny", dataset="synthetic", strategy=sys.argv[1])
adapter = get("jax")
adapter.setup(config)
inputs = keras.Input((8, 8, 3))
outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
model = keras.Model(inputs, outputs)
model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
if sys.argv[2] == "prepared":
    adapter.prepare(model, config)
x = np.random.rand(64, 8, 8, 3).astype("float32")
y = np.random.randint(0, 10, 64)
model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[Epochs()])
print(sorted(set(compiled)))
"""


def _epochs_that_compiled(strategy: str, prepared: str) -> str:
    env = dict(os.environ, KERAS_BACKEND="jax")
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, strategy, prepared],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout.strip().splitlines()[-1]


def test_data_parallel_compiles_in_the_first_epoch_only():
    assert _epochs_that_compiled("data-parallel", "prepared") == "[1]"


def test_without_the_adapter_keras_compiles_again_in_epoch_two():
    # The control: what the adapter's prepare() prevents, so the test above can fail.
    assert _epochs_that_compiled("data-parallel", "bare") == "[1, 2]"
