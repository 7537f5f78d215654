"""``nwb-tavrnn STEP INPUT OUTPUT``: any registered step (:mod:`nwb_tavrnn.steps`) that has no
command of its own, with options generated from its declared parameters."""

from __future__ import annotations

import argparse
import logging

from ._options import step_options

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction, step: type) -> argparse.ArgumentParser:
    """Add the subcommand of ``step`` (named as the step)."""
    from ..params import parameters

    parser = subparsers.add_parser(step.name, help=step.help, description=(step.__doc__ or "").strip() or None)
    parser.add_argument("input", metavar="INPUT.nwb", help="NWB file to read")
    parser.add_argument("output", metavar="OUTPUT.nwb", help="file to create: a copy of INPUT with the results")
    groups = list(dict.fromkeys(p.group for cls in (step.Params, getattr(step, "Flags", None))
                                if cls is not None for p in parameters(cls) if p.group))
    made = step_options(parser, step, tuple(groups))
    out = made.get("output") or parser.add_argument_group("output")
    out.add_argument("--report", metavar="DIR", help="write the step's report to DIR")
    out.add_argument("--overwrite", action="store_true", help="replace OUTPUT (and the report) if they exist")
    parser.set_defaults(func=run, step=step)
    return parser


def run(args: argparse.Namespace) -> int:
    from ..params import given

    step = args.step
    flags = getattr(step, "Flags", None)
    built = step(step.Params(**given(args, step.Params)), given(args, flags) if flags else {}).validate()
    result = built.run_file(args.input, args.output, report_dir=args.report, overwrite=args.overwrite)
    summary = getattr(result, "summary", None)
    print(f"wrote {args.output}: {step.name}" + (f"\n{summary()}" if callable(summary) else ""))
    return 0


__all__ = ["register"]
