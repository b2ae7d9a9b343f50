"""Seeding: every generator a run draws from, each time alike, and TensorFlow
imported only by the runs that feed tf.data (under jax and torch the import
would only add set-up time and host memory that the run's peak would count)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from backend_runs import BACKENDS

SEED_TWICE = """
import json, random, sys
import keras, numpy as np
from keras_profiler import backends
from keras_profiler.config import RunConfig

adapter = backends.get("{backend}")
config = RunConfig(backend="{backend}", model="tiny", dataset="synthetic")
draws = []
for _ in range(2):
    adapter.set_globals(config)
    weights = keras.initializers.GlorotUniform()((2, 3))  # Keras's global seed
    draws.append([keras.ops.convert_to_numpy(weights).tolist(), random.random(),
                  float(np.random.rand())])
print(json.dumps({{"tensorflow": "tensorflow" in sys.modules, "draws": draws}}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_generator_is_seeded_and_tensorflow_only_where_it_feeds(backend):
    env = dict(os.environ, KERAS_BACKEND=backend)
    done = subprocess.run(
        [sys.executable, "-c", SEED_TWICE.format(backend=backend)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    first, second = found["draws"]
    assert first == second
    assert len({first[1], first[2]}) == 2 and 0 < first[1] < 1
    assert found["tensorflow"] is (backend == "tensorflow")


def test_a_weights_digest_tells_seeds_apart():
    import keras

    from keras_profiler.models import tiny
    from keras_profiler.training.description import weights_sha256

    def digest(seed: int) -> str:
        keras.utils.set_random_seed(seed)
        return weights_sha256(tiny.build((32, 32, 3), 10).get_weights())

    assert digest(1337) == digest(1337) != digest(7)
