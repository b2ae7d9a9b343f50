"""The figures of bench/tf_epoch_boundaries.py and bench/callback_overhead_epochs.py:
an epoch's lost time lands in the span it was lost in, pairs pair the right
epochs, and the intervals are the textbook ones."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import _epoch_timeline  # noqa: E402
import callback_overhead_epochs as overhead  # noqa: E402


def hand_made_timeline(lead: float) -> _epoch_timeline.Timeline:
    """Two epochs of 5 steps of 0.1 s each, the second starting ``lead`` late."""
    timeline = _epoch_timeline.Timeline()
    start = 0.0
    for delay in (0.0, lead):
        begin = start + 0.01 + delay
        timeline.epochs.append(
            {
                "begin": start,
                "batch_begins": [begin + 0.1 * i for i in range(5)],
                "batch_ends": [begin + 0.1 * (i + 1) for i in range(5)],
                "end": begin + 0.5 + 0.02,
            }
        )
        start = begin + 0.5 + 0.02 + 0.003
    timeline.train_end = start
    return timeline


def test_a_late_first_batch_is_lead_and_lost_time_not_batch_clock():
    gc_run = [(0.005, 0.004, 2)]  # one full collection in epoch 1
    first, second = _epoch_timeline.epoch_figures(hand_made_timeline(0.7), gc_run, batch_size=8)
    assert second["lead"] == pytest.approx(0.71)
    assert second["batch_seconds"] == pytest.approx(0.3)  # batch 1's begin to batch 3's end
    assert second["lost_seconds"] == pytest.approx(0.71 + 0.02)
    assert second["ratio"] == pytest.approx(0.5 / 1.23)
    assert first["lead"] == pytest.approx(0.01) and first["boundary"] == pytest.approx(0.003)
    assert (first["gc_seconds"], first["gc_full"], second["gc_seconds"]) == (0.004, 1, 0)


def test_pairs_match_each_epoch_with_hooks_to_its_neighbour_without():
    plan = overhead.schedule(3)
    assert plan == [False, True, False, False, True, True, False]
    seconds = [9.0, 1.1, 1.0, 2.0, 2.2, 3.3, 3.0]
    assert overhead.pair_ratios(plan, seconds) == [(1.0, 1.1), (2.0, 2.2), (3.0, 3.3)]


def test_the_median_interval_is_the_sign_tests():
    # n = 10: P(Binomial < 2) = 11/1024 <= 0.025 < P(Binomial < 3): x(2) to x(9).
    assert overhead.sign_test_interval([float(v) for v in range(10, 0, -1)]) == (2.0, 9.0)
    # n = 150: k = 63, so x(63) to x(88).
    assert overhead.sign_test_interval([float(v) for v in range(1, 151)]) == (63.0, 88.0)


def test_the_bootstrap_interval_holds_the_total_ratio():
    pairs = [(1.0, 1.0 + 0.01 * (i % 5)) for i in range(60)]
    low, high = overhead.bootstrap_total_ratio(pairs)
    total = sum(p[0] for p in pairs) / sum(p[1] for p in pairs)
    assert low < total < high and high - low < 0.01


def test_the_overhead_target_is_judged_by_the_whole_interval():
    from callback_overhead_epochs import verdict

    assert verdict(0.9715, 1.0189) == "unresolved"  # tensorflow's rerun: point 0.9942
    assert verdict(0.9628, 0.9759) == "NO"  # jax's rerun
    assert verdict(0.9912, 1.0031) == "yes"
