"""MXNet through keras-mxnet 2.2.4.3, in the environment keras-profiler builds.

The session's mxnet_python fixture builds that environment from scratch with
the tool's own ``setup-mxnet`` command; the runs go through the CLI like the
other backends' and through the very same worker, models/ and datasets/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import fakedata
import pytest
from backend_runs import run_in_mxnet
from test_end_to_end import EASY

from keras_profiler.backends.mxnet import environment as mxnet_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def easy_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("easy")
    return fakedata.write_quadrant_cifar(folder, n_train=2000, n_test=400, seed=3)


def setup_mxnet(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "keras_profiler", "setup-mxnet", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_setup_builds_the_pinned_environment_once(mxnet_python):
    folder = Path(mxnet_python).parent.parent
    found = json.loads((folder / mxnet_env.COMPLETE_MARKER).read_text())
    assert found["mxnet"] == "1.9.1" and found["numpy"] == "1.23.5"
    assert found["distribution"] == "mxnet"  # no GPU here: the CPU build
    assert folder.parent == mxnet_env.cache_root()
    # Built already: the second call finds it and says where.
    again = setup_mxnet()
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().endswith(f"--mxnet-python {mxnet_python}")
    assert "building" not in again.stderr


def test_one_cpu_context_learns(run_cli, easy_data, mxnet_python):
    # No --mxnet-python: the CLI finds the environment the tool built.
    result = run_cli("--backend", "mxnet", *EASY, "--data-dir", str(easy_data))

    assert result.returncode == 0, result.stderr[-3000:]
    record = result.record
    assert record["status"] == "ok", record["error"]
    assert record["config"]["data_format"] == "channels_first"  # MXNet's default
    assert record["model"]["data_format"] == "channels_first"  # as Keras built it
    assert record["environment"]["keras"] == "2.2.4.3"
    assert record["environment"]["libraries"]["mxnet"] == "1.9.1"
    assert record["model"]["parameters"] == 2_842
    assert record["distribution"]["strategy"] == "single"  # one device: a plain fit
    assert all(e["images"] == 62 * 32 for e in record["epochs"])
    assert record["summary"]["test_accuracy"] > 0.9
    assert record["epochs"][-1]["memory"]["host_peak_rss_mib"] > 100


def test_inference_runs_under_keras_2_over_two_contexts(run_cli, mxnet_python, tmp_path):
    result = run_cli("infer", "--backend", "mxnet", "--model", "tiny", "--dataset", "synthetic",
                     "--batch-sizes", "4", "--iterations", "12", "--test-samples", "8",
                     "--gpus", "2")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    record = result.record
    assert (record["status"], record["config"]["mode"]) == ("ok", "infer"), record["error"]
    assert record["environment"]["keras"] == "2.2.4.3"
    assert record["distribution"]["strategy"] == "multi-context"
    figures = record["inference"]
    assert figures["batches"] == 12 and 0 < figures["p50_s"] <= figures["p90_s"]
    # Each measured batch of 2 x 4 split between the two executors, and
    # what they computed is what Keras's predict gives.
    assert figures["batch_size"] == 8 and figures["rows_per_device"] == [4, 4]
    assert figures["max_abs_difference_from_predict"] < 1e-5
    assert "| mxnet | float32 |" in (tmp_path / "reports" / "inference.md").read_text()

    refused = run_cli("infer", "--backend", "mxnet", "--model", "tiny", "--input-on-device")
    assert refused.returncode == 2
    assert "--input-on-device needs Keras 3's convert_to_tensor" in refused.stderr


def test_two_cpu_contexts_learn_with_identical_replicas(run_cli, easy_data, mxnet_python, tmp_path):
    result = run_cli(
        *("--backend", "mxnet", *EASY, "--data-dir", str(easy_data), "--gpus", "2"),
        *("--mxnet-python", mxnet_python),
    )

    assert result.returncode == 0, result.stderr[-3000:]
    record = result.record
    assert record["status"] == "ok", record["error"]
    distribution = record["distribution"]
    assert distribution["devices"] == 2 and distribution["global_batch_size"] == 64
    assert distribution["virtual_devices"] is True
    assert [d["context"] for d in record["devices"]] == ["cpu(0)", "cpu(1)"]
    assert [c["epoch"] for c in distribution["replica_checks"]] == [1, 3]
    assert all(c["max_abs_difference"] == 0.0 for c in distribution["replica_checks"])
    # The kvstore sums the two executors' gradients: halved, they are the mean.
    assert distribution["mxnet_rescale_grad"] == 0.5
    assert all(e["images"] == 31 * 64 for e in record["epochs"])
    assert record["summary"]["test_accuracy"] > 0.9
    page = (tmp_path / "reports" / "tiny.md").read_text()
    assert "### mxnet, multi-context (kvstore), channels_first (Keras 2.2.4.3, mxnet 1.9.1" in page


# One SGD step on the same global batch of 64, on 1 and on 2 CPU contexts,
# through the adapter's own optimizer and compile options.
ONE_STEP = """
import json
import numpy as np
from keras_profiler.backends.mxnet import adapter as mxnet
from keras_profiler.config import RunConfig
from keras_profiler.models import tiny

def update(devices):
    config = RunConfig(backend="mxnet", model="tiny", devices=devices, learning_rate=0.1)
    adapter = mxnet.MxnetBackend()
    adapter.setup(config)
    adapter.set_globals(config)
    model = tiny.build((3, 32, 32), 10)
    model.compile(adapter.optimizer(config), "sparse_categorical_crossentropy",
                  **adapter.compile_options(config))
    before = model.get_weights()
    rng = np.random.RandomState(0)
    x, y = rng.rand(64, 3, 32, 32).astype("float32"), rng.randint(0, 10, 64)
    model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
    return np.concatenate([(a - b).ravel() for a, b in zip(model.get_weights(), before)])

one, two = update(1), update(2)
print(json.dumps({"norm_ratio": float(np.linalg.norm(two) / np.linalg.norm(one)),
                  "max_difference": float(np.abs(two - one).max())}))
"""


def test_two_contexts_take_the_same_step_as_one(mxnet_python):
    # Without the 1/N rescale, keras-mxnet steps twice as far on 2 contexts
    # (norm ratio 2.0, seen here), i.e. a learning rate N times the one asked for.
    out = json.loads(run_in_mxnet(mxnet_python, ONE_STEP).strip().splitlines()[-1])
    assert out["norm_ratio"] == pytest.approx(1.0, abs=1e-4)
    assert out["max_difference"] < 1e-6


def test_the_users_keras_json_is_untouched(run_cli, easy_data, mxnet_python, tmp_path, monkeypatch):
    # run_cli's HOME is tmp_path/home; the user sets no KERAS_HOME, so
    # ~/.keras is the default. A user whose keras.json says jax:
    monkeypatch.delenv("KERAS_HOME")
    user_json = tmp_path / "home" / ".keras" / "keras.json"
    user_json.parent.mkdir(parents=True)
    original = b'{\n    "backend": "jax",\n    "image_data_format": "channels_last"\n}\n'
    user_json.write_bytes(original)
    result = run_cli("--backend", "mxnet", *EASY, "--data-dir", str(easy_data))

    assert result.returncode == 0, result.stderr[-3000:]
    assert user_json.read_bytes() == original
    assert sorted(p.name for p in user_json.parent.iterdir()) == ["keras.json"]
    # keras-mxnet writes a keras.json only where there is none; with no
    # private home it would then leave "backend": "mxnet" for Keras 3 to read.
    user_json.unlink()
    result = run_cli("--backend", "mxnet", *EASY, "--data-dir", str(easy_data), "--no-report")
    assert result.returncode == 0, result.stderr[-3000:]
    assert not user_json.exists()
    # The hazard is real: the same import without a private home writes it.
    importer = tmp_path / "import_keras.py"
    importer.write_text("import keras\n")
    subprocess.run(
        [mxnet_python, str(mxnet_env.BOOTSTRAP), str(importer)],
        env=dict(
            os.environ,
            **mxnet_env.bootstrap_environment(),
            HOME=str(tmp_path / "home"),
            KERAS_BACKEND="mxnet",
        ),
        capture_output=True,
        check=True,
        timeout=300,
    )
    assert json.loads(user_json.read_text())["backend"] == "mxnet"


def test_a_run_with_several_backends_keeps_each_format(run_cli, easy_data, mxnet_python):
    short = ("--epochs", "1", "--train-samples", "256", "--test-samples", "64", "--no-report")
    result = run_cli(
        "--backend", "jax,mxnet", "--model", "tiny", "--data-dir", str(easy_data), *short
    )
    assert result.returncode == 0, result.stderr[-3000:]
    formats = {r["config"]["backend"]: r["model"]["data_format"] for r in result.records}
    assert formats == {"jax": "channels_last", "mxnet": "channels_first"}


def test_channels_last_can_be_asked_for(run_cli, easy_data, mxnet_python):
    short = ("--epochs", "1", "--train-samples", "256", "--test-samples", "64", "--no-report")
    result = run_cli(
        *("--backend", "mxnet", "--model", "tiny", "--data-dir", str(easy_data), *short),
        *("--data-format", "channels_last"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.record["model"]["data_format"] == "channels_last"


def test_missing_mxnet_python_is_a_one_line_error(run_cli, tmp_path):
    result = run_cli("--backend", "mxnet", "--model", "tiny", "--mxnet-python", "/no/python")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "--mxnet-python /no/python: cannot run it" in result.stderr
    assert result.records == []


def test_a_python_without_mxnet_is_a_one_line_error(run_cli):
    result = run_cli("--backend", "mxnet", "--model", "tiny", "--mxnet-python", sys.executable)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"--mxnet-python {sys.executable} cannot run the MXNet worker" in result.stderr
    assert "pip install mxnet==1.9.1 keras-mxnet==2.2.4.3" in result.stderr
    assert result.records == []


def test_an_environment_that_cannot_be_built_is_a_one_line_error(run_cli, tmp_path, monkeypatch):
    # Offline: pip reaches no index. A fresh cache, so a build is attempted.
    cache = tmp_path / "empty-cache"
    monkeypatch.setenv("KERAS_PROFILER_CACHE", str(cache))
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    result = run_cli("--backend", "mxnet", "--model", "tiny", "--dataset", "synthetic")

    assert result.returncode == 2
    lines = [
        line for line in result.stderr.splitlines() if line.startswith("keras-profiler: error")
    ]
    assert len(lines) == 1, result.stderr
    assert "could not build the MXNet environment" in lines[0]
    assert "mxnet==1.9.1" in lines[0]  # pip's own reason: the package it could not find
    assert "--mxnet-python" in lines[0]  # and what to do instead
    assert result.records == []
    # Nothing half-built is left to be mistaken for an environment.
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []


def test_a_base_python_too_new_for_numpy_1_23_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "python3.12"
    fake.write_text("#!/bin/sh\necho 3 12\n")
    fake.chmod(0o755)
    monkeypatch.setenv("KERAS_PROFILER_CACHE", str(tmp_path / "cache"))
    result = setup_mxnet("--python", str(fake))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "is Python 3.12" in result.stderr and "numpy<1.24" in result.stderr


@pytest.mark.parametrize(
    "flags, message",
    [
        (("--precision", "mixed_bfloat16"), "keras-mxnet (Keras 2.2) trains float32"),
        (("--jit-compile", "on"), "--jit-compile on does not apply"),
        (("--strategy", "ddp"), "--strategy ddp does not apply to mxnet"),
    ],
)
def test_settings_mxnet_cannot_take_are_refused(run_cli, flags, message):
    result = run_cli("--backend", "mxnet", "--model", "tiny", *flags)
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert result.records == []


def test_the_cuda_build_matches_the_driver():
    assert mxnet_env.mxnet_distribution(None) == "mxnet"
    assert mxnet_env.mxnet_distribution((12, 4)) == "mxnet-cu117"
    assert mxnet_env.mxnet_distribution((11, 4)) == "mxnet-cu112"
    assert mxnet_env.mxnet_distribution((10, 2)) == "mxnet-cu102"
    assert mxnet_env.mxnet_distribution((9, 2)) == "mxnet"  # too old for any CUDA build
    assert mxnet_env.env_folder("mxnet") != mxnet_env.env_folder("mxnet-cu117")


def test_bootstrap_runs_the_same_files(mxnet_python):
    script = textwrap.dedent(
        """
        import keras_profiler.models, keras_profiler.training.fit, keras_profiler.worker
        print(keras_profiler.models.__file__, keras_profiler.worker.__file__,
              keras_profiler.training.fit.__file__)
        """
    )
    import keras_profiler.models
    import keras_profiler.training.fit
    import keras_profiler.worker

    printed = run_in_mxnet(mxnet_python, script).split()
    assert printed == [
        keras_profiler.models.__file__,
        keras_profiler.worker.__file__,
        keras_profiler.training.fit.__file__,
    ]


# A few SGD steps of a model with a scaled and an unscaled BatchNormalization.
GAMMAS = """
import json
import numpy as np
import keras
from keras_profiler.backends.mxnet import adapter as mxnet
from keras_profiler.config import RunConfig

config = RunConfig(backend="mxnet", model="tiny", learning_rate=0.5)
adapter = mxnet.MxnetBackend()
adapter.setup(config)
adapter.set_globals(config)
inputs = keras.layers.Input((3, 8, 8))
x = keras.layers.Conv2D(4, 3)(inputs)
x = keras.layers.BatchNormalization(axis=1, name="scaled")(x)
x = keras.layers.BatchNormalization(axis=1, scale=False, name="unscaled")(x)
outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x))
model = keras.models.Model(inputs, outputs)
model.compile(adapter.optimizer(config), "sparse_categorical_crossentropy",
              **adapter.compile_options(config))
rng = np.random.RandomState(0)
model.fit(rng.rand(256, 3, 8, 8).astype("float32"), rng.randint(0, 10, 256),
          batch_size=32, epochs=2, verbose=0)
gamma = {name: model.get_layer(name).get_weights()[0].tolist() for name in ("scaled", "unscaled")}
print(json.dumps({"gamma": gamma, "parameters": adapter.parameter_count(model),
                  "keras_count": int(model.count_params())}))
"""


def test_batch_norm_learns_gamma_only_where_it_has_a_scale(mxnet_python):
    # keras-mxnet alone leaves every gamma at exactly 1 (MXNet's fix_gamma
    # default, seen here), so ResNet would train without its BN scales.
    out = json.loads(run_in_mxnet(mxnet_python, GAMMAS).strip().splitlines()[-1])
    assert all(g != 1.0 for g in out["gamma"]["scaled"])
    assert out["gamma"]["unscaled"] == [1.0] * 4  # the stand-in: fixed, not learned
    assert out["keras_count"] - out["parameters"] == 4  # and not counted
