"""PyTorch: Keras 3's torch backend."""

from __future__ import annotations

from keras_profiler.backends.base import Backend


class TorchBackend(Backend):
    name = "torch"
    library = "torch"
    pip_requirement = "torch"
    peak_device_memory_label = "torch max_memory_allocated"

    def synchronize(self, model):
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def peak_device_memory(self):
        import torch

        if not torch.cuda.is_available():
            return None
        return [int(torch.cuda.max_memory_allocated(i)) for i in range(torch.cuda.device_count())]

    def describe_devices(self):
        import torch

        if not torch.cuda.is_available():
            return [{"kind": "cpu", "name": None, "index": 0}]
        return [
            {"kind": "gpu", "name": torch.cuda.get_device_name(i), "index": i}
            for i in range(torch.cuda.device_count())
        ]

    def library_versions(self):
        import torch

        cudnn = torch.backends.cudnn.version() if torch.cuda.is_available() else None
        return {"torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": cudnn}

    def is_out_of_memory(self, error):
        import torch

        return isinstance(error, torch.cuda.OutOfMemoryError) or super().is_out_of_memory(error)


ADAPTER = TorchBackend()
