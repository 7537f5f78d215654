"""Online monitoring: per-window latency (spikes in -> embedding out) and memory over a long replay.

For 128 and 900 nodes of 3 Hz Poisson spiking, 50 ms bins, 120 s windows every 60 s (the paper's
DishBrain settings), a TAVRNN (fitted briefly on the first windows: the weights do not change the
cost) embeds a replay pushed in 1 s batches as fast as possible. Latency is the time of the push
that completes a window (binning that batch, the window's correlation and threshold, the model's
step); the target is <= 100 ms at 900 nodes, >= 600x faster than the 60 s window step. Memory is
the process's resident size after the first windows and at the end of a 2 h replay.

    python benchmarks/online.py [--nodes 128 900] [--hours 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20


def case(n_nodes: int, hours: float, threads: int) -> dict:
    import torch

    from nwb_tavrnn.connectivity import ConnectivityParams
    from nwb_tavrnn.connectivity.compute import compute_dynamic_connectivity
    from nwb_tavrnn.io.spike_trains import SpikeTrains
    from nwb_tavrnn.models import TAVRNN
    from nwb_tavrnn.online import OnlineEmbedder

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    params = ConnectivityParams.preset("dishbrain")
    warm = 600.0  # the first 10 minutes fit the model briefly
    fit_trains = SpikeTrains([np.sort(rng.uniform(0, warm, rng.poisson(3 * warm))) for _ in range(n_nodes)],
                             np.arange(n_nodes), t_start=0.0, t_stop=warm)
    model = TAVRNN(epochs=1, device="cpu").fit(compute_dynamic_connectivity(fit_trains, params, warn_if_empty=False))
    embedder = OnlineEmbedder(model, params, np.arange(n_nodes), t_start=0.0)
    latencies, memory = [], []
    duration = 3600.0 * hours
    for second in range(int(duration)):
        # one second of spikes, generated on the fly: the replay itself holds nothing
        counts = rng.poisson(3.0, n_nodes)
        times = second + rng.random(counts.sum())
        ids = np.repeat(np.arange(n_nodes), counts)
        order = np.argsort(times)
        started = time.perf_counter()
        out = embedder.push(times[order], ids[order])
        if out:
            latencies.append(time.perf_counter() - started)
            memory.append(rss_mb())
    return {"nodes": n_nodes, "windows": len(latencies), "median_ms": 1e3 * float(np.median(latencies)),
            "p95_ms": 1e3 * float(np.percentile(latencies, 95)), "rss_first_mb": memory[min(4, len(memory) - 1)],
            "rss_last_mb": memory[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[128, 900])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(f"online embedding: 50 ms bins, 120 s windows every 60 s, {args.hours:g} h replay in 1 s batches, "
          f"{args.threads} threads")
    for n in args.nodes:
        r = case(n, args.hours, args.threads)
        print(f"{r['nodes']:4d} nodes: {r['windows']} windows; latency median {r['median_ms']:.0f} ms, 95th percentile "
              f"{r['p95_ms']:.0f} ms ({60e3 / r['median_ms']:.0f}x faster than the 60 s step); resident memory "
              f"{r['rss_first_mb']:.0f} MB after 5 windows, {r['rss_last_mb']:.0f} MB at the end")


if __name__ == "__main__":
    main()
