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
    steady = IntervalSpeed.from_rates([100.0, 100.5] * 25, 10)
    assert intervals.MIN_INTERVALS_TO_STOP == 50
    assert intervals.is_stable(steady, 1.0)
    assert not intervals.is_stable(steady, 0.001)
    too_few = IntervalSpeed.from_rates([100.0, 100.5] * 24 + [100.0], 10)
    assert not intervals.is_stable(too_few, 1.0)
    assert not intervals.is_stable(None, 50.0)


def test_batch_means_group_consecutive_intervals_and_drop_the_oldest_remainder():
    assert intervals.batch_means([1.0, 2.0, 3.0]) == [1.0, 2.0, 3.0]  # one per interval
    rates = [float(r) for r in range(25)]  # 25 // 10 = 2 a batch; rate 0 in none
    assert intervals.batch_means(rates) == [
        1.5,
        3.5,
        5.5,
        7.5,
        9.5,
        11.5,
        13.5,
        15.5,
        17.5,
        19.5,
        21.5,
        23.5,
    ]
    assert len(intervals.batch_means([1.0] * 19)) == 19  # batches of 1
    assert len(intervals.batch_means([1.0] * 20)) == 10  # of 2
    assert len(intervals.batch_means([1.0] * 199)) == 10  # of 19, the oldest 9 in none


def test_a_drifting_run_gets_a_wider_interval_than_independent_intervals_would():
    # 100 intervals whose rate drifts from 95 to 105 around alternating noise:
    # neighbouring intervals are alike, and the interval must say so.
    rates = [95.0 + i / 10 + (1.0 if i % 2 else -1.0) for i in range(100)]
    speed = IntervalSpeed.from_rates(rates, 10)
    assert speed.batches == 10
    means = [95.0 + (10 * b + 4.5) / 10 for b in range(10)]  # the noise cancels in pairs
    mean = sum(means) / 10
    error = math.sqrt(sum((m - mean) ** 2 for m in means) / 9 / 10)
    assert speed.ci95_half_width == pytest.approx(2.2622 * error, rel=1e-4)
    # Student's t on the 100 intervals as if independent: about 0.6 of that.
    naive = intervals.t_quantile_975(99) * speed.standard_error
    assert naive < 0.7 * speed.ci95_half_width
    assert speed.images_per_second_mean == pytest.approx(100.0 - 0.05)


def test_an_old_record_without_batches_still_loads():
    data = IntervalSpeed.from_rates([10.0, 12.0, 11.0], 5).to_dict()
    del data["batches"]
    assert IntervalSpeed.from_dict(data).batches is None
