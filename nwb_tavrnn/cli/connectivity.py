"""``nwb-tavrnn connectivity INPUT OUTPUT``: spike trains → per-window Pearson graphs, written to NWB.

Defaults come from a preset (``--preset``; ``default`` keeps the strongest 10% of pairs per window,
which gives informative graphs on in-vivo units; ``dishbrain`` is the paper's exact recipe: 50 ms
binary bins, 120 s windows every 60 s, |r| >= 0.6). Any option given overrides the preset.
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("connectivity", help="compute dynamic connectivity graphs from spike trains",
                              description=__doc__.split(":", 1)[1].strip(),
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="NWB file with a Units table or ROI traces (path or http(s)/DANDI URL)")
    p.add_argument("output", nargs="?", help="output NWB file (omit with --in-place)")
    p.add_argument("--preset", default=None, choices=["default", "dishbrain", "hippocampus", "ophys"],
                   help="starting settings (default: strongest 10%% of pairs; dishbrain: the paper's recipe; "
                        "hippocampus: Marchenko-Pastur denoising; ophys: calcium imaging at 10-30 Hz, the default "
                        "for ROI traces); the options below override them")
    g = p.add_argument_group("binning and windows")
    g.add_argument("--bin-size", type=float, help="bin width in seconds")
    g.add_argument("--binary", dest="binary", action="store_true", default=None, help="1/0 bins")
    g.add_argument("--counts", dest="binary", action="store_false", help="spike-count bins")
    g.add_argument("--window", type=float, help="window length in seconds")
    g.add_argument("--step", type=float, help="step between window starts in seconds")
    g.add_argument("--windows-from", metavar="TABLE[:COLUMN]",
                   help="one window per interval of TABLE, or per run of equal COLUMN values")
    g.add_argument("--restrict-to", metavar="TABLE[:COLUMN=VALUE]",
                   help="slide windows only inside these intervals")
    g.add_argument("--time-range", type=float, nargs=2, metavar=("START", "STOP"), help="seconds")
    n = p.add_argument_group("nodes")
    n.add_argument("--groups", nargs="+", help="keep nodes of these electrode groups")
    n.add_argument("--locations", nargs="+", help="keep nodes at these locations")
    n.add_argument("--nodes", choices=["auto", "units", "rois"], default="auto",
                   help="units' spike trains or ROI traces (auto: the units when the file has any, else the ROIs)")
    n.add_argument("--series", metavar="PATH", help="ROIs: the RoiResponseSeries, e.g. Fluorescence/RoiResponseSeries "
                                                    "(default: the only plane's raw fluorescence)")
    n.add_argument("--rois", choices=["accepted", "all"], help="ROIs: the segmentation's accepted cells (default, "
                                                                "where it says) or all")
    n.add_argument("--signal", choices=["raw", "dff", "events"],
                   help="ROIs: the trace as stored (default), dF/F on suite2p's maximin baseline, or 0/1 events")
    n.add_argument("--event-threshold", type=float, help="ROIs, events: noise levels above the baseline (2.5)")
    n.add_argument("--baseline-window", type=float, help="ROIs, dff/events: baseline filter length in seconds (60)")
    n.add_argument("--neuropil", type=float, metavar="K",
                   help="ROIs: subtract K x the plane's Neuropil series (suite2p uses 0.7; default 0: none)")
    t = p.add_argument_group("edges")
    t.add_argument("--threshold-mode", choices=["fixed", "top_k", "density", "mp", "none"],
                   help="how edges are kept: |r| >= --threshold, --top-k partners, a fixed --density, the "
                        "Marchenko-Pastur null, or every pair")
    t.add_argument("--threshold", type=float, help="fixed: keep |r| >= this")
    t.add_argument("--top-k", type=int, help="top_k: partners kept per node")
    t.add_argument("--density", type=float, help="density: fraction of pairs kept per window")
    t.add_argument("--mp-null", choices=["shuffle", "analytic"], help="mp: surrogate or analytic null")
    t.add_argument("--n-surrogates", type=int, help="mp shuffle: surrogates per window")
    t.add_argument("--signed", action="store_true", help="store signed r instead of |r|")
    t.add_argument("--seed", type=int, help="seed of the surrogates")
    o = p.add_argument_group("output")
    o.add_argument("--name", default="DynamicConnectivity", help="name of the result in the file")
    mode = o.add_mutually_exclusive_group()
    mode.add_argument("--append", action="store_true", help="write a copy of INPUT with the result added")
    mode.add_argument("--in-place", action="store_true", help="add the result to INPUT itself (atomically)")
    o.add_argument("--no-correlation", action="store_true", help="do not store the unthresholded correlation")
    o.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.set_defaults(func=run)


_OVERRIDES = {"bin_size": "bin_size", "binary": "binary", "window": "window", "step": "step",
              "threshold_mode": "threshold_mode", "threshold": "threshold", "top_k": "top_k", "density": "density",
              "mp_null": "mp_null", "n_surrogates": "n_surrogates", "seed": "seed"}


def params_from_args(args: argparse.Namespace, preset: str | None = None):
    from ..connectivity import ConnectivityParams

    overrides = {field: getattr(args, opt) for opt, field in _OVERRIDES.items() if getattr(args, opt) is not None}
    if args.signed:
        overrides["absolute"] = False
    # a bad value: ParameterError, exit code 2
    return ConnectivityParams.preset(args.preset or preset or "default", **overrides)


_NODE_OPTIONS = ("nodes", "series", "rois", "signal", "event_threshold", "baseline_window", "neuropil")


def nodes_from_args(args: argparse.Namespace):
    from ..connectivity.nodes import NodeOptions

    return NodeOptions.from_mapping({k: getattr(args, k, None) for k in _NODE_OPTIONS})


def run(args: argparse.Namespace) -> int:
    from ..connectivity.step import run_connectivity
    from ..errors import UsageError

    if args.in_place and args.output:
        raise UsageError("--in-place writes into INPUT; give no OUTPUT")
    if not args.in_place and not args.output:
        raise UsageError("give an OUTPUT file, or --in-place to add the result to INPUT")
    mode = "in_place" if args.in_place else "append" if args.append else "derived"
    nodes = nodes_from_args(args)
    params_from_args(args)  # every bad value fails here, before the input is read
    path = run_connectivity(
        args.input, args.output, lambda rois: params_from_args(args, "ophys" if rois else None),
        windows_from=args.windows_from, nodes=nodes,
        restrict_to=args.restrict_to, groups=args.groups, locations=args.locations,
        time_range=tuple(args.time_range) if args.time_range else None, name=args.name, mode=mode,
        overwrite=args.overwrite, store_correlation=not args.no_correlation,
        progress=not args.quiet and sys.stderr.isatty(),
    )
    print(f"wrote {path}")
    return 0
