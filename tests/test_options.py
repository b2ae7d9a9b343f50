"""Each run option is declared once, on its RunConfig field; the parsers,
the error messages and docs/options.md follow from that declaration."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from keras_profiler import cli, options, options_page
from keras_profiler.config import RunConfig, flag
from keras_profiler.sweep import cli as sweep_cli
from keras_profiler.sweep.spec import DIMENSION_FIELDS

OPTIONS_PAGE = Path(__file__).resolve().parent.parent / "docs" / "options.md"


def test_docs_options_page_is_what_the_parsers_say():
    stale = "docs/options.md is stale: run python -m keras_profiler.options_page"
    assert OPTIONS_PAGE.read_text() == options_page.render(), stale


def test_the_page_lists_every_flag_of_both_commands():
    page = OPTIONS_PAGE.read_text()
    for parser in (cli.run_parser(), sweep_cli.parser()):
        for action in parser._actions:
            for name in action.option_strings:
                assert f"`{name}" in page, name
    assert "| `--gpus N` | `1` |" in page
    assert "| `--backend BACKEND` | required |" in page
    assert "| `--timeout SECONDS` |  | stop a run after this long" in page


def test_every_field_but_the_sweeps_repeat_and_the_infer_commands_is_an_option():
    fields = {field.name for field, _ in options.declared(RunConfig)}
    infer = {"mode", "infer_iterations", "infer_seconds", "input_on_device"}  # its own flags
    assert {f.name for f in dataclasses.fields(RunConfig)} - fields == {"repeat", *infer}


def test_the_run_parsers_defaults_are_run_configs():
    args = cli.run_parser().parse_args(["--backend", "jax", "--model", "tiny"])
    assert cli._config(args, "jax") == RunConfig(backend="jax", model="tiny")


def test_each_flag_sets_its_field():
    argv = ["--backend", "torch", "--model", "tiny", "--gpus", "2", "--timeout", "60"]
    argv += ["--no-download", "--jit-compile", "on", "--distortions", "--bucket-mb", "5"]
    argv += ["--data-dir", "/data", "--until-stable", "2.5"]
    config = cli._config(cli.run_parser().parse_args(argv), "torch")
    assert (config.devices, config.timeout_seconds, config.allow_download) == (2, 60.0, False)
    assert (config.jit_compile, config.distortions, config.bucket_mb) == (True, True, 5.0)
    assert (config.data_dir, config.until_stable, config.strategy) == ("/data", 2.5, "ddp")


@pytest.mark.parametrize(
    "field, expected",
    [("devices", "--gpus"), ("timeout_seconds", "--timeout"), ("allow_download", "--no-download")],
)
def test_error_messages_name_the_flag_the_parser_takes(field, expected):
    assert flag(field) == expected
    assert expected in cli.run_parser()._option_string_actions


def test_the_sweep_overrides_every_setting_the_matrix_does_not_decide():
    parser = sweep_cli.parser()
    for field, _ in options.declared(RunConfig):
        if field.name not in DIMENSION_FIELDS:
            assert flag(field.name) in parser._option_string_actions, field.name
    # Given nothing, it overrides nothing.
    assert options.values(parser.parse_args([]), RunConfig, leave_out=DIMENSION_FIELDS) == {}
    given = parser.parse_args(["--seed", "7", "--jit-compile", "off", "--no-download"])
    assert options.values(given, RunConfig, leave_out=DIMENSION_FIELDS) == {
        "seed": 7,
        "jit_compile": False,
        "allow_download": False,
    }


def test_run_and_sweep_share_the_help_of_a_shared_setting():
    run = cli.run_parser()._option_string_actions
    sweep = sweep_cli.parser()._option_string_actions
    for name in ("--epochs", "--sync-every", "--until-stable", "--data-dir", "--mxnet-python"):
        assert run[name].help == sweep[name].help, name
