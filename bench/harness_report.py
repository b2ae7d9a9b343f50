"""The harness-efficiency page: per backend, every measurement's rounds and
medians, each tool figure's ratio to the best hand-written loop against the
target, and what the difference is in milliseconds a step.

Example:

```python
text = markdown(results, settings, output, elapsed_seconds, os.getloadavg())
```
"""

from __future__ import annotations

import os
from pathlib import Path

import _tool_runs  # bench/ is on the path when a benchmark is run
from harness_settings import (
    FEEDS,
    PLAIN_FIT,
    TARGET,
    Settings,
    data_parallel_strategy,
    measurements,
)


def _number(value, digits: int = 1, missing: str = "failed") -> str:
    return missing if value is None else f"{value:.{digits}f}"


def _missing(rounds: list[dict], kind: str) -> str:
    """What an absent figure of ``kind`` is: 'failed' where a run failed,
    'n/a' where the runs gave none (the tool's interval speed without
    steady intervals)."""
    return "failed" if any("error" in r[kind] for r in rounds) else "n/a"


def _step_ms(rate, batch: int) -> float | None:
    return None if not rate else 1e3 * batch / rate


def _ratio(a, b) -> float | None:
    return a / b if a and b else None


def backend_section(backend: str, result: dict, settings: Settings) -> list[str]:
    """One backend's versions, a table (a row per measurement, a column per
    round) and the verdict for each tool measurement."""
    rounds, medians = result["rounds"], result["medians"]
    kinds = measurements(backend, settings)
    tool = next((r["tool"] for r in rounds if r["tool"].get("rate")), {})
    hand = next((r[f] for r in rounds for f in FEEDS if r[f].get("rate")), {})
    versions = ", ".join(f"{k} {v}" for k, v in (tool.get("libraries") or {}).items() if v)
    lines = [
        f"## {backend}",
        "",
        f"Keras {tool.get('keras') or hand.get('keras')}, {versions}; device: "
        f"{tool.get('device') or hand.get('device')}. Tool: jit_compile "
        f"{tool.get('jit_compile')}, waits for the device every {tool.get('sync_every')} "
        f"steps (--sync-every). Hand-written: {hand.get('how', '?')}.",
        "",
        "| measurement | "
        + " | ".join(f"round {i} img/s" for i in range(1, len(rounds) + 1))
        + " | median img/s | ms/step | median / plain fit | median / device-resident "
        "| median / NumPy-fed |",
        "| --- " * (len(rounds) + 6) + "|",
    ]
    for kind, label in kinds.items():
        cells = [_number(r[kind].get("rate"), missing=_missing([r], kind)) for r in rounds]
        missing = _missing(rounds, kind)
        cells += [
            f"**{_number(medians[kind], missing=missing)}**",
            _number(_step_ms(medians[kind], settings.batch_size), 2, missing),
        ]
        cells += [
            _number(_ratio(medians[kind], medians[f]), 3, missing) for f in [PLAIN_FIT, *FEEDS]
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    for kind in kinds:
        if kind in FEEDS:
            continue
        ratio = result["ratios"][kind]
        met = ratio is not None and ratio >= TARGET
        pairs = result["pair_ratios"][kind]
        spread = f" (per round {min(pairs):.3f} - {max(pairs):.3f})" if pairs else ""
        verdict = "(Keras's own fit, not the tool: no target)"
        if kind != PLAIN_FIT:
            verdict = f"target >= {TARGET} **{'met' if met else 'NOT met'}**"
        if ratio is None and _missing(rounds, kind) == "n/a":
            verdict = "no figure: the runs had no steady intervals (more steps an epoch)"
        lines.append(
            f"- {kinds[kind]}: ratio to the best hand-written median "
            f"**{_number(ratio, 3, _missing(rounds, kind))}**{spread}; {verdict}."
        )
    own = _ratio(medians["tool"], medians[PLAIN_FIT])
    if own is not None:
        lines.append(
            f"- The harness's own cost: the tool's median over plain `model.fit`'s "
            f"**{own:.3f}**; target >= {TARGET} **{'met' if own >= TARGET else 'NOT met'}**."
        )
    losses = [r[f]["mean_loss"] for r in rounds for f in FEEDS if "mean_loss" in r[f]]
    if tool.get("loss") is not None and losses:
        lines.append(
            f"- Training loss, a check that both trained: the tool's last epoch "
            f"{tool['loss']:.3f}; the hand loops' mean over their steps "
            f"{min(losses):.3f} - {max(losses):.3f}."
        )
    errors = [f"{k}: {r[k]['error']}" for r in rounds for k in r if "error" in r[k]]
    return lines + [f"- failed: {e}" for e in errors] + [""]


def difference_paragraph(results: dict, settings: Settings) -> list[str]:
    """What the medians say about the gap, backend by backend, in time per
    step: the per-step NumPy feed, each epoch's start-up and end, the tool's
    strategy, and what remains. Arithmetic on the table's medians only."""
    lines = ["## What the difference is", ""]
    for backend, result in results.items():
        ms = {k: _step_ms(m, settings.batch_size) for k, m in result["medians"].items()}
        if None in (ms["tool"], ms["device"], ms["numpy"]):
            lines.append(f"- {backend}: a measurement failed; no comparison.")
            continue
        text = (
            f"- {backend}: a step takes {ms['tool']:.2f} ms in the tool, {ms['device']:.2f} ms "
            f"in the hand loop with batches already on the device and {ms['numpy']:.2f} ms "
            f"with NumPy batches fed per step (the feed: {_longer(ms['numpy'] - ms['device'])}). "
            f"The tool's step is {_longer(ms['tool'] - ms['numpy'])} than the NumPy-fed hand "
            f"loop's ({100 * (ms['tool'] / ms['numpy'] - 1):+.1f}%)."
        )
        if ms.get("tool-interval"):
            text += (
                f" Its k-step interval speed, which leaves out each epoch's start-up and last "
                f"interval, gives {ms['tool-interval']:.2f} ms a step, "
                f"{_longer(ms['tool-interval'] - ms['numpy'])} than the NumPy-fed hand loop's."
            )
        if ms.get(PLAIN_FIT):
            text += (
                f" A plain `model.fit` of the same model and data, without the tool, takes "
                f"{ms[PLAIN_FIT]:.2f} ms a step: the tool's step is "
                f"{_longer(ms['tool'] - ms[PLAIN_FIT])} (the harness's own cost, tool / plain "
                f"fit {ms[PLAIN_FIT] / ms['tool']:.3f}), and plain fit's is "
                f"{_longer(ms[PLAIN_FIT] - ms['numpy'])} than the NumPy-fed hand loop's "
                "(Keras `fit`'s own per-step work, which every `fit` user pays)."
            )
        if ms.get("tool-data-parallel"):
            text += (
                f" At `--strategy {data_parallel_strategy(backend)}` on the same device the "
                f"tool's step takes {ms['tool-data-parallel']:.2f} ms: the data-parallel "
                f"wrapper makes it {_longer(ms['tool-data-parallel'] - ms['tool'])}."
            )
        lines.append(text + _within_spread(result["pair_ratios"]["tool"]))
    return lines + [""]


def _longer(milliseconds: float) -> str:
    """'0.42 ms longer' or '0.42 ms shorter'."""
    return f"{abs(milliseconds):.2f} ms {'longer' if milliseconds >= 0 else 'shorter'}"


def _within_spread(pairs: list[float]) -> str:
    """Whether the rounds' scatter leaves the comparison open."""
    if len(pairs) < 2:
        return " One round only: no measure of the run-to-run scatter."
    if min(pairs) <= 1.0 <= max(pairs):
        return " The per-round ratios straddle 1.0: the gap is within the run-to-run scatter."
    return ""


def markdown(results: dict, settings: Settings, output: Path, elapsed: float, load) -> str:
    """The whole report: machine (and how busy it was: ``load``, the load
    averages at the start), command, method, a section per backend."""
    lines = [
        "# Harness efficiency: keras-profiler against a hand-written training loop",
        "",
        _tool_runs.machine_line(),
        f"Command: `{settings.command(output)}` ({elapsed / 60:.1f} min; 1-minute load "
        f"average {load[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end).",
        "",
        f"Model `{settings.model}`, synthetic images"
        + (f" at {settings.image_size}x{settings.image_size}" if settings.image_size else "")
        + f", batch {settings.batch_size}, {settings.precision}, seed {settings.seed}; "
        f"{settings.epochs} epochs of {settings.steps_per_epoch} steps"
        + (
            f", {settings.steps_per_execution} steps per call of Keras's train function in the "
            "tool and plain `model.fit` (the hand loops: one step per call)"
            if settings.steps_per_execution > 1
            else ""
        )
        + ". The tool's figure "
        "is its record's steady state (epochs 2 and later) from `python -m keras_profiler "
        "--dataset synthetic` with the same settings. Each hand-written loop, in a fresh "
        "process with the tool worker's environment, builds the model with the tool's own "
        f"code, runs {settings.warmup_steps} untimed warm-up steps, then times "
        f"{settings.epochs - 1} epochs of {settings.steps_per_epoch} steps over the same "
        "images (no reshuffling), waiting on the device at the end of each. Rounds reverse "
        "the order of the measurements every other round. Ratio: a tool median over the best "
        f"hand-written median; target >= {TARGET}.",
        "",
    ]
    for backend, result in results.items():
        lines += backend_section(backend, result, settings)
    return "\n".join(lines + difference_paragraph(results, settings))
