"""``python -m keras_profiler sweep``: run a matrix of configurations, resumably.

Everything the user can get wrong (the file, an override, a backend that is
not installed, more devices than present) is found before the first run and
reported as one line with exit status 2, with nothing recorded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from keras_profiler import gpus
from keras_profiler.checks import check_runnable, unsupported
from keras_profiler.config import RunConfig
from keras_profiler.console import describe, machine_words, regenerate
from keras_profiler.errors import UsageError
from keras_profiler.options import Parser, add_options, add_run_command_options, values
from keras_profiler.sweep import plan, runner
from keras_profiler.sweep.progress import Progress
from keras_profiler.sweep.spec import (
    DATA_KINDS,
    DIMENSION_FIELDS,
    QUICK,
    REFERENCE,
    SpecError,
    SweepSpec,
    presets,
)

EXIT_INTERRUPTED = 130
NOT_SUPPORTED = "not_supported"  # a result, not a failure: nothing could run


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        spec, notes = _spec(args).strategies_for(gpus.count())
        for note in notes:
            print(f"keras-profiler sweep: {note}", file=sys.stderr)
        names, optional = runner.backend_names(spec)
        configs = spec.configs(names, runner.device_counts(spec))
    except SpecError as error:
        raise UsageError(str(error)) from None
    for config in configs:
        check_runnable(config, refuse_unsupported=False)  # recorded as not supported
    if args.dry_run:
        todo, skipped = plan.pending(configs, args.results_dir, args.force)
        _announce(len(configs), todo, skipped)
        for config in todo:
            reason = unsupported(config)
            print(
                f"not supported, to record: {reason}" if reason else f"to run: {describe(config)}"
            )
        return 0
    # Before the first run: an MXNet environment that cannot be had stops
    # the sweep, or leaves mxnet out where the matrix says 'installed'.
    pythons, configs = runner.worker_pythons(configs, optional, args.mxnet_python)
    todo, skipped = plan.pending(configs, args.results_dir, args.force)
    _announce(len(configs), todo, skipped)
    try:
        finished = runner.run(todo, args.results_dir, pythons, Progress(len(todo)), spec)
    except KeyboardInterrupt:
        print(
            "keras-profiler sweep: stopped; what was recorded is kept: run the same command "
            "again to continue",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    failed = sum(record.status not in ("ok", NOT_SUPPORTED) for record in finished)
    _conclude(finished, failed)
    pages = [] if args.no_report else regenerate(args.results_dir, args.reports_dir)
    _say_what_was_measured_here(finished, failed, pages)
    return 1 if failed else 0


# Options named after the SweepSpec fields they override.
_MATRIX_OPTIONS = (
    "backends", "devices", "models", "batch_sizes", "data", "precisions", "repeats", "modes",
)  # fmt: skip


def _spec(args) -> SweepSpec:
    """The definition file (the reference matrix by default, a preset's with
    --preset, the quick one with --quick), with the command line's overrides
    applied."""
    chosen = [path for path in (args.file, args.preset, QUICK if args.quick else None) if path]
    if len(chosen) > 1:
        raise SpecError("give one of a sweep file, --preset and --quick")
    spec = SweepSpec.load(chosen[0] if chosen else REFERENCE)
    changes = _given(args, _MATRIX_OPTIONS)
    if args.devices is not None:
        # Device counts asked for by name run as asked: virtual CPU devices
        # on a machine without GPUs, as --gpus does for a single run.
        changes["devices_up_to_present"] = False
    if args.distortions:
        kinds = changes.get("data", spec.data)
        changes["data"] = list(dict.fromkeys([*kinds, "real-distorted"]))
    settings = values(args, RunConfig, leave_out=DIMENSION_FIELDS)
    if settings:
        # The command line wins over the file, per-model settings included.
        changes["settings"] = {**spec.settings, **settings}
        changes["model_settings"] = {
            model: {k: v for k, v in each.items() if k not in settings}
            for model, each in spec.model_settings.items()
        }
    # The file's settings for the models the command line left out go with
    # them, and its batch sizes replace the models' own (SweepSpec.replace).
    return spec.replace(**changes) if changes else spec


def _given(args, names) -> dict:
    """The options among ``names`` that the command line gave."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _announce(total: int, todo: list, skipped: dict[str, int]) -> None:
    line = f"{total} configuration(s), {len(todo)} to run"
    if skipped:
        settled = ", ".join(f"{n} {status}" for status, n in sorted(skipped.items()))
        line += f"; already recorded on this machine, skipped: {settled} (--force runs them again)"
    print(f"keras-profiler sweep: {line}", file=sys.stderr, flush=True)


def _say_what_was_measured_here(finished: list, failed: int, pages: list) -> None:
    """The sweep's last lines: what this machine measured, where to read it."""
    if finished:
        ok = sum(record.status == "ok" for record in finished)
        line = f"measured here ({machine_words(finished[0])}): {len(finished)} run(s), {ok} ok"
        print(f"keras-profiler sweep: {line}", flush=True)
    markdown = sorted(str(page) for page in pages if str(page).endswith(".md"))
    if markdown:
        print(
            f"keras-profiler sweep: pages, this machine's figures beside any recorded elsewhere: "
            f"{', '.join(markdown)}",
            flush=True,
        )


def _conclude(finished: list, failed: int) -> None:
    ok = sum(record.status == "ok" for record in finished)
    line = f"{len(finished)} run(s) done, {ok} ok"
    unsupported = len(finished) - ok - failed
    if unsupported:
        line += f", {unsupported} not supported by their backend, recorded as such"
    if failed:
        statuses = sorted(
            {record.status for record in finished if record.status not in ("ok", NOT_SUPPORTED)}
        )
        line += f", {failed} failed ({', '.join(statuses)}), recorded as such"
    print(f"keras-profiler sweep: {line}", file=sys.stderr, flush=True)


def parser() -> Parser:
    """The sweep's parser: the matrix's dimensions, then every RunConfig
    option the matrix does not decide, each overriding the file."""
    parser = Parser(
        prog="python -m keras_profiler sweep",
        description=(
            "Run every configuration of a matrix (a TOML sweep file; default: the reference "
            "matrix run_all.sh runs), one fresh worker per run, then regenerate the reports. "
            "Configurations already recorded on this machine (ok, out of memory, timed out "
            "or not supported by their backend) are skipped, so a stopped sweep continues "
            "where it stopped; records from other machines are reported, never skipped for; "
            "a failed run is recorded and the "
            "sweep goes on. The options below override the file, its per-model settings "
            "included; those that set a run's setting mean what they mean for one run "
            "(python -m keras_profiler --help)."
        ),
    )
    add = parser.add_argument
    add(
        "file",
        nargs="?",
        type=Path,
        help="sweep definition (TOML), like keras_profiler/sweep/keras-mxnet.toml",
    )
    add(
        "--preset",
        type=_preset,
        metavar="NAME",
        help="the matrix of one reference table, a file in keras_profiler/sweep/: "
        f"{', '.join(presets())}",
    )
    add(
        "--quick",
        action="store_true",
        help="the small matrix: the tiny model, synthetic data, 1 and 2 virtual CPU devices, "
        "two batch sizes, 2 epochs of 5 steps, every installed backend: a few minutes on CPUs",
    )
    add("--force", action="store_true", help="run every configuration again, recorded or not")
    add("--dry-run", action="store_true", help="list the runs the sweep would do, and stop")
    _add_dimensions(parser)
    add_options(parser, RunConfig, leave_out=DIMENSION_FIELDS, overrides=True)
    add_run_command_options(parser)
    return parser


def _add_dimensions(parser) -> None:
    add = parser.add_argument
    add("--backends", type=_names, help="backends, comma separated, or 'installed'")
    add(
        "--gpus",
        dest="devices",
        type=_counts,
        metavar="N,N",
        help="device counts, e.g. 1,2,4,8, run as given (virtual CPU devices without GPUs)",
    )
    add("--models", type=_names, help="models, comma separated")
    add(
        "--batch-sizes",
        type=_counts,
        metavar="N,N",
        help="per-device batch sizes, e.g. 10,20,30,40",
    )
    add("--data", type=_names, help=f"data kinds, comma separated: {', '.join(DATA_KINDS)}")
    add(
        "--distortions",
        action="store_true",
        help="add the real-distorted data kind: random crop and horizontal flip of each "
        "training image on the input path, as the reference tables' distortions runs",
    )
    add("--precisions", type=_names, help="Keras dtype policies, comma separated")
    add(
        "--modes",
        type=_names,
        metavar="train,infer",
        help="train (the default) and/or infer: forward-only latency and throughput of each "
        "model, batch size and device count, on one node",
    )
    add(
        "--repeats",
        type=int,
        metavar="K",
        help="run each configuration K times: reports give mean +- stdev",
    )


def _preset(name: str) -> Path:
    known = presets()
    if name not in known:
        raise argparse.ArgumentTypeError(f"unknown preset {name!r}: choose from {', '.join(known)}")
    return known[name]


def _names(text: str):
    names = [name.strip() for name in text.split(",") if name.strip()]
    if names == ["installed"]:
        return "installed"
    if not names:
        raise argparse.ArgumentTypeError("give one or more names, separated by commas")
    return names


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give whole numbers separated by commas"
        ) from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give whole numbers of at least 1")
    return counts
