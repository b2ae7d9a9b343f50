"""Does the inference harness time what a hand-written loop would? Its p50
latency at batch 1 against a timed loop of each backend's own compiled
forward function over the same model, in one process.

The harness (keras_profiler.inference.timing.time_batches over what an
inference run calls, the backend's ``serving``: ``predict_on_batch``, or
under jax Keras's compiled predict function called as its predict loop
does, keras_profiler/inference/serving.py) and the hand loop alternate, ``--rounds`` times each,
so that drift in the machine's speed falls on both; the figure is the
median of each side's per-round p50. The hand loops, as a user of each
backend would write them, each returning the outputs to the host as
``predict_on_batch`` does:

- jax: ``jax.jit`` of the model's ``stateless_call`` (training=False);
- tensorflow: ``tf.function`` of the model's call, jit-compiled as Keras's
  predict step is (``model.jit_compile``);
- torch: the model's call under ``torch.no_grad()`` (eager, as Keras's
  predict step is without ``jit_compile``).

Target (issue 16): within 5% at p50. Writes
bench/results/inference-loop.{md,json}.

    python bench/inference_loop.py [--backends jax,tensorflow,torch]
        [--model resnet18] [--iterations 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import _tool_runs  # (bench/ is on the path when this file is run)

RESULTS = Path(__file__).parent / "results"
MARK = "INFERENCE-LOOP "
WARMUP = 20
TARGET = 0.05


def main() -> None:
    parser = _tool_runs.parser(__doc__, RESULTS / "inference-loop", epochs=1)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)  # the backend, in its own process
    parser.set_defaults(model="resnet18")
    args = parser.parse_args()
    if args.child:
        print(MARK + json.dumps(_measure(args.child, args)), flush=True)
        return
    results = {b: _in_child(b, args) for b in args.backends.split(",")}
    args.output.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    _tool_runs.write(args.output.with_suffix(".md"), _markdown(results, args))


def _in_child(backend: str, args) -> dict:
    """One backend in a fresh process, with the environment the tool's worker gets."""
    from keras_profiler import backends

    config = _config(backend, args)
    env = {**os.environ, **backends.get(backend).child_environment(config, 0, 0)}
    env["KERAS_BACKEND"] = backend
    command = [sys.executable, __file__, "--child", backend, "--model", args.model,
               "--iterations", str(args.iterations), "--rounds", str(args.rounds)]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"inference_loop: {backend} failed: {done.stderr.strip()[-800:]}")
    return json.loads(lines[-1][len(MARK) :])


def _config(backend: str, args):
    from keras_profiler.config import RunConfig

    return RunConfig(backend=backend, model=args.model, dataset="synthetic", batch_size=1,
                     mode="infer", infer_iterations=args.iterations)  # fmt: skip


def _measure(backend: str, args) -> dict:
    """The harness's and the hand loop's p50 at batch 1, round by round."""
    import keras

    from keras_profiler import backends, input_pipeline
    from keras_profiler.inference.helper import _rows
    from keras_profiler.inference.timing import time_batches
    from keras_profiler.training.data import load_data
    from keras_profiler.training.model_builder import build_model

    config = _config(backend, args)
    adapter = backends.get(backend)
    adapter.setup(config)
    data = load_data(config)
    with adapter.scope():
        model, _ = build_model(keras, config, adapter, data)
    adapter.prepare(model, config)
    batch = input_pipeline.as_input(_rows(data.x_test, 1), config.data_format)
    harness, hand = [], []
    for _ in range(args.rounds):
        serve = adapter.serving(model)  # what an inference run times
        try:
            figures = time_batches(lambda s=serve: s(batch), 1, args.iterations)
        finally:
            serve.close()
        harness.append(figures.p50_s)
        # Built after each harness round: Keras's jax predict step replaces
        # (donates) the variables' arrays that the hand loop would hold.
        forward = HAND_FORWARD[backend](model, batch)
        hand.append(_hand_loop(forward, args.iterations))
    same = _same_outputs(forward(), model.predict_on_batch(batch))
    return {
        "model": args.model,
        "keras": keras.__version__,
        "jit_compile": bool(getattr(model, "jit_compile", False)),
        "harness_p50_s": harness,
        "hand_p50_s": hand,
        "outputs_agree": same,
    }


def _hand_loop(forward, iterations: int) -> float:
    for _ in range(WARMUP):
        forward()
    latencies = []
    for _ in range(iterations):
        start = time.perf_counter()
        forward()
        latencies.append(time.perf_counter() - start)
    return statistics.median(latencies)


def _same_outputs(a, b) -> bool:
    import numpy as np

    return bool(np.allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5))


def _jax_forward(model, batch):
    import jax
    import numpy as np

    trainable = [v.value for v in model.trainable_variables]
    frozen = [v.value for v in model.non_trainable_variables]
    call = jax.jit(lambda t, f, x: model.stateless_call(t, f, x, training=False)[0])
    return lambda: np.asarray(call(trainable, frozen, batch))


def _tensorflow_forward(model, batch):
    import tensorflow as tf

    call = tf.function(lambda x: model(x, training=False), jit_compile=bool(model.jit_compile))
    return lambda: call(tf.constant(batch)).numpy()


def _torch_forward(model, batch):
    import keras
    import torch

    def forward():
        with torch.no_grad():
            return keras.ops.convert_to_numpy(model(batch, training=False))

    return forward


HAND_FORWARD = {"jax": _jax_forward, "tensorflow": _tensorflow_forward, "torch": _torch_forward}


def _markdown(results: dict, args) -> str:
    lines = [
        *_tool_runs.header(f"Inference harness against a hand-written loop: {args.model}"),
        "",
        f"Batch 1, {args.iterations} measured batches a round, {args.rounds} rounds each "
        "side, alternating; each figure the median of the rounds' p50. Difference = "
        f"(harness - hand) / hand; target within {TARGET:.0%}. Outputs agree: the hand "
        "loop's outputs equal predict_on_batch's (rtol 1e-4).",
        "",
        "| backend | jit | harness p50 (ms) | hand loop p50 (ms) | difference | outputs agree |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for backend, r in results.items():
        harness = statistics.median(r["harness_p50_s"])
        hand = statistics.median(r["hand_p50_s"])
        lines.append(
            f"| {backend} | {'on' if r['jit_compile'] else 'off'} | {harness * 1e3:.3f} | "
            f"{hand * 1e3:.3f} | {(harness - hand) / hand:+.1%} | {r['outputs_agree']} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
