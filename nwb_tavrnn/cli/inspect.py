"""``nwb-tavrnn inspect FILE``: what a file holds (units, intervals, behaviour, our objects)."""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    parser = subparsers.add_parser("inspect", help="summarise what an NWB file holds",
                                   description=__doc__.split(":", 1)[1].strip())
    parser.add_argument("file", help="NWB file (path or URL)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..io.files import open_nwb
    from ..io.summary import format_summary, summarize

    with open_nwb(args.file) as nwbfile:
        summary = summarize(nwbfile)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0
