"""bench/gpu_lease.py, the one call a lent GPU gets: what it runs, in which
order, and that a budget too short for a step records it as skipped while
every finished record still comes back in the archive."""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import gpu_lease  # noqa: E402


def test_the_layer_profiles_come_first_then_batch_1_and_256():
    steps = gpu_lease.steps(gpu_lease.parse(["--out", "x"]))
    kinds = [kind for kind, _ in steps]
    assert kinds[:2] == ["train", "train"] and kinds[2:10] == ["infer"] * 8
    first, second = (args for _, args in steps[:2])
    assert [first[1], second[1]] == ["jax", "torch"]
    assert "--profile-layers" in first and "mixed_bfloat16" in first
    assert first[first.index("--model") + 1] == "resnet50"
    assert first[first.index("--image-size") + 1] == "224"
    served = [args for kind, args in steps if kind == "infer"]
    assert [a[a.index("--batch-sizes") + 1] for a in served[:4]] == ["1,256"] * 4
    assert {a[a.index("--precision") + 1] for a in served} == {"mixed_bfloat16", "float32"}


def test_a_step_the_budget_cannot_hold_is_skipped_and_the_archive_written(tmp_path):
    args = gpu_lease.parse(["--out", str(tmp_path), "--budget-seconds", "10"])
    assert gpu_lease.run(args) == 1  # nothing ran: not a success
    steps = json.loads((tmp_path / "lease.json").read_text())["steps"]
    assert len(steps) == len(gpu_lease.steps(args))
    assert all(step["skipped"].endswith("s of the budget left") for step in steps)
    with tarfile.open(tmp_path / "results.tar.gz") as archive:
        assert archive.getnames() == ["results"]
    # Only what comes back from a lease is in --out: the archive and the log.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lease.json", "results.tar.gz"]
