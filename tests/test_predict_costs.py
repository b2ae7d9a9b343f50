"""The scaling predictor's cost model, on cases worked by hand: two layers
with known gradient sizes and ready times over a known link (docs/prediction.md)."""

from __future__ import annotations

import json

import pytest

from keras_profiler.predict import collectives as c
from keras_profiler.predict import schedules as s

# 1 ms latency, 1e9 bytes/s: a ring all-reduce between 2 ranks costs
# 2(p-1) alpha + 2(p-1)/p m / beta = 0.002 s + m / 1e9.
LINK = c.Link(alpha_s=0.001, beta_bytes_per_s=1e9)


def ring2(nbytes):
    return c.ring_allreduce(nbytes, 2, LINK)


def two_layers(first_ready_s=0.02):
    """Forward 25 ms, backward 50 ms; the last layer's 4 MB gradient ready
    at first_ready_s, the first layer's 4 MB when backward ends."""
    return s.Profile(
        forward_s=0.025,
        backward_s=0.05,
        gradients=[s.Gradient(4e6, first_ready_s), s.Gradient(4e6, 0.05)],
    )


def test_ring_tree_hierarchical_and_parameter_server_by_hand():
    assert c.ring_allreduce(8e6, 4, LINK) == pytest.approx(6 * 0.001 + 1.5 * 8e6 / 1e9)
    assert c.tree_allreduce(8e6, 4, LINK) == pytest.approx(2 * 2 * (0.001 + 8e6 / 1e9))
    assert c.tree_allreduce(8e6, 5, LINK) == pytest.approx(2 * 3 * (0.001 + 8e6 / 1e9))
    intra = c.Link(alpha_s=1e-5, beta_bytes_per_s=1e10)
    # 4 a node: 2 x 3 steps of 2 MB within; a ring of 2 MB between 2 nodes.
    assert c.hierarchical_allreduce(8e6, 4, 2, intra, LINK) == pytest.approx(
        2 * 3 * (1e-5 + 2e6 / 1e10) + (2 * 0.001 + 2e6 / 1e9)
    )
    # 8 workers, 2 servers: each server's link carries 8 x 8 MB / 2 each way.
    assert c.parameter_server(8e6, 8, 2, LINK) == pytest.approx(2 * (0.001 + 32e6 / 1e9))
    # As many servers as workers: a worker's own link is the bottleneck.
    assert c.parameter_server(8e6, 8, 8, LINK) == pytest.approx(2 * (0.001 + 8e6 / 1e9))


def test_one_rank_exchanges_nothing():
    for algorithm in (c.ring_allreduce, c.tree_allreduce):
        assert algorithm(8e6, 1, LINK) == 0.0
    assert c.parameter_server(8e6, 1, 1, LINK) == 0.0
    profile = two_layers()
    for method in ("bsp", "wfbp", "mg-wfbp"):
        assert s.step_time(method, profile, lambda m: 0.0) == pytest.approx(0.075)


def test_bsp_exchanges_everything_after_backward():
    # 25 + 50 ms of compute, then 2 ms + 8 MB at 1e9 bytes/s.
    assert s.bsp(two_layers(), ring2) == pytest.approx(0.025 + 0.05 + 0.010)


def test_unfused_pays_each_tensors_latency_after_backward():
    # The first layer's 4 MB in 2 tensors, the last's in 1: three ring
    # all-reduces of 2 ms latency each, 8 MB in all, after 75 ms of compute.
    profile = s.Profile(
        forward_s=0.025,
        backward_s=0.05,
        gradients=[s.Gradient(4e6, 0.02, tensors=1), s.Gradient(4e6, 0.05, tensors=2)],
    )
    assert s.unfused(profile, ring2) == pytest.approx(0.075 + 3 * 0.002 + 8e6 / 1e9)
    # One tensor a layer: as many exchanges as layers, BSP's bytes.
    assert s.unfused(two_layers(), ring2) == pytest.approx(0.075 + 2 * 0.002 + 8e6 / 1e9)


def test_wfbp_overlaps_each_gradient_with_the_rest_of_backward():
    # The first gradient's exchange runs 20-26 ms into backward, the
    # second's 50-56 ms: the step is 25 + 56 ms.
    assert s.wfbp(two_layers(), ring2) == pytest.approx(0.025 + 0.056)


def test_mg_wfbp_merges_only_where_that_ends_sooner():
    # As above, separate exchanges end at 56 ms; merged one would end at 60.
    assert s.merged_groups(two_layers().gradients, ring2) == [
        [two_layers().gradients[0]],
        [two_layers().gradients[1]],
    ]
    assert s.mg_wfbp(two_layers(), ring2) == pytest.approx(s.wfbp(two_layers(), ring2))
    # With 10 ms of latency a layer and the first gradient ready late (45 ms),
    # separate: 45-69, then 69-93 ms; merged: 50-78 ms, which MG-WFBP takes.
    slow = c.Link(alpha_s=0.01, beta_bytes_per_s=1e9)
    late = two_layers(first_ready_s=0.045)

    def exchange(m):
        return c.ring_allreduce(m, 2, slow)

    assert s.wfbp(late, exchange) == pytest.approx(0.025 + 0.093)
    assert s.mg_wfbp(late, exchange) == pytest.approx(0.025 + 0.078)
    assert len(s.merged_groups(late.gradients, exchange)) == 1


def test_ddp_buckets_close_at_their_limit_the_first_at_one_mib():
    gradients = [s.Gradient(4e5, 0.01), s.Gradient(8e5, 0.02), s.Gradient(3e6, 0.03),
                 s.Gradient(3e6, 0.04)]  # fmt: skip
    # The first bucket closes past 1 MiB (0.4 + 0.8 MB), the next past 5 MB.
    assert [len(b) for b in s.buckets(gradients, 5e6, s.FIRST_BUCKET_BYTES)] == [2, 2]
    profile = s.Profile(forward_s=0.01, backward_s=0.04, gradients=gradients)
    # Bucket 1 (1.2 MB) ready at 20 ms: 20-23.2 ms; bucket 2 (6 MB) at 40: 40-48 ms.
    assert s.ddp_buckets(profile, ring2, bucket_bytes=5e6) == pytest.approx(0.01 + 0.048)
    # One bucket as large as the model: BSP's exchange, once backward ends.
    assert s.ddp_buckets(profile, ring2, bucket_bytes=1e9, first_bucket_bytes=1e9) == pytest.approx(
        s.bsp(profile, ring2)
    )


def test_more_bandwidth_never_predicts_a_longer_step():
    profile = two_layers()
    steps = []
    for beta in (1e8, 1e9, 1e10, 1e11):
        link = c.Link(alpha_s=0.001, beta_bytes_per_s=beta)
        steps.append(
            [s.step_time(m, profile, lambda n, given=link: c.ring_allreduce(n, 8, given))
             for m in ("bsp", "unfused", "wfbp", "mg-wfbp")]
        )  # fmt: skip
    for slower, faster in zip(steps, steps[1:]):
        assert all(f <= w for f, w in zip(faster, slower))


# --- networks and scenarios ---------------------------------------------------

from keras_profiler.errors import UsageError  # noqa: E402
from keras_profiler.predict import networks  # noqa: E402
from keras_profiler.predict.scenarios import Scenario  # noqa: E402


def test_a_fitted_network_is_its_authors_fit_at_the_counts_fitted_only():
    ten = networks.PRESETS["10gbe"]
    # MG-WFBP's p_alpha_beta_10Gbps[8] = (0.0005230272768511732, 8.570746975492128e-10).
    assert ten.allreduce(1e8, 8) == pytest.approx(
        0.0005230272768511732 + 8.570746975492128e-10 * 1e8
    )
    with pytest.raises(networks.OutsideFit, match=r"outside the fit \(2, 4, 8, 16 GPUs\)"):
        ten.allreduce(1e8, 32)


def test_custom_and_measured_links_become_one_ring_link(tmp_path):
    given = networks.parse("custom:25gbit,20us")
    assert given.link.alpha_s == pytest.approx(20e-6)
    assert given.link.beta_bytes_per_s == pytest.approx(25e9 / 8)
    record = tmp_path / "record.json"
    # A probe among 4 ranks: 300 us + bytes / 1e8 bytes/s for the whole all-reduce.
    fit = {"alpha_s": 300e-6, "beta_bytes_per_s": 1e8}
    record.write_text(
        json.dumps({"distribution": {"interconnect": {"name": "lab", "world_size": 4, "fit": fit}}})
    )
    mine = networks.parse(f"measured:{record}")
    # 2(p-1) = 6 latencies; each link carries 2(p-1)/p = 1.5 of the bytes.
    assert mine.link.alpha_s == pytest.approx(50e-6)
    assert mine.link.beta_bytes_per_s == pytest.approx(1.5e8)
    assert mine.recorded_as == "lab"
    assert mine.allreduce(1e6, 4) == pytest.approx(300e-6 + 1e6 / 1e8)
    with pytest.raises(UsageError, match="holds no measured link"):
        networks.parse(f"measured:{tmp_path / 'nothing.json'}")


def test_a_jax_records_own_collectives_are_its_measured_link(tmp_path):
    record = tmp_path / "record.json"
    # 4 processes: a collective costs 6 ms (6 ring steps of 1 ms); 4 MiB take
    # 6 ms + 1.5 x 4 MiB / beta = 48 ms, so beta = 1.5 x 4 MiB / 42 ms.
    # One the computation waits on: 30 ms, 5 ms a ring step.
    engine = {"engine": "jax", "processes": 4, "per_collective_s": 0.006, "dependent_s": 0.03,
              "large_bytes": 4 * 2**20, "large_s": 0.048, "busbw_gbit_per_s": 1.0}  # fmt: skip
    fit = {"alpha_s": 300e-6, "beta_bytes_per_s": 1e8}
    distribution = {"interconnect": {"name": "lab", "world_size": 4, "fit": fit},
                    "engine_collectives": engine}  # fmt: skip
    record.write_text(json.dumps({"distribution": distribution}))
    mine = networks.parse(f"measured:{record}")
    assert mine.link.alpha_s == pytest.approx(0.001)
    assert mine.link.beta_bytes_per_s == pytest.approx(1.5 * 4 * 2**20 / 0.042)
    assert mine.recorded_as == "lab"
    assert mine.link.dependent_alpha_s == pytest.approx(0.005)
    assert "6.00 ms a collective (30.00 ms one the computation waits on)" in mine.source
    # Through the ring formula, the large all-reduce takes what was measured.
    assert mine.allreduce(4 * 2**20, 4) == pytest.approx(0.048)


def test_a_scenario_exchanges_within_a_node_then_between_nodes():
    profile = two_layers()
    intra = networks.Network("in", c.Link(0.0, 1e10), "test")
    between = networks.Network("out", LINK, "test")

    def cell(per_node, nodes, method="bsp"):
        return Scenario(per_node=per_node, nodes=nodes, network=between, method=method,
                        intra=intra)  # fmt: skip

    total = profile.total_bytes
    assert cell(4, 1).allreduce(total) == pytest.approx(c.ring_allreduce(total, 4, intra.link))
    assert cell(1, 4).allreduce(total) == pytest.approx(c.ring_allreduce(total, 4, LINK))
    assert cell(4, 2).allreduce(total) == pytest.approx(
        c.hierarchical_allreduce(total, 4, 2, intra.link, LINK)
    )
    # One device: no exchange, the profiled step itself.
    assert cell(1, 1).step_s(profile) == pytest.approx(profile.compute_s)
    assert cell(1, 1).images_per_second(profile, 32) == pytest.approx(32 / 0.075)
    # A parameter server a node, each gradient pushed and pulled once ready.
    ps = cell(1, 2, "ps")
    expected = s.wfbp(profile, lambda m: c.parameter_server(m, 2, 2, LINK))
    assert ps.step_s(profile) == pytest.approx(expected)
    # Nodes sharing cores: every compute time twice as long.
    slowed = Scenario(per_node=1, nodes=1, network=between, method="bsp", slowdown=2.0)
    assert slowed.step_s(profile) == pytest.approx(2 * profile.compute_s)


def test_a_prediction_equal_to_its_measurement_reads_plus_zero():
    from keras_profiler.predict.page import _cell

    # A float a hair below the measurement once printed "(-0.0%)".
    assert _cell(10386.799999, 10386.8) == "10386.8 predicted; 10386.8 measured (+0.0%)"
    assert _cell(123.4, 120.0) == "123.4 predicted; 120.0 measured (+2.8%)"
