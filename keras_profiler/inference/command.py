"""``python -m keras_profiler infer``: forward-only latency and throughput of
the same models, datasets and precisions as training, one fresh worker and
one record (of mode "infer") per backend and batch size.

Example:

    python -m keras_profiler infer --backend jax,torch --model resnet50 --batch-sizes 1,8,32
"""

from __future__ import annotations

from keras_profiler import backends
from keras_profiler.checks import check_runnable
from keras_profiler.config import TRAINING_ONLY, RunConfig
from keras_profiler.console import regenerate, run_each
from keras_profiler.errors import UsageError
from keras_profiler.options import Parser, add_options, add_run_command_options, values

PROG = "python -m keras_profiler infer"
# What only training has, and the batch size (--batch-sizes, a list, here).
LEFT_OUT = (*TRAINING_ONLY, "batch_size")


def parser() -> Parser:
    p = Parser(prog=PROG, description=__doc__.split("\n\n")[0].replace("``", "'"))
    add_options(p, RunConfig, leave_out=LEFT_OUT)
    p.add_argument("--batch-sizes", type=_wholes, default=[1, 8, 32], metavar="LIST",
                   help="samples per batch, comma-separated; one record each")  # fmt: skip
    p.add_argument("--iterations", type=_whole, metavar="N",
                   help="measured batches a batch size, after warm-up (default: 100)")  # fmt: skip
    p.add_argument("--duration", type=float, metavar="SECONDS",
                   help="measure batches for this long instead (at least 5)")  # fmt: skip
    p.add_argument("--input-on-device", action="store_true",
                   help="copy each batch to the device before timing (default: the copy is "
                        "timed, as a server receiving requests pays it)")  # fmt: skip
    add_run_command_options(p)
    return p


def _whole(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(text)
    return int(text)


def _wholes(text: str) -> list[int]:
    return [_whole(item) for item in text.split(",")]


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.iterations is not None and args.duration is not None:
        raise UsageError("--iterations and --duration both bound the measurement: give one")
    failed = run_each(_configs(args), args, what="inference, ")
    if not args.no_report:
        regenerate(args.results_dir, args.reports_dir)
    return 1 if failed else 0


def _configs(args) -> list[RunConfig]:
    names = [name.strip() for name in args.backend.split(",") if name.strip()]
    if not names:
        raise UsageError(f"--backend is empty: give one or more of {', '.join(backends.NAMES)}")
    given = values(args, RunConfig, leave_out=LEFT_OUT)
    configs = []
    for backend in names:
        for batch_size in args.batch_sizes:
            try:
                configs.append(
                    RunConfig(
                        **{**given, "backend": backend},
                        batch_size=batch_size,
                        mode="infer",
                        infer_iterations=args.iterations,
                        infer_seconds=args.duration,
                        input_on_device=args.input_on_device,
                    )  # fmt: skip
                )
            except ValueError as error:
                raise UsageError(str(error)) from None
    for config in configs:
        check_runnable(config)
    return configs
