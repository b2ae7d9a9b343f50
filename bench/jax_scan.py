"""Why does jax slow down at --steps-per-execution N? jax.lax.scan against calls.

With ``steps_per_execution`` N > 1, Keras's jax trainer runs N train steps
in one ``jax.lax.scan`` over a stacked super-batch (keras/src/backend/jax/
trainer.py, ``_build_multi_step_scan``). This times the same train step
(``model.stateless_call``, the compiled SGD's ``stateless_apply``) on the
same batches, already on the device, three ways: N separate calls of the
jitted step; one jitted ``lax.scan`` over N steps, as Keras runs them; and
the same scan with ``unroll=True``. Rounds alternate the order. Results go to
bench/results/jax-scan.md with the machine named.

    python bench/jax_scan.py [--model tiny] [--steps 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ["KERAS_BACKEND"] = "jax"  # before Keras is imported (by _tool_runs too)

import _tool_runs  # noqa: E402  (bench/ is on the path when this file is run)

RESULTS = Path(__file__).parent / "results" / "jax-scan.md"
WAYS = {
    "calls": "N calls of the jitted step",
    "scan": "one jitted `lax.scan` of N steps (as Keras runs them)",
    "unrolled": "the same scan, `unroll=True`",
}


def build(model_name: str, steps: int, batch: int):
    """The train step, the ways to run N of it, the batches and a fresh-state
    maker, for a registered model at 32x32."""
    import jax
    import keras
    import numpy as np

    from keras_profiler import models

    keras.utils.set_random_seed(0)
    model = models.load(model_name).build((32, 32, 3), 10)
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy")
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    loss = keras.losses.SparseCategoricalCrossentropy()

    def loss_and_state(trainable, non_trainable, x, y):
        predicted, non_trainable = model.stateless_call(trainable, non_trainable, x, training=True)
        return loss(y, predicted), non_trainable

    gradients = jax.value_and_grad(loss_and_state, has_aux=True)

    def step(state, batch):
        trainable, non_trainable, slots = state
        (value, non_trainable), grads = gradients(trainable, non_trainable, *batch)
        trainable, slots = optimizer.stateless_apply(slots, grads, trainable)
        return (trainable, non_trainable, slots), value

    rng = np.random.default_rng(0)
    x = jax.device_put(rng.random((steps, batch, 32, 32, 3), dtype=np.float32))
    y = jax.device_put(rng.integers(0, 10, (steps, batch)))
    ways = {
        "calls": jax.jit(step, donate_argnums=0),
        "scan": jax.jit(lambda s, b: jax.lax.scan(step, s, b), donate_argnums=0),
        "unrolled": jax.jit(lambda s, b: jax.lax.scan(step, s, b, unroll=True), donate_argnums=0),
    }

    def fresh():
        groups = (model.trainable_variables, model.non_trainable_variables, optimizer.variables)
        return tuple([jax.numpy.array(v.value) for v in group] for group in groups)

    return ways, (x, y), [(x[i], y[i]) for i in range(steps)], fresh


def time_way(way: str, function, stacked, parts, fresh, calls: int) -> float:
    """Milliseconds a step over ``calls`` executions of N steps, after one
    untimed execution that compiles."""
    import jax

    def execute(state):
        if way == "calls":
            for part in parts:
                state, _ = function(state, part)
            return state
        return function(state, stacked)[0]

    state = jax.block_until_ready(execute(fresh()))
    start = time.perf_counter()
    for _ in range(calls):
        state = execute(state)
    jax.block_until_ready(state)
    return 1e3 * (time.perf_counter() - start) / (calls * len(parts))


def markdown(args, rounds: list[dict], device: str, versions: str) -> str:
    lines = [
        *_tool_runs.header("jax: N train steps as N calls or one lax.scan"),
        "",
        f"Model `{args.model}` at 32x32, batch {args.batch_size}, N = {args.steps} steps, "
        f"batches on the device; {versions}; device {device}. Each figure: ms a step over "
        f"{args.calls} executions of N steps, after one untimed that compiles; rounds "
        "alternate the order.",
        "",
        "| way | "
        + " | ".join(f"round {i + 1} ms/step" for i in range(len(rounds)))
        + " | median ms/step | median / calls |",
        "| --- " * (len(rounds) + 3) + "|",
    ]
    medians = {way: statistics.median(r[way] for r in rounds) for way in WAYS}
    for way, label in WAYS.items():
        cells = [f"{r[way]:.3f}" for r in rounds]
        ratio = medians[way] / medians["calls"]
        lines.append(
            f"| {label} | " + " | ".join(cells) + f" | **{medians[way]:.3f}** | {ratio:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10, help="N, as --steps-per-execution")
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    import jax

    ways, stacked, parts, fresh = build(args.model, args.steps, args.batch_size)
    rounds = []
    for index in range(args.rounds):
        order = list(WAYS) if index % 2 == 0 else list(WAYS)[::-1]
        rounds.append({w: time_way(w, ways[w], stacked, parts, fresh, args.calls) for w in order})
        print(rounds[-1], flush=True)
    versions = f"jax {jax.__version__}, Keras {__import__('keras').__version__}"
    _tool_runs.write(args.output, markdown(args, rounds, jax.devices()[0].device_kind, versions))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
