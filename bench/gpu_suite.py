"""The issue's six benchmarks on one GPU, sized to fit a short lease.

For each precision and backend (default mixed_bfloat16 and float32; jax and
torch, as the lent GPU machine has no TensorFlow), ResNet-50 on synthetic
224x224 images at batch 256:

- stage ``tool``: one keras-profiler run, as a user runs it. From its
  record: steady images/sec, set against the published ResNet-50 figures
  for one H100; the k-step interval mean +- standard error, jitter and 95%
  interval, and the --until-stable rule replayed on its own intervals (4);
  GPU utilisation, SM clock, power, energy per epoch and images per joule
  (5); MFU (6); the callback's clock against the worker's clock around
  ``fit`` (2).
- stage ``loops``: one process that builds the model as the tool does and
  times plain ``model.fit`` as harness_efficiency.py does (3), then fits
  without and with ProfilerCallback, alternating (1), then
  harness_efficiency.py's hand-written loops (hand_loops.py) over the same
  model, batches on the device and fed from NumPy (3).

Every configuration's ``tool`` stage runs before any ``loops`` stage, so a
call cut short still holds each one's headline figures. The results go to
--out/suite.json, rewritten whole (temporary file and rename) after each
measurement; a failure is kept as its error, and what the budget
(--budget-seconds, the whole call) left no time for as skipped.
gpu_suite_report.py turns one or more such folders into
bench/results/gpu-suite.md.

On the lent machine, through bench/gpu_suite.sh (installs what it lacks):
    bash bench/gpu_suite.sh --commit SHA [--stages loops] [--budget-seconds 540]
Here, once the files came back:
    python bench/gpu_suite_report.py FOLDER [FOLDER ...]
Smoke test on a CPU:
    python bench/gpu_suite.py run --out /tmp/gpu-suite --model tiny --image-size 32 \\
        --batch-size 32 --precisions float32 --commit test
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import _tool_runs  # bench/ is on the path when this file is run
import hand_loops
from child_process import run_child, tail
from harness_settings import FEEDS, Settings

STAGES = ("tool", "loops")
# A measurement is not started with less of the budget left than this.
MIN_SECONDS = 60
MARK = "GPU-SUITE "


@dataclass(frozen=True)
class Suite:
    """What one call measures.

    Attributes:
        backends, precisions: every pair is one configuration.
        model, image_size, batch_size: what is trained (one device).
        epochs, steps_per_epoch: the tool's run. 48 steps at k = 2 give the
            --until-stable rule the 50 steady intervals it wants.
        sync_every: k, the steps per timed interval of the tool.
        loops_steps_per_epoch: the loops stage's epochs, each measurement
            timing ``epochs - 1`` of them, as the tool's steady state leaves
            one out: shorter than the tool's, as that stage has six
            measurements to the tool's one.
        pairs: the loops stage's (without, with ProfilerCallback) fits.
        stages: which of STAGES to run, in that order.
        budget_seconds: the whole call; what does not fit is skipped.
        measurement_seconds: the most one measurement may take (a run that
            hangs must not take the whole budget); a timeout is a failure.
        commit: keras-profiler's commit (the lent machine has no git history).
    """

    backends: tuple[str, ...] = ("jax", "torch")
    # bf16 first: the published figures are half-precision ones.
    precisions: tuple[str, ...] = ("mixed_bfloat16", "float32")
    model: str = "resnet50"
    image_size: int = 224
    batch_size: int = 256
    epochs: int = 3
    steps_per_epoch: int = 48
    sync_every: int = 2
    loops_steps_per_epoch: int = 24
    pairs: int = 1
    seed: int = 1337
    stages: tuple[str, ...] = STAGES
    budget_seconds: float = 540.0
    measurement_seconds: float = 240.0
    commit: str | None = None

    def configurations(self) -> list[tuple[str, str]]:
        return [(b, p) for p in self.precisions for b in self.backends]

    def tool_flags(self, precision: str, timeout: float) -> list[str]:
        """The tool's flags after --backend: a fixed-length speed run."""
        flags = {
            "--model": self.model,
            "--dataset": "synthetic",
            "--image-size": self.image_size,
            "--batch-size": self.batch_size,
            "--precision": precision,
            "--epochs": self.epochs,
            "--steps-per-epoch": self.steps_per_epoch,
            "--sync-every": self.sync_every,
            "--seed": self.seed,
            "--timeout": int(timeout),
        }
        return [str(word) for pair in flags.items() for word in pair]

    def harness(self, backend: str, precision: str) -> Settings:
        """harness_efficiency.py's settings for one configuration's loops."""
        return Settings(
            backends=(backend,),
            model=self.model,
            batch_size=self.batch_size,
            epochs=self.epochs,
            steps_per_epoch=self.loops_steps_per_epoch,
            precision=precision,
            seed=self.seed,
            repeats=1,
            image_size=self.image_size,
        )


def key(stage: str, backend: str, precision: str) -> str:
    return f"{stage} {backend} {precision}"


# --- run: on the GPU machine --------------------------------------------------


def run(suite: Suite, out: Path) -> int:
    """Runs every stage of every configuration within the budget, writing
    --out/suite.json after each; exit status 1 if any measurement failed."""
    out.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + suite.budget_seconds
    # One jax compilation cache for the call: a program compiled once (the
    # same train step in the tool and the loops stage) can be read back
    # instead of compiled again; only first-epoch times can change.
    # Outside --out: what comes back from a lent machine is a few files only.
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", tempfile.mkdtemp(prefix="jax-cache-"))
    document = {
        "suite": dataclasses.asdict(suite),
        "machine": _tool_runs.machine_line(),
        "command": _tool_runs.command_line(),
        "results": {},
    }
    for stage in suite.stages:
        for backend, precision in suite.configurations():
            left = deadline - time.monotonic()
            name = key(stage, backend, precision)
            if left < MIN_SECONDS:
                result = {"skipped": f"{left:.0f} s of the budget left"}
            else:
                measure = measure_tool if stage == "tool" else measure_loops
                start = time.monotonic()
                result = measure(suite, backend, precision, min(left, suite.measurement_seconds))
                result["wall"] = time.monotonic() - start
            document["results"][name] = result
            _write_atomically(out / "suite.json", document)
            print(f"{name}: {_brief(result)}", flush=True)
    failed = any("error" in r for r in document["results"].values())
    return 1 if failed else 0


def measure_tool(suite: Suite, backend: str, precision: str, left: float) -> dict:
    """One keras-profiler run, stopped by its own --timeout (recorded as a
    timeout) within the ``left`` seconds it may take; its record."""
    flags = suite.tool_flags(precision, left - 15)
    try:
        record, wall = _tool_runs.run_tool(backend, flags, timeout=left + 30)
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        return {"error": str(error).splitlines()[-1][-400:]}
    return {"record": record, "command_wall": wall}


def measure_loops(suite: Suite, backend: str, precision: str, left: float) -> dict:
    """The loops stage's child process, in the environment the tool gives its
    worker; each of its results as it printed it, a crash or timeout as the
    error after those."""
    from keras_profiler import launcher

    settings = suite.harness(backend, precision)
    config = settings.run_config(backend)
    with tempfile.TemporaryDirectory(prefix="gpu-suite-") as scratch:
        path = Path(scratch) / "config.json"
        document = {
            "run": config.to_dict(),
            "settings": dataclasses.asdict(settings),
            "pairs": suite.pairs,
        }
        path.write_text(json.dumps(document))
        env = launcher.child_environment(config, Path(scratch))
        command = [sys.executable, __file__, "child", str(path)]
        done = run_child(command, env, left - 5)
    result = {}
    for line in done.stdout.splitlines():
        if line.startswith(MARK):
            result.update(json.loads(line[len(MARK) :]))
    if done.returncode != 0:
        result["error"] = f"exit {done.returncode}: {tail(done.stderr)}"
    return result


def _brief(result: dict) -> str:
    if "skipped" in result:
        return f"skipped ({result['skipped']})"
    figures = []
    if "record" in result:
        figures.append(f"{result['record']['summary']['steady_images_per_second']:.1f} images/sec")
    if result.get("pairs", {}).get("ratio"):
        figures.append(f"profiler ratio {result['pairs']['ratio']:.4f}")
    for name in ("fit", *FEEDS):
        if result.get(name, {}).get("rate"):
            figures.append(f"{name} {result[name]['rate']:.1f}")
    if "error" in result:
        figures.append(f"FAILED ({result['error']})")
    return (", ".join(figures) or "nothing measured") + f" in {result['wall']:.0f} s"


def _write_atomically(path: Path, document: dict) -> None:
    """A killed call leaves the last whole file, never half of one."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=1))
    temporary.replace(path)


# --- the loops stage's child ----------------------------------------------------


def child_main(config_path: str) -> int:
    """Builds the model as the tool does; plain fit without and with the
    profiler, then each hand-written loop; prints each result as a marked
    JSON line the moment it is measured."""
    import keras

    from keras_profiler import backends, input_pipeline
    from keras_profiler.config import RunConfig
    from keras_profiler.training.data import load_data, training_split
    from keras_profiler.training.model_builder import build_model

    document = json.loads(Path(config_path).read_text())
    config = RunConfig.from_dict(document["run"])
    fields = document["settings"]
    settings = Settings(**{**fields, "backends": tuple(fields["backends"])})
    adapter = backends.get(config.backend)
    data = load_data(config)
    model, _ = build_model(keras, config, adapter, data)
    x_train, y = training_split(config, data)
    x = input_pipeline.as_input(x_train, config.data_format)
    # Plain fit as harness_efficiency.py times it (epochs 2 and later by a
    # bare epoch clock, as the tool's steady state): the harness comparison.
    _emit("fit", hand_loops.fit_loop(keras, model, x, y, settings, config))
    # Then, compiled, fits without and with the profiler: its own cost.
    _emit("pairs", fit_pairs(keras, model, x, y, config, settings.epochs - 1, document["pairs"]))
    b = config.global_batch_size
    batches = [(x[i : i + b], y[i : i + b]) for i in range(0, len(x), b)]
    loop = hand_loops.LOOPS[config.backend]
    for feed in FEEDS:
        _emit(feed, loop(keras, model, batches, feed, settings, config))
    return 0


def _emit(name: str, result: dict) -> None:
    print(MARK + json.dumps({name: result}), flush=True)


def fit_pairs(keras, model, x, y, config, epochs: int, pairs: int) -> dict:
    """``pairs`` pairs of ``model.fit`` calls of ``epochs`` epochs, without
    and with ProfilerCallback (the order alternating, so drift favours
    neither), on a model whose train step is compiled. Each is timed by a
    clock around ``fit`` that waits for the device at its end."""
    from keras_profiler import ProfilerCallback

    batch = config.global_batch_size
    images = (len(x) // batch) * batch * epochs

    def finished():  # reading a weight back waits for the last step
        keras.ops.convert_to_numpy(model.trainable_variables[0].value)

    def timed(with_profiler: bool) -> float:
        callbacks = [ProfilerCallback(batch_size=batch, sync_every=config.sync_every)]
        start = time.perf_counter()
        model.fit(
            x,
            y,
            batch_size=batch,
            epochs=epochs,
            shuffle=True,
            verbose=0,
            callbacks=callbacks if with_profiler else [],
        )
        finished()
        return images / (time.perf_counter() - start)

    rates = []
    for pair in range(pairs):
        order = (False, True) if pair % 2 == 0 else (True, False)
        rate = {with_profiler: timed(with_profiler) for with_profiler in order}
        rates.append([rate[False], rate[True]])
    return {
        "pairs": rates,
        "ratio": pairs_ratio(rates),
        "keras": keras.__version__,
        "how": f"model.fit(x, y, epochs={epochs}, shuffle=True, verbose=0), clock around fit",
    }


def pairs_ratio(rates: list[list[float]]) -> float:
    """With / without, the median over the pairs of each pair's ratio (not
    a ratio of medians: each pair ran side by side, on the same machine state)."""
    return statistics.median(with_profiler / without for without, with_profiler in rates)


def parse(argv: list[str]) -> argparse.Namespace:
    defaults = Suite()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    go = commands.add_parser("run", help="measure, on the GPU machine")
    go.add_argument("--out", type=Path, required=True, help="where suite.json goes")
    for field in dataclasses.fields(Suite):
        flag = "--" + field.name.replace("_", "-")
        value = getattr(defaults, field.name)
        if isinstance(value, tuple):
            go.add_argument(flag, default=",".join(value), help=f"comma-separated ({flag[2:]})")
        else:
            kind = float if isinstance(value, float) else int if isinstance(value, int) else str
            go.add_argument(flag, type=kind, default=value)
    child = commands.add_parser("child")
    child.add_argument("config", type=Path)
    args = parser.parse_args(argv)
    if args.command == "run":
        fields = {f.name: getattr(args, f.name) for f in dataclasses.fields(Suite)}
        for name in ("backends", "precisions", "stages"):
            fields[name] = tuple(word.strip() for word in fields[name].split(",") if word.strip())
        unknown = set(fields["stages"]) - set(STAGES)
        if unknown:
            parser.error(f"--stages takes {', '.join(STAGES)}; not {', '.join(sorted(unknown))}")
        args.suite = Suite(**fields)
        try:
            for backend, precision in args.suite.configurations():
                args.suite.harness(backend, precision).run_config(backend)  # the tool's checks
        except ValueError as error:
            parser.error(str(error))
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.command == "child":
        return child_main(str(args.config))
    return run(args.suite, args.out)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
