"""``nwb-tavrnn demo [--output DIR]``: the whole pipeline on the built-in simulated dataset.

Simulates a DishBrain-like culture (900 electrodes: 500 sensory and four motor subregions of 100;
20 min of gameplay alternating between an aligned and an unaligned regime, then 10 min of rest),
computes its dynamic connectivity with the paper's recipe (50 ms binary bins, |r| >= 0.6) in
non-overlapping 60 s windows (one regime each), trains TAVRNN, and evaluates the embeddings against
the regime of each window (labels epochs:state) beside baselines and null controls. DIR receives the
simulated input, the derived NWB file and the report (scores and figures). About three minutes on two
CPU cores.
"""

from __future__ import annotations

import argparse

from ._options import add_command


def register(subparsers) -> argparse.ArgumentParser:
    p = add_command(subparsers, "demo", "simulate the built-in dataset and run the whole pipeline on it", __doc__, run)
    p.add_argument("--output", "-o", default="nwb_tavrnn_demo", metavar="DIR",
                   help="folder for the files (default ./nwb_tavrnn_demo; created if missing)")
    p.add_argument("--overwrite", action="store_true", help="replace the files of an earlier demo in DIR")
    p.add_argument("--small", action="store_true", help="a tiny network (60 nodes, 5 min) for a quick look")
    return p


def run(args: argparse.Namespace) -> int:
    from ..pipeline import run_demo
    from .run import print_result, show_progress

    simulation = None
    config = None
    if args.small:
        from ..config import demo_config
        from ..simulate import SimulationConfig

        simulation = SimulationConfig.small()
        config = demo_config().with_overrides({"connectivity": {"window": 30.0, "step": 15.0}})
    result = run_demo(args.output, overwrite=args.overwrite, progress=show_progress(args), config=config,
                      simulation=simulation)
    print(f"simulated input: {result.simulated} ({result.simulate_seconds:.1f} s)")
    print_result(result.pipeline)
    figures = [p for p in result.pipeline.figures if p.suffix == ".png"]
    if figures:
        print("figures:", ", ".join(str(p) for p in figures))
    print(f"next: nwb-tavrnn inspect {result.pipeline.output}")
    return 0
