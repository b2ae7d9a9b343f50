"""Command line: parse, validate everything, then run or report.

Every problem the user can fix is found before the first run starts and is
reported as one line with exit status 2; no record is written for it.
"""

from __future__ import annotations

import os
import sys

from keras_profiler import backends
from keras_profiler.backends.mxnet import environment as mxnet_env
from keras_profiler.checks import check_runnable
from keras_profiler.config import RunConfig
from keras_profiler.console import regenerate, run_each
from keras_profiler.errors import UsageError
from keras_profiler.nodes import cluster_env
from keras_profiler.options import Parser, add_folders, add_options, add_run_command_options, values
from keras_profiler.sweep import cli as sweep_cli

EXIT_USAGE = 2


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["report"]:
            return _report(report_parser().parse_args(argv[1:]))
        if argv[:1] == ["sweep"]:
            return sweep_cli.main(argv[1:])
        if argv[:1] == ["setup-mxnet"]:
            return _setup_mxnet(_setup_mxnet_parser().parse_args(argv[1:]))
        if argv[:1] == ["infer"]:
            from keras_profiler.inference import command as infer_command

            return infer_command.main(argv[1:])
        if argv[:1] == ["predict"]:
            from keras_profiler.predict import command as predict_command

            return predict_command.main(argv[1:])
        if argv[:1] == ["netns"]:
            from keras_profiler.nodes import command as netns_command

            return netns_command.main(argv[1:], prog="python -m keras_profiler netns")
        return _profile(run_parser().parse_args(argv))
    except UsageError as error:
        print(f"keras-profiler: error: {error}", file=sys.stderr)
        return EXIT_USAGE


def _profile(args) -> int:
    configs = _configs(args)
    failed = run_each(configs, args)
    if not args.no_report and not any(c.node_rank for c in configs):
        regenerate(args.results_dir, args.reports_dir)
    return 1 if failed else 0


def _configs(args) -> list[RunConfig]:
    """One validated config per backend asked for; any problem stops all runs."""
    names = [name.strip() for name in args.backend.split(",") if name.strip()]
    if not names:
        raise UsageError(f"--backend is empty: give one or more of {', '.join(backends.NAMES)}")
    configs = []
    for name in names:
        try:
            configs.append(_config(args, name))
        except ValueError as error:
            raise UsageError(str(error)) from None
    for config in configs:
        check_runnable(config)
    return configs


def _config(args, backend: str) -> RunConfig:
    given = {**values(args, RunConfig), "backend": backend}
    if given["nodes"] == 1 and given["coordinator"] is None:
        # No cluster on the command line: the one a launcher describes.
        cluster = cluster_env.detect(os.environ)
        if cluster is not None:
            given.update(
                nodes=cluster.nodes, node_rank=cluster.node_rank, coordinator=cluster.coordinator
            )
    return RunConfig(**given)


def _setup_mxnet(args) -> int:
    python = mxnet_env.ensure(base_python=args.python)
    print(f"keras-profiler: the MXNet environment is ready: --mxnet-python {python}")
    return 0


def _report(args) -> int:
    regenerate(args.results_dir, args.reports_dir)
    return 0


def run_parser() -> Parser:
    """The run command's parser: every RunConfig option, then the command's own."""
    parser = Parser(
        prog="python -m keras_profiler",
        description=(
            "Train a Keras model under one or more backends, measure epoch time, images/sec, "
            "accuracy and peak memory, record every run under --results-dir and regenerate "
            "--reports-dir. 'python -m keras_profiler report' regenerates the reports alone; "
            "'python -m keras_profiler sweep' runs a whole matrix of configurations."
        ),
    )
    add_options(parser, RunConfig)
    add_run_command_options(parser)
    return parser


def _setup_mxnet_parser() -> Parser:
    parser = Parser(
        prog="python -m keras_profiler setup-mxnet",
        description=(
            "Build the isolated environment --backend mxnet runs in (mxnet 1.9.1, keras-mxnet "
            "2.2.4.3, numpy 1.23.5; the CUDA build matching the NVIDIA driver, if any), in "
            "$KERAS_PROFILER_CACHE (~/.cache/keras-profiler). --backend mxnet does this by "
            "itself on first use; this command does it ahead of time."
        ),
    )
    parser.add_argument(
        "--python",
        metavar="PATH",
        help="the Python 3.10 or 3.11 to build it from (default: the one running this)",
    )
    return parser


def report_parser() -> Parser:
    parser = Parser(
        prog="python -m keras_profiler report",
        description="Regenerate the reports from the records alone; nothing is trained.",
    )
    add_folders(parser)
    return parser
