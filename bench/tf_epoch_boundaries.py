"""Where does TensorFlow's fit lose time at epoch boundaries?

A Keras user's fit of a small conv net (batch 64, 60 steps an epoch) under
tensorflow, each variant in a fresh process, every hook timed
(``_epoch_timeline``): per epoch the epoch clock against the batch clock of
keras-benchmarks (batch 1's begin to batch N-2's end), and the spans between
them: the epoch's lead (epoch begin to batch 0's begin), batch 0 and batch
N-1, the tail, the boundary to the next epoch, garbage collections. The
variants isolate the causes: ProfilerCallback or not, gc disabled, shuffle
off, a cached tf.data.Dataset instead of NumPy arrays, tf.data's autotuning
off, and the previous epoch's iterator released inside a timed probe. A last
part times tf.data iterators' destruction alone, against their lifetime,
with autotuning on and off. Results go to
bench/results/tf-epoch-boundaries.md with the machine named.

    python bench/tf_epoch_boundaries.py [--epochs 8] [--variants numpy,dataset,...]
        [--json FILE] [--reuse FILE]
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

import _tool_runs

RESULTS = Path(__file__).parent / "results" / "tf-epoch-boundaries.md"
BATCH, STEPS = 64, 60
# A lead longer than this is a stall: a steady step here takes a few
# hundredths of a second.
STALL_SECONDS = 0.1
VARIANTS = {
    "numpy": "NumPy arrays, shuffle=True (fit's defaults)",
    "numpy+profiler": "the same with ProfilerCallback",
    "numpy gc off": "NumPy, Python's garbage collector disabled during fit",
    "numpy shuffle off": "NumPy, shuffle=False",
    "numpy release probed": "NumPy; the previous epoch's iterator released inside a timed probe",
    "dataset": "tf.data.Dataset.from_tensor_slices(...).batch(64).cache().prefetch(AUTOTUNE)",
    "dataset+profiler": "the same with ProfilerCallback",
    "dataset autotune off": "the same dataset with tf.data.Options().autotune.enabled = False",
    "dataset autotune off+profiler": "the same with ProfilerCallback",
    "dataset repeat": "the same dataset .repeat()ed, fit(steps_per_epoch=60): one iterator",
}
LIFETIMES = (0.7, 1.0, 1.2, 1.4, 2.0, 2.4, 2.8, 3.2)


def small_conv_net(keras):
    """A small conv net such as a user writes first (about 0.3 M parameters)."""
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(32, 3, activation="relu")(inputs)
    x = keras.layers.Conv2D(32, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(64, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(128, activation="relu")(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def release_previous_iterator() -> float | None:
    """Seconds spent releasing fit's previous-epoch tf.data iterator.

    fit's loop variable ``iterator`` holds the last epoch's iterator until the
    loop rebinds it at the next epoch's first batch. Reading a frame's
    ``f_locals`` (Python before 3.13) stores a snapshot of its variables on the
    frame, which then also holds that iterator; the next read refreshes the
    snapshot and drops it. Read at every first batch, the release (the
    iterator's destruction) so happens inside this call, where it is timed.
    """
    frame = sys._getframe()
    while frame is not None and not (
        frame.f_code.co_name == "fit" and "iterator" in frame.f_code.co_varnames
    ):
        frame = frame.f_back
    if frame is None or sys.version_info >= (3, 13):
        return None
    start = time.perf_counter()
    frame.f_locals  # noqa: B018 (the read is the release)
    return time.perf_counter() - start


def child(variant: str, epochs: int) -> dict:
    """One variant's fit, in this process (KERAS_BACKEND=tensorflow)."""
    import gc

    import keras
    import numpy as np
    import tensorflow as tf
    from _epoch_timeline import GcTimer, Timeline, epoch_figures

    from keras_profiler import ProfilerCallback

    rng = np.random.default_rng(0)
    x = rng.random((BATCH * STEPS, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, BATCH * STEPS)
    keras.utils.set_random_seed(0)
    model = small_conv_net(keras)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    probe = release_previous_iterator if "release probed" in variant else None
    timeline = Timeline(on_first_batch=probe)
    callbacks = [timeline]
    if "profiler" in variant:
        callbacks.append(ProfilerCallback(batch_size=BATCH))
    data = {"x": x, "y": y, "batch_size": BATCH, "shuffle": "shuffle off" not in variant}
    if variant.startswith("dataset"):
        dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH).cache()
        if "repeat" in variant:  # Keras then keeps one iterator for every epoch
            dataset = dataset.repeat()
        dataset = dataset.prefetch(tf.data.AUTOTUNE)
        if "autotune off" in variant:
            options = tf.data.Options()
            options.autotune.enabled = False
            dataset = dataset.with_options(options)
        data = {"x": dataset, "steps_per_epoch": STEPS if "repeat" in variant else None}
    load_before = os.getloadavg()[0]
    with GcTimer() as collections:
        if "gc off" in variant:
            gc.collect()
            gc.disable()
        model.fit(**data, epochs=epochs, verbose=0, callbacks=callbacks)
        gc.enable()
    return {
        "variant": variant,
        "epochs": epoch_figures(timeline, collections.collections, BATCH),
        "load": [load_before, os.getloadavg()[0]],
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__},
    }


def iterator_lifetimes(autotune: bool) -> list[dict]:
    """Keras's own tf.data pipeline for NumPy arrays (shuffled, as fit builds
    it), iterated for 60 batches spread over a given lifetime, then deleted:
    how long the deletion takes, and the process CPU time it used (idle
    waiting uses none)."""
    import numpy as np
    import tensorflow as tf
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    rng = np.random.default_rng(0)
    x = rng.random((BATCH * STEPS, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, BATCH * STEPS)
    dataset = ArrayDataAdapter(x, y, batch_size=BATCH, shuffle=True).get_tf_dataset()
    if not autotune:
        options = tf.data.Options()
        options.autotune.enabled = False
        dataset = dataset.with_options(options)
    rows = []
    for lifetime in LIFETIMES:
        iterator = iter(dataset)
        start = time.perf_counter()
        for _ in range(STEPS):
            next(iterator)
            time.sleep(lifetime / STEPS)
        lived = time.perf_counter() - start
        cpu, wall = time.process_time(), time.perf_counter()
        del iterator
        rows.append(
            {
                "lived": lived,
                "delete_seconds": time.perf_counter() - wall,
                "delete_cpu": time.process_time() - cpu,
            }
        )
    return rows


def run_child(arguments: list[str]) -> dict:
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, __file__, *arguments]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def steady(figures: list[dict]) -> list[dict]:
    """Epochs 2+ (the first compiles)."""
    return figures[1:]


def summary_row(result: dict) -> str:
    epochs = steady(result["epochs"])
    leads = [e["lead"] for e in epochs]
    lost = [e["lost_seconds"] for e in epochs]
    stalls = sum(1 for lead in leads if lead > STALL_SECONDS)
    probes = [e["probe"] for e in epochs if e["probe"] is not None]
    probe = f"{sum(probes):.2f} (max {max(probes):.2f})" if probes else "-"
    ratios = [e["ratio"] for e in epochs]
    edges = sum(e["tail"] + e["first"] + e["last"] for e in epochs)
    return (
        f"| {result['variant']} | {len(epochs)} | {statistics.mean(ratios):.3f} "
        f"| {min(ratios):.3f} | {sum(lost):.2f} | {sum(leads):.2f} "
        f"| {stalls} | {max(leads):.2f} | {edges:.2f} "
        f"| {sum(e['boundary'] or 0 for e in epochs):.2f} "
        f"| {sum(e['gc_seconds'] for e in epochs):.3f} ({sum(e['gc_full'] for e in epochs)}) "
        f"| {probe} | {result['load'][0]:.1f} - {result['load'][1]:.1f} |"
    )


def lifetime_rows(rows_on: list[dict], rows_off: list[dict]) -> list[str]:
    lines = [
        "| lifetime (s) | autotune on: deletion (s) | its CPU (s) "
        "| autotune off: deletion (s) | its CPU (s) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for on, off in zip(rows_on, rows_off):
        lines.append(
            f"| {on['lived']:.2f} | {on['delete_seconds']:.3f} | {on['delete_cpu']:.3f} "
            f"| {off['delete_seconds']:.3f} | {off['delete_cpu']:.3f} |"
        )
    return lines


def findings(results: list[dict], lifetimes: dict) -> list[str]:
    """The run's figures that answer the question, as sentences."""
    by_name = {r["variant"]: steady(r["epochs"]) for r in results}

    def total(name, key):
        return sum(e[key] or 0 for e in by_name[name])

    def stalls(name):
        return sum(1 for e in by_name[name] if e["lead"] > STALL_SECONDS)

    lines = []
    stalled = [n for n in by_name if stalls(n)]
    if stalled:
        lead = sum(total(n, "lead") for n in stalled)
        lost = sum(total(n, "lost_seconds") for n in stalled)
        lines.append(
            f"- In the variants that stalled ({', '.join(stalled)}), the leads hold "
            f"{lead:.2f} s of the {lost:.2f} s the epoch clock lost against the batch clock."
        )
    lines.append(
        "- Stalls per variant (of its epochs 2+): "
        + ", ".join(f"{n} {stalls(n)}/{len(e)}" for n, e in by_name.items())
        + "."
    )
    for plain in ("numpy", "dataset", "dataset autotune off"):
        profiled = f"{plain}+profiler"
        if plain in by_name and profiled in by_name:
            lines.append(
                f"- {plain}: lost {total(plain, 'lost_seconds') / len(by_name[plain]):.3f} s an "
                f"epoch without ProfilerCallback, "
                f"{total(profiled, 'lost_seconds') / len(by_name[profiled]):.3f} s with it."
            )
    if "numpy release probed" in by_name:
        probes = [e["probe"] or 0 for e in by_name["numpy release probed"]]
        lines.append(
            f"- Releasing the previous epoch's iterator, timed apart: {sum(probes):.2f} s in "
            f"all, at most {max(probes):.2f} s; that variant's leads: "
            f"{total('numpy release probed', 'lead'):.2f} s."
        )
    worst_on = max(lifetimes["on"], key=lambda r: r["delete_seconds"])
    worst_off = max(lifetimes["off"], key=lambda r: r["delete_seconds"])
    lines.append(
        f"- An iterator deleted alone: at most {worst_on['delete_seconds']:.3f} s with "
        f"autotuning on ({worst_on['delete_cpu']:.3f} s of CPU), "
        f"{worst_off['delete_seconds']:.3f} s with it off."
    )
    return lines


def markdown(results: list[dict], lifetimes: dict, args) -> str:
    versions = results[0]["versions"]
    lines = [
        *_tool_runs.header("TensorFlow epoch boundaries: where the epoch clock loses time"),
        f"Keras {versions['keras']}, TensorFlow {versions['tensorflow']}. Each variant: a "
        f"fresh process, a small conv net (`small_conv_net`: 3 conv layers, 2 dense), "
        f"{BATCH * STEPS} random 32x32 images, batch {BATCH}, {STEPS} steps an epoch, "
        f"{args.epochs} epochs, adam; figures over epochs 2-{args.epochs} (epoch 1 compiles). "
        "The machine's 2 cores were shared with other work while this ran: the 1-minute "
        "load average at each variant's start and end is in the last column (2.0 fills both "
        "cores).",
        "",
        "*ratio* = images/sec by the epoch clock (epoch begin to end) over images/sec by the "
        "batch clock (batch 1's begin to batch N-2's end). *lost* = epoch clock minus the "
        "batch clock's time for N steps. *lead* = epoch begin to batch 0's begin (fit "
        f"starting the epoch's data); a *stall* is a lead over {STALL_SECONDS:g} s. "
        "*edges* = batch 0 + batch N-1 + batch N-1's end to epoch end. *boundary* = epoch "
        "end to the next epoch's begin. *gc* = seconds in garbage collection (full "
        "collections). *probe* = seconds releasing the previous epoch's iterator, timed "
        "apart (`release_previous_iterator`), only in that variant.",
        "",
        "| variant | epochs | mean ratio | lowest ratio | lost (s) | lead (s) | stalls "
        "| longest lead (s) | edges (s) | boundary (s) | gc (s) | probe (s) | load |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *(summary_row(r) for r in results),
        "",
        "How the variants tell the causes apart: were garbage collection the cause, "
        "*numpy gc off* would not stall; were it shuffling, *numpy shuffle off* would not; "
        "were it Keras's NumPy pipeline, *dataset* would not. *numpy release probed* moves "
        "the release of the previous epoch's iterator (fit's loop variable, dropped when the "
        "next epoch's first batch rebinds it) out of the lead into a timed probe: if the "
        "stalls move with it, that release is the cause. *dataset autotune off* turns "
        "tf.data's autotuning off; *dataset repeat* keeps one iterator for the whole fit, "
        "so that none is released at a boundary. The *+profiler* variants add "
        "ProfilerCallback to the variant before them.",
        "",
        *findings(results, lifetimes),
        "",
        "Each epoch's lead and lost seconds (epochs 2+):",
        "",
    ]
    for r in results:
        epochs = steady(r["epochs"])
        leads = ", ".join(f"{e['lead']:.2f}" for e in epochs)
        lost = ", ".join(f"{e['lost_seconds']:.2f}" for e in epochs)
        lines.append(f"- {r['variant']} ({VARIANTS[r['variant']]}): lead {leads}; lost {lost}")
    lines += [
        "",
        "## tf.data iterator deletion against the iterator's lifetime",
        "",
        "Keras's pipeline for NumPy arrays (`ArrayDataAdapter.get_tf_dataset()`, shuffled), "
        f"{STEPS} batches drawn over the lifetime given (sleeping between them, so the CPU "
        "is free), then the iterator deleted; the seconds and the process CPU seconds the "
        "deletion took.",
        "",
        *lifetime_rows(lifetimes["on"], lifetimes["off"]),
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--json", type=Path, help="also keep the raw figures in this file")
    parser.add_argument(
        "--reuse", type=Path, help="a --json file of an earlier run: its variants are not rerun"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--lifetimes", choices=["on", "off"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.epochs)))
        return 0
    if args.lifetimes:
        print(json.dumps(iterator_lifetimes(args.lifetimes == "on")))
        return 0
    earlier = json.loads(args.reuse.read_text()) if args.reuse else {"variants": []}
    done = {r["variant"]: r for r in earlier["variants"]}
    results = [
        done.get(v) or run_child(["--child", v, "--epochs", str(args.epochs)])
        for v in args.variants.split(",")
    ]
    lifetimes = earlier.get("lifetimes") or {
        mode: run_child(["--lifetimes", mode]) for mode in ("on", "off")
    }
    if args.json:
        args.json.write_text(json.dumps({"variants": results, "lifetimes": lifetimes}))
    _tool_runs.write(args.output, markdown(results, lifetimes, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
