"""Steady-state speed from per-interval timings, with its uncertainty.

The profiler waits for the device every k steps (never every step: a sync per
step would stall the pipeline it measures) and times each k-step interval.
From those intervals' images/sec this module gives what tf_cnn_benchmarks
prints, ``images/sec: mean +/- standard error (jitter = 1.4826 x median
absolute deviation)``, and a 95% confidence interval for the mean. The run's
first interval holds compilation and is left out.

Successive intervals are not independent: a machine drifts (clocks, other
load, memory) over seconds, so neighbouring intervals are alike, and an
interval from Student's t on the intervals themselves is too narrow: it
stops a run early, far from the whole run's mean. The interval here comes
from batch means: consecutive intervals are
grouped into 10 to 19 batches of equal length, and Student's t is applied to
the batches' means, which are close to independent once a batch spans more
than the drift's memory. Below 20 intervals each batch is one interval: the
plain t interval. ``is_stable`` also wants at
least 50 intervals (5 to a batch) before it trusts any interval.

Plain Python, no SciPy: this runs inside MXNet's environment too, where the
profiler decides when a speed is stable.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

# Intervals at the start of a run that are not steady state: the first holds
# the compilation of the train step.
WARMUP_INTERVALS = 1
# Fewer steady intervals than this give no confidence interval worth stopping
# on: 10 batches of 5 intervals. Chosen from 2,000-step CPU runs, where stops
# after fewer intervals missed the whole run's mean by more; see
# bench/results/time-to-stable.md for where the rule stops now.
MIN_INTERVALS_TO_STOP = 50
# Batch means: at least this many batches, each of len // this intervals.
BATCHES = 10
# Scales the median absolute deviation to the standard deviation of a normal
# distribution (tf_cnn_benchmarks' jitter).
MAD_TO_SIGMA = 1.4826

# Student's t 0.975 quantiles for 1..30 degrees of freedom (scipy.stats.t.ppf).
_T975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip
_Z975 = 1.959964


def t_quantile_975(degrees_of_freedom: int) -> float:
    """Student's t 0.975 quantile: the factor on the standard error that gives
    a two-sided 95% interval. Exact (4 decimals) to 30 degrees of freedom,
    then the Cornish-Fisher expansion around the normal quantile, good to
    1e-4 there."""
    if degrees_of_freedom < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {degrees_of_freedom}")
    if degrees_of_freedom <= len(_T975):
        return _T975[degrees_of_freedom - 1]
    z, n = _Z975, degrees_of_freedom
    return z + (z**3 + z) / (4 * n) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * n**2)


@dataclass
class IntervalSpeed:
    """Images/sec over timed intervals of ``steps_per_interval`` steps each."""

    intervals: int
    steps_per_interval: int
    images_per_second_mean: float
    standard_error: float | None  # of the intervals' rates, as tf_cnn_benchmarks; None with one
    jitter: float  # 1.4826 x median absolute deviation of the intervals' rates
    ci95_half_width: float | None  # mean +/- this holds the true mean with 95% confidence
    batches: int | None = None  # the batch means behind ci95_half_width (None in old records)

    @property
    def ci95_half_width_percent(self) -> float | None:
        """The interval's half-width relative to the mean, in percent."""
        if self.ci95_half_width is None or not self.images_per_second_mean:
            return None
        return 100 * self.ci95_half_width / self.images_per_second_mean

    @classmethod
    def from_rates(cls, rates: list[float], steps_per_interval: int) -> IntervalSpeed | None:
        """Statistics of per-interval rates; None without any."""
        if not rates:
            return None
        n = len(rates)
        error = half_width = batches = None
        if n > 1:
            error = _standard_error(rates)
            means = batch_means(rates)
            batches = len(means)
            half_width = t_quantile_975(batches - 1) * _standard_error(means)
        return cls(
            intervals=n,
            steps_per_interval=steps_per_interval,
            images_per_second_mean=math.fsum(rates) / n,
            standard_error=error,
            jitter=MAD_TO_SIGMA * _median([abs(r - _median(rates)) for r in rates]),
            ci95_half_width=half_width,
            batches=batches,
        )

    def to_dict(self) -> dict:
        result = asdict(self)
        result["ci95_half_width_percent"] = self.ci95_half_width_percent
        return result

    @classmethod
    def from_dict(cls, data: dict) -> IntervalSpeed:
        data = dict(data)
        data.pop("ci95_half_width_percent", None)
        return cls(**data)


def batch_means(rates: list[float]) -> list[float]:
    """Means of consecutive batches of ``len(rates) // BATCHES`` rates (at
    least 1): BATCHES to 2 x BATCHES - 1 of them, or one per rate for
    BATCHES rates or fewer. The oldest ``len % size`` rates, which do not
    fill a batch, are in no batch (they are in the overall mean)."""
    size = max(1, len(rates) // BATCHES)
    usable = rates[len(rates) % size :]
    return [math.fsum(usable[i : i + size]) / size for i in range(0, len(usable), size)]


def _standard_error(values: list[float]) -> float:
    """Sample standard deviation over the square root of the count."""
    n = len(values)
    mean = math.fsum(values) / n
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1) / n)


def steady_rates(
    epochs: list[tuple[list[float], list[int]]],
    steps_per_interval: int,
    batch: int,
    running: tuple[list[float], list[int]] | None = None,
) -> list[float]:
    """Images/sec of the steady intervals: every full k-step interval after
    the warm-up, from finished ``epochs`` and the ``running`` one, each given
    as ``(interval_seconds, interval_steps)`` in order.

    A finished epoch's last interval is left out: it ends at the epoch's end,
    so it also carries Keras's own per-epoch work (metric results, the state
    written back to the model), and it may be shorter than k steps.
    """
    timed = [(seconds[:-1], steps[:-1]) for seconds, steps in epochs]
    if running is not None:
        timed.append(running)
    rates, seen = [], 0
    for seconds, steps in timed:
        for duration, count in zip(seconds, steps):
            seen += 1
            if seen > WARMUP_INTERVALS and count == steps_per_interval and duration > 0:
                rates.append(count * batch / duration)
    return rates


def steady_speed(
    epochs: list[tuple[list[float], list[int]]],
    steps_per_interval: int,
    batch: int,
    running: tuple[list[float], list[int]] | None = None,
) -> IntervalSpeed | None:
    """The steady speed of finished ``epochs`` and the ``running`` one (see
    ``steady_rates``); None without a steady interval."""
    rates = steady_rates(epochs, steps_per_interval, batch, running)
    return IntervalSpeed.from_rates(rates, steps_per_interval)


def first_stable(
    epochs: list[tuple[list[float], list[int]]],
    steps_per_interval: int,
    batch: int,
    percent: float,
) -> tuple[int, IntervalSpeed] | None:
    """Where ``--until-stable percent`` stops a run with these intervals:
    the steps it trains and the speed it stops at, or None if it never
    stops. The rule as the callback applies it: at each interval's end
    within an epoch (an epoch's last closes at its end, unchecked), over
    the intervals so far; the step being begun there still trains."""
    trained = 0
    for index, (seconds, steps) in enumerate(epochs):
        for closed in range(1, len(seconds)):
            running = (seconds[:closed], steps[:closed])
            found = steady_speed(epochs[:index], steps_per_interval, batch, running)
            if is_stable(found, percent):
                return trained + sum(steps[:closed]) + 1, found
        trained += sum(steps)
    return None


def is_stable(speed: IntervalSpeed | None, percent: float) -> bool:
    """Whether the 95% interval's half-width is under ``percent`` of the mean,
    over enough intervals (MIN_INTERVALS_TO_STOP) for it to mean something."""
    if speed is None or speed.intervals < MIN_INTERVALS_TO_STOP:
        return False
    width = speed.ci95_half_width_percent
    return width is not None and width < percent


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
