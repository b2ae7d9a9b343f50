"""Does keras-profiler's steady images/sec match a hand-written training loop?

For each backend, alternating, each in a fresh process (the Keras backend is
fixed at import):

- the tool: ``python -m keras_profiler`` on synthetic data; its record's
  steady-state images/sec (epochs 2 and later). At its default strategy
  (``single`` on one device: a plain ``model.fit``) and, unless
  --no-data-parallel, again at the backend's data-parallel strategy on the
  same one device, to show what that wrapper costs; the default runs' k-step
  interval speed is shown beside them;
- hand-written loops over the same model, built by the tool's own
  ``worker._build_model`` (same seed, dtype policy, optimizer, data format),
  on the same synthetic images scaled as the tool scales them, the same global
  batch, in the same environment the tool gives its worker: jax a ``jax.jit``
  stateless step with donated state, tensorflow a ``tf.function`` with
  ``GradientTape`` (the tool's jit setting), torch an eager step with
  ``loss.backward()``. Each runs twice: with batches put on the device once
  before timing (the best case) and with NumPy batches fed per step (the
  host-to-device work ``model.fit`` from NumPy does). A few untimed warm-up
  steps, then ``--epochs`` - 1 timed epochs of ``--steps-per-epoch`` steps,
  the device waited on at the end of each;
- a plain ``model.fit`` of the same model on the same NumPy arrays, without
  the tool (no profiler callback, no progress bar), each epoch timed by a
  bare clock that waits for the device at the epoch's end: what the tool
  times, without the tool, so that the tool's own cost (callback, progress
  bar, worker) is told from Keras ``fit``'s.

The ratio is the tool's median over the best hand-written median; the target
is at least 0.95. Results go to bench/results/harness-efficiency.md with the
machine named and the command that produced them.

    python bench/harness_efficiency.py [--backends jax,tensorflow,torch] [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import _tool_runs  # bench/ is on the path when this file is run

from keras_profiler.backends.base import SINGLE

RESULTS = Path(__file__).parent / "results" / "harness-efficiency.md"
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
# Output of a child: the last stdout line starting with this marker.
MARK = "HARNESS-EFFICIENCY "


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


# --- the parent: runs the measurements, writes the report ----------------------


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


def tool_flags(config, settings: Settings, strategy: str | None) -> list[str]:
    """The tool's flags for one run of ``config``, after ``--backend``:
    --strategy, --image-size and --steps-per-execution only where the
    benchmark sets them, then
    --tool-flags."""
    flags = []
    for flag, value in [
        ("--model", config.model),
        ("--dataset", config.dataset),
        ("--batch-size", config.batch_size),
        ("--epochs", config.epochs),
        ("--steps-per-epoch", config.steps_per_epoch),
        ("--precision", config.precision),
        ("--seed", config.seed),
        ("--train-samples", config.train_samples),
        ("--test-samples", config.test_samples),
        ("--image-size", config.image_size),
        ("--strategy", strategy),
        (
            "--steps-per-execution",
            config.steps_per_execution if config.steps_per_execution > 1 else None,
        ),
    ]:
        if value is not None:
            flags += [flag, str(value)]
    return flags + shlex.split(settings.tool_flags)


def measure_tool(backend: str, settings: Settings, strategy: str | None) -> dict:
    """One tool run in its own process, as a user runs it (``strategy`` None:
    the tool picks its default): steady images/sec from its record."""
    config = settings.run_config(backend, strategy)
    try:
        flags = tool_flags(config, settings, strategy)
        record, _ = _tool_runs.run_tool(backend, flags, timeout=settings.timeout)
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        return {"error": str(error).splitlines()[-1][-300:]}
    interval = record["summary"].get("interval_speed") or {}
    return {
        "rate": record["summary"]["steady_images_per_second"],
        "interval_rate": interval.get("images_per_second_mean"),
        "epoch_rates": [e["images"] / e["seconds"] for e in record["epochs"][1:]],
        "loss": record["summary"]["train_loss"],
        "strategy": record["config"]["strategy"],
        "sync_every": record["config"].get("sync_every"),
        "jit_compile": record["distribution"].get("jit_compile"),
        "keras": record["environment"].get("keras"),
        "libraries": record["environment"].get("libraries", {}),
        "device": (record.get("devices") or [{}])[0].get("name"),
    }


def measure_hand(backend: str, feed: str, settings: Settings) -> dict:
    """One hand-written loop in its own process, in the environment the tool
    gives its worker (KERAS_BACKEND, private KERAS_HOME, thread counts)."""
    from keras_profiler import launcher

    config = settings.run_config(backend)
    with tempfile.TemporaryDirectory(prefix="harness-efficiency-") as scratch:
        path = Path(scratch) / "config.json"
        path.write_text(json.dumps(dataclasses.asdict(settings) | {"run": config.to_dict()}))
        env = launcher.child_environment(config, Path(scratch))
        command = [sys.executable, __file__, "--child", feed, str(path)]
        done = run_child(command, env, settings.timeout)
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
    if done.returncode != 0 or not lines:
        return {"error": f"exit {done.returncode}: {tail(done.stderr)}"}
    return json.loads(lines[-1][len(MARK) :])


def run_child(command: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    """Runs a measurement; a timeout is a failed measurement, not a crash,
    and keeps what the child printed before it (its finished results)."""
    try:
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        printed = expired.stdout or ""
        printed = printed.decode(errors="replace") if isinstance(printed, bytes) else printed
        return subprocess.CompletedProcess(command, -1, printed, f"timed out after {timeout:.0f} s")


def tail(text: str, lines: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def measure_backend(backend: str, settings: Settings) -> dict:
    """``repeats`` rounds of every measurement, the order reversed every
    other round so that a busy machine's drift favours no side."""
    kinds = [kind for kind in measurements(backend, settings) if kind not in DERIVED]
    rounds = []
    for repeat in range(settings.repeats):
        round_ = {}
        for kind in kinds if repeat % 2 == 0 else kinds[::-1]:
            start = time.perf_counter()
            if kind in FEEDS or kind == PLAIN_FIT:
                round_[kind] = measure_hand(backend, kind, settings)
            else:
                wrapped = kind == "tool-data-parallel"
                strategy = data_parallel_strategy(backend) if wrapped else settings.strategy
                round_[kind] = measure_tool(backend, settings, strategy)
            round_[kind]["wall_seconds"] = time.perf_counter() - start
            print(f"{backend} round {repeat + 1} {kind}: {_brief(round_[kind])}", flush=True)
        for kind, (source, key) in DERIVED.items():
            round_[kind] = {"rate": round_[source].get(key)}
        rounds.append(round_)
    return {"rounds": rounds, **summarise(rounds, [*kinds, *DERIVED])}


def _brief(result: dict) -> str:
    if "error" in result:
        return f"FAILED ({result['error']})"
    return f"{result['rate']:.1f} images/sec ({result['wall_seconds']:.0f} s wall)"


def summarise(rounds: list[dict], kinds: list[str]) -> dict:
    """Each measurement's median over the rounds where it succeeded; each tool
    measurement's ratio to the best hand-written median, and per round to
    that round's best hand-written figure (the scatter)."""
    medians = {}
    for kind in kinds:
        rates = [r[kind]["rate"] for r in rounds if r[kind].get("rate")]
        medians[kind] = statistics.median(rates) if rates else None
    hands = [medians[feed] for feed in FEEDS if medians[feed]]
    best = max(hands, default=None)
    ratios, pair_ratios = {}, {}
    for kind in kinds:
        if kind in FEEDS:
            continue
        ratios[kind] = medians[kind] / best if medians[kind] and best else None
        pair_ratios[kind] = [
            r[kind]["rate"] / max(r[f]["rate"] for f in FEEDS if r[f].get("rate"))
            for r in rounds
            if r[kind].get("rate") and any(r[f].get("rate") for f in FEEDS)
        ]
    return {"medians": medians, "best_hand": best, "ratios": ratios, "pair_ratios": pair_ratios}


def _number(value, digits: int = 1, missing: str = "failed") -> str:
    return missing if value is None else f"{value:.{digits}f}"


def _missing(rounds: list[dict], kind: str) -> str:
    """What an absent figure of ``kind`` is: 'failed' where a run failed,
    'n/a' where the runs gave none (the tool's interval speed without
    steady intervals)."""
    return "failed" if any("error" in r[kind] for r in rounds) else "n/a"


def _step_ms(rate, batch: int) -> float | None:
    return None if not rate else 1e3 * batch / rate


def _ratio(a, b) -> float | None:
    return a / b if a and b else None


def backend_section(backend: str, result: dict, settings: Settings) -> list[str]:
    """One backend's versions, a table (a row per measurement, a column per
    round) and the verdict for each tool measurement."""
    rounds, medians = result["rounds"], result["medians"]
    kinds = measurements(backend, settings)
    tool = next((r["tool"] for r in rounds if r["tool"].get("rate")), {})
    hand = next((r[f] for r in rounds for f in FEEDS if r[f].get("rate")), {})
    versions = ", ".join(f"{k} {v}" for k, v in (tool.get("libraries") or {}).items() if v)
    lines = [
        f"## {backend}",
        "",
        f"Keras {tool.get('keras') or hand.get('keras')}, {versions}; device: "
        f"{tool.get('device') or hand.get('device')}. Tool: jit_compile "
        f"{tool.get('jit_compile')}, waits for the device every {tool.get('sync_every')} "
        f"steps (--sync-every). Hand-written: {hand.get('how', '?')}.",
        "",
        "| measurement | "
        + " | ".join(f"round {i} img/s" for i in range(1, len(rounds) + 1))
        + " | median img/s | ms/step | median / plain fit | median / device-resident "
        "| median / NumPy-fed |",
        "| --- " * (len(rounds) + 6) + "|",
    ]
    for kind, label in kinds.items():
        cells = [_number(r[kind].get("rate"), missing=_missing([r], kind)) for r in rounds]
        missing = _missing(rounds, kind)
        cells += [
            f"**{_number(medians[kind], missing=missing)}**",
            _number(_step_ms(medians[kind], settings.batch_size), 2, missing),
        ]
        cells += [
            _number(_ratio(medians[kind], medians[f]), 3, missing) for f in [PLAIN_FIT, *FEEDS]
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    for kind in kinds:
        if kind in FEEDS:
            continue
        ratio = result["ratios"][kind]
        met = ratio is not None and ratio >= TARGET
        pairs = result["pair_ratios"][kind]
        spread = f" (per round {min(pairs):.3f} - {max(pairs):.3f})" if pairs else ""
        verdict = "(Keras's own fit, not the tool: no target)"
        if kind != PLAIN_FIT:
            verdict = f"target >= {TARGET} **{'met' if met else 'NOT met'}**"
        if ratio is None and _missing(rounds, kind) == "n/a":
            verdict = "no figure: the runs had no steady intervals (more steps an epoch)"
        lines.append(
            f"- {kinds[kind]}: ratio to the best hand-written median "
            f"**{_number(ratio, 3, _missing(rounds, kind))}**{spread}; {verdict}."
        )
    own = _ratio(medians["tool"], medians[PLAIN_FIT])
    if own is not None:
        lines.append(
            f"- The harness's own cost: the tool's median over plain `model.fit`'s "
            f"**{own:.3f}**; target >= {TARGET} **{'met' if own >= TARGET else 'NOT met'}**."
        )
    losses = [r[f]["mean_loss"] for r in rounds for f in FEEDS if "mean_loss" in r[f]]
    if tool.get("loss") is not None and losses:
        lines.append(
            f"- Training loss, a check that both trained: the tool's last epoch "
            f"{tool['loss']:.3f}; the hand loops' mean over their steps "
            f"{min(losses):.3f} - {max(losses):.3f}."
        )
    errors = [f"{k}: {r[k]['error']}" for r in rounds for k in r if "error" in r[k]]
    return lines + [f"- failed: {e}" for e in errors] + [""]


def difference_paragraph(results: dict, settings: Settings) -> list[str]:
    """What the medians say about the gap, backend by backend, in time per
    step: the per-step NumPy feed, each epoch's start-up and end, the tool's
    strategy, and what remains. Arithmetic on the table's medians only."""
    lines = ["## What the difference is", ""]
    for backend, result in results.items():
        ms = {k: _step_ms(m, settings.batch_size) for k, m in result["medians"].items()}
        if None in (ms["tool"], ms["device"], ms["numpy"]):
            lines.append(f"- {backend}: a measurement failed; no comparison.")
            continue
        text = (
            f"- {backend}: a step takes {ms['tool']:.2f} ms in the tool, {ms['device']:.2f} ms "
            f"in the hand loop with batches already on the device and {ms['numpy']:.2f} ms "
            f"with NumPy batches fed per step (the feed: {_longer(ms['numpy'] - ms['device'])}). "
            f"The tool's step is {_longer(ms['tool'] - ms['numpy'])} than the NumPy-fed hand "
            f"loop's ({100 * (ms['tool'] / ms['numpy'] - 1):+.1f}%)."
        )
        if ms.get("tool-interval"):
            text += (
                f" Its k-step interval speed, which leaves out each epoch's start-up and last "
                f"interval, gives {ms['tool-interval']:.2f} ms a step, "
                f"{_longer(ms['tool-interval'] - ms['numpy'])} than the NumPy-fed hand loop's."
            )
        if ms.get(PLAIN_FIT):
            text += (
                f" A plain `model.fit` of the same model and data, without the tool, takes "
                f"{ms[PLAIN_FIT]:.2f} ms a step: the tool's step is "
                f"{_longer(ms['tool'] - ms[PLAIN_FIT])} (the harness's own cost, tool / plain "
                f"fit {ms[PLAIN_FIT] / ms['tool']:.3f}), and plain fit's is "
                f"{_longer(ms[PLAIN_FIT] - ms['numpy'])} than the NumPy-fed hand loop's "
                "(Keras `fit`'s own per-step work, which every `fit` user pays)."
            )
        if ms.get("tool-data-parallel"):
            text += (
                f" At `--strategy {data_parallel_strategy(backend)}` on the same device the "
                f"tool's step takes {ms['tool-data-parallel']:.2f} ms: the data-parallel "
                f"wrapper makes it {_longer(ms['tool-data-parallel'] - ms['tool'])}."
            )
        lines.append(text + _within_spread(result["pair_ratios"]["tool"]))
    return lines + [""]


def _longer(milliseconds: float) -> str:
    """'0.42 ms longer' or '0.42 ms shorter'."""
    return f"{abs(milliseconds):.2f} ms {'longer' if milliseconds >= 0 else 'shorter'}"


def _within_spread(pairs: list[float]) -> str:
    """Whether the rounds' scatter leaves the comparison open."""
    if len(pairs) < 2:
        return " One round only: no measure of the run-to-run scatter."
    if min(pairs) <= 1.0 <= max(pairs):
        return " The per-round ratios straddle 1.0: the gap is within the run-to-run scatter."
    return ""


def markdown(results: dict, settings: Settings, output: Path, elapsed: float, load) -> str:
    """The whole report: machine (and how busy it was: ``load``, the load
    averages at the start), command, method, a section per backend."""
    lines = [
        "# Harness efficiency: keras-profiler against a hand-written training loop",
        "",
        _tool_runs.machine_line(),
        f"Command: `{settings.command(output)}` ({elapsed / 60:.1f} min; 1-minute load "
        f"average {load[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end).",
        "",
        f"Model `{settings.model}`, synthetic images"
        + (f" at {settings.image_size}x{settings.image_size}" if settings.image_size else "")
        + f", batch {settings.batch_size}, {settings.precision}, seed {settings.seed}; "
        f"{settings.epochs} epochs of {settings.steps_per_epoch} steps"
        + (
            f", {settings.steps_per_execution} steps per call of Keras's train function in the "
            "tool and plain `model.fit` (the hand loops: one step per call)"
            if settings.steps_per_execution > 1
            else ""
        )
        + ". The tool's figure "
        "is its record's steady state (epochs 2 and later) from `python -m keras_profiler "
        "--dataset synthetic` with the same settings. Each hand-written loop, in a fresh "
        "process with the tool worker's environment, builds the model with the tool's own "
        f"code, runs {settings.warmup_steps} untimed warm-up steps, then times "
        f"{settings.epochs - 1} epochs of {settings.steps_per_epoch} steps over the same "
        "images (no reshuffling), waiting on the device at the end of each. Rounds reverse "
        "the order of the measurements every other round. Ratio: a tool median over the best "
        f"hand-written median; target >= {TARGET}.",
        "",
    ]
    for backend, result in results.items():
        lines += backend_section(backend, result, settings)
    return "\n".join(lines + difference_paragraph(results, settings))


def parse_args(argv: list[str]) -> tuple[Settings, Path]:
    """Command line to Settings (checked, the tool's own checks included) and
    the output path."""
    defaults = Settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default=",".join(defaults.backends))
    parser.add_argument("--model", default=defaults.model)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--steps-per-epoch", type=int, default=defaults.steps_per_epoch)
    parser.add_argument("--precision", default=defaults.precision)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--repeats", type=int, default=defaults.repeats)
    parser.add_argument("--warmup-steps", type=int, default=defaults.warmup_steps)
    parser.add_argument("--image-size", type=int, help="given to the tool only when set")
    parser.add_argument("--strategy", help="given to the tool only when set (default: its own)")
    parser.add_argument(
        "--data-parallel",
        action=argparse.BooleanOptionalAction,
        default=defaults.data_parallel,
        help="also run the tool at the backend's data-parallel strategy on the one device",
    )
    parser.add_argument(
        "--steps-per-execution",
        type=int,
        default=defaults.steps_per_execution,
        help="steps per call of Keras's train function, for the tool and plain fit",
    )
    parser.add_argument("--tool-flags", default="", help="more flags for every tool run")
    parser.add_argument(
        "--torch-optimizer", choices=TORCH_OPTIMIZERS, default=defaults.torch_optimizer
    )
    parser.add_argument("--timeout", type=float, default=defaults.timeout)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = vars(parser.parse_args(argv))
    output = args.pop("output")
    args["backends"] = tuple(b.strip() for b in args["backends"].split(",") if b.strip())
    try:
        settings = Settings(**args)
        for backend in settings.backends:
            settings.run_config(backend)  # the tool's own checks, before anything runs
    except ValueError as error:
        parser.error(str(error))
    return settings, output


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        return child_main(*argv[1:])
    settings, output = parse_args(argv)
    start, load = time.perf_counter(), os.getloadavg()
    results = {b: measure_backend(b, settings) for b in settings.backends}
    text = markdown(results, settings, output, time.perf_counter() - start, load)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(text)
    failed = any("error" in r[k] for res in results.values() for r in res["rounds"] for k in r)
    return 1 if failed else 0


# --- the child: one hand-written loop ----------------------------------------


def child_main(feed: str, config_path: str) -> int:
    """Builds the model as the tool does, runs the backend's hand loop fed
    as ``feed`` says, and prints the result as one marked JSON line."""
    import keras

    from keras_profiler import backends, input_pipeline, worker
    from keras_profiler.config import RunConfig

    document = json.loads(Path(config_path).read_text())
    config = RunConfig.from_dict(document.pop("run"))
    settings = Settings(**{**document, "backends": tuple(document["backends"])})
    adapter = backends.get(config.backend)
    data = worker._load_data(config)  # the tool's images: same seed, size, count
    model, _ = worker._build_model(keras, config, adapter, data)
    x_train, y_train = worker._training_split(config, data)  # whole batches, as the tool
    x = input_pipeline.as_input(x_train, config.data_format)
    b = config.global_batch_size
    batches = [(x[i : i + b], y_train[i : i + b]) for i in range(0, len(x), b)]
    if feed == PLAIN_FIT:
        result = fit_loop(keras, model, x, y_train, settings, config)
    else:
        result = LOOPS[config.backend](keras, model, batches, feed, settings, config)
    result["keras"] = keras.__version__
    print(MARK + json.dumps(result), flush=True)
    return 0


def timed_epochs(step, batches, settings: Settings, sync, totals) -> dict:
    """Warm-up steps untimed, then ``epochs - 1`` timed epochs over
    ``batches``, each ended by ``sync`` (waits for the device). Returns the
    overall and per-epoch images/sec, and the mean loss and accuracy over
    every step from ``totals()`` (loss sum, correct count): a check that it
    trained."""
    for index in range(settings.warmup_steps):
        step(*batches[index % len(batches)])
    sync()
    seconds = []
    for _ in range(settings.epochs - 1):
        start = time.perf_counter()
        for batch in batches:
            step(*batch)
        sync()
        seconds.append(time.perf_counter() - start)
    images = len(batches) * len(batches[0][1])
    steps = settings.warmup_steps + len(seconds) * len(batches)
    loss_sum, correct = totals()
    return {
        "rate": images * len(seconds) / sum(seconds),
        "epoch_rates": [images / s for s in seconds],
        "mean_loss": float(loss_sum) / steps,
        "accuracy": float(correct) / (steps * len(batches[0][1])),
    }


def fit_loop(keras, model, x, y, settings: Settings, config) -> dict:
    """``model.fit`` as a user calls it (reshuffled each epoch, no progress
    bar, none of the tool's callbacks), ``epochs`` epochs in one call, each
    timed by a bare epoch clock that waits for the device once, at the
    epoch's end, by reading a weight back. The steady state, as the tool's:
    epochs 2 and later."""
    seconds = []

    class EpochClock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            keras.ops.convert_to_numpy(self.model.trainable_variables[0].value)
            seconds.append(time.perf_counter() - self.start)

    history = model.fit(
        x,
        y,
        batch_size=config.global_batch_size,
        epochs=settings.epochs,
        shuffle=True,
        verbose=0,
        callbacks=[EpochClock()],
    )
    images = (len(x) // config.global_batch_size) * config.global_batch_size
    steady = seconds[1:]
    return {
        "rate": images * len(steady) / sum(steady),
        "epoch_rates": [images / s for s in steady],
        "mean_loss": float(history.history["loss"][-1]),
        "how": "model.fit(x, y, shuffle=True, verbose=0)",
    }


def _loss_and_scaling(keras, model):
    """The loss the tool compiles ('sparse_categorical_crossentropy', mean over
    the batch) and whether the compiled optimizer scales the loss (Keras wraps
    it in a LossScaleOptimizer under mixed_float16)."""
    scaled = isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    return keras.losses.SparseCategoricalCrossentropy(), scaled


def jax_loop(keras, model, batches, feed, settings, config) -> dict:
    """The Keras guide's JAX loop: stateless_call and stateless_apply in one
    jax.jit-ed step whose state buffers are donated; loss and accuracy
    totals kept on the device, as fit's metrics are."""
    import jax
    import jax.numpy as jnp

    loss_fn, scaled = _loss_and_scaling(keras, model)
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)

    def loss_and_aux(trainable, non_trainable, optimizer_variables, x, y):
        y_pred, non_trainable = model.stateless_call(trainable, non_trainable, x, training=True)
        loss = loss_fn(y, y_pred)
        to_differentiate = loss
        if scaled:  # the scale is an optimizer variable: read it from the state
            mapping = list(zip(optimizer.variables, optimizer_variables))
            with keras.StatelessScope(state_mapping=mapping):
                to_differentiate = optimizer.scale_loss(loss)
        return to_differentiate, (loss, y_pred, non_trainable)

    grad_fn = jax.value_and_grad(loss_and_aux, has_aux=True)

    def train_step(state, x, y):
        trainable, non_trainable, optimizer_variables, (loss_sum, correct) = state
        (_, (loss, y_pred, non_trainable)), grads = grad_fn(
            trainable, non_trainable, optimizer_variables, x, y
        )
        trainable, optimizer_variables = optimizer.stateless_apply(
            optimizer_variables, grads, trainable
        )
        hits = jnp.sum(jnp.argmax(y_pred, axis=-1) == y)
        return trainable, non_trainable, optimizer_variables, (loss_sum + loss, correct + hits)

    step = jax.jit(train_step, donate_argnums=0)
    state = [
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in optimizer.variables],
        (jnp.zeros((), "float32"), jnp.zeros((), "int32")),
    ]
    if feed == "device":
        batches = jax.device_put(batches)

    def run_step(x, y):
        state[:] = step(tuple(state), x, y)

    result = timed_epochs(
        run_step, batches, settings, lambda: jax.block_until_ready(state), lambda: state[3]
    )
    # The step donated the model's own buffers: give the model the trained
    # state, so that it stays usable (gpu_suite.py runs more loops on it).
    variables = [model.trainable_variables, model.non_trainable_variables, optimizer.variables]
    for group, values in zip(variables, state[:3]):
        for variable, value in zip(group, values):
            variable.assign(value)
    result["how"] = (
        "jax.jit(train_step, donate_argnums=0) over model.stateless_call and the "
        f"compiled {type(optimizer).__name__}'s stateless_apply"
    )
    result["device"] = str(jax.devices()[0].device_kind)
    return result


def tensorflow_loop(keras, model, batches, feed, settings, config) -> dict:
    """The Keras guide's TensorFlow loop: a tf.function step with GradientTape
    and the compiled optimizer's apply, XLA as the tool sets it."""
    import tensorflow as tf

    loss_fn, _ = _loss_and_scaling(keras, model)
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    loss_sum, correct = tf.Variable(0.0), tf.Variable(0, dtype=tf.int64)

    @tf.function(jit_compile=config.jit_compile)
    def train_step(x, y):
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True)
            loss = loss_fn(y, y_pred)
            to_differentiate = optimizer.scale_loss(loss)  # the loss itself unless scaled
        grads = tape.gradient(to_differentiate, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        loss_sum.assign_add(loss)
        hits = tf.argmax(y_pred, axis=-1, output_type=tf.int32) == tf.cast(y, tf.int32)
        correct.assign_add(tf.reduce_sum(tf.cast(hits, tf.int64)))

    if feed == "device":
        device = "/GPU:0" if tf.config.list_logical_devices("GPU") else "/CPU:0"
        with tf.device(device):
            batches = [(tf.identity(x), tf.identity(y)) for x, y in batches]
    result = timed_epochs(
        train_step, batches, settings, loss_sum.numpy, lambda: (loss_sum.numpy(), correct.numpy())
    )
    result["traces"] = train_step.experimental_get_tracing_count()
    result["how"] = (
        f"tf.function(jit_compile={config.jit_compile}) with GradientTape and the "
        f"compiled {type(optimizer).__name__}'s apply"
    )
    result["device"] = "GPU:0" if tf.config.list_logical_devices("GPU") else "CPU"
    return result


def torch_loop(keras, model, batches, feed, settings, config) -> dict:
    """The Keras guide's PyTorch loop: an eager forward, loss.backward() and
    an optimizer step (torch.optim.SGD, or the compiled Keras optimizer as fit
    uses; the Keras one always when it scales the loss)."""
    import torch

    loss_fn, scaled = _loss_and_scaling(keras, model)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    totals = torch.zeros(2, device=device)
    update, how = _torch_update(model, config, settings.torch_optimizer, scaled)

    def step(x, y):
        if feed == "numpy":
            x, y = torch.as_tensor(x, device=device), torch.as_tensor(y, device=device)
        y_pred = model(x, training=True)
        loss = loss_fn(y, y_pred)
        update(loss)
        with torch.no_grad():
            totals[0] += loss.detach()
            totals[1] += (y_pred.argmax(dim=-1) == y).sum()

    if feed == "device":
        batches = [
            (torch.as_tensor(x, device=device), torch.as_tensor(y, device=device))
            for x, y in batches
        ]

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()
        totals.tolist()

    result = timed_epochs(step, batches, settings, sync, totals.tolist)
    result["how"] = f"eager forward, loss.backward(), {how}"
    result["device"] = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    return result


def _torch_update(model, config, choice: str, scaled: bool):
    """The torch loop's backward pass and weight update, and its description."""
    import torch

    if choice == "torch" and not scaled:
        # Same rule as Keras's SGD at a fixed rate: torch's v = m v + g,
        # w -= lr v is Keras's v' = m v' - lr g, w += v' with v' = -lr v.
        params = [v.value for v in model.trainable_variables]
        sgd = torch.optim.SGD(params, lr=config.effective_learning_rate, momentum=0.9, foreach=True)

        def update(loss):
            sgd.zero_grad(set_to_none=True)
            loss.backward()
            sgd.step()

        rate = config.effective_learning_rate
        return update, f"torch.optim.SGD(lr={rate}, momentum=0.9, foreach=True)"
    optimizer, trainable = model.optimizer, model.trainable_variables

    def update(loss):
        model.zero_grad()
        optimizer.scale_loss(loss).backward()
        with torch.no_grad():
            optimizer.apply([v.value.grad for v in trainable], trainable)

    return update, f"the compiled Keras {type(optimizer).__name__}'s apply"


# Each backend's hand-written loop.
LOOPS = {"jax": jax_loop, "tensorflow": tensorflow_loop, "torch": torch_loop}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
