"""``nwb-tavrnn import DATASET FOLDER OUTPUT``: a dataset-specific layout → an NWB file.

Datasets: see ``nwb-tavrnn import --help``. The file is written atomically; FOLDER is only read.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    from ..importers import IMPORTERS

    listing = "; ".join(f"{name}: {imp.description} (expects {imp.expects})" for name, imp in IMPORTERS.items())
    p = subparsers.add_parser("import", help="convert a dataset-specific folder (e.g. linear-track) to NWB",
                              description=f"{__doc__.split(':', 1)[1].strip()} Known: {listing}.",
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", choices=sorted(IMPORTERS), help="which layout FOLDER holds")
    p.add_argument("input", metavar="FOLDER", help="the dataset's folder (read only)")
    p.add_argument("output", help="NWB file to create")
    p.add_argument("--segments", type=int, default=3, help="linear-track: track segments of the stays table (3)")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputFileError, require
    from ..importers import IMPORTERS
    from ..io.files import check_writable, write_nwbfile

    require(args.segments >= 2, f"segments must be >= 2, got {args.segments}")
    check_writable(args.output, args.overwrite)  # before reading anything
    try:
        nwbfile = IMPORTERS[args.dataset].build(args.input, segments=args.segments)
    except FileNotFoundError as err:
        raise InputFileError(f"{args.input}: {err.strerror or err}: {err.filename}; the {args.dataset} importer "
                             f"expects {IMPORTERS[args.dataset].expects}") from None
    path = write_nwbfile(nwbfile, args.output, overwrite=args.overwrite)
    print(f"wrote {path}")
    return 0
