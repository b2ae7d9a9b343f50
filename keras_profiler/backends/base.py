"""The small interface each backend adapter implements."""

from __future__ import annotations


class Backend:
    """What the engine needs to know about one Keras backend.

    Methods other than ``child_environment`` run inside the worker process,
    after Keras and the framework are imported; they import the framework
    lazily so that the launcher can use adapters without loading it.
    """

    name: str = ""
    library: str = ""  # the framework's import name
    pip_requirement: str = ""  # what to install when it is missing

    def child_environment(self, devices: int, gpus_present: int) -> dict[str, str]:
        """Environment variables the worker needs before the framework is imported."""
        return {}

    def synchronize(self, model) -> None:
        """Returns once the device has finished all work queued for ``model``."""

    def peak_device_memory(self) -> list[int] | None:
        """Peak bytes allocated per device by the framework, or None where it keeps
        no such counter (CPUs)."""
        return None

    peak_device_memory_label: str = ""

    def describe_devices(self) -> list[dict]:
        """The devices training runs on: kind ('gpu' or 'cpu'), name, index."""
        raise NotImplementedError

    def library_versions(self) -> dict[str, str | None]:
        """Versions of the framework and its CUDA/cuDNN builds."""
        raise NotImplementedError

    def is_out_of_memory(self, error: BaseException) -> bool:
        """Whether ``error`` means a device ran out of memory."""
        text = f"{type(error).__name__}: {error}"
        return any(mark in text for mark in _OOM_MARKS)


_OOM_MARKS = ("RESOURCE_EXHAUSTED", "ResourceExhausted", "out of memory", "OutOfMemory", "OOM ")
