"""Time the planted-regime simulator at the default (DishBrain-sized) scale.

Prints measured seconds for: 900 nodes x 20 min of gameplay (no rest), the full default recording
(20 min gameplay + 10 min rest) and building + writing its NWB file. Run with, e.g.::

    taskset -c 0,1 python benchmarks/simulate.py        # on 2 cores
    python benchmarks/simulate.py --seed 3 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from nwb_tavrnn.simulate import SimulationConfig, simulate_network


def _best(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1, help="report the best of this many runs")
    parser.add_argument("--no-write", action="store_true", help="skip the NWB write")
    args = parser.parse_args(argv)

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"cores available: {cores}; numpy {np.__version__}")

    gameplay = SimulationConfig(rest_minutes=0.0)
    secs, sim = _best(lambda: simulate_network(gameplay, seed=args.seed), args.repeats)
    n_spikes = int(sim.spikes.spike_counts.sum())
    print(f"simulate {sim.n_nodes} nodes x {gameplay.gameplay_minutes:g} min gameplay: {secs:.2f} s "
          f"({n_spikes} spikes, mean rate {sim.spikes.rates.mean():.2f} Hz)")

    full = SimulationConfig()
    secs, sim = _best(lambda: simulate_network(full, seed=args.seed), args.repeats)
    print(f"simulate {sim.n_nodes} nodes x {full.duration / 60:g} min (gameplay + rest): {secs:.2f} s "
          f"({int(sim.spikes.spike_counts.sum())} spikes)")

    if not args.no_write:
        from nwb_tavrnn.io.files import write_nwbfile

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "sim.nwb"
            t0 = time.perf_counter()
            nwbfile = sim.to_nwbfile()
            t1 = time.perf_counter()
            write_nwbfile(nwbfile, path)
            t2 = time.perf_counter()
            size = path.stat().st_size / 2**20
        print(f"build NWBFile: {t1 - t0:.2f} s; write: {t2 - t1:.2f} s ({size:.1f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
