"""Time the planted-regime simulator at the default (DishBrain-sized) scale.

Prints measured seconds for: 900 nodes x 20 min of gameplay (no rest), the full default recording
(20 min gameplay + 10 min rest), the same without network bursts (``burst_rate=0``) and building +
writing its NWB file. With ``--edges`` it also applies the paper's DishBrain recipe (50 ms binary
bins, 2-min windows every minute, |r| >= 0.6) to the full recording and prints, per regime (windows
that lie inside one regime), the fraction of node pairs that are edges: within a motor subregion,
between motor subregions, sensory-sensory, sensory-motor, and all pairs (the graph density without
self-loops). Run with, e.g.::

    taskset -c 0,1 python benchmarks/simulate.py        # on 2 cores
    python benchmarks/simulate.py --seed 3 --repeats 3
    python benchmarks/simulate.py --no-write --edges
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
    parser.add_argument("--edges", action="store_true", help="edge fractions of the DishBrain recipe per regime")
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
    burst_share = {s: float(b.sum() / sim.target_rates.sum()) for s, b in sim.burst_rates.items()}
    print(f"simulate {sim.n_nodes} nodes x {full.duration / 60:g} min (gameplay + rest): {secs:.2f} s "
          f"({int(sim.spikes.spike_counts.sum())} spikes, mean rate {sim.spikes.rates.mean():.2f} Hz; share of "
          f"spikes in bursts {', '.join(f'{s} {v:.2f}' for s, v in burst_share.items())})")
    plain = SimulationConfig(burst_rate=0.0)
    secs_plain, _ = _best(lambda: simulate_network(plain, seed=args.seed), args.repeats)
    print(f"  the same without network bursts (burst_rate=0): {secs_plain:.2f} s")
    if args.edges:
        _edge_fractions(sim)

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


def _edge_fractions(sim) -> None:
    from nwb_tavrnn.connectivity import ConnectivityParams, compute_dynamic_connectivity

    t0 = time.perf_counter()
    res = compute_dynamic_connectivity(sim.spikes, ConnectivityParams.preset("dishbrain"), warn_if_empty=False)
    secs = time.perf_counter() - t0
    g = sim.spikes.groups
    motor = g != "sensory"
    upper = np.triu(np.ones((g.size, g.size), dtype=bool), 1)
    same = g[:, None] == g[None, :]
    classes = {
        "within-subregion": upper & same & motor[:, None],
        "between-subregion": upper & ~same & motor[:, None] & motor[None, :],
        "sensory": upper & ~motor[:, None] & ~motor[None, :],
        "sensory-motor": upper & (motor[:, None] != motor[None, :]),
        "all (density)": upper,
    }
    per_state: dict[str, list[dict[str, float]]] = {}
    for w, (a, b) in enumerate(zip(res.window_start_times, res.window_stop_times)):
        states = set(sim.state_at(np.linspace(a, b, 50, endpoint=False)))
        edges = res.adjacency[w] > 0
        row = {k: float(edges[m].mean()) for k, m in classes.items()}
        per_state.setdefault(states.pop() if len(states) == 1 else "mixed", []).append(row)
    all_density = float(np.mean([(res.adjacency[w] > 0)[upper].mean() for w in range(len(res.window_start_times))]))
    print(f"DishBrain recipe ({len(res.window_start_times)} windows, {secs:.1f} s): fraction of pairs with |r| >= 0.6")
    for state, rows in per_state.items():
        print(f"  {state:9s} ({len(rows):2d} windows): "
              + ", ".join(f"{k} {np.mean([r[k] for r in rows]):.3f}" for k in classes))
    print(f"  all windows: density {all_density:.3f}")


if __name__ == "__main__":
    raise SystemExit(main())
