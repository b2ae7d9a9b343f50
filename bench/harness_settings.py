"""What one harness-efficiency benchmark measures, shared by its parent
(harness_efficiency.py), its child (hand_loops.py), its page
(harness_report.py) and gpu_suite.py: the settings, and the measurements
each backend gets, by key and label.

Example:

```python
settings = Settings(backends=("jax",), model="tiny", repeats=1)
config = settings.run_config("jax")  # the tool's RunConfig, defaults resolved
kinds = measurements("jax", settings)  # {"tool": "tool, `--strategy single`...", ...}
```
"""

from __future__ import annotations

import contextlib
import shlex
from dataclasses import dataclass
from pathlib import Path

from keras_profiler.backends.base import SINGLE

# The least ratio of the tool's figure to the best hand-written loop's.
TARGET = 0.95
FEEDS = {
    "device": "hand-written, batches on the device before timing",
    "numpy": "hand-written, NumPy batches fed per step",
}
# What the tool times, without the tool: its share of any gap is the harness's.
PLAIN_FIT = "fit"
PLAIN_FIT_LABEL = "plain `model.fit` from NumPy, no profiler, epochs 2 and later"
TORCH_OPTIMIZERS = ("torch", "keras")
# Figures read from another measurement's run: kind -> (that kind, its key).
# The tool's interval speed leaves out each epoch's start-up and last interval.
DERIVED = {"tool-interval": ("tool", "interval_rate")}


@dataclass(frozen=True)
class Settings:
    """What every measurement of one benchmark run shares.

    Attributes:
        backends: Keras backends, in the order they are measured.
        model: registered model name (``tiny`` is sized for a CPU).
        batch_size: images per step (one device: the global batch).
        epochs: the tool's epochs; the hand loops time ``epochs - 1``, as
            the tool's steady state leaves the first (compiling) one out.
        steps_per_epoch: steps in each epoch, tool and hand loops alike.
        precision: Keras dtype policy.
        seed: the tool's --seed; the hand loops build and draw data with it.
        repeats: rounds of (tool, hand device, hand numpy) per backend.
        warmup_steps: untimed steps before a hand loop's clock starts.
        image_size: passed to the tool as --image-size only when given.
        strategy: passed to the tool as --strategy only when given (its
            default on one device: ``single``, a plain fit).
        data_parallel: also run the tool at the backend's data-parallel
            strategy where its own is ``single``: the wrapper's cost.
        steps_per_execution: training steps per call of Keras's train
            function, for the tool and plain ``model.fit`` alike (the hand
            loops run one step per call by construction).
        tool_flags: more flags for every tool run (e.g. ``--sync-every
            1000``), to try what else changes its speed.
        torch_optimizer: the torch hand loop's optimizer step: ``torch``
            (torch.optim.SGD, same update rule) or ``keras`` (the compiled
            model's Keras optimizer, as fit uses).
        timeout: seconds one measurement may take before it counts as failed.
    """

    backends: tuple[str, ...] = ("jax", "tensorflow", "torch")
    model: str = "tiny"
    batch_size: int = 32
    epochs: int = 3
    steps_per_epoch: int = 100
    precision: str = "float32"
    seed: int = 1337
    repeats: int = 3
    warmup_steps: int = 10
    image_size: int | None = None
    strategy: str | None = None
    data_parallel: bool = True
    steps_per_execution: int = 1
    tool_flags: str = ""
    torch_optimizer: str = "torch"
    timeout: float = 1800.0

    def __post_init__(self):
        if self.epochs < 2:
            raise ValueError(f"--epochs must be at least 2 (a steady state), got {self.epochs}")
        for name in ("batch_size", "steps_per_epoch", "repeats"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        if self.warmup_steps < 1:
            raise ValueError("--warmup-steps must be at least 1 (it compiles the step)")
        if self.torch_optimizer not in TORCH_OPTIMIZERS:
            raise ValueError(f"--torch-optimizer takes {', '.join(TORCH_OPTIMIZERS)}")

    def run_config(self, backend: str, strategy: str | None = None):
        """The tool's RunConfig for ``backend`` (at ``strategy``, else the
        benchmark's), defaults resolved (strategy, jit, data format) as the
        tool resolves them."""
        from keras_profiler.config import RunConfig

        return RunConfig(
            backend=backend,
            model=self.model,
            dataset="synthetic",
            batch_size=self.batch_size,
            epochs=self.epochs,
            steps_per_epoch=self.steps_per_epoch,
            seed=self.seed,
            precision=self.precision,
            # Exactly the images trained on; a test split of one batch keeps
            # the tool's (untimed) evaluation between epochs short.
            train_samples=self.steps_per_epoch * self.batch_size,
            test_samples=self.batch_size,
            image_size=self.image_size,
            strategy=strategy or self.strategy,
            steps_per_execution=self.steps_per_execution,
        )

    def command(self, output: Path) -> str:
        """The command line that reproduces this benchmark, every option spelled out."""
        args = [
            "python",
            "bench/harness_efficiency.py",
            f"--backends={','.join(self.backends)}",
            f"--model={self.model}",
            f"--batch-size={self.batch_size}",
            f"--epochs={self.epochs}",
            f"--steps-per-epoch={self.steps_per_epoch}",
            f"--precision={self.precision}",
            f"--seed={self.seed}",
            f"--repeats={self.repeats}",
            f"--warmup-steps={self.warmup_steps}",
            f"--torch-optimizer={self.torch_optimizer}",
        ]
        if self.image_size:
            args.append(f"--image-size={self.image_size}")
        if self.strategy:
            args.append(f"--strategy={self.strategy}")
        if not self.data_parallel:
            args.append("--no-data-parallel")
        if self.steps_per_execution > 1:
            args.append(f"--steps-per-execution={self.steps_per_execution}")
        if self.tool_flags:
            args.append(f"--tool-flags={self.tool_flags}")
        with contextlib.suppress(ValueError):  # as typed in the repository root
            output = output.resolve().relative_to(Path(__file__).resolve().parent.parent)
        return shlex.join([*args, f"--output={output}"])


def measurements(backend: str, settings: Settings) -> dict[str, str]:
    """What is measured for ``backend`` each round (key -> label): the tool at
    its strategy, at the backend's data-parallel one too where its own is
    ``single``, both hand loops."""
    strategy = settings.run_config(backend).strategy
    given = "" if settings.strategy else ", its default"
    kinds = {
        "tool": f"tool, `--strategy {strategy}`{given}",
        "tool-interval": "the same tool runs, their k-step interval speed",
    }
    wrapped = data_parallel_strategy(backend)
    if settings.data_parallel and strategy == SINGLE:
        kinds["tool-data-parallel"] = f"tool, `--strategy {wrapped}` on the one device"
    return kinds | {PLAIN_FIT: PLAIN_FIT_LABEL} | FEEDS


def data_parallel_strategy(backend: str) -> str:
    """The strategy the tool takes for ``backend`` on several devices here."""
    from keras_profiler import backends, gpus

    return backends.get(backend).data_parallel_default(gpus.count())
