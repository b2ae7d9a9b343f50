"""How the launcher makes one record of a run spread over several processes."""

from __future__ import annotations

from test_records import epoch

from keras_profiler import launcher


def result(status="ok", devices=1, rank=0, failed_at=None, error=None):
    document = {
        "status": status,
        "error": error,
        "devices": [{"kind": "cpu", "name": "CPU", "index": rank + i} for i in range(devices)],
        "distribution": {"strategy": "ddp", "rank": rank},
    }
    if failed_at is not None:
        document["failed_at"] = failed_at
    return document


def test_rank_0_speaks_for_the_run_with_every_rank_s_devices():
    merged = launcher._merge_results([result(rank=0), result(rank=1)])

    assert merged["status"] == "ok"
    assert merged["distribution"]["rank"] == 0
    assert [d["index"] for d in merged["devices"]] == [0, 1]


def test_the_first_failure_is_blamed_not_its_echo_in_the_others():
    merged = launcher._merge_results(
        [
            result("error", rank=0, failed_at=20.0, error="peer closed the connection"),
            result("oom", rank=1, failed_at=10.0, error="CUDA out of memory"),
        ]
    )

    assert merged["status"] == "oom" and merged["error"] == "CUDA out of memory"


def test_a_rank_that_left_no_result_makes_the_run_a_failure():
    merged = launcher._merge_results([result(rank=0), None])

    assert "status" not in merged  # the record then says how the worker ended


def test_epochs_come_from_rank_0_with_memory_from_every_rank():
    rank_0 = [epoch(1, 4.0, rss=500.0), epoch(2, 2.0, rss=510.0)]
    rank_1 = [epoch(1, 4.1, rss=400.0)]  # died during epoch 2

    merged = launcher._merge_epochs([rank_0, rank_1])

    assert [e.seconds for e in merged] == [4.0, 2.0]
    assert merged[0].memory.host_peak_rss_mib == 900.0
    assert merged[0].memory.host_peak_rss_per_process_mib == [500.0, 400.0]
    # Rank 1 read nothing in epoch 2: a sum of rank 0 alone would not be a total.
    assert merged[1].memory.host_peak_rss_mib is None
