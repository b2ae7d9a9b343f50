"""The model pages' two clocks: each per-backend table's step-interval row
and its agreement row beside the epoch clock, and the note saying which is
which (``data.clock_check``)."""

from __future__ import annotations

import pandas as pd

from keras_profiler.report.data.cells import FAILED

EPOCH_CLOCK = "Images processed per sec, steady state (epoch clock)"
INTERVALS = "Images processed per sec, step intervals (mean +- 95% interval)"
AGREEMENT = "Epoch clock vs step intervals"
DISAGREE = "DISAGREE"
NO_INTERVALS = "n/a (no step intervals)"
_NOTE = (
    "Two clocks give images/sec here. The **epoch clock**, as in the reference tables, is "
    f"what the comparison tables, the plots and the '{EPOCH_CLOCK}' rows show: the images "
    "of epochs 2 and later over their wall time, all of Keras's work in an epoch and at its "
    "boundaries included. The **step intervals** (records timed with --sync-every k) time k "
    f"steps at a time, each epoch's boundary left out: '{INTERVALS}' gives their mean and "
    f"its 95% interval. '{AGREEMENT}' says {DISAGREE} where the epoch clock lies outside "
    "that interval: time lost outside the steps (as at some of tensorflow's epoch "
    "boundaries), not slower steps."
)


def note(cells: pd.DataFrame) -> list[str]:
    """The paragraph under a model page's title, and whether its records were
    timed in step intervals at all."""
    lines = [_NOTE]
    if not any(cells["clock_checks"].map(bool)):
        lines.append(
            "No record on this page has a steady step-interval figure (records written "
            "before --sync-every, or epochs too short for two k-step intervals), so only "
            "the epoch clock is shown."
        )
    return [" ".join(lines), ""]


def rows(order: list[dict]) -> dict[str, list[str]]:
    """Row label -> a cell per column (``order``: the table's cells); {}
    where no cell of the table was timed in step intervals."""
    if not any(run["clock_checks"] for run in order):
        return {}
    return {
        INTERVALS: [_intervals(run) for run in order],
        AGREEMENT: [_agreement(run) for run in order],
    }


def _intervals(run: dict) -> str:
    """The step intervals' images/sec +- the 95% interval: over several ok
    repeats, the mean of their figures and the widest of their intervals."""
    checks = run["clock_checks"]
    if run["status"] != "ok":
        return FAILED[run["status"]]
    if not checks:
        return NO_INTERVALS
    mean = sum(check.intervals for check in checks) / len(checks)
    widths = [check.half_width for check in checks if check.half_width is not None]
    if not widths:
        return f"{mean:.2f} (1 interval: no 95% interval)"
    text = f"{mean:.2f} +- {max(widths):.2f}"
    return text + (f" (widest of {len(checks)} repeats)" if len(checks) > 1 else "")


def _agreement(run: dict) -> str:
    """'agree: epoch clock -1.2%, within +-2.0%', or 'DISAGREE: epoch clock
    -25.0%, outside +-2.0%' where any ok repeat's epoch clock falls outside
    its own intervals' 95% interval."""
    if run["status"] != "ok":
        return FAILED[run["status"]]
    checks = [check for check in run["clock_checks"] if check.gap_percent is not None]
    if not run["clock_checks"]:
        return NO_INTERVALS
    if not checks:
        return "n/a (no epoch after the first)"
    gap = sum(check.gap_percent for check in checks) / len(checks)
    widths = [check.half_width_percent for check in checks if check.half_width is not None]
    if not widths:
        return f"epoch clock {gap:+.1f}% (1 interval: no 95% interval)"
    flagged = [check for check in checks if check.disagrees]
    if flagged:
        repeats = f" in {len(flagged)} of {len(checks)} repeats" if len(checks) > 1 else ""
        width = max(check.half_width_percent for check in flagged)
        return f"{DISAGREE}{repeats}: epoch clock {gap:+.1f}%, outside +-{width:.1f}%"
    return f"agree: epoch clock {gap:+.1f}%, within +-{max(widths):.1f}%"
