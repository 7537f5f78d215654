"""``nwb-tavrnn connectivity INPUT OUTPUT``: spike trains → per-window Pearson graphs, written to NWB.

Defaults come from a preset (``--preset``; ``default`` keeps the strongest 10% of pairs per window,
which gives informative graphs on in-vivo units; ``dishbrain`` is the paper's exact recipe: 50 ms
binary bins, 120 s windows every 60 s, |r| >= 0.6). Any option given overrides the preset.
"""

from __future__ import annotations

import argparse
import sys

from ._options import add_command


def register(subparsers) -> None:
    from ..config import ConnectivitySection
    from ..connectivity import ConnectivityParams
    from ..connectivity.nodes import NodeOptions
    from ..connectivity.step import ConnectivityOptions
    from ..params import add_arguments

    p = add_command(subparsers, "connectivity", "compute dynamic connectivity graphs from spike trains", __doc__, run)
    p.add_argument("input", help="NWB file with a Units table or ROI traces (path or http(s)/DANDI URL)")
    p.add_argument("output", nargs="?", help="output NWB file (omit with --in-place)")
    groups = {name: p.add_argument_group(name) for name in ("binning and windows", "nodes", "edges", "output")}
    flags = add_arguments(p, ConnectivitySection, {"connectivity": p})
    flags.update(add_arguments(p, ConnectivityParams, groups, defaults=False))  # the preset's, not the class's
    groups["binning and windows"].add_argument("--counts", dest="binary", action="store_false",
                                               default=argparse.SUPPRESS, help="spike-count bins")
    flags.update(add_arguments(p, ConnectivityOptions, groups))
    flags.update(add_arguments(p, NodeOptions, groups))
    o = groups["output"]
    mode = o.add_mutually_exclusive_group()
    mode.add_argument("--append", action="store_true", help="write a copy of INPUT with the result added")
    mode.add_argument("--in-place", action="store_true", help="add the result to INPUT itself (atomically)")
    o.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.set_defaults(_flags=flags)


def params_from_args(args: argparse.Namespace, preset: str | None = None):
    from ..config import ConnectivitySection
    from ..connectivity import ConnectivityParams
    from ..params import given

    # a bad value: ParameterError, exit code 2
    return ConnectivityParams.preset(given(args, ConnectivitySection).get("preset") or preset or "default",
                                     **given(args, ConnectivityParams))


def run(args: argparse.Namespace) -> int:
    from ..connectivity.nodes import NodeOptions
    from ..connectivity.step import ConnectivityOptions, run_connectivity
    from ..errors import UsageError
    from ..params import given

    if args.in_place and args.output:
        raise UsageError("--in-place writes into INPUT; give no OUTPUT")
    if not args.in_place and not args.output:
        raise UsageError("give an OUTPUT file, or --in-place to add the result to INPUT")
    mode = "in_place" if args.in_place else "append" if args.append else "derived"
    nodes = NodeOptions(**given(args, NodeOptions))
    options = ConnectivityOptions(**given(args, ConnectivityOptions))
    params_from_args(args)  # every bad value fails here, before the input is read
    path = run_connectivity(
        args.input, args.output, lambda rois: params_from_args(args, "ophys" if rois else None),
        nodes=nodes, mode=mode, overwrite=args.overwrite, progress=not args.quiet and sys.stderr.isatty(),
        **vars(options),
    )
    print(f"wrote {path}")
    return 0
