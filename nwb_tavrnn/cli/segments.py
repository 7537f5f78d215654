"""``nwb-tavrnn segments INPUT [OUTPUT] --series position``: track segments as an intervals table.

The position is projected onto the track's long axis and cut into equal segments; every stay of at
least --min-duration seconds in one segment becomes a row of the table (column ``segment``: s1 at the
end where the recording starts). Then ``connectivity --windows-from position_segments`` computes one
graph per stay (the paper's rat analysis) and ``--labels position_segments:segment`` labels them.
"""

from __future__ import annotations

import argparse

from ._options import add_command


def register(subparsers) -> argparse.ArgumentParser:
    p = add_command(subparsers, "segments",
                    "track segments from a position series, as an intervals table",
                    __doc__, run)
    p.add_argument("input", help="NWB file with a behavioural position series")
    p.add_argument("output", nargs="?", help="write a copy of INPUT with the table added")
    p.add_argument("--in-place", action="store_true", help="add the table to INPUT itself (atomically)")
    p.add_argument("--series", default="position", metavar="PATH",
                   help="the position series, by name or path (default position)")
    p.add_argument("--segments", type=int, default=3, help="equal-length track segments (default 3)")
    p.add_argument("--min-duration", type=float, default=1.0, help="shortest stay kept, seconds (default 1)")
    p.add_argument("--restrict-to", metavar="TABLE[:COLUMN=VALUE]",
                   help="only samples inside these intervals, e.g. epochs:state=run")
    p.add_argument("--name", default="position_segments", help="name of the table (default position_segments)")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    return p


def run(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from ..io.files import open_nwb
    from ..io.read import read_intervals
    from ..io.segments import add_segments_to_file

    if args.in_place and args.output:
        raise UsageError("--in-place writes into INPUT; give no OUTPUT")
    if not args.in_place and not args.output:
        raise UsageError("give an OUTPUT file, or --in-place to add the table to INPUT")
    path = add_segments_to_file(args.input, args.output, series=args.series, n_segments=args.segments,
                                min_duration=args.min_duration, restrict_to=args.restrict_to, name=args.name,
                                in_place=args.in_place, overwrite=args.overwrite)
    with open_nwb(path) as nwbfile:
        counts = read_intervals(nwbfile)[args.name]["segment"].value_counts().sort_index()
    print(f"wrote {path}: {int(counts.sum())} stays in table {args.name!r} "
          f"({', '.join(f'{k} {v}' for k, v in counts.items())})")
    return 0
