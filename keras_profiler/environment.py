"""What a run ran on: the host, its GPUs and the tool's own version.

Plain standard library, psutil and NVML: no framework is imported here, so
the launcher can describe the machine too, and so can the keras-mxnet worker.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from pathlib import Path

import psutil

from keras_profiler import gpus, machine


def collect() -> dict:
    """The host's description: Python, CPU, memory, GPUs, host name, git
    commit, and the machine's identity (see ``machine``)."""
    described = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cpu_cores_logical": os.cpu_count(),
        "cpu_cores_physical": psutil.cpu_count(logical=False),
        # What this process may run on (a netns node is pinned to its share).
        "cpu_cores_usable": usable_cores(),
        "memory_mib": round(psutil.virtual_memory().total / 2**20),
        "gpus": gpus.describe(),
        "gpu_driver": gpus.driver_version(),
        "keras_profiler_commit": git_commit(),
    }
    return {**described, **machine.describe(described)}


def usable_cores() -> int:
    """The cores this process may run on (its affinity, as taskset or a
    netns node's pinning sets it), which thread pools should be sized by."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU's marketing name, e.g. 'AMD EPYC 7B13'."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    """The tool's git commit, with '-dirty' when its files differ from it;
    KERAS_PROFILER_COMMIT where the tool was copied out of its checkout (a
    lent GPU machine gets the files without their git history)."""
    if os.environ.get("KERAS_PROFILER_COMMIT"):
        return os.environ["KERAS_PROFILER_COMMIT"]
    root = Path(__file__).resolve().parent.parent

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
        )

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return None
        dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("-dirty" if dirty else "")
