"""The epoch progress bar the training commands share (shown only on a terminal, never with --quiet)."""

from __future__ import annotations

import argparse
import logging
import sys


class EpochBar:
    """A tqdm bar over epochs: ``progress`` is the models' ``callback(epoch, loss)``, ``step`` names
    the stage in progress (and logs it, for runs piped to a file). Use as a context manager."""

    def __init__(self, desc: str, total: int, args: argparse.Namespace, logger: logging.Logger | None = None) -> None:
        from tqdm.auto import tqdm

        show = not getattr(args, "quiet", False) and sys.stderr.isatty()
        self.bar = tqdm(total=total, desc=desc, unit="epoch", disable=not show, leave=False)
        self.log = logger or logging.getLogger(__name__)

    def progress(self, epoch: int, loss: float) -> None:
        self.bar.n = epoch
        self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        self.bar.update(0)

    def step(self, name: str) -> None:
        self.bar.set_description(name)
        self.log.info("%s", name)

    def __enter__(self) -> EpochBar:  # noqa: PYI034 - no subclasses
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()
