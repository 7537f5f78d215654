"""``nwb-tavrnn monitor INPUT --model FITTED.nwb``: embed each window the moment its spikes are in.

INPUT is replayed (its Units, in time order) at real time, a multiple of it, or as fast as possible;
every completed window gets one status line (time, edges, subregion alignment, and a flag when its
embedding moved far from the recent ones). With --record the windows go to an NWB file written
progressively (flushed after each window: a crash loses at most the window in progress), which
`inspect`, `validate` and `evaluate` read like any derived file.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ..params import renamed_option
from ._options import add_command

log = logging.getLogger(__name__)


def _speed(value: str) -> float | None:
    if value == "max":
        return None
    if value == "realtime":
        return 1.0
    try:
        speed = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected realtime, max or a multiple of real time, got {value!r}") from None
    if not speed > 0:
        raise argparse.ArgumentTypeError("the speed must be positive")
    return speed


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_command(subparsers, "monitor",
                         "replay a recording through a fitted model, one embedded window as soon as it is complete",
                         __doc__, run, first_line=False)
    parser.add_argument("input", metavar="INPUT.nwb", help="NWB file whose Units are replayed")
    parser.add_argument("--model", metavar="FITTED.nwb",
                        help="file holding the fitted model and the graphs it was trained on (from fit or run)")
    parser.add_argument("--speed", type=_speed, default=None, metavar="realtime|max|X",
                        help="replay at real time, X times real time, or as fast as possible (max, the default)")
    parser.add_argument("--record", dest="output", metavar="OUT.nwb",
                        help="write the windows to this NWB file as they complete")
    # --output names an output folder elsewhere (demo, batch); here it was this file
    parser.add_argument("--output", dest="output", help=argparse.SUPPRESS, action=renamed_option("--record"))
    parser.add_argument("--figure", metavar="PNG", help="redraw this figure after every window (edges, alignment, "
                        "attention)")
    parser.add_argument("--provenance", metavar="NAME", help="the ModelProvenance to use when the model file holds "
                        "several graph models")
    parser.add_argument("--repair", action="store_true", help="only trim INPUT (a file monitor was writing when it "
                        "crashed) to its completely written windows")
    parser.add_argument("--device", default="auto", metavar="DEVICE", help="auto (default: a GPU when there is one), cpu, cuda, cuda:N")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT.nwb if it exists")
    return parser


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import InputFileError, UsageError
    from ..io.files import check_writable, open_nwb, refuse_source_as_destination
    from ..io.read import read_spike_trains
    from ..online.monitor import LiveFigure, ProgressiveWriter, load_fitted, monitor, repair, replay_spikes

    if args.repair:
        print(f"{args.input}: {repair(args.input)} complete windows kept")
        return 0
    if not args.model:
        raise UsageError("give the fitted model's file (--model FITTED.nwb)")
    if args.output:  # everything checked before the output is touched
        refuse_source_as_destination(args.input, args.output, in_place_hint=False)
        refuse_source_as_destination(args.model, args.output, in_place_hint=False)
        check_writable(args.output, args.overwrite)
    if args.figure and not Path(args.figure).resolve().parent.is_dir():
        raise UsageError(f"--figure {args.figure}: its folder does not exist")
    fitted = load_fitted(args.model, device=args.device, provenance=args.provenance)
    with open_nwb(args.input) as nwbfile:
        trains = read_spike_trains(nwbfile)
    missing = sorted(set(fitted.node_ids.tolist()) - set(trains.ids.tolist()))
    if missing:
        raise InputFileError(f"{args.input} has no units with ids {missing[:10]} of the model's nodes; monitor a "
                             "recording of the same units")
    fitted.embedder(trains.t_start)  # the model's own checks (posterior means, threshold mode), before any output
    if fitted.model.attention == "full":
        log.info("attention over the whole history: memory and time per window grow with the windows monitored")
    writer = ProgressiveWriter(args.output, args.input, fitted, overwrite=args.overwrite) if args.output else None
    figure = LiveFigure(args.figure) if args.figure else None
    count = 0
    try:
        for result, moved in monitor(replay_spikes(trains, speed=args.speed), fitted, writer=writer,
                                     until=trains.t_stop, t_start=trains.t_start):
            count += 1
            if figure is not None:
                figure.update(result, moved)
            alignment = "" if result.alignment is None else f", alignment {result.alignment:+.3f}"
            print(f"window {result.index}: {result.start:.1f}-{result.stop:.1f} s, {result.n_edges} edges"
                  f"{alignment}{'  <- embedding moved' if moved else ''}", flush=True)
    finally:
        if writer is not None:
            writer.close()
    print(f"{count} windows" + (f"; written to {args.output}" if args.output else ""), file=sys.stderr)
    return 0
