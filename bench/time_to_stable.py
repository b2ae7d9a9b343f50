"""How soon is a speed figure trustworthy? --until-stable against fixed runs.

For each backend, three keras-profiler runs on the same configuration:

- two fixed-length runs, A and B: ``--epochs`` x ``--steps-per-epoch`` steps;
  each one's steady speed from k-step intervals, mean +- standard error,
  jitter and 95% interval (batch means); A against B is the run-to-run
  difference no single run's interval can see;
- ``--until-stable PCT``: the same, stopped as soon as the 95% interval's
  half-width is under PCT percent of the mean.

Reported: the steps and wall time each took; whether the fixed run's figure
lies within the stable run's interval (and the reverse); and, free of
run-to-run differences, the stopping rule replayed on run A's own intervals:
where it would have stopped, and whether A's whole-run figure lies within
the interval it would have stopped with.

    python bench/time_to_stable.py [--backends jax,tensorflow,torch] [--percent 2]
"""

from __future__ import annotations

import sys
from pathlib import Path

import _tool_runs

from keras_profiler import intervals

RESULTS = Path(__file__).parent / "results" / "time-to-stable.md"


def measure(backend: str, args) -> dict:
    flags = [
        *("--model", args.model, "--dataset", "synthetic", "--batch-size", str(args.batch_size)),
        *("--epochs", str(args.epochs), "--steps-per-epoch", str(args.steps_per_epoch)),
        *("--sync-every", str(args.sync_every)),
    ]
    fixed, fixed_wall = _tool_runs.run_tool(backend, flags)
    stable, stable_wall = _tool_runs.run_tool(backend, [*flags, "--until-stable", args.percent])
    again, again_wall = _tool_runs.run_tool(backend, flags)
    return {
        "keras": fixed["environment"]["keras"],
        "fixed": _figures(fixed, fixed_wall),
        "stable": _figures(stable, stable_wall),
        "again": _figures(again, again_wall),
        "replay": replay(fixed, args.sync_every, args.batch_size, float(args.percent)),
    }


def replay(record: dict, k: int, batch: int, percent: float) -> dict | None:
    """The --until-stable rule applied to a finished run's intervals
    (``intervals.first_stable``): the steps it would have trained and the
    figure it would have stopped with; None if never."""
    epochs = [(e["interval_seconds"], e["interval_steps"]) for e in record["epochs"]]
    found = intervals.first_stable(epochs, k, batch, percent)
    if found is None:
        return None
    steps, speed = found
    return {
        "steps": steps,
        "mean": speed.images_per_second_mean,
        "half_width": speed.ci95_half_width,
        "percent": speed.ci95_half_width_percent,
        "intervals": speed.intervals,
    }


def _figures(record: dict, wall: float) -> dict:
    speed = record["summary"]["interval_speed"]
    return {
        "steps": sum(e["steps"] for e in record["epochs"]),
        "wall": wall,
        "stopped": record["summary"]["stopped_when_stable"],
        "mean": speed["images_per_second_mean"],
        "error": speed["standard_error"],
        "jitter": speed["jitter"],
        "half_width": speed["ci95_half_width"],
        "percent": speed["ci95_half_width_percent"],
        "intervals": speed["intervals"],
        "epochs_rate": record["summary"]["steady_images_per_second"],
    }


def markdown(results: dict, args) -> str:
    lines = [
        *_tool_runs.header(
            "Time to a trustworthy figure: --until-stable against fixed-length runs"
        ),
        f"Each backend: model `{args.model}`, synthetic data, batch {args.batch_size}, "
        f"intervals of {args.sync_every} steps; fixed runs A and B train {args.epochs} epochs "
        f"x {args.steps_per_epoch} steps, the stable run stops once its 95% interval is within "
        f"{args.percent}% (at most as long), in the order A, stable, B. Images/sec from "
        "k-step intervals: mean +- standard error (jitter = 1.4826 x median absolute "
        "deviation), 95% interval from batch means.",
        "",
        "| backend | Keras | run | steps | wall (s) | images/sec | jitter | 95% interval "
        "| intervals | epochs 2+ images/sec |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for backend, r in results.items():
        for name in ("fixed", "stable", "again"):
            lines.append(_row(backend, r["keras"], _label(name, r[name], args), r[name]))
    verdicts = [_verdict(backend, r) for backend, r in results.items()]
    return "\n".join([*lines, "", *verdicts]) + "\n"


def _label(name: str, run: dict, args) -> str:
    if name != "stable":
        return "fixed length, A" if name == "fixed" else "fixed length, B"
    label = f"until stable ({args.percent}%)"
    return label if run["stopped"] else label + ", never stable"


def _row(backend: str, keras: str, label: str, f: dict) -> str:
    epochs_rate = f"{f['epochs_rate']:.1f}" if f["epochs_rate"] else "n/a (1 epoch)"
    return (
        f"| {backend} | {keras} | {label} | {f['steps']} | {f['wall']:.1f} | "
        f"{f['mean']:.1f} +- {f['error']:.1f} | {f['jitter']:.1f} | "
        f"+-{f['percent']:.2f}% | {f['intervals']} | {epochs_rate} |"
    )


def _verdict(backend: str, r: dict) -> str:
    fixed, stable, again, replayed = r["fixed"], r["stable"], r["again"], r["replay"]
    text = (
        f"* {backend}: the stable run took {stable['steps']} steps against "
        f"{fixed['steps']} ({100 * stable['steps'] / fixed['steps']:.0f}%), "
        f"{stable['wall']:.1f} s against {fixed['wall']:.1f} s of wall time; A's "
        f"{fixed['mean']:.1f} is {_where(fixed['mean'], stable)} the stable run's interval, "
        f"whose {stable['mean']:.1f} is {_where(stable['mean'], fixed)} A's. "
        f"Run to run, B's {again['mean']:.1f} is {_percent(again['mean'], fixed['mean'])} "
        f"from A's and {_where(again['mean'], fixed)} A's interval. "
    )
    if replayed is None:
        return text + "Replayed on A's own intervals, the rule never stops."
    return text + (
        f"Replayed on A's own intervals, the rule stops after {replayed['steps']} steps "
        f"({replayed['intervals']} intervals) at {replayed['mean']:.1f} "
        f"+-{replayed['percent']:.2f}%, {_percent(replayed['mean'], fixed['mean'])} from A's "
        f"whole-run figure, which is {_where(fixed['mean'], replayed)} that interval."
    )


def _where(value: float, run: dict) -> str:
    return "within" if abs(value - run["mean"]) <= run["half_width"] else "OUTSIDE"


def _percent(value: float, reference: float) -> str:
    return f"{100 * (value - reference) / reference:+.2f}%"


def main() -> int:
    parser = _tool_runs.parser(__doc__, RESULTS, epochs=5)
    parser.add_argument("--sync-every", type=int, default=10)
    parser.add_argument("--percent", default="2")
    _tool_runs.measure_each(parser.parse_args(), measure, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
