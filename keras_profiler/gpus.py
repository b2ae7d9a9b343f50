"""NVIDIA GPUs seen through NVML (nvidia-ml-py): count, names, driver, memory.

NVML works without CUDA or any framework, so the launcher can count GPUs
before it starts a worker. On a machine without an NVIDIA driver every
function answers as for zero GPUs.
"""

from __future__ import annotations

import functools
import os


@functools.lru_cache(maxsize=1)
def _nvml():
    try:
        import pynvml

        pynvml.nvmlInit()
        return pynvml
    except Exception:  # no driver, no library, no device: all mean "no NVML"
        return None


def count() -> int:
    """Number of NVIDIA GPUs on the machine (0 without a driver)."""
    nvml = _nvml()
    return nvml.nvmlDeviceGetCount() if nvml else 0


def describe() -> list[dict]:
    """Name and total memory (MiB) of each GPU on the machine."""
    nvml = _nvml()
    if not nvml:
        return []
    result = []
    for i in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(i)
        name = nvml.nvmlDeviceGetName(handle)
        total = nvml.nvmlDeviceGetMemoryInfo(handle).total
        result.append({"index": i, "name": _text(name), "memory_mib": round(total / 2**20)})
    return result


def uuids() -> list[str]:
    """Each GPU's UUID (unique per board), in index order; [] without a driver."""
    nvml = _nvml()
    if not nvml:
        return []
    return [
        _text(nvml.nvmlDeviceGetUUID(nvml.nvmlDeviceGetHandleByIndex(i)))
        for i in range(nvml.nvmlDeviceGetCount())
    ]


def driver_version() -> str | None:
    nvml = _nvml()
    return _text(nvml.nvmlSystemGetDriverVersion()) if nvml else None


def process_memory_mib(pid: int | None = None) -> float | None:
    """GPU memory NVML attributes to process ``pid`` (default: this one), summed
    over GPUs, in MiB; None without NVML or where the driver hides it."""
    nvml = _nvml()
    if not nvml:
        return None
    pid = os.getpid() if pid is None else pid
    used = []
    for i in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(i)
        for proc in nvml.nvmlDeviceGetComputeRunningProcesses(handle):
            if proc.pid == pid and proc.usedGpuMemory is not None:
                used.append(proc.usedGpuMemory)
    return round(sum(used) / 2**20, 1) if used else None


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def cuda_driver_version() -> tuple[int, int] | None:
    """The newest CUDA version the driver supports, e.g. (12, 4); None without one."""
    nvml = _nvml()
    if not nvml:
        return None
    version = nvml.nvmlSystemGetCudaDriverVersion()  # e.g. 12040
    return version // 1000, version % 1000 // 10
