"""The reports take what a backend calls its strategies and compiler from its
adapter (keras_profiler/backends), and need no framework to do so."""

from __future__ import annotations

import subprocess
import sys

from test_report import generate, spread, tables

from keras_profiler.backends.tensorflow import TensorFlowBackend
from keras_profiler.backends.torch import TorchBackend


def test_headings_use_the_adapters_strategy_labels_and_compiler(tmp_path, monkeypatch):
    labels = {**TensorFlowBackend.strategy_labels, "replicated": "mirrored, copied"}
    monkeypatch.setattr(TensorFlowBackend, "strategy_labels", labels)
    monkeypatch.setattr(TorchBackend, "compiler", "inductor")
    monkeypatch.setattr(TorchBackend, "compiler_opt_in", False)
    runs = [
        spread("a", "tensorflow", 2, strategy="replicated", jit=False),
        spread("b", "torch", 2, strategy="ddp", jit=False, bucket_mb=25.0),
    ]
    headings = set(tables(generate(tmp_path, runs)))

    assert (
        "tensorflow, mirrored, copied, XLA off, channels_last (Keras 3.15.1, tensorflow 1.0)"
        in (headings)
    )
    # With compiling no longer opt-in, torch's 'off' is said, by its compiler's name.
    assert "torch, ddp (bucket 25 MB), inductor off, channels_last (Keras 3.15.1, torch 1.0)" in (
        headings
    )


def test_a_backend_no_adapter_knows_gets_the_defaults(tmp_path):
    headings = set(tables(generate(tmp_path, [spread("a", "flax", 2, strategy="fsdp")])))

    assert "flax, fsdp, XLA on, channels_last (Keras 3.15.1, flax 1.0)" in headings


# Records of all four backends, reported where none of their frameworks (nor
# Keras) can be imported.
_NO_FRAMEWORKS = """
import sys
from pathlib import Path

class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {"jax", "tensorflow", "torch", "mxnet", "keras"}:
            raise ModuleNotFoundError(name)

sys.meta_path.insert(0, Absent())
sys.path.insert(0, "tests")
from test_report import generate, spread

runs = [
    spread("a", "tensorflow", 2, strategy="replicated-nccl", jit=False),
    spread("b", "jax", 2),
    spread("c", "torch", 2, strategy="ddp", jit=False, bucket_mb=25.0),
    spread("d", "mxnet", 2, strategy="multi-context", jit=False),
]
print(generate(Path(sys.argv[1]), runs))
"""


def test_records_are_reported_where_no_framework_is_installed(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", _NO_FRAMEWORKS, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert "### tensorflow, replicated (NCCL all-reduce), XLA off, channels_last" in done.stdout
    assert "### jax, data-parallel, XLA on, channels_last" in done.stdout
    assert "### torch, ddp (bucket 25 MB), channels_last" in done.stdout
    assert "### mxnet, multi-context (kvstore), channels_last" in done.stdout
