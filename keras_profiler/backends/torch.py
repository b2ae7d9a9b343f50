"""PyTorch: Keras 3's torch backend, data parallel through DistributedDataParallel.

One process per device (nccl between GPUs, gloo between CPU processes), each
training on its own slice of every global batch, as torchrun-launched DDP
does. Keras itself drives DDP inside model.fit (keras-nightly 3.16.0.dev and
later), so the measured path is the one users run; this adapter only builds
the DDP wrapper first, to set its gradient bucket size (--bucket-mb).
"""

from __future__ import annotations

import datetime
import importlib.util
import os
from pathlib import Path

from keras_profiler import environment
from keras_profiler.backends.base import Backend, batch_part, test_part

DDP = "ddp"
DEFAULT_BUCKET_MB = 25.0  # PyTorch's own default
KERAS_WITH_DDP = "keras-nightly>=3.16.0.dev2026102704"


class TorchBackend(Backend):
    name = "torch"
    multi_node_strategy = "ddp"
    multi_node_engine = "torch.distributed: c10d TCPStore rendezvous, gloo (CPU) or nccl (GPU)"
    library = "torch"
    pip_requirement = "torch"
    strategies = {
        DDP: "one process per device, DistributedDataParallel inside model.fit, "
        "gradients all-reduced in buckets",
    }
    bucket_mb_defaults = {DDP: DEFAULT_BUCKET_MB}
    # Keras's own default: torch.compile is opt-in.
    default_jit_compile = False
    peak_device_memory_label = "torch max_memory_allocated"
    compiler = "torch.compile"
    compiler_opt_in = True

    def problem(self, config, gpus_present):
        if config.strategy == DDP and not keras_has_ddp():
            return (
                "torch data parallelism runs through Keras's DistributedDataParallel support "
                f"in model.fit, which the installed Keras lacks: pip install '{KERAS_WITH_DDP}' "
                "(see docs/backends.md), or profile one device with --strategy single"
            )
        return None

    def processes(self, config):
        return config.devices if config.strategy == DDP else 1

    def child_environment(self, config, gpus_present, rank):
        if config.strategy != DDP:
            return {}
        # torchrun's variables: rank ``rank`` of this node, numbered after the
        # ranks of the nodes before it; the coordinator's address where the
        # run spans nodes (the launcher sets MASTER_PORT).
        host = config.coordinator.rpartition(":")[0] if config.coordinator else "127.0.0.1"
        env = {
            "RANK": str(config.node_rank * config.devices + rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(config.world_size),
            "LOCAL_WORLD_SIZE": str(config.devices),
            "GROUP_RANK": str(config.node_rank),
            "MASTER_ADDR": host,
        }
        if config.interface:
            env["GLOO_SOCKET_IFNAME"] = env["NCCL_SOCKET_IFNAME"] = config.interface
        if gpus_present:
            env["CUDA_VISIBLE_DEVICES"] = str(rank)  # each rank sees its own GPU as cuda:0
        elif "OMP_NUM_THREADS" not in os.environ:
            # N processes share the cores they may run on, as torchrun
            # arranges: more threads than cores and each spins on the others.
            env["OMP_NUM_THREADS"] = str(max(1, environment.usable_cores() // config.devices))
        return env

    def setup(self, config):
        import torch
        import torch.distributed as dist

        self._distributed = config.strategy == DDP
        if not self._distributed:
            return
        self.rank = int(os.environ["RANK"])
        self.world_size = int(os.environ["WORLD_SIZE"])
        dist.init_process_group(
            "nccl" if torch.cuda.is_available() else "gloo",
            # A rank that never joins, or stops answering in a collective,
            # fails the run within this, not torch's default half hour.
            timeout=datetime.timedelta(seconds=config.join_timeout),
        )

    def prepare(self, model, config):
        if not getattr(self, "_distributed", False):
            return
        if config.mode == "infer":
            _broadcast_weights(model)
            return
        import torch
        from torch.nn.parallel import DistributedDataParallel

        # Keras wraps the model itself on the first fit unless a wrapper is
        # there; set like Keras's own, plus the bucket size. object.__setattr__
        # as Keras does: torch would register the wrapper as a submodule.
        object.__setattr__(
            model,
            "ddp_model",
            DistributedDataParallel(
                model,
                device_ids=[0] if torch.cuda.is_available() else None,
                find_unused_parameters=False,
                bucket_cap_mb=config.bucket_mb,
            ),
        )

    def local_batch(self, x, y, config):
        if not getattr(self, "_distributed", False):
            return super().local_batch(x, y, config)
        # One process per device: rank r takes its device's rows.
        return batch_part(x, y, config.batch_size, config.world_size, self.rank)

    def inference_share(self, rows):
        if not getattr(self, "_distributed", False):
            return rows
        # One process per device, as training runs: rank r serves its
        # device's rows of each global batch.
        share = len(rows) // self.world_size
        return rows[self.rank * share : (self.rank + 1) * share]

    def lockstep(self):
        if not getattr(self, "_distributed", False):
            return super().lockstep()
        import torch.distributed as dist

        from keras_profiler.inference.lockstep import Lockstep

        return Lockstep(self.world_size, dist.barrier, self.all_agree, self.gather)

    def rows_per_device(self, placed, model):
        return [int(rows) for rows in self.gather(len(placed))]

    def applied_settings(self, model):
        wrapper = getattr(model, "ddp_model", None)
        if wrapper is None:
            return {}
        return {"bucket_mb": wrapper.bucket_bytes_cap / 2**20}

    def local_test(self, x, y, config):
        if not getattr(self, "_distributed", False):
            return super().local_test(x, y, config)
        return test_part(x, y, config.batch_size, config.world_size, self.rank)

    def replica_differences(self, model):
        if not getattr(self, "_distributed", False):
            return 0.0, 0.0
        return _largest_difference(model.weights), _largest_difference(model.trainable_weights)

    def all_agree(self, decision):
        import torch
        import torch.distributed as dist

        if not getattr(self, "_distributed", False):
            return decision
        # MIN over the ranks: True only where every rank decided True. On the
        # rank's device: nccl reduces only there.
        flag = torch.tensor([int(decision)], device=_collective_device())
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        return bool(flag.item())

    def gather(self, value):
        if not getattr(self, "_distributed", False):
            return [value]
        import torch.distributed as dist

        gathered = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, value)
        return gathered

    def teardown(self):
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()

    def synchronize(self, model):
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def gradient_timer(self, model):
        from keras_profiler.backends.torch_hooks import GradientTimer

        return GradientTimer(model)

    def peak_device_memory(self):
        import torch

        if not torch.cuda.is_available():
            return None
        return [int(torch.cuda.max_memory_allocated(i)) for i in range(torch.cuda.device_count())]

    def describe_devices(self, config):
        import torch

        if not torch.cuda.is_available():
            return [{"kind": "cpu", "name": None, "index": self.rank}]
        return [
            {"kind": "gpu", "name": torch.cuda.get_device_name(i), "index": self.rank + i}
            for i in range(torch.cuda.device_count())
        ]

    def library_versions(self):
        import torch

        cudnn = torch.backends.cudnn.version() if torch.cuda.is_available() else None
        return {"torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": cudnn}

    def is_out_of_memory(self, error):
        import torch

        return isinstance(error, torch.cuda.OutOfMemoryError) or super().is_out_of_memory(error)


def keras_has_ddp() -> bool:
    """Whether the installed Keras drives DDP inside model.fit, read from its
    source: the launcher must not import Keras (it imports TensorFlow)."""
    spec = importlib.util.find_spec("keras")
    if spec is None or not spec.origin:
        return False
    trainer = Path(spec.origin).parent / "src" / "backend" / "torch" / "trainer.py"
    try:
        return "DistributedDataParallel" in trainer.read_text()
    except OSError:
        return False


def _broadcast_weights(model) -> None:
    """Rank 0's weights in every process, as DDP's constructor makes them
    for training; serving needs no DDP wrapper, whose forward would
    broadcast the buffers again on every batch."""
    import torch.distributed as dist

    for variable in model.weights:
        dist.broadcast(variable.value.data, src=0)


def _collective_device():
    import torch

    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def _largest_difference(variables) -> float:
    """Largest absolute difference of any process's weights from rank 0's."""
    import torch
    import torch.distributed as dist

    differences = []
    for variable in variables:
        local = variable.value.detach()
        reference = local.clone()
        dist.broadcast(reference, src=0)
        differences.append((local - reference).abs().max())
    if not differences:
        return 0.0
    largest = torch.stack(differences).max()  # on the device: nccl reduces only there
    dist.all_reduce(largest, op=dist.ReduceOp.MAX)
    return float(largest)


ADAPTER = TorchBackend()
