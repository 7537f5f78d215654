"""Command-line options that several subcommands share, declared once here."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def add_command(subparsers: argparse._SubParsersAction, name: str, summary: str, doc: str | None,
                run: Callable[[argparse.Namespace], int], *, first_line: bool = True) -> argparse.ArgumentParser:
    """A subcommand: ``summary`` in ``nwb-tavrnn --help``, the module's ``doc`` as its description
    (from after the command's name, or with ``first_line=False`` from its second paragraph), and
    ``run`` called with the parsed arguments."""
    text = doc or ""
    description = text.split(":", 1)[1].strip() if first_line else text.split("\n\n", 1)[-1]
    parser = subparsers.add_parser(name, help=summary, description=description or None,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(func=run)
    return parser


def add_patience(group: argparse._ActionsContainer, default: int | None = None) -> None:
    """``--patience EPOCHS``: early stopping; 0 on the command line means never stop early."""
    where = f"{default}; " if default is not None else ""
    group.add_argument("--patience", type=int, metavar="EPOCHS",
                       help=f"epochs without validation improvement before stopping ({where}0 = never stop early)")


def patience_value(flag: int) -> int | None:
    """The estimators' ``patience`` for a ``--patience`` flag: None (never stop early) for 0."""
    return None if flag == 0 else flag


def step_options(parser: argparse.ArgumentParser, step: type, groups: tuple[str, ...]
                 ) -> dict[str, argparse._ArgumentGroup]:
    """A step's options, generated from its declared parameters (:mod:`nwb_tavrnn.params`): those
    of ``step.Params`` and of ``step.Flags`` (the estimator arguments the command line offers), in
    the argument ``groups`` named by each parameter. Returns the groups, for the command's own
    options; the parser's ``_flags`` default maps each parameter to its flag, so a library error
    naming a parameter reaches the user naming the flag (:func:`nwb_tavrnn.params.flag_message`)."""
    from ..params import add_arguments

    made = {name: parser.add_argument_group(name) for name in groups}
    flags = add_arguments(parser, step.Params, made)
    if getattr(step, "Flags", None) is not None:
        flags.update(add_arguments(parser, step.Flags, made))
    parser.set_defaults(_flags=flags)
    return made


__all__ = ["add_command", "add_patience", "patience_value", "step_options"]
