"""How soon is a speed figure trustworthy? --until-stable against a fixed run.

For each backend, two keras-profiler runs on the same configuration:

- fixed length: ``--epochs`` x ``--steps-per-epoch`` steps; its steady speed
  from k-step intervals, mean +- standard error, jitter and 95% interval;
- ``--until-stable PCT``: the same, stopped as soon as the 95% interval's
  half-width is under PCT percent of the mean.

Reported: the steps and wall time each took, and whether the fixed run's
figure lies within the stable run's interval (and the reverse): a stable
figure is only worth having early if the long run agrees with it.

    python bench/time_to_stable.py [--backends jax,tensorflow,torch] [--percent 2]
"""

from __future__ import annotations

import sys
from pathlib import Path

import _tool_runs

RESULTS = Path(__file__).parent / "results" / "time-to-stable.md"


def measure(backend: str, args) -> dict:
    flags = [
        *("--model", args.model, "--dataset", "synthetic", "--batch-size", str(args.batch_size)),
        *("--epochs", str(args.epochs), "--steps-per-epoch", str(args.steps_per_epoch)),
        *("--sync-every", str(args.sync_every)),
    ]
    fixed, fixed_wall = _tool_runs.run_tool(backend, flags)
    stable, stable_wall = _tool_runs.run_tool(backend, [*flags, "--until-stable", args.percent])
    return {
        "keras": fixed["environment"]["keras"],
        "fixed": _figures(fixed, fixed_wall),
        "stable": _figures(stable, stable_wall),
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


def _within(value: float, run: dict) -> bool:
    return abs(value - run["mean"]) <= run["half_width"]


def markdown(results: dict, args) -> str:
    lines = [
        *_tool_runs.header(
            "Time to a trustworthy figure: --until-stable against a fixed-length run"
        ),
        f"Each backend: model `{args.model}`, synthetic data, batch {args.batch_size}, "
        f"intervals of {args.sync_every} steps; the fixed run trains {args.epochs} epochs x "
        f"{args.steps_per_epoch} steps, the other stops once its 95% interval is within "
        f"{args.percent}% (at most as long). Images/sec from k-step intervals: mean +- "
        "standard error (jitter = 1.4826 x median absolute deviation), 95% interval.",
        "",
        "| backend | Keras | run | steps | wall (s) | images/sec | jitter | 95% interval "
        "| intervals | epochs 2+ images/sec |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    verdicts = []
    for backend, r in results.items():
        for name in ("fixed", "stable"):
            f = r[name]
            label = "fixed length" if name == "fixed" else f"until stable ({args.percent}%)"
            if name == "stable" and not f["stopped"]:
                label += ", never stable"
            epochs_rate = f"{f['epochs_rate']:.1f}" if f["epochs_rate"] else "n/a (1 epoch)"
            lines.append(
                f"| {backend} | {r['keras']} | {label} | {f['steps']} | {f['wall']:.1f} | "
                f"{f['mean']:.1f} +- {f['error']:.1f} | {f['jitter']:.1f} | "
                f"+-{f['percent']:.2f}% | {f['intervals']} | {epochs_rate} |"
            )
        fixed, stable = r["fixed"], r["stable"]
        verdicts.append(
            f"* {backend}: the stable run took {stable['steps']} steps against "
            f"{fixed['steps']} ({100 * stable['steps'] / fixed['steps']:.0f}%), "
            f"{stable['wall']:.1f} s against {fixed['wall']:.1f} s of wall time; the fixed "
            f"run's {fixed['mean']:.1f} is "
            f"{'within' if _within(fixed['mean'], stable) else 'OUTSIDE'} the stable run's "
            f"interval, whose {stable['mean']:.1f} is "
            f"{'within' if _within(stable['mean'], fixed) else 'OUTSIDE'} the fixed run's."
        )
    return "\n".join([*lines, "", *verdicts]) + "\n"


def main() -> int:
    parser = _tool_runs.parser(__doc__, RESULTS, epochs=5)
    parser.add_argument("--sync-every", type=int, default=10)
    parser.add_argument("--percent", default="2")
    _tool_runs.measure_each(parser.parse_args(), measure, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
