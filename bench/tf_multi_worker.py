"""Does Keras 3's fit train under tf.distribute.MultiWorkerMirroredStrategy?
Two workers on loopback (TF_CONFIG, as TensorFlow's multi-worker tutorial
sets it) fit a two-layer model from a tf.data dataset, three epochs of
eight steps. The answer decides whether ``--nodes`` can serve tensorflow
(keras_profiler/backends/tensorflow.py refuses it while this fails;
keras-team/keras#20585 reports the same).

Writes bench/results/tf-multi-worker.md. Rerun it after upgrading Keras or
TensorFlow.

    python bench/tf_multi_worker.py
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import _tool_runs  # (bench/ is on the path when this file is run)

OUTPUT = Path(__file__).parent / "results" / "tf-multi-worker.md"
WORKERS = 2
TIMEOUT_S = 180
MARK = "MULTI-WORKER "
VERDICT = {
    True: "Every worker trained: `--nodes` could serve tensorflow; lift its refusal.",
    False: "fit did not train on every worker: `--nodes` refuses tensorflow, citing this file.",
}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        _worker(json.loads(sys.argv[2]))
        return
    outcomes = _run_workers()
    _tool_runs.write(OUTPUT, _markdown(outcomes))


def _run_workers() -> list[str]:
    ports = [_free_port() for _ in range(WORKERS)]
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", json.dumps({"cluster": cluster, "index": i})],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
        for i in range(WORKERS)
    ]
    outcomes = []
    for child in children:
        try:
            output, _ = child.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            output = child.communicate()[0] + f"\n{MARK}timed out after {TIMEOUT_S} s"
        outcomes.append(_outcome(output))
    return outcomes


def _outcome(output: str) -> str:
    """The worker's own lines, then the last error line where it did not train."""
    lines = output.splitlines()
    said = [line[len(MARK) :] for line in lines if line.startswith(MARK)]
    if not any(line.startswith("trained") for line in said):
        said.append(_last_error(lines))
    return "; ".join(said)


def _last_error(lines: list[str]) -> str:
    """A traceback's exception line, and its last line where the message
    runs over several (a tensor's repr, as here)."""
    starts = [i for i, line in enumerate(lines) if re.match(r"^[\w.]+(Error|Exception):", line)]
    if not starts:
        return (lines[-1:] or ["no output"])[0][:400]
    first, last = lines[starts[-1]], lines[-1].strip()
    return first[:200] + (f" ... {last[:200]}" if last != first else "")


def _worker(spec: dict) -> None:
    os.environ["TF_CONFIG"] = json.dumps(
        {"cluster": spec["cluster"], "task": {"type": "worker", "index": spec["index"]}}
    )
    import keras
    import numpy as np
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    with strategy.scope():
        keras.utils.set_random_seed(1)
        model = keras.Sequential(
            [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)]
        )
        model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).repeat()
    print(
        f"{MARK}Keras {keras.__version__}, TensorFlow {tf.__version__}: "
        f"{strategy.num_replicas_in_sync} replicas in sync",
        flush=True,
    )
    history = model.fit(data, epochs=3, steps_per_epoch=8, verbose=0)
    losses = ", ".join(f"{loss:.4f}" for loss in history.history["loss"])
    print(f"{MARK}trained; losses by epoch {losses}", flush=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _markdown(outcomes: list[str]) -> str:
    lines = _tool_runs.header("Keras 3 fit under MultiWorkerMirroredStrategy")
    setup = f"{WORKERS} workers on loopback, TF_CONFIG set as TensorFlow's tutorial does."
    lines += ["", setup, ""]
    lines += ["| worker | outcome |", "| --- | --- |"]
    lines += [f"| {i} | {outcome.replace('|', '/')} |" for i, outcome in enumerate(outcomes)]
    trained = all("; trained;" in outcome for outcome in outcomes)
    lines += ["", VERDICT[trained]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
