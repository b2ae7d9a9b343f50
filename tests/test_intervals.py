"""Steady speed from k-step intervals: the statistics tf_cnn_benchmarks prints,
a 95% interval, which intervals count, and when a speed is stable."""

from __future__ import annotations

import math

import pytest

from keras_profiler import intervals
from keras_profiler.intervals import IntervalSpeed


def test_t_quantiles_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in [*range(1, 40), 50, 100, 1000, 10**5]:
        assert intervals.t_quantile_975(df) == pytest.approx(stats.t.ppf(0.975, df), abs=1e-4)


def test_t_quantile_known_values():
    # Tables in any statistics text: t(0.975; 1) = 12.706, t(0.975; 10) = 2.228.
    assert intervals.t_quantile_975(1) == pytest.approx(12.706, abs=1e-3)
    assert intervals.t_quantile_975(10) == pytest.approx(2.228, abs=1e-3)
    assert intervals.t_quantile_975(10**6) == pytest.approx(1.960, abs=1e-3)
    with pytest.raises(ValueError, match="at least 1"):
        intervals.t_quantile_975(0)


def test_statistics_of_five_rates():
    speed = IntervalSpeed.from_rates([100.0, 102.0, 98.0, 101.0, 99.0], steps_per_interval=10)
    assert speed.intervals == 5
    assert speed.images_per_second_mean == pytest.approx(100.0)
    # Sample stdev sqrt(10 / 4); standard error that over sqrt(5).
    assert speed.standard_error == pytest.approx(math.sqrt(2.5 / 5))
    # Absolute deviations from the median 100: 0, 2, 2, 1, 1 -> median 1.
    assert speed.jitter == pytest.approx(1.4826)
    assert speed.ci95_half_width == pytest.approx(2.7764 * math.sqrt(0.5), rel=1e-4)
    assert speed.ci95_half_width_percent == pytest.approx(1.9632, rel=1e-3)


def test_one_interval_has_no_error_and_none_has_no_speed():
    speed = IntervalSpeed.from_rates([50.0], 10)
    assert speed.standard_error is None and speed.ci95_half_width is None
    assert speed.ci95_half_width_percent is None
    assert IntervalSpeed.from_rates([], 10) is None


def test_round_trips_through_a_dict():
    speed = IntervalSpeed.from_rates([10.0, 12.0, 11.0], 5)
    data = speed.to_dict()
    assert data["ci95_half_width_percent"] == speed.ci95_half_width_percent
    assert IntervalSpeed.from_dict(data) == speed


def test_steady_rates_leave_out_warm_up_epoch_ends_and_short_intervals():
    batch = 4
    epoch_1 = ([9.0, 1.0, 2.0, 0.5], [10, 10, 10, 3])  # compiles, two steady, end
    epoch_2 = ([1.0, 4.0, 0.5, 3.0], [10, 5, 10, 10])  # steady, short, steady, end
    running = ([2.0], [10])
    rates = intervals.steady_rates([epoch_1, epoch_2], 10, batch, running)
    assert rates == [40.0, 20.0, 40.0, 80.0, 20.0]


def test_stable_needs_enough_intervals_and_a_narrow_interval():
    steady = IntervalSpeed.from_rates([100.0, 100.5] * 5, 10)
    assert intervals.is_stable(steady, 1.0)
    assert not intervals.is_stable(steady, 0.1)
    too_few = IntervalSpeed.from_rates([100.0, 100.5] * 4 + [100.0], 10)
    assert not intervals.is_stable(too_few, 1.0)
    assert not intervals.is_stable(None, 50.0)
