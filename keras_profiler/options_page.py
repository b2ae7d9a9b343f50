"""docs/options.md, rendered from the commands' parsers so that it cannot drift.

``python -m keras_profiler.options_page`` writes it; a test checks that the
committed page is what the parsers render now.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from keras_profiler import cli
from keras_profiler.sweep import cli as sweep_cli

PAGE = Path(__file__).resolve().parent.parent / "docs" / "options.md"

_INTRO = """\
# Options

Generated from the argument parsers by `python -m keras_profiler.options_page`;
do not edit by hand (a test checks that this page is what the parsers say).
`--help` on each command prints the same.
"""


def render() -> str:
    """The whole page, as markdown."""
    sections = [
        _INTRO,
        _section("Run: `python -m keras_profiler`", cli.run_parser()),
        _section("Sweep: `python -m keras_profiler sweep`", sweep_cli.parser()),
        _section("Reports only: `python -m keras_profiler report`", cli.report_parser()),
    ]
    return "\n".join(sections)


def _section(title: str, parser: argparse.ArgumentParser) -> str:
    lines = [f"## {title}", "", parser.description or "", ""]
    lines += ["| Option | Default | What it does |", "| --- | --- | --- |"]
    lines += [_row(action) for action in parser._actions if action.help != argparse.SUPPRESS]
    return "\n".join(lines) + "\n"


def _row(action: argparse.Action) -> str:
    if action.dest == "help":
        return "| `-h`, `--help` | | print the command's options and exit |"
    return f"| {_invocation(action)} | {_default(action)} | {_cell(action.help or '')} |"


def _invocation(action: argparse.Action) -> str:
    names = action.option_strings or [action.dest]
    if action.nargs == 0 or not action.option_strings:
        value = ""
    elif action.metavar:
        value = f" {action.metavar}"
    elif action.choices:
        value = " {" + ",".join(map(str, action.choices)) + "}"
    else:
        value = f" {action.dest.upper()}"
    return ", ".join(f"`{name}{value}`" for name in names)


def _default(action: argparse.Action) -> str:
    if action.required:
        return "required"
    if action.nargs == 0 or action.default in (None, argparse.SUPPRESS):
        return ""
    return f"`{action.default}`"


def _cell(text: str) -> str:
    # argparse's help texts escape % as %%; a pipe would end the cell.
    return text.replace("%%", "%").replace("|", "\\|")


def main(argv: list[str] | None = None) -> int:
    """Writes the page (or the path given) and says where."""
    path = Path(argv[0]) if argv else PAGE
    path.write_text(render())
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
