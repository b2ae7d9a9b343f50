"""Command-line options, each declared once, beside the field it sets.

A RunConfig field that the command line sets is declared with ``option``:
its default, flag, help and parsing live there, and the run command's parser,
the sweep's override flags, the error messages (``flag``) and docs/options.md
are all derived from it. Options that belong to a command rather than to a
run (where records go, --mxnet-python) are declared here once, for every
command that takes them.

Example:

    @dataclass(frozen=True)
    class RunConfig:
        epochs: int = option(10, "epochs; the first is reported apart", metavar="N")

    parser = Parser(prog="demo")
    add_options(parser, RunConfig)
    RunConfig(**values(parser.parse_args(["--epochs", "3"]), RunConfig))
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from keras_profiler.errors import UsageError


@dataclass(frozen=True)
class Option:
    """How the command line sets one RunConfig field.

    Attributes:
        help: one phrase saying what the option does (no default: that is
            added from the field); a callable is asked when a parser is built,
            for help that lists what the registries hold.
        flag: the option's name; None: ``--<field-with-dashes>``.
        metavar: the value's name in --help (``N``, ``SECONDS``).
        parse: turns the text given into the field's value (int, float...).
        choices: the values taken; a callable is asked when a parser is built.
        switch: a flag without a value: True sets the field to True when
            given, False sets it to False (``--no-download``).
        required: the run command cannot do without it.
    """

    help: str | Callable[[], str]
    flag: str | None = None
    metavar: str | None = None
    parse: Callable | None = None
    choices: tuple | Callable[[], tuple] | None = None
    switch: bool | None = None
    required: bool = False


def option(default=dataclasses.MISSING, help="", **how) -> dataclasses.Field:
    """A dataclass field that the command line sets (see ``Option``)."""
    return dataclasses.field(default=default, metadata={"option": Option(help, **how)})


def declared(cls) -> list[tuple[dataclasses.Field, Option]]:
    """The fields of dataclass ``cls`` that are options, in field order."""
    return [(f, f.metadata["option"]) for f in dataclasses.fields(cls) if "option" in f.metadata]


def flag_of(field: dataclasses.Field) -> str:
    """The command-line flag that sets ``field``."""
    option = field.metadata.get("option")
    return (option and option.flag) or "--" + field.name.replace("_", "-")


def add_options(parser, cls, *, leave_out=(), overrides: bool = False) -> None:
    """Adds an argument per option of ``cls`` (but those in ``leave_out``)
    to ``parser``, storing each field's value under the field's name.

    ``overrides``: the arguments have no default and set nothing unless
    given (the sweep: what is not given, the sweep file decides)."""
    for field, option in declared(cls):
        if field.name in leave_out:
            continue
        default = argparse.SUPPRESS if overrides else field.default
        kwargs = {"dest": field.name, "default": default, "help": _help(option)}
        if option.switch is not None:
            kwargs["action"] = "store_true" if option.switch else "store_false"
        else:
            kwargs.update(type=option.parse, metavar=option.metavar, choices=_asked(option.choices))
        if option.required and not overrides:
            kwargs["required"] = True
            del kwargs["default"]
        parser.add_argument(flag_of(field), **kwargs)


def values(args: argparse.Namespace, cls, *, leave_out=()) -> dict:
    """The fields of ``cls`` that the parsed ``args`` hold, by field name."""
    names = [field.name for field, _ in declared(cls) if field.name not in leave_out]
    return {name: getattr(args, name) for name in names if hasattr(args, name)}


def on_off(text: str) -> bool:
    """Parses ``on`` or ``off``."""
    if text not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"{text!r}: give on or off")
    return text == "on"


class _DefaultsFormatter(argparse.HelpFormatter):
    """--help gives the default of each option that has one: not of flags
    without a value, nor where it is None (the help says what happens)."""

    def _get_help_string(self, action):
        text = action.help or ""
        shown = action.default not in (None, argparse.SUPPRESS) and action.nargs != 0
        if shown and not action.required and "%(default)" not in text and action.option_strings:
            text += " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    """Bad arguments: one line saying what to change, exit status 2. The
    help gives each option's default."""

    def __init__(self, **kwargs):
        kwargs.setdefault("formatter_class", _DefaultsFormatter)
        super().__init__(**kwargs)

    def error(self, message):
        raise UsageError(f"{message} (see --help)")


def add_folders(parser) -> None:
    """--results-dir and --reports-dir, which every command takes."""
    parser.add_argument(
        "--results-dir",
        type=Path,
        metavar="DIR",
        default=Path("results"),
        help="where run records are written and read",
    )
    parser.add_argument(
        "--reports-dir",
        type=Path,
        metavar="DIR",
        default=Path("reports"),
        help="where the markdown reports are written",
    )


def add_run_command_options(parser) -> None:
    """The options of a command that runs: --mxnet-python, the folders and
    --no-report."""
    parser.add_argument(
        "--mxnet-python",
        metavar="PATH",
        help="mxnet: a Python that has mxnet 1.9.1 and keras-mxnet 2.2.4.3; default: the "
        "environment keras-profiler builds on first use (see 'setup-mxnet --help')",
    )
    add_folders(parser)
    parser.add_argument(
        "--no-report", action="store_true", help="do not regenerate the reports after the runs"
    )


def _asked(value):
    return value() if callable(value) else value


def _help(option: Option) -> str:
    # argparse expands %-formatting in help texts.
    return _asked(option.help).replace("%", "%%")
