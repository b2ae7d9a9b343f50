"""jax on virtual CPU devices with fewer cores than it needs threads.

XLA's CPU client gives its dispatch pool max(cores, devices) threads. With 2
devices on 2 cores, Keras's evaluation (dispatched without a wait per step)
filled device 1's queue of computations in flight; its next launch then held
one of the two threads while device 0 held the other inside an all-reduce,
and XLA aborted the worker ("Expected 2 threads to join the rendezvous, but
only 1 of them arrived on time"). The jax backend gives the pool twice the
devices' threads where the cores are fewer (PJRT_NPROC).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from keras_profiler.backends import jax as jax_backend
from keras_profiler.config import RunConfig


def _environment(monkeypatch, cores: int, devices: int = 2, gpus_present: int = 0) -> dict:
    monkeypatch.setattr(jax_backend, "_usable_cores", lambda: cores)
    monkeypatch.delenv("PJRT_NPROC", raising=False)
    config = RunConfig(backend="jax", model="tiny", dataset="synthetic", devices=devices)
    return jax_backend.ADAPTER.child_environment(config, gpus_present, rank=0)


def test_two_virtual_devices_on_two_cores_get_four_dispatch_threads(monkeypatch):
    assert _environment(monkeypatch, cores=2)["PJRT_NPROC"] == "4"
    assert _environment(monkeypatch, cores=1, devices=4)["PJRT_NPROC"] == "8"


def test_dispatch_threads_left_to_xla_where_it_has_enough(monkeypatch):
    assert "PJRT_NPROC" not in _environment(monkeypatch, cores=4)
    assert "PJRT_NPROC" not in _environment(monkeypatch, cores=2, devices=1)
    # Real GPUs: the CPU client does not run the collectives.
    assert "PJRT_NPROC" not in _environment(monkeypatch, cores=2, gpus_present=2)


def test_users_dispatch_threads_kept(monkeypatch):
    monkeypatch.setattr(jax_backend, "_usable_cores", lambda: 2)
    monkeypatch.setenv("PJRT_NPROC", "3")
    config = RunConfig(backend="jax", model="tiny", dataset="synthetic", devices=2)
    assert "PJRT_NPROC" not in jax_backend.ADAPTER.child_environment(config, 0, rank=0)


@pytest.fixture
def two_cores():
    """This process and its children on 2 cores (fewer where there are fewer),
    as on the CI machine, so that XLA sizes its pool as it does there."""
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("needs os.sched_setaffinity")
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, sorted(cores)[:2])
    yield
    os.sched_setaffinity(0, cores)


def test_steps_dispatched_far_ahead_on_two_virtual_devices_complete(two_cores):
    # Far more steps than a device holds in flight: before PJRT_NPROC this
    # aborted in XLA's rendezvous after its 40 s timeout, every time.
    config = RunConfig(backend="jax", model="tiny", dataset="synthetic", devices=2)
    env = dict(os.environ)
    env.pop("PJRT_NPROC", None)
    env.update(jax_backend.ADAPTER.child_environment(config, gpus_present=0, rank=0))
    env["JAX_PLATFORMS"] = "cpu"
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("collective_burst.py")), "100"],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.strip() == "100 steps done"
