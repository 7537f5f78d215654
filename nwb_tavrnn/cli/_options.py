"""Command-line options that several subcommands share, declared once here."""

from __future__ import annotations

import argparse


def add_patience(group: argparse._ActionsContainer, default: int | None = None) -> None:
    """``--patience EPOCHS``: early stopping; 0 on the command line means never stop early."""
    where = f"{default}; " if default is not None else ""
    group.add_argument("--patience", type=int, metavar="EPOCHS",
                       help=f"epochs without validation improvement before stopping ({where}0 = never stop early)")


def patience_value(flag: int) -> int | None:
    """The estimators' ``patience`` for a ``--patience`` flag: None (never stop early) for 0."""
    return None if flag == 0 else flag


__all__ = ["add_patience", "patience_value"]
