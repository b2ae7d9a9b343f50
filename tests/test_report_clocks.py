"""Model pages give the step intervals' images/sec beside the epoch clock, say
which is which, and flag a configuration whose epoch clock lies outside the
intervals' 95% interval (issue 20: tensorflow's fit loses time at some epoch
boundaries, which the epoch clock counts and the step intervals do not)."""

from __future__ import annotations

import dataclasses
import math

import pytest
from test_report import generate, only_table, run

from keras_profiler.records import RunSummary
from keras_profiler.report.parts.clock_rows import AGREEMENT, EPOCH_CLOCK, INTERVALS

STEPS, SYNC_EVERY, BATCH = 20, 2, 32
IMAGES = STEPS * BATCH  # per epoch


def _interval_seconds(epoch: int) -> list[float]:
    # Ten 2-step intervals an epoch around 0.1 s, spread +-5% so that the
    # 95% interval has a width.
    return [0.1 * (1 + 0.05 * math.sin(1.7 * (10 * epoch + i))) for i in range(10)]


def timed_run(run_id, epoch_clock_ratio=None, gap_in_widths=None, repeat=1):
    """A 3-epoch tensorflow record timed in 2-step intervals whose epoch clock
    is ``epoch_clock_ratio`` x the intervals' figure, or that figure moved
    by ``gap_in_widths`` x its 95% half-width (negative: slower)."""
    result = run(run_id, "tensorflow", 1, sync_every=SYNC_EVERY, repeat=repeat)
    result.epochs.append(dataclasses.replace(result.epochs[1], epoch=3))
    for each in result.epochs:
        each.images, each.steps = IMAGES, STEPS
        each.interval_seconds = _interval_seconds(each.epoch)
        each.interval_steps = [SYNC_EVERY] * 10
    speed = RunSummary.from_epochs(result.epochs, SYNC_EVERY, BATCH).interval_speed
    if epoch_clock_ratio is not None:
        target = epoch_clock_ratio * speed.images_per_second_mean
    else:
        target = speed.images_per_second_mean + gap_in_widths * speed.ci95_half_width
    for each in result.epochs[1:]:
        each.seconds = IMAGES / target
    result.summary = RunSummary.from_epochs(result.epochs, SYNC_EVERY, BATCH)
    return result, speed


def test_an_epoch_clock_25_percent_below_the_intervals_is_flagged(tmp_path):
    record, speed = timed_run("slow", epoch_clock_ratio=0.75)
    table = only_table(generate(tmp_path, [record]), "tensorflow")

    mean, width = speed.images_per_second_mean, speed.ci95_half_width
    assert 0 < speed.ci95_half_width_percent < 5  # a real interval, far narrower than 25%
    assert table[EPOCH_CLOCK] == [f"{0.75 * mean:.2f}"]
    assert table[INTERVALS] == [f"{mean:.2f} +- {width:.2f}"]
    percent = speed.ci95_half_width_percent
    assert table[AGREEMENT] == [f"DISAGREE: epoch clock -25.0%, outside +-{percent:.1f}%"]


@pytest.mark.parametrize("gap", [-0.5, 0.9])
def test_an_epoch_clock_within_the_95_percent_interval_is_not_flagged(tmp_path, gap):
    record, speed = timed_run("near", gap_in_widths=gap)
    (agreement,) = only_table(generate(tmp_path, [record]), "tensorflow")[AGREEMENT]

    shift = 100 * gap * speed.ci95_half_width / speed.images_per_second_mean
    percent = speed.ci95_half_width_percent
    assert agreement == f"agree: epoch clock {shift:+.1f}%, within +-{percent:.1f}%"


def test_just_outside_the_95_percent_interval_is_flagged(tmp_path):
    record, _ = timed_run("just", gap_in_widths=-1.2)
    (agreement,) = only_table(generate(tmp_path, [record]), "tensorflow")[AGREEMENT]

    assert agreement.startswith("DISAGREE: epoch clock -")


def test_a_flagged_repeat_is_counted_and_untimed_columns_say_so(tmp_path):
    flagged, _ = timed_run("r1", epoch_clock_ratio=0.75)
    agreeing, _ = timed_run("r2", gap_in_widths=0.0, repeat=2)
    untimed = run("two", "tensorflow", 2)  # a version 2 record: no intervals
    table = only_table(generate(tmp_path, [flagged, agreeing, untimed]), "tensorflow")

    assert table["columns"] == ["CPU (1)", "CPU (2)"]
    assert table[AGREEMENT][0].startswith("DISAGREE in 1 of 2 repeats: epoch clock -12.5%")
    assert table[INTERVALS][0].endswith("(widest of 2 repeats)")
    assert table[AGREEMENT][1] == table[INTERVALS][1] == "n/a (no step intervals)"


def test_the_page_says_which_figure_is_which(tmp_path):
    record, _ = timed_run("a", epoch_clock_ratio=0.75)
    page = generate(tmp_path, [record])

    note = page.splitlines()[3]
    assert note.startswith("Two clocks give images/sec here. The **epoch clock**")
    assert f"the '{EPOCH_CLOCK}' rows show: the images of epochs 2 and later" in note
    assert "The **step intervals** (records timed with --sync-every k)" in note
    assert f"'{INTERVALS}' gives their mean and its 95% interval" in note
    assert f"'{AGREEMENT}' says DISAGREE where the epoch clock lies outside that interval" in note
    assert "No record on this page has a steady step-interval figure" not in page
    # Rows in that order: the epoch clock, its scaling, then the intervals beside it.
    labels = list(only_table(page, "tensorflow"))
    assert labels.index(INTERVALS) == labels.index(EPOCH_CLOCK) + 3
    assert labels.index(AGREEMENT) == labels.index(INTERVALS) + 1


def test_pages_of_untimed_records_show_the_epoch_clock_alone_and_say_why(tmp_path):
    page = generate(tmp_path, [run("old", "jax", 1)])

    table = only_table(page, "jax")
    assert table[EPOCH_CLOCK] == ["160.00"]
    assert INTERVALS not in table and AGREEMENT not in table
    assert "No record on this page has a steady step-interval figure" in page
