"""Step commands: ``nwb-tavrnn STEP INPUT OUTPUT`` for a registered step (:mod:`nwb_tavrnn.steps`),
with options generated from its declared parameters.

A step without a command of its own gets :func:`register` and :func:`run` as they are; a step with
one (``nnpoisson``, ``seq2seq``) builds it from :func:`add_step_command`, :func:`build` and
:func:`execute`, and adds only its own options and its summary.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from typing import Any

from ._options import add_command, step_options
from ._progress import EpochBar

log = logging.getLogger(__name__)


def add_step_command(subparsers: argparse._SubParsersAction, step: type, run: Callable[[argparse.Namespace], int],
                     doc: str | None = None, input_help: str = "NWB file to read",
                     groups: tuple[str, ...] | None = None) -> dict[str, argparse._ArgumentGroup]:
    """The subcommand of ``step``: INPUT, OUTPUT, the step's options in ``groups`` (default: the
    groups its parameters name, then ``output``), ``--report`` and ``--overwrite``. Returns the
    argument groups, for a command's own options."""
    from ..params import parameters

    if doc is None:
        parser = add_command(subparsers, step.name, step.help, f"{step.name}: {step.__doc__ or ''}", run)
    else:
        parser = add_command(subparsers, step.name, step.help, doc, run, first_line=False)
    parser.add_argument("input", metavar="INPUT.nwb", help=input_help)
    parser.add_argument("output", metavar="OUTPUT.nwb", help="file to create: a copy of INPUT with the results")
    if groups is None:
        groups = tuple(dict.fromkeys([*(p.group for cls in (step.Params, getattr(step, "Flags", None))
                                        if cls is not None for p in parameters(cls) if p.group), "output"]))
    made = step_options(parser, step, groups)
    made["output"].add_argument("--report", metavar="DIR", help="write the scores (CSV) and the figures to DIR")
    made["output"].add_argument("--overwrite", action="store_true",
                                help="replace OUTPUT (and the report) if they exist")
    return made


def build(args: argparse.Namespace, step: type) -> tuple[Any, Any]:
    """The step and its estimator (None for a step without one) from the options given, checked
    before any file is read."""
    from ..params import given

    flags = getattr(step, "Flags", None)
    built = step(step.Params(**given(args, step.Params)), given(args, flags) if flags else {}).validate()
    return built, built.make_model() if built.model is not None else None


def execute(args: argparse.Namespace, step: Any, model: Any, **extra: Any) -> Any:
    """Run a model step on INPUT into OUTPUT, with the epoch bar; ``extra`` goes to its file function."""
    with EpochBar(step.name, model.epochs, args, log) as bar:
        return step.write(args.input, args.output, model, report_dir=args.report, overwrite=args.overwrite,
                          callback=bar.progress, on_step=bar.step, **extra)


def register(subparsers: argparse._SubParsersAction, step: type) -> None:
    """The generic command of a registered step without one of its own."""
    add_step_command(subparsers, step, run)
    subparsers.choices[step.name].set_defaults(_step_class=step)


def run(args: argparse.Namespace) -> int:
    built, model = build(args, args._step_class)
    if model is not None:
        result = execute(args, built, model)
    else:
        result = built.run_file(args.input, args.output, report_dir=args.report, overwrite=args.overwrite)
    summary = getattr(result, "summary", None)
    print(f"wrote {args.output}: {built.name}" + (f"\n{summary()}" if callable(summary) else ""))
    return 0


__all__ = ["add_step_command", "build", "execute", "register", "run"]
