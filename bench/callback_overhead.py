"""Does ProfilerCallback slow training? model.fit with and without it.

For each backend, in a fresh process: one warm-up fit (compilation), then
alternating timed fits without and with the callback, timed by an outside
clock around ``fit``. The throughput ratio (with / without) is the median of
the per-pair ratios; the target is at least 0.99. Results go to
bench/results/callback-overhead.md with the machine named.

    python bench/callback_overhead.py [--backends jax,tensorflow,torch] [--pairs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import _tool_runs

RESULTS = Path(__file__).parent / "results" / "callback-overhead.md"
TARGET = 0.99

# Runs inside one backend's process; prints one JSON line of timings.
MEASURE = """
import json, sys, time
import keras, numpy as np
from keras_profiler import ProfilerCallback
from keras_profiler.models import {model} as definition

images, epochs, batch, pairs = {images}, {epochs}, {batch}, {pairs}
rng = np.random.default_rng(0)
x = rng.random((images, 32, 32, 3), dtype=np.float32)
y = rng.integers(0, 10, images)
keras.utils.set_random_seed(0)
model = definition.build((32, 32, 3), 10)
model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(x, y, batch_size=batch, epochs=1, verbose=0)  # compile and warm up, untimed

def timed(callbacks):
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0, callbacks=callbacks)
    return images * epochs / (time.perf_counter() - start)

rates = []
for pair in range(pairs):
    # Alternate which goes first, so drift over time does not favour one side.
    order = [False, True] if pair % 2 == 0 else [True, False]
    rate = {{with_cb: timed([ProfilerCallback(batch_size=batch)] if with_cb else [])
            for with_cb in order}}
    rates.append([rate[False], rate[True]])

# The callback's own cost per epoch, timed directly: its hooks for one epoch
# (a batch-begin and a batch-end call per step, a device sync and a clock
# reading every k steps, the epoch end's sync and memory probes) on the trained model, many
# times. Immune to the machine's run-to-run noise, which the paired fits are not.
callback = ProfilerCallback(batch_size=batch)
callback.set_model(model)
callback.set_params({{"steps": images // batch, "epochs": 1}})
callback.on_train_begin()
calls = 200
start = time.perf_counter()
for epoch in range(calls):
    callback.on_epoch_begin(epoch)
    for step in range(images // batch):
        callback.on_batch_begin(step)
        callback.on_batch_end(step)
    callback.on_epoch_end(epoch, {{"loss": 1.0, "accuracy": 0.5}})
hook_seconds = (time.perf_counter() - start) / calls
epoch_seconds = images / np.median([r[0] for r in rates])
print(json.dumps({{"rates": rates, "keras": keras.__version__, "hook_seconds": hook_seconds,
                  "epoch_seconds": epoch_seconds}}))
"""


def measure(backend: str, args) -> dict:
    code = MEASURE.format(
        model=args.model,
        images=args.images,
        epochs=args.epochs,
        batch=args.batch_size,
        pairs=args.pairs,
    )
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    ratios = [with_cb / without for without, with_cb in result["rates"]]
    result.update(
        ratio=statistics.median(ratios),
        ratio_min=min(ratios),
        ratio_max=max(ratios),
        without=statistics.median(r[0] for r in result["rates"]),
        with_cb=statistics.median(r[1] for r in result["rates"]),
        implied=result["epoch_seconds"] / (result["epoch_seconds"] + result["hook_seconds"]),
    )
    return result


def markdown(results: dict, args) -> str:
    lines = [
        *_tool_runs.header("Callback overhead: model.fit with and without ProfilerCallback"),
        f"Each pair: two timed fits of {args.epochs} epochs x {args.images} synthetic 32x32 "
        f"images, batch {args.batch_size}, model `{args.model}`, after an untimed warm-up fit; "
        "the side that goes first alternates. Target: ratio >= 0.99.",
        "",
        "Two figures: the measured ratio of paired fits (median, with its spread, which "
        "shows the machine's run-to-run noise), and the callback's own cost per epoch "
        "(its hooks for one epoch timed directly, 200 times: a batch-begin and a batch-end "
        "call per step, a device sync and clock reading every 10 steps, the epoch end's "
        "sync and memory probes) with the ratio it implies for an epoch of this length: "
        "epoch / (epoch + hook cost).",
        "",
        "| backend | Keras | pairs | images/sec without | images/sec with | ratio (median) "
        "| ratio min - max | epoch (ms) | hook cost per epoch (ms) | implied ratio "
        "| target met (implied) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for backend, r in results.items():
        lines.append(
            f"| {backend} | {r['keras']} | {len(r['rates'])} | {r['without']:.1f} | "
            f"{r['with_cb']:.1f} | {r['ratio']:.4f} | {r['ratio_min']:.4f} - "
            f"{r['ratio_max']:.4f} | {r['epoch_seconds'] * 1e3:.1f} | "
            f"{r['hook_seconds'] * 1e3:.3f} | {r['implied']:.5f} | "
            f"{'yes' if r['implied'] >= TARGET else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="jax,tensorflow,torch")
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    results = {b: measure(b, args) for b in args.backends.split(",")}
    text = markdown(results, args)
    _tool_runs.write(args.output, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
