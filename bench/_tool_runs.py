"""What the timing benchmarks share: running keras-profiler itself, as a user
does, and naming the machine in their results."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from keras_profiler import environment


def run_tool(backend: str, flags: list[str], timeout: float = 1800) -> tuple[dict, float]:
    """Runs ``python -m keras_profiler --backend B FLAGS`` into a scratch
    results folder; returns its one record and the wall time of the whole
    command by this process's clock."""
    with tempfile.TemporaryDirectory(prefix="kp-bench-") as scratch:
        command = [
            sys.executable,
            "-m",
            "keras_profiler",
            "--backend",
            backend,
            *flags,
            "--results-dir",
            scratch,
            "--no-report",
        ]
        start = time.perf_counter()
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        wall = time.perf_counter() - start
        found = list(Path(scratch).glob("*/record.json"))
        if completed.returncode != 0 or len(found) != 1:
            tail = (completed.stderr or completed.stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"{' '.join(command)} failed: {' | '.join(tail)}")
        return json.loads(found[0].read_text()), wall


def parser(doc: str, output: Path, epochs: int) -> argparse.ArgumentParser:
    """The options every tool-running benchmark takes: what to run, where to write."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--backends", default="jax,tensorflow,torch")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--steps-per-epoch", type=int, default=400)
    parser.add_argument("--output", type=Path, default=output)
    return parser


def measure_each(args, measure, markdown) -> None:
    """Measures every backend of --backends in turn and writes the results."""
    results = {backend: measure(backend, args) for backend in args.backends.split(",")}
    write(args.output, markdown(results, args))


def machine_line() -> str:
    """'Machine: CPU, cores, memory, GPUs or no GPU; the commit; how busy it
    was now (the 1-minute load average: timing noise depends on it)'."""
    host = environment.collect()
    gpus = ", ".join(g["name"] for g in host["gpus"]) or "no GPU"
    return (
        f"Machine: {host['cpu_model']}, {host['cpu_cores_logical']} logical cores "
        f"({host['cpu_cores_physical']} physical), {host['memory_mib']} MiB, {gpus}; "
        f"keras-profiler {host['keras_profiler_commit']}; 1-minute load average "
        f"{os.getloadavg()[0]:.2f} when written."
    )


def header(title: str) -> list[str]:
    """A result file's first lines: its title, the machine, the command."""
    return [f"# {title}", "", machine_line(), f"Command: `{command_line()}`"]


def command_line() -> str:
    """The command that is running, as a user would type it."""
    return "python " + " ".join(sys.argv)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(text)
