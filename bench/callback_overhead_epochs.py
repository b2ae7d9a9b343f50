"""Does ProfilerCallback slow training? Measured to 1%, epoch against epoch.

Paired whole fits (bench/callback_overhead.py) cannot resolve 1% on a
shared 2-core machine: two fits seconds apart differ by more than that. Here
both sides share one process and one fit, so the compiled step, the data and
the machine's load at that moment: ``EveryOtherEpoch`` passes the hooks on to
a ProfilerCallback in one epoch of each pair and not in the other (which
goes first alternates from pair to pair). Each epoch's time runs from its
begin hook to the next epoch's begin, so that it holds the epoch's
boundary too (Keras's end-of-epoch work, the profiler's epoch end and
memory probes); the hooks are timed apart as well. Per pair: the throughput
ratio, with over without (time without / time with). Reported: the median
ratio with its 95% interval (distribution-free: order statistics of a sign
test), the ratio of total times with a bootstrap 95% interval, and the
profiler's hook seconds per epoch. Results go to
bench/results/callback-overhead.md, above the earlier paired-fit section.

    python bench/callback_overhead_epochs.py [--backends jax,tensorflow,torch] [--pairs 150]
        [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path

import _tool_runs

RESULTS = Path(__file__).parent / "results" / "callback-overhead.md"
EARLIER = "## Earlier measurement"
TARGET = 0.99


def make_toggle(keras, clock):
    """The EveryOtherEpoch callback class, for the Keras imported in the child."""

    class EveryOtherEpoch(keras.callbacks.Callback):
        """Passes every hook on to ``profiler`` in the epochs ``schedule``
        marks True, none in the others; reads the clock at each epoch's
        begin (before any hook work) and at the end of training."""

        # The profiler's batch-end hook is safe on Keras's worker thread; the
        # flag read there changes only at epoch begin, after Keras has waited
        # for every batch end of the epoch before.
        async_safe = True

        def __init__(self, profiler, schedule):
            super().__init__()
            self.profiler, self.schedule = profiler, schedule
            self.starts, self.hook_seconds = [], []
            self._on = False

        def set_model(self, model):
            super().set_model(model)
            self.profiler.set_model(model)

        def set_params(self, params):
            super().set_params(params)
            self.profiler.set_params(params)

        def on_train_begin(self, logs=None):
            self.profiler.on_train_begin(logs)

        def on_epoch_begin(self, epoch, logs=None):
            now = clock()
            self.starts.append(now)
            self._on = self.schedule[epoch]
            if self._on:
                self.profiler.on_epoch_begin(epoch, logs)
                self.hook_seconds.append(clock() - now)

        def on_train_batch_begin(self, batch, logs=None):
            if self._on:
                self.profiler.on_train_batch_begin(batch, logs)

        def on_train_batch_end(self, batch, logs=None):
            if self._on:
                self.profiler.on_train_batch_end(batch, logs)

        def on_epoch_end(self, epoch, logs=None):
            if self._on:
                start = clock()
                self.profiler.on_epoch_end(epoch, logs)
                self.hook_seconds[-1] += clock() - start

        def on_train_end(self, logs=None):
            self.starts.append(clock())
            self.profiler.on_train_end(logs)

    return EveryOtherEpoch


def schedule(pairs: int) -> list[bool]:
    """Epoch 0 (compiles) without; then pairs, with-first and without-first in turn."""
    order = []
    for pair in range(pairs):
        order += [True, False] if pair % 2 == 0 else [False, True]
    return [False, *order]


def child(args) -> dict:
    """One backend's alternating fit, in this process."""
    import time

    import keras
    import numpy as np

    from keras_profiler import ProfilerCallback
    from keras_profiler.models import tiny

    rng = np.random.default_rng(0)
    x = rng.random((args.images, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, args.images)
    keras.utils.set_random_seed(0)
    model = tiny.build((32, 32, 3), 10)
    model.compile(
        keras.optimizers.SGD(0.01, momentum=0.9),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    plan = schedule(args.pairs)
    toggle = make_toggle(keras, time.perf_counter)(
        ProfilerCallback(batch_size=args.batch_size), plan
    )
    load_before = os.getloadavg()[0]
    model.fit(x, y, batch_size=args.batch_size, epochs=len(plan), verbose=0, callbacks=[toggle])
    seconds = [b - a for a, b in zip(toggle.starts, toggle.starts[1:])]
    return {
        "keras": keras.__version__,
        "plan": plan,
        "seconds": seconds,
        "hook_seconds": toggle.hook_seconds,
        "profiled_epochs": len(toggle.profiler.epochs),
        "load": [load_before, os.getloadavg()[0]],
    }


def pair_ratios(plan: list[bool], seconds: list[float]) -> list[tuple[float, float]]:
    """(seconds without, seconds with) for each pair, epoch 0 left out."""
    pairs = []
    for first in range(1, len(plan) - 1, 2):
        a, b = first, first + 1
        with_index, without_index = (a, b) if plan[a] else (b, a)
        pairs.append((seconds[without_index], seconds[with_index]))
    return pairs


def sign_test_interval(values: list[float], level: float = 0.95) -> tuple[float, float]:
    """A distribution-free interval for the median: the order statistics
    x(k) and x(n+1-k), k the largest with P(Binomial(n, 1/2) < k) <= (1-level)/2."""
    ordered, n = sorted(values), len(values)
    tail, k, below = (1 - level) / 2, 0, 0.0
    while below + math.comb(n, k) / 2**n <= tail:
        below += math.comb(n, k) / 2**n
        k += 1
    return ordered[max(k - 1, 0)], ordered[n - max(k, 1)]


def bootstrap_total_ratio(pairs, resamples: int = 4000, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval (percentiles) of total seconds without over with."""
    rng = random.Random(seed)
    ratios = []
    for _ in range(resamples):
        drawn = [pairs[rng.randrange(len(pairs))] for _ in pairs]
        ratios.append(sum(p[0] for p in drawn) / sum(p[1] for p in drawn))
    ratios.sort()
    return ratios[int(0.025 * resamples)], ratios[int(0.975 * resamples) - 1]


def measure(backend: str, args) -> dict:
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    flags = ["--pairs", str(args.pairs), "--images", str(args.images)]
    command = [sys.executable, __file__, "--child", *flags, "--batch-size", str(args.batch_size)]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    pairs = pair_ratios(result["plan"], result["seconds"])
    ratios = [without / with_cb for without, with_cb in pairs]
    result.update(
        pairs=len(pairs),
        median=statistics.median(ratios),
        median_interval=sign_test_interval(ratios),
        total=sum(p[0] for p in pairs) / sum(p[1] for p in pairs),
        total_interval=bootstrap_total_ratio(pairs),
        wins=sum(1 for r in ratios if r >= 1),
        epoch_without=statistics.median(p[0] for p in pairs),
        epoch_with=statistics.median(p[1] for p in pairs),
        hook=statistics.median(result["hook_seconds"]),
    )
    return result


def markdown(results: dict, args) -> str:
    steps = args.images // args.batch_size
    lines = [
        *_tool_runs.header(
            "Callback overhead: ProfilerCallback's hooks on and off, epoch against epoch"
        ),
        f"Each backend: one process, one `model.fit` of model `tiny` on {args.images} random "
        f"32x32 images, batch {args.batch_size} ({steps} steps an epoch), "
        f"{2 * args.pairs + 1} epochs: epoch 1 (compiles) left out, then {args.pairs} pairs "
        "of epochs, one with the ProfilerCallback's hooks and one without (a wrapper, "
        "`EveryOtherEpoch`, passes them on or not; which goes first alternates). An "
        "epoch's time runs from its begin hook to the next epoch's (its boundary included). "
        "Per pair: ratio = time without / time with (throughput with over without). "
        f"Target: ratio >= {TARGET}. The 1-minute load average at the fit's start and end "
        "is in the table (2.0 fills both cores; the benchmark itself adds up to about 1): "
        "both sides of a pair ran seconds apart in the same process, so load that drifts "
        "slower than that cancels in the pair.",
        "",
        "*target met*: 'yes' where the median ratio's whole 95% interval is at or above "
        "0.99, 'NO' where it is all below, 'unresolved' otherwise. "
        "*median ratio*: the pairs' median, its 95% interval from order statistics (sign "
        "test). *total ratio*: all pairs' seconds without over with, 95% bootstrap interval "
        "(4,000 resamples of the pairs). *pairs >= 1*: pairs where the epoch with hooks was "
        "no slower. *hooks*: the profiler's own epoch-begin and epoch-end hooks per epoch "
        "(median), timed inside the wrapper; its batch hooks are inside the epoch time.",
        "",
        "| backend | Keras | pairs | epoch without (ms) | epoch with (ms) | median ratio "
        "| 95% interval | total ratio | 95% interval | pairs >= 1 | hooks (ms) | load "
        "| target met |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for backend, r in results.items():
        low, high = r["median_interval"]
        total_low, total_high = r["total_interval"]
        met = verdict(low, high)
        lines.append(
            f"| {backend} | {r['keras']} | {r['pairs']} | {r['epoch_without'] * 1e3:.1f} "
            f"| {r['epoch_with'] * 1e3:.1f} | {r['median']:.4f} | {low:.4f} - {high:.4f} "
            f"| {r['total']:.4f} | {total_low:.4f} - {total_high:.4f} | {r['wins']} "
            f"| {r['hook'] * 1e3:.2f} | {r['load'][0]:.1f} - {r['load'][1]:.1f} | {met} |"
        )
    return "\n".join(lines) + "\n"


def verdict(low: float, high: float) -> str:
    """Whether the target is met, from the median ratio's 95% interval: 'yes'
    only when all of it is at or above the target, 'NO' when all of it is
    below, else 'unresolved' (the measurement cannot tell)."""
    if low >= TARGET:
        return "yes"
    return "NO" if high < TARGET else "unresolved"


def earlier_section(path: Path) -> str:
    """What the results file held before this measurement: kept below it,
    its title demoted to a section (or the section already kept, on a rerun)."""
    if not path.exists():
        return ""
    text = path.read_text()
    if EARLIER in text:
        return text[text.index(EARLIER) :]
    body = text.split("\n", 1)[1] if text.startswith("# ") else text
    title = text.split("\n", 1)[0].removeprefix("# ")
    return (
        f"{EARLIER} (bench/callback_overhead.py): {title}\n\nPaired whole fits; its spread "
        "shows the run-to-run noise that the measurement above cancels.\n" + body
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="jax,tensorflow,torch")
    parser.add_argument("--pairs", type=int, default=150)
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--json", type=Path, help="also keep the raw figures in this file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return 0
    results = {}
    for backend in args.backends.split(","):
        results[backend] = measure(backend, args)
        if args.json:  # after each backend: a long run keeps what it measured
            args.json.write_text(json.dumps(results))
    earlier = earlier_section(args.output)
    _tool_runs.write(args.output, markdown(results, args) + ("\n" + earlier if earlier else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
