"""``nwb-tavrnn import DATASET INPUT OUTPUT``: a dataset-specific layout → an NWB file.

Datasets: see ``nwb-tavrnn import --help``. The file is written atomically; INPUT is only read.
"""

from __future__ import annotations

import argparse
import math

#: Options of ``import`` → (flag, default): each is passed only to the importers naming it in
#: ``Importer.options``, and refused for the others when given.
OPTIONS = {"segments": ("--segments", None), "rate": ("--rate", None), "plane": ("--plane", None)}


def register(subparsers) -> None:
    from ..importers import IMPORTERS

    listing = "; ".join(f"{name}: {imp.description} (expects {imp.expects})" for name, imp in IMPORTERS.items())
    p = subparsers.add_parser("import", help="convert a dataset-specific folder or file (e.g. suite2p) to NWB",
                              description=f"{__doc__.split(':', 1)[1].strip()} Known: {listing}.",
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", choices=sorted(IMPORTERS), help="which layout INPUT holds")
    p.add_argument("input", metavar="INPUT", help="the dataset's folder, or file for caiman (read only)")
    p.add_argument("output", help="NWB file to create")
    p.add_argument("--segments", type=int, help="linear-track: track segments of the stays table (3)")
    p.add_argument("--rate", type=float, metavar="HZ",
                   help="suite2p, caiman: imaging frame rate in Hz (needed when suite2p's ops.npy is absent; "
                        "overrides the stored rate)")
    p.add_argument("--plane", metavar="NAME", help="suite2p: import only this plane (e.g. plane1); default all")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.set_defaults(func=run)


def _options(args: argparse.Namespace, importer) -> dict:
    """The importer's keyword arguments; an option it does not take is refused (UsageError)."""
    from ..errors import UsageError

    given = {dest: getattr(args, dest) for dest, (_, default) in OPTIONS.items() if getattr(args, dest) != default}
    refused = [OPTIONS[dest][0] for dest in given if dest not in importer.options]
    if refused:
        raise UsageError(f"{', '.join(refused)} does not apply to {importer.name}; its options: "
                         f"{', '.join(OPTIONS[d][0] for d in importer.options) or 'none'}")
    return given


def run(args: argparse.Namespace) -> int:
    from ..errors import require
    from ..importers import IMPORTERS, import_to_nwb
    from ..io.files import check_writable

    require(args.segments is None or args.segments >= 2, f"segments must be >= 2, got {args.segments}")
    require(args.rate is None or (math.isfinite(args.rate) and args.rate > 0),
            f"--rate must be a frame rate > 0 Hz, got {args.rate}")
    importer = IMPORTERS[args.dataset]
    options = _options(args, importer)
    check_writable(args.output, args.overwrite)  # before reading anything
    path = import_to_nwb(args.dataset, args.input, args.output, overwrite=args.overwrite, **options)
    print(f"wrote {path}")
    return 0
