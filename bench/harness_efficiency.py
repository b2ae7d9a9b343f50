"""Does keras-profiler's steady images/sec match a hand-written training loop?

For each backend, alternating, each in a fresh process (the Keras backend is
fixed at import):

- the tool: ``python -m keras_profiler`` on synthetic data; its record's
  steady-state images/sec (epochs 2 and later). At its default strategy
  (``single`` on one device: a plain ``model.fit``) and, unless
  --no-data-parallel, again at the backend's data-parallel strategy on the
  same one device, to show what that wrapper costs; the default runs' k-step
  interval speed is shown beside them;
- hand-written loops over the same model, built by the tool's own
  ``training.model_builder.build_model`` (same seed, dtype policy,
  optimizer, data format), on the same synthetic images scaled as the tool
  scales them, the same global batch, in the same environment the tool
  gives its worker: jax a ``jax.jit`` stateless step with donated state,
  tensorflow a ``tf.function`` with ``GradientTape`` (the tool's jit
  setting), torch an eager step with ``loss.backward()``. Each runs twice:
  with batches put on the device once before timing (the best case) and
  with NumPy batches fed per step (the host-to-device work ``model.fit``
  from NumPy does). A few untimed warm-up steps, then ``--epochs`` - 1
  timed epochs of ``--steps-per-epoch`` steps, the device waited on at the
  end of each;
- a plain ``model.fit`` of the same model on the same NumPy arrays, without
  the tool (no profiler callback, no progress bar), each epoch timed by a
  bare clock that waits for the device at the epoch's end: what the tool
  times, without the tool, so that the tool's own cost (callback, progress
  bar, worker) is told from Keras ``fit``'s.

The ratio is the tool's median over the best hand-written median; the target
is at least 0.95. Results go to bench/results/harness-efficiency.md with the
machine named and the command that produced them.

This file runs the measurements; harness_settings.py says what they are,
hand_loops.py is the child that runs the hand-written loops and plain fit,
harness_report.py writes the page, child_process.py runs a child.

    python bench/harness_efficiency.py [--backends jax,tensorflow,torch] [--repeats 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _tool_runs  # bench/ is on the path when this file is run
import hand_loops
from child_process import run_child, tail
from harness_report import markdown
from harness_settings import (
    DERIVED,
    FEEDS,
    PLAIN_FIT,
    TORCH_OPTIMIZERS,
    Settings,
    data_parallel_strategy,
    measurements,
)

RESULTS = Path(__file__).parent / "results" / "harness-efficiency.md"


def tool_flags(config, settings: Settings, strategy: str | None) -> list[str]:
    """The tool's flags for one run of ``config``, after ``--backend``:
    --strategy, --image-size and --steps-per-execution only where the
    benchmark sets them, then
    --tool-flags."""
    flags = []
    for flag, value in [
        ("--model", config.model),
        ("--dataset", config.dataset),
        ("--batch-size", config.batch_size),
        ("--epochs", config.epochs),
        ("--steps-per-epoch", config.steps_per_epoch),
        ("--precision", config.precision),
        ("--seed", config.seed),
        ("--train-samples", config.train_samples),
        ("--test-samples", config.test_samples),
        ("--image-size", config.image_size),
        ("--strategy", strategy),
        (
            "--steps-per-execution",
            config.steps_per_execution if config.steps_per_execution > 1 else None,
        ),
    ]:
        if value is not None:
            flags += [flag, str(value)]
    return flags + shlex.split(settings.tool_flags)


def measure_tool(backend: str, settings: Settings, strategy: str | None) -> dict:
    """One tool run in its own process, as a user runs it (``strategy`` None:
    the tool picks its default): steady images/sec from its record."""
    config = settings.run_config(backend, strategy)
    try:
        flags = tool_flags(config, settings, strategy)
        record, _ = _tool_runs.run_tool(backend, flags, timeout=settings.timeout)
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        return {"error": str(error).splitlines()[-1][-300:]}
    interval = record["summary"].get("interval_speed") or {}
    return {
        "rate": record["summary"]["steady_images_per_second"],
        "interval_rate": interval.get("images_per_second_mean"),
        "epoch_rates": [e["images"] / e["seconds"] for e in record["epochs"][1:]],
        "loss": record["summary"]["train_loss"],
        "strategy": record["config"]["strategy"],
        "sync_every": record["config"].get("sync_every"),
        "jit_compile": record["distribution"].get("jit_compile"),
        "keras": record["environment"].get("keras"),
        "libraries": record["environment"].get("libraries", {}),
        "device": (record.get("devices") or [{}])[0].get("name"),
    }


def measure_hand(backend: str, feed: str, settings: Settings) -> dict:
    """One hand-written loop in its own process, in the environment the tool
    gives its worker (KERAS_BACKEND, private KERAS_HOME, thread counts)."""
    from keras_profiler import launcher

    config = settings.run_config(backend)
    with tempfile.TemporaryDirectory(prefix="harness-efficiency-") as scratch:
        path = Path(scratch) / "config.json"
        path.write_text(json.dumps(dataclasses.asdict(settings) | {"run": config.to_dict()}))
        env = launcher.child_environment(config, Path(scratch))
        command = [sys.executable, hand_loops.__file__, feed, str(path)]
        done = run_child(command, env, settings.timeout)
    lines = [line for line in done.stdout.splitlines() if line.startswith(hand_loops.MARK)]
    if done.returncode != 0 or not lines:
        return {"error": f"exit {done.returncode}: {tail(done.stderr)}"}
    return json.loads(lines[-1][len(hand_loops.MARK) :])


def measure_backend(backend: str, settings: Settings) -> dict:
    """``repeats`` rounds of every measurement, the order reversed every
    other round so that a busy machine's drift favours no side."""
    kinds = [kind for kind in measurements(backend, settings) if kind not in DERIVED]
    rounds = []
    for repeat in range(settings.repeats):
        round_ = {}
        for kind in kinds if repeat % 2 == 0 else kinds[::-1]:
            start = time.perf_counter()
            if kind in FEEDS or kind == PLAIN_FIT:
                round_[kind] = measure_hand(backend, kind, settings)
            else:
                wrapped = kind == "tool-data-parallel"
                strategy = data_parallel_strategy(backend) if wrapped else settings.strategy
                round_[kind] = measure_tool(backend, settings, strategy)
            round_[kind]["wall_seconds"] = time.perf_counter() - start
            print(f"{backend} round {repeat + 1} {kind}: {_brief(round_[kind])}", flush=True)
        for kind, (source, key) in DERIVED.items():
            round_[kind] = {"rate": round_[source].get(key)}
        rounds.append(round_)
    return {"rounds": rounds, **summarise(rounds, [*kinds, *DERIVED])}


def _brief(result: dict) -> str:
    if "error" in result:
        return f"FAILED ({result['error']})"
    return f"{result['rate']:.1f} images/sec ({result['wall_seconds']:.0f} s wall)"


def summarise(rounds: list[dict], kinds: list[str]) -> dict:
    """Each measurement's median over the rounds where it succeeded; each tool
    measurement's ratio to the best hand-written median, and per round to
    that round's best hand-written figure (the scatter)."""
    medians = {}
    for kind in kinds:
        rates = [r[kind]["rate"] for r in rounds if r[kind].get("rate")]
        medians[kind] = statistics.median(rates) if rates else None
    hands = [medians[feed] for feed in FEEDS if medians[feed]]
    best = max(hands, default=None)
    ratios, pair_ratios = {}, {}
    for kind in kinds:
        if kind in FEEDS:
            continue
        ratios[kind] = medians[kind] / best if medians[kind] and best else None
        pair_ratios[kind] = [
            r[kind]["rate"] / max(r[f]["rate"] for f in FEEDS if r[f].get("rate"))
            for r in rounds
            if r[kind].get("rate") and any(r[f].get("rate") for f in FEEDS)
        ]
    return {"medians": medians, "best_hand": best, "ratios": ratios, "pair_ratios": pair_ratios}


def parse_args(argv: list[str]) -> tuple[Settings, Path]:
    """Command line to Settings (checked, the tool's own checks included) and
    the output path."""
    defaults = Settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default=",".join(defaults.backends))
    parser.add_argument("--model", default=defaults.model)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--steps-per-epoch", type=int, default=defaults.steps_per_epoch)
    parser.add_argument("--precision", default=defaults.precision)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--repeats", type=int, default=defaults.repeats)
    parser.add_argument("--warmup-steps", type=int, default=defaults.warmup_steps)
    parser.add_argument("--image-size", type=int, help="given to the tool only when set")
    parser.add_argument("--strategy", help="given to the tool only when set (default: its own)")
    parser.add_argument(
        "--data-parallel",
        action=argparse.BooleanOptionalAction,
        default=defaults.data_parallel,
        help="also run the tool at the backend's data-parallel strategy on the one device",
    )
    parser.add_argument(
        "--steps-per-execution",
        type=int,
        default=defaults.steps_per_execution,
        help="steps per call of Keras's train function, for the tool and plain fit",
    )
    parser.add_argument("--tool-flags", default="", help="more flags for every tool run")
    parser.add_argument(
        "--torch-optimizer", choices=TORCH_OPTIMIZERS, default=defaults.torch_optimizer
    )
    parser.add_argument("--timeout", type=float, default=defaults.timeout)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = vars(parser.parse_args(argv))
    output = args.pop("output")
    args["backends"] = tuple(b.strip() for b in args["backends"].split(",") if b.strip())
    try:
        settings = Settings(**args)
        for backend in settings.backends:
            settings.run_config(backend)  # the tool's own checks, before anything runs
    except ValueError as error:
        parser.error(str(error))
    return settings, output


def main(argv: list[str]) -> int:
    settings, output = parse_args(argv)
    start, load = time.perf_counter(), os.getloadavg()
    results = {b: measure_backend(b, settings) for b in settings.backends}
    text = markdown(results, settings, output, time.perf_counter() - start, load)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(text)
    failed = any("error" in r[k] for res in results.values() for r in res["rounds"] for k in r)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
