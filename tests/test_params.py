"""Parameters declared once (nwb_tavrnn.params): the checks, the configuration keys, the command
line and the documentation all come from one dataclass field."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from nwb_tavrnn.errors import ParameterError
from nwb_tavrnn.params import (
    add_arguments,
    at_least,
    between,
    check,
    flag_message,
    from_mapping,
    given,
    names,
    options_table,
    param,
    patience,
)


@dataclass
class Options:
    fraction: float = param(0.2, help="share held out", check=between(0, 1))
    splits: int = param(5, help="folds", check=at_least(2))
    kind: str = param("a", help="which kind", choices=("a", "b"))
    columns: tuple[str, ...] = param((), help="columns", parse=lambda s: tuple(s.split(",")), required=True)
    skip: bool = param(True, help="the extra fits", negate=True)
    hidden: int = param(3, help="a configuration key only", flag=None)
    limit: int | None = param(None, help="optional limit", parse=int, check=at_least(1))


def test_constraints_name_the_parameter():
    assert check(Options(columns=("x",))).fraction == 0.2
    for kwargs, name, text in ((dict(fraction=1.0), "fraction", "must be in (0, 1), got 1.0"),
                               (dict(fraction=float("nan")), "fraction", "must be in (0, 1)"),
                               (dict(fraction="0.5"), "fraction", "must be in (0, 1), got '0.5'"),
                               (dict(splits=1), "splits", "must be >= 2, got 1"),
                               (dict(kind="c"), "kind", "must be one of a, b, got 'c'"),
                               (dict(limit=0), "limit", "must be >= 1, got 0"),
                               (dict(columns=()), "columns", "is required")):
        with pytest.raises(ParameterError) as err:
            check(Options(**{"columns": ("x",), **kwargs}))
        assert err.value.parameter == name
        assert str(err.value).startswith(f"{name} {text}")
    check(Options(columns=("x",), limit=None))  # None is the declared default: allowed


def test_configuration_keys_and_unknown_key_suggestion():
    assert names(Options) == ("fraction", "splits", "kind", "columns", "skip", "hidden", "limit")
    assert from_mapping(Options, {"splits": 3, "columns": ("a",)}).splits == 3
    with pytest.raises(ParameterError, match=r"unknown key 'split' \(did you mean 'splits'\?\)"):
        from_mapping(Options, {"split": 3})


def test_command_line_gives_only_what_was_typed_and_errors_name_the_flag():
    parser = argparse.ArgumentParser()
    flags = add_arguments(parser, Options)
    assert flags == {"fraction": "--fraction", "splits": "--splits", "kind": "--kind", "columns": "--columns",
                     "skip": "--no-skip", "limit": "--limit"}  # hidden has no flag
    args = parser.parse_args(["--columns", "a,b", "--no-skip", "--fraction", "0.5"])
    assert given(args, Options) == {"columns": ("a", "b"), "skip": False, "fraction": 0.5}
    with pytest.raises(SystemExit):
        parser.parse_args([])  # --columns is required
    with pytest.raises(SystemExit):
        parser.parse_args(["--columns", "a", "--kind", "c"])  # choices come from the declaration
    with pytest.raises(ParameterError) as err:
        check(Options(**given(parser.parse_args(["--columns", "a", "--fraction", "2"]), Options)))
    assert flag_message(err.value, flags) == "--fraction must be in (0, 1), got 2.0"
    rule = ParameterError("give exactly one of fraction and splits, not both", ("fraction", "splits"))
    assert flag_message(rule, flags) == "give exactly one of --fraction and --splits, not both"
    assert patience("0") is None and patience("7") == 7


def test_options_table_documents_every_key():
    table = options_table(Options, "demo")
    for name in names(Options):
        assert f"`demo.{name}`" in table
    assert "| `demo.fraction` | `--fraction` | `0.2` | in (0, 1) | share held out |" in table
    assert "| `demo.hidden` |  | `3` |" in table


def test_numpy_scalars_are_numbers_and_odd_values_are_refused_not_crashed():
    import numpy as np

    assert check(Options(columns=("x",), fraction=np.float32(0.5), splits=np.int64(3))).splits == 3
    with pytest.raises(ParameterError, match="splits must be >= 2"):
        check(Options(columns=("x",), splits={"a": 1}))  # a mapping where a number belongs: one clear line


def test_run_names_the_key_and_its_flag(capsys):
    from nwb_tavrnn.cli.main import main

    assert main(["run", "--show-config", "--threshold-mode", "top_k", "--threshold", "0.2"]) == 2
    err = capsys.readouterr().err
    assert "threshold (--threshold) applies to threshold mode fixed only" in err
    assert "set threshold_mode (--threshold-mode) too" in err
    assert main(["run", "--show-config", "--set", "connectivity.time_range={a: 1}"]) == 2  # not a crash (1)
    assert "time_range (--time-range) must be [start, stop]" in capsys.readouterr().err


def test_messages_name_flags_keys_or_full_settings():
    """A backticked name becomes the flag (a step's command), ``key (flag)`` (``run``: the value may
    come from a file; a hand-written option found by its destination), or, without a flag, the
    setting in full (``sorting.curation``); a name nobody declared is left as written."""
    from nwb_tavrnn.errors import InputFileError

    err = InputFileError("relax the `curation` or use a shorter `window`", ("curation", "window"))
    assert flag_message(err, {"window": "--window"}) == "relax the `curation` or use a shorter --window"
    err.parameter = ("sorting.curation", "connectivity.window")
    assert flag_message(err, {"connectivity.window": "--window"}) == \
        "relax the sorting.curation or use a shorter window (--window)"
    assert flag_message(err, {"window": "--window"}) == "relax the sorting.curation or use a shorter window (--window)"
