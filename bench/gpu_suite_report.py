"""bench/results/gpu-suite.md from the suite.json files gpu_suite.py wrote.

Arithmetic on the measured figures only: a configuration or measurement that
failed, was skipped or was never run says so in its row.

    python bench/gpu_suite_report.py FOLDER [FOLDER ...] [--output bench/results/gpu-suite.md]

Folders are read in order; a later folder's result for a measurement
replaces an earlier one's (a rerun of what a first call left out).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import _tool_runs  # bench/ is on the path when this file is run
import gpu_suite
import harness_settings
import time_to_stable
import timing_fidelity

from keras_profiler.records import RunRecord
from keras_profiler.report.data import speed_columns

RESULTS = Path(__file__).parent / "results" / "gpu-suite.md"
# Published ResNet-50 training throughput on one H100 (PyTorch, fp16,
# large batch): the reference points.
PUBLISHED = (2600.0, 2800.0)
# --until-stable thresholds replayed on each fixed run's intervals (percent).
REPLAY_PERCENTS = (2.0, 1.0)
CALLBACK_TARGET = 0.99
FIDELITY_TARGET_PERCENT = timing_fidelity.TARGET_PERCENT
HARNESS_TARGET = harness_settings.TARGET


def load(folders: list[Path]) -> tuple[gpu_suite.Suite, list[dict], dict]:
    """The last folder's suite settings, every folder's document, and the
    results merged in folder order."""
    documents = [json.loads((folder / "suite.json").read_text()) for folder in folders]
    results = {}
    for document in documents:
        results.update(document["results"])
    fields = documents[-1]["suite"]
    suite = gpu_suite.Suite(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
    )
    return suite, documents, results


def status(result: dict | None) -> str | None:
    """Why a measurement has no figures: None when it has them."""
    if result is None:
        return "not run"
    if "skipped" in result:
        return f"skipped: {result['skipped']}"
    if "error" in result and "record" not in result:
        return f"failed: {result['error']}"
    return None


def markdown(suite: gpu_suite.Suite, documents: list[dict], results: dict) -> str:
    configurations = suite.configurations()
    lines = [
        "# GPU suite: the six benchmarks on one GPU",
        "",
        *(f"{d['machine']} Command: `{d['command']}`" for d in documents),
        f"keras-profiler commit: {suite.commit or 'not given'}.",
        "",
        f"Model `{suite.model}`, synthetic {suite.image_size}x{suite.image_size} images, "
        f"batch {suite.batch_size}, one GPU. The tool: {suite.epochs} epochs x "
        f"{suite.steps_per_epoch} steps, intervals of {suite.sync_every} steps; the loops "
        f"stage: {suite.epochs - 1} timed epochs of {suite.loops_steps_per_epoch} steps per "
        "measurement.",
        "",
    ]
    lines += speed_section(configurations, results)
    lines += fidelity_section(configurations, results)
    lines += stable_section(configurations, results)
    lines += callback_section(configurations, results)
    lines += harness_section(suite, configurations, results)
    return "\n".join(lines) + "\n"


def _tool(results: dict, backend: str, precision: str) -> tuple[dict | None, str | None]:
    result = results.get(gpu_suite.key("tool", backend, precision))
    reason = status(result)
    return (None, reason) if reason else (result["record"], None)


def _number(value, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def speed_section(configurations, results: dict) -> list[str]:
    low, high = PUBLISHED
    lines = _head(
        "Speed, memory, energy and MFU (benchmarks 4, 5, 6)",
        f"Steady images/sec: epochs 2 and later. Published reference for ResNet-50 "
        f"training on one H100: about {low:,.0f} to {high:,.0f} images/sec (PyTorch, fp16, "
        "large batch). Telemetry: NVML, means over the steady epochs. MFU: 6 x forward "
        "multiply-adds per image x images/sec over the device's dense peak for the "
        "precision.",
        [
            *("Keras", "device", "steady images/sec", f"of the published {low:,.0f}-{high:,.0f}"),
            *("intervals: mean +- SE (jitter)", "95% interval", "peak device MiB"),
            *("GPU busy %", "SM MHz", "power W", "max C", "J per epoch", "images per J"),
            *("MFU (peak TFLOP/s)", "first epoch s"),
        ],
    )
    for backend, precision in configurations:
        record, reason = _tool(results, backend, precision)
        if reason:
            lines.append(_missing(lines, backend, precision, reason))
            continue
        row = speed_columns.of(RunRecord.from_dict(record))
        summary = record["summary"]
        rate = summary["steady_images_per_second"]
        memory = summary["peak_memory"]
        device_mib = memory.get("device_peak_mib") or memory.get("nvml_process_mib")
        mfu = row.get("mfu")
        mfu_text = "n/a" if mfu is None else f"{100 * mfu:.1f}% ({row['peak_tflops_per_device']:g})"
        lines.append(
            f"| {backend} | {precision} | {record['environment'].get('keras')} | "
            f"{(record.get('devices') or [{}])[0].get('name')} | **{_number(rate)}** | "
            f"{rate / high:.2f} - {rate / low:.2f} | "
            f"{_number(row['interval_images_per_second'])} +- "
            f"{_number(row['interval_standard_error'])} ({_number(row['interval_jitter'])}) | "
            f"+-{_number(row['interval_ci95_percent'], 2)}% | {_number(device_mib, 0)} | "
            f"{_number(row.get('gpu_utilization_percent'), 0)} | "
            f"{_number(row.get('sm_clock_mhz'), 0)} | {_number(row.get('power_mean_w'), 0)} | "
            f"{_number(row.get('temperature_max_c'), 0)} | "
            f"{_number(row.get('steady_energy_per_epoch_j'), 0)} | "
            f"{_number(row.get('steady_images_per_joule'), 2)} | {mfu_text} | "
            f"{_number(summary['first_epoch_seconds'], 1)} |"
        )
    return [*lines, ""]


def fidelity_section(configurations, results: dict) -> list[str]:
    lines = _head(
        "Timing fidelity (benchmark 2)",
        "Every epoch's images over the seconds the callback timed, against the same images "
        "over the worker's clock around `fit` less the test evaluations. Target: within "
        f"{FIDELITY_TARGET_PERCENT:g}%.",
        [
            *("worker wall s", "set-up s", "fit s", "test evaluations s", "tool images/sec"),
            *("outside images/sec", "difference", "target met"),
        ],
    )
    for backend, precision in configurations:
        record, reason = _tool(results, backend, precision)
        if reason:
            lines.append(_missing(lines, backend, precision, reason))
            continue
        wall = results[gpu_suite.key("tool", backend, precision)]["command_wall"]
        f = timing_fidelity.figures(record, wall)
        met = "yes" if abs(f["difference_percent"]) <= FIDELITY_TARGET_PERCENT else "NO"
        lines.append(
            f"| {backend} | {precision} | {f['worker_wall']:.1f} | {f['setup']:.1f} | "
            f"{record['timeline']['fit_seconds']:.1f} | {f['tests']:.1f} | "
            f"{f['tool_rate']:,.1f} | {f['outside_rate']:,.1f} | "
            f"{f['difference_percent']:+.2f}% | {met} |"
        )
    return [*lines, ""]


def stable_section(configurations, results: dict) -> list[str]:
    percents = " and ".join(f"{p:g}%" for p in REPLAY_PERCENTS)
    lines = _head(
        "Time to a trustworthy figure (benchmark 4)",
        f"The `--until-stable` rule replayed at {percents} on each fixed run's own intervals "
        "(`intervals.first_stable`, the code the option runs): the steps it would have "
        "trained, and whether the fixed run's whole figure lies within the interval it "
        "would have stopped with.",
        [
            "fixed run: steps, images/sec",
            *(
                column
                for p in REPLAY_PERCENTS
                for column in (f"stop at {p:g}%: steps, images/sec", "fixed figure within")
            ),
        ],
    )
    for backend, precision in configurations:
        record, reason = _tool(results, backend, precision)
        if reason:
            lines.append(_missing(lines, backend, precision, reason))
            continue
        # The run's own interval length and global batch: a merged folder's
        # record may come from a call with other settings than the last's.
        config = record["config"]
        batch = config["batch_size"] * config["devices"]
        speed = record["summary"]["interval_speed"] or {}
        whole = speed.get("images_per_second_mean")
        steps = sum(e["steps"] for e in record["epochs"])
        cells = [f"{steps}, {_number(whole)}"]
        for percent in REPLAY_PERCENTS:
            found = time_to_stable.replay(record, config["sync_every"], batch, percent)
            if found is None or whole is None:
                cells += ["never stable", "n/a"]
                continue
            within = abs(whole - found["mean"]) <= found["half_width"]
            cells += [
                f"{found['steps']} ({100 * found['steps'] / steps:.0f}%), "
                f"{found['mean']:,.1f} +-{found['percent']:.2f}%",
                "yes" if within else "NO",
            ]
        lines.append(f"| {backend} | {precision} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _loops(results: dict, backend: str, precision: str) -> tuple[dict, str | None]:
    result = results.get(gpu_suite.key("loops", backend, precision))
    if result is None or "skipped" in result:
        return {}, status(result)
    return result, result.get("error") and f"failed: {result['error']}"


def callback_section(configurations, results: dict) -> list[str]:
    lines = _head(
        "Callback overhead (benchmark 1)",
        "Plain `model.fit` without and with `ProfilerCallback` (the tool's interval length), "
        "alternating, in one process once the train step is compiled; a clock around each "
        "`fit` that waits for the device. Ratio: the median of the pairs'. Target >= "
        f"{CALLBACK_TARGET}.",
        ["pairs (without, with) images/sec", "ratio", "target met"],
    )
    for backend, precision in configurations:
        loops, reason = _loops(results, backend, precision)
        measured = loops.get("pairs")
        if not measured:
            lines.append(_missing(lines, backend, precision, reason or "not measured"))
            continue
        pairs = "; ".join(f"{a:,.1f}, {b:,.1f}" for a, b in measured["pairs"])
        ratio = measured["ratio"]
        met = "yes" if ratio >= CALLBACK_TARGET else "NO"
        lines.append(f"| {backend} | {precision} | {pairs} | {ratio:.4f} | {met} |")
    return [*lines, ""]


def harness_section(suite, configurations, results: dict) -> list[str]:
    lines = _head(
        "Harness efficiency (benchmark 3)",
        "The tool's steady images/sec (stage `tool`) over the best hand-written loop's "
        "(harness_efficiency.py's, in the loops stage's process: batches on the device "
        "before timing, or NumPy batches fed per step); plain `model.fit` beside them, "
        "without the profiler, timed as the tool is (epochs 2 and later, a bare epoch clock "
        f"that waits for the device). Target >= {HARNESS_TARGET}.",
        [
            *("tool", "plain fit", "hand, on device", "hand, NumPy-fed", "tool / best hand"),
            *("plain fit / best hand", "tool / plain fit", "target met"),
            "ms/step: tool, best hand",
        ],
    )
    for backend, precision in configurations:
        record, reason = _tool(results, backend, precision)
        loops, loops_reason = _loops(results, backend, precision)
        tool = record["summary"]["steady_images_per_second"] if record else None
        fit = (loops.get("fit") or {}).get("rate")
        hands = [(loops.get(feed) or {}).get("rate") for feed in harness_settings.FEEDS]
        best = max((h for h in hands if h), default=None)
        ratio = _ratio(tool, best)
        verdict = "n/a" if ratio is None else "yes" if ratio >= HARNESS_TARGET else "NO"
        missing = "; ".join(r for r in (reason, loops_reason) if r)
        lines.append(
            f"| {backend} | {precision} | {_number(tool)} | {_number(fit)} | "
            + " | ".join(_number(h) for h in hands)
            + f" | {_number(ratio, 3)} | {_number(_ratio(fit, best), 3)} | "
            f"{_number(_ratio(tool, fit), 3)} | {verdict}{f' ({missing})' if missing else ''} | "
            f"{_ms(tool, suite.batch_size)}, {_ms(best, suite.batch_size)} |"
        )
    return [*lines, ""]


def _head(title: str, intro: str, columns: list[str]) -> list[str]:
    """A section's heading, its words and its table's head; every table has
    a row per configuration, named by backend and precision."""
    columns = ["backend", "precision", *columns]
    return [
        f"## {title}",
        "",
        intro,
        "",
        "| " + " | ".join(columns) + " |",
        "| --- " * len(columns) + "|",
    ]


def _missing(lines: list[str], backend: str, precision: str, reason: str) -> str:
    """The row of a configuration without figures: why, then empty cells up
    to the width of the table that ``lines`` holds."""
    width = next(line for line in lines if line.startswith("| ---")).count("| ---")
    return "| " + " | ".join([backend, precision, reason] + [""] * (width - 3)) + " |"


def _ratio(a, b) -> float | None:
    return a / b if a and b else None


def _ms(rate, batch: int) -> str:
    return "n/a" if not rate else f"{1e3 * batch / rate:.1f}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", type=Path, nargs="+", help="folders holding suite.json")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    missing = [str(f) for f in args.folders if not (f / "suite.json").is_file()]
    if missing:
        parser.error(
            f"no suite.json in {', '.join(missing)}: give gpu_suite.py run's --out folders"
        )
    _tool_runs.write(args.output, markdown(*load(args.folders)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
