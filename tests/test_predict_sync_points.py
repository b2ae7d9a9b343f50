"""Synchronisation points: the collectives inside forward and backward that
jax's data parallelism adds (synchronized BatchNorm statistics), counted in
XLA's compiled step, and their cost in a prediction, by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from keras_profiler.predict import collectives as c
from keras_profiler.predict import schedules as s
from keras_profiler.predict.measured import Source
from keras_profiler.predict.networks import Network
from keras_profiler.predict.scenarios import SYNC_BYTES, Scenario

HERE = Path(__file__).parent


@pytest.mark.parametrize("frozen, expected", [(False, 3), (True, 2)])
def test_the_compiled_step_holds_four_all_reduces_a_training_batch_norm(tmp_path, frozen, expected):
    # Three BatchNormalization layers in a row: each training one
    # all-reduces its mean and variance in forward, two sums in backward;
    # the gradients' one all-reduce comes last. A frozen one normalises by
    # its moving statistics: no collective.
    arguments = [str(tmp_path / "dump")] + (["frozen"] if frozen else [])
    done = subprocess.run(
        [sys.executable, str(HERE / "sync_point_count.py"), *arguments],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.rsplit(" ", 1) for line in done.stdout.splitlines())
    assert int(lines["counted"]) == 4 * expected
    assert int(lines["all-reduces"]) == 4 * expected + 1


def test_each_sync_point_adds_a_dependent_collective_to_forward_and_backward():
    # 1 ms a message between independent collectives, 5 ms a message for
    # one the computation waits on; 2 ranks: a ring of 2 steps.
    link = c.Link(alpha_s=0.001, beta_bytes_per_s=1e9, dependent_alpha_s=0.005)
    profile = s.Profile(
        forward_s=0.025,
        backward_s=0.05,
        gradients=[s.Gradient(4e6, 0.02), s.Gradient(4e6, 0.05)],
        sync_points=4,
    )
    cell = Scenario(per_node=1, nodes=2, network=Network("lab", link, "test"), method="bsp")
    each = 2 * 0.005 + SYNC_BYTES / 1e9  # 2(p-1) alpha + 2(p-1)/p m / beta
    assert cell.sync_point_s() == pytest.approx(each)
    # BSP: forward + 2 syncs, backward + 2 syncs, then 8 MB at 2 ms + m / beta.
    assert cell.step_s(profile) == pytest.approx(0.075 + 4 * each + 0.002 + 8e6 / 1e9)
    # WFBP: backward stretched from 50 ms by 2 syncs, so the first gradient is
    # ready at 20 ms x (50 ms + 2 syncs) / 50 ms; the last exchange ends
    # after backward.
    stretched = 0.05 + 2 * each
    first_ready = 0.02 * stretched / 0.05
    exchange = 0.002 + 4e6 / 1e9
    link_free = max(first_ready + exchange, stretched) + exchange
    wfbp = Scenario(per_node=1, nodes=2, network=Network("lab", link, "test"), method="wfbp")
    assert wfbp.step_s(profile) == pytest.approx(0.025 + 2 * each + link_free)


def test_one_device_and_a_model_without_sync_points_are_as_profiled():
    link = c.Link(alpha_s=0.001, beta_bytes_per_s=1e9, dependent_alpha_s=0.005)
    network = Network("lab", link, "test")
    synced = s.Profile(0.025, 0.05, [s.Gradient(4e6, 0.05)], sync_points=40)
    plain = s.Profile(0.025, 0.05, [s.Gradient(4e6, 0.05)])
    assert Scenario(1, 1, network, "bsp").step_s(synced) == pytest.approx(0.075)
    assert Scenario(1, 2, network, "bsp").step_s(plain) == pytest.approx(0.075 + 0.002 + 4e-3)
    # Without a dependent latency measured apart, a sync point costs the
    # link's own: 2 x 1 ms + m / beta.
    undivided = Network("lab", c.Link(alpha_s=0.001, beta_bytes_per_s=1e9), "test")
    assert Scenario(1, 2, undivided, "bsp").sync_point_s() == pytest.approx(
        0.002 + SYNC_BYTES / 1e9
    )


def test_without_overlap_every_exchange_waits_for_backward():
    # 1 ms latency, 1e9 bytes/s, 2 ranks: an exchange of m costs 2 ms + m / 1e9.
    link = c.Link(alpha_s=0.001, beta_bytes_per_s=1e9)
    profile = s.Profile(0.025, 0.05, [s.Gradient(4e6, 0.02), s.Gradient(4e6, 0.05)])

    def step(method, overlap):
        cell = Scenario(1, 2, Network("lab", link, "test"), method, overlap=overlap)
        return cell.step_s(profile)

    each = 0.002 + 4e6 / 1e9
    # With overlap, WFBP hides the first exchange under backward (ready at
    # 20 ms, done at 26 ms, before backward's 50 ms); without, both follow it.
    assert step("wfbp", True) == pytest.approx(0.025 + 0.05 + each)
    assert step("wfbp", False) == pytest.approx(0.025 + 0.05 + 2 * each)
    # MG-WFBP then merges the two into one exchange, as BSP.
    assert step("mg-wfbp", False) == pytest.approx(step("bsp", True))
    assert step("mg-wfbp", False) == pytest.approx(0.075 + 0.002 + 8e6 / 1e9)


def test_a_profiled_records_sync_points_reach_the_prediction(tmp_path):
    # A record as --profile-layers writes it: a 0.1 s step at batch 32 (320
    # images/sec), 8 sync points; its profile takes them, and at 2 nodes
    # over a 1 ms, 1e9 B/s link each adds 2 ms + 4 KiB / beta.
    layer = {"layer": "dense", "gradient_bytes": 4e6, "ready_s": 0.06, "macs_per_image": 1}
    record = {
        "status": "ok",
        "config": {"batch_size": 32},
        "summary": {"steady_images_per_second": 320.0},
        "layer_profile": {"method": "multiply-adds", "step_s": 0.1, "forward_s": 0.04,
                          "backward_s": 0.06, "update_s": 0.0, "layers": [layer],
                          "data_parallel_sync_points": 8},
    }  # fmt: skip
    (tmp_path / "record.json").write_text(json.dumps(record))
    source = Source.load(tmp_path / "record.json")
    assert source.profile.sync_points == 8
    link = c.Link(alpha_s=0.001, beta_bytes_per_s=1e9)
    cell = Scenario(per_node=1, nodes=2, network=Network("lab", link, "test"), method="bsp")
    each = 0.002 + SYNC_BYTES / 1e9
    assert cell.step_s(source.profile) == pytest.approx(0.1 + 8 * each + 0.002 + 4e6 / 1e9)
