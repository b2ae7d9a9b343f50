"""A run's steady images/sec by two clocks, side by side.

The epoch clock (the figure the reference tables and the model pages lead
with) divides the images of epochs 2 and later by their wall time: whatever
Keras does between an epoch's steps or at its boundaries is in it. The step
intervals (``intervals.steady_speed``, in records timed with --sync-every)
time k steps at a time, each epoch's last interval (its boundary) left out,
and give a 95% interval for their mean. Where the epoch clock falls outside
that interval, time is lost outside the steps (tensorflow's fit spends some
at certain epoch boundaries), and the run's two figures disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class ClockCheck:
    """One record's steady speed by both clocks (images/sec)."""

    epoch_clock: float | None  # None: no epoch after the first (one epoch, or stopped in it)
    intervals: float  # the mean of the steady k-step intervals' images/sec
    half_width: float | None  # of their 95% interval; None with a single interval

    @property
    def gap_percent(self) -> float | None:
        """How far the epoch clock is from the intervals' figure, in percent of it."""
        if self.epoch_clock is None:
            return None
        return 100 * (self.epoch_clock / self.intervals - 1)

    @property
    def half_width_percent(self) -> float | None:
        return None if self.half_width is None else 100 * self.half_width / self.intervals

    @property
    def disagrees(self) -> bool:
        """Whether the epoch clock lies outside the intervals' 95% interval."""
        if self.epoch_clock is None or self.half_width is None:
            return False
        return abs(self.epoch_clock - self.intervals) > self.half_width


def of(row: dict) -> ClockCheck | None:
    """The check of one row of the records frame; None for a record without
    step intervals (written before --sync-every, or a failed run)."""
    intervals = row.get("interval_images_per_second")
    if row.get("status") != "ok" or not pd.notna(intervals) or intervals <= 0:
        return None
    # A run --until-stable ended in its first epoch has a headline speed
    # from its intervals alone, and no epoch clock.
    has_epochs = pd.notna(row.get("steady_epoch_seconds"))
    percent = row.get("interval_ci95_percent")
    return ClockCheck(
        epoch_clock=float(row["steady_images_per_second"]) if has_epochs else None,
        intervals=float(intervals),
        half_width=float(percent) / 100 * float(intervals) if pd.notna(percent) else None,
    )
