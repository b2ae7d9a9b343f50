"""Are the tool's images/sec right? Compared with an outside clock.

For each backend, keras-profiler runs as a user runs it. Its figure, the
images it trained over the seconds its callback timed (every epoch, the
first included), is compared with the same images over the time an outside
clock saw training take: the worker's clock around the whole ``model.fit``
call (independent of the callback), minus the test evaluations (timed apart
by the callback and left out of the tool's figure on purpose). The worker's
wall time as the launcher saw it (process start to exit) is split into
set-up (process start to ``fit``, measured by the worker), ``fit``, and what
came after (result written, process exit), so that nothing is unaccounted
for. Target: the two rates within 2%. What is left between them, ``fit``'s
own work outside any epoch and the callbacks after the clock stops, is what
the tool does not count as training.

    python bench/timing_fidelity.py [--backends jax,tensorflow,torch] [--steps-per-epoch 400]
"""

from __future__ import annotations

import sys
from pathlib import Path

import _tool_runs

RESULTS = Path(__file__).parent / "results" / "timing-fidelity.md"
TARGET_PERCENT = 2.0


def measure(backend: str, args) -> dict:
    flags = [
        *("--model", args.model, "--dataset", "synthetic", "--batch-size", str(args.batch_size)),
        *("--epochs", str(args.epochs), "--steps-per-epoch", str(args.steps_per_epoch)),
    ]
    record, command_wall = _tool_runs.run_tool(backend, flags)
    return figures(record, command_wall)


def figures(record: dict, command_wall: float) -> dict:
    """One run's rate by the callback's clock and by the worker's clock
    around ``fit``, and where the rest of its wall time went."""
    epochs = record["epochs"]
    images = sum(e["images"] for e in epochs)
    timed = sum(e["seconds"] for e in epochs)
    tests = sum(e["test_seconds"] or 0 for e in epochs)
    timeline = record["timeline"]
    worker_wall = record["wall_seconds"]
    after_fit = worker_wall - timeline["setup_seconds"] - timeline["fit_seconds"]
    outside = timeline["fit_seconds"] - tests
    tool_rate, outside_rate = images / timed, images / outside
    return {
        "keras": record["environment"]["keras"],
        "images": images,
        "command_wall": command_wall,
        "worker_wall": worker_wall,
        "setup": timeline["setup_seconds"],
        "after_fit": after_fit,
        "tests": tests,
        "timed": timed,
        "outside": outside,
        "tool_rate": tool_rate,
        "outside_rate": outside_rate,
        "difference_percent": 100 * (tool_rate - outside_rate) / outside_rate,
        "steady": record["summary"]["steady_images_per_second"],
    }


def markdown(results: dict, args) -> str:
    lines = [
        *_tool_runs.header("Timing fidelity: the tool's images/sec against an outside clock"),
        f"Each backend: one `python -m keras_profiler` run, model `{args.model}`, synthetic "
        f"data, batch {args.batch_size}, {args.epochs} epochs x {args.steps_per_epoch} steps. "
        f"Target: the two rates within {TARGET_PERCENT:g}%.",
        "",
        "*Outside* = the worker's clock around the whole `model.fit` call, minus the test "
        "evaluations (timed apart by the callback and left out of the tool's figure). "
        "*Tool* = the seconds the callback timed, every epoch (the first, compiling one "
        "included, as the outside clock includes it). Both rates are all images trained "
        "over those seconds. The worker's wall time (launcher: process start to exit) = "
        "set-up (worker: process start to `fit`) + `fit` + after `fit` (result written, "
        "process exit). The difference is `fit`'s own work outside any epoch (its set-up "
        "before the first epoch, callbacks after the clock stops).",
        "",
        "| backend | Keras | images | worker wall (s) | set-up (s) | after fit (s) "
        "| test evaluations (s) | outside (s) | tool (s) | outside images/sec "
        "| tool images/sec | difference | target met | tool steady images/sec (epochs 2+) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for backend, r in results.items():
        met = "yes" if abs(r["difference_percent"]) <= TARGET_PERCENT else "NO"
        lines.append(
            f"| {backend} | {r['keras']} | {r['images']} | {r['worker_wall']:.2f} | "
            f"{r['setup']:.2f} | {r['after_fit']:.2f} | {r['tests']:.2f} | "
            f"{r['outside']:.3f} | {r['timed']:.3f} | {r['outside_rate']:.1f} | "
            f"{r['tool_rate']:.1f} | {r['difference_percent']:+.2f}% | {met} | "
            f"{r['steady']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    _tool_runs.measure_each(
        _tool_runs.parser(__doc__, RESULTS, epochs=4).parse_args(), measure, markdown
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
