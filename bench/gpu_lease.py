"""The GPU parts of the scaling-predictor and inference issues in one short
lease: ResNet-50 at 224x224 on one GPU, through keras-profiler as a user
runs it, jax and torch (the lent machine has no TensorFlow).

Steps, most wanted first, so that a call cut short keeps what matters:

1. ``train``: one training run per backend at mixed_bfloat16 with
   ``--profile-layers`` (steady images/sec, telemetry, MFU, and the layer
   profile the scaling predictor reads for 8 to 32 GPUs);
2. ``infer``: forward-only latency and throughput per backend and
   precision (mixed_bfloat16, float32) at batch 1 and 256 (SingleStream's
   and the Offline end), then at 8, 32 and 128;
3. ``train`` again, time allowing: torch in channels_first, then float32.

Each step is one command of the tool into one results folder (the tool writes
each run's record, a failed run as a failure record). After every step
--out/results.tar.gz and --out/lease.json (each step's command, exit
status and wall time) are rewritten whole, so a call killed at its limit
still returns every finished record. A step that the budget
(--budget-seconds) has too little time left for is recorded as skipped.

On the lent machine (bench/gpu_lease.sh installs what it lacks):
    bash bench/gpu_lease.sh --commit SHA          (timeout_s 600)
Smoke test on a CPU, from a Python without TensorFlow:
    python bench/gpu_lease.py --out /tmp/lease --model tiny --image-size 32 \\
        --train-batch 32 --train-steps 4 --commit test
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

PRECISIONS = ("mixed_bfloat16", "float32")
BACKENDS = ("jax", "torch")
FIRST_BATCHES, LATER_BATCHES = "1,256", "8,32,128"
# A step is not started with less of the budget left than this.
MIN_SECONDS = {"train": 75, "infer": 40}


def steps(args) -> list[tuple[str, list[str]]]:
    """(kind, the tool's arguments) of every step, in the order run."""
    common = ["--model", args.model, "--dataset", "synthetic", "--image-size", str(args.image_size)]

    def train(backend: str, precision: str, *more: str) -> tuple[str, list[str]]:
        return ("train", ["--backend", backend, *common, "--precision", precision,
                          "--batch-size", str(args.train_batch), "--epochs", "3",
                          "--steps-per-epoch", str(args.train_steps), "--sync-every", "2",
                          "--test-samples", str(args.train_batch), *more,
                          "--timeout", str(args.train_timeout)])  # fmt: skip

    profiles = [train(backend, "mixed_bfloat16", "--profile-layers") for backend in BACKENDS]
    infer = [
        ("infer", ["infer", "--backend", backend, *common, "--precision", precision,
                   "--batch-sizes", batches, "--iterations", str(args.iterations),
                   "--timeout", str(args.infer_timeout)])
        for batches in (FIRST_BATCHES, LATER_BATCHES)
        for precision in PRECISIONS
        for backend in BACKENDS
    ]  # fmt: skip
    # Then, time allowing, what a user would try next for training: torch in
    # channels_first (Keras's channels_last transposes around each of
    # torch's NCHW convolutions), and float32.
    extra = [
        train("torch", "mixed_bfloat16", "--data-format", "channels_first"),
        train("jax", "float32"),
        train("torch", "float32"),
    ]
    return profiles + infer + extra


def run(args) -> int:
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    # Outside --out: at most a few files come back from a lease (the archive).
    results = Path(tempfile.mkdtemp(prefix="lease-results-"))
    if args.commit:
        os.environ["KERAS_PROFILER_COMMIT"] = args.commit
    deadline = time.monotonic() + args.budget_seconds
    done = []
    for kind, tool_args in steps(args):
        command = [sys.executable, "-m", "keras_profiler", *tool_args,
                   "--results-dir", str(results), "--no-report"]  # fmt: skip
        left = deadline - time.monotonic()
        entry = {"command": " ".join(command[1:])}
        if left < MIN_SECONDS[kind]:
            entry["skipped"] = f"{left:.0f} s of the budget left"
        else:
            entry.update(_run_step(command, left))
        done.append(entry)
        print(f"== {entry['command']}: {_brief(entry)}", flush=True)
        _write_atomically(out / "lease.json", json.dumps({"steps": done}, indent=1))
        _pack(results, out / "results.tar.gz")
    return 0 if all(step.get("exit") == 0 for step in done) else 1


def _run_step(command: list[str], seconds: float) -> dict:
    """One command of the tool, its output passed through; stopped with its
    whole process group (the tool and its worker) when ``seconds`` run out."""
    began = time.monotonic()
    child = subprocess.Popen(command, start_new_session=True)
    try:
        code = child.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        code = f"stopped at the budget, after {seconds:.0f} s"
    return {"exit": code, "wall_s": round(time.monotonic() - began, 1)}


def _brief(entry: dict) -> str:
    if "skipped" in entry:
        return f"skipped ({entry['skipped']})"
    return f"exit {entry['exit']} in {entry['wall_s']} s"


def _pack(results: Path, archive: Path) -> None:
    """Every record so far, as one file (few files come back from a lease)."""
    temporary = archive.with_suffix(".tmp")
    with tarfile.open(temporary, "w:gz") as tar:
        tar.add(results, arcname="results")
    temporary.replace(archive)


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.replace(path)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="where results go")
    parser.add_argument("--commit", help="keras-profiler's commit, written into each record")
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--train-batch", type=int, default=256)
    parser.add_argument("--train-steps", type=int, default=40, help="steps an epoch, 3 epochs")
    parser.add_argument("--train-timeout", type=int, default=170, help="seconds a training run")
    parser.add_argument("--iterations", type=int, default=100, help="measured batches")
    parser.add_argument("--infer-timeout", type=int, default=75, help="seconds an infer run")
    parser.add_argument("--budget-seconds", type=float, default=555.0, help="the whole call")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(run(parse(sys.argv[1:])))
