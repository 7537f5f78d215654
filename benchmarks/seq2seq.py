"""Seq2seq: training time per epoch and peak memory on long recordings, binned on demand.

For 100 and 1,000 source units (and 50 target units) of 1 h of Poisson spiking at 5 Hz, 20 ms bins
and 2 s continuous segments, one process per case trains for ``--epochs`` epochs on 2 CPU threads
and reports the seconds per epoch and its peak resident memory. Beside it: the size the whole binned
matrix would take in float64, which streaming never builds.

    python benchmarks/seq2seq.py [--units 100 1000] [--hours 1] [--epochs 1]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def case(n_source: int, hours: float, epochs: int, threads: int) -> dict:
    import torch

    from nwb_tavrnn.io.region_pairs import RegionPairSegments
    from nwb_tavrnn.io.spike_trains import SpikeTrains
    from nwb_tavrnn.models.seq2seq import Seq2seq

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    duration, rate, n_target, bin_size, segment = 3600.0 * hours, 5.0, 50, 0.02, 2.0

    def trains(n: int, offset: int) -> SpikeTrains:
        return SpikeTrains([np.sort(rng.uniform(0, duration, rng.poisson(rate * duration))) for _ in range(n)],
                           np.arange(offset, offset + n), t_start=0.0, t_stop=duration)

    started = time.perf_counter()
    source, target = trains(n_source, 0), trains(n_target, n_source)
    n_bins = int(round(segment / bin_size))
    starts = np.arange(0.0, duration - segment + 1e-9, segment)
    data = RegionPairSegments(source, target, starts, n_bins, bin_size)
    setup = time.perf_counter() - started
    model = Seq2seq(epochs=epochs, patience=None, validation_fraction=0.0, device="cpu", threads=threads)
    started = time.perf_counter()
    model.fit(data)
    per_epoch = (time.perf_counter() - started) / epochs
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    spikes = sum(len(t) for t in source.times) + sum(len(t) for t in target.times)
    dense_mb = len(starts) * n_bins * (n_source + n_target) * 8 / 2**20
    return {"units": n_source, "segments": len(starts), "spikes": spikes, "setup_s": setup, "epoch_s": per_epoch,
            "peak_mb": peak_mb, "dense_float64_mb": dense_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)  # internal: one case in this process
    args = parser.parse_args()
    if args.case is not None:
        print(json.dumps(case(args.case, args.hours, args.epochs, args.threads)))
        return
    print(f"Seq2seq on {args.hours:g} h of 5 Hz Poisson spiking, 50 target units, 20 ms bins, 2 s segments, "
          f"{args.threads} threads; each case in its own process")
    for units in args.units:
        out = subprocess.run([sys.executable, __file__, "--case", str(units), "--hours", str(args.hours), "--epochs",
                              str(args.epochs), "--threads", str(args.threads)], capture_output=True, text=True,
                             check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['units']:5d} source units: {r['segments']} segments, {r['spikes']:,} spikes; set-up {r['setup_s']:.1f} s;"
              f" {r['epoch_s']:.1f} s per epoch; peak memory {r['peak_mb']:.0f} MB (the binned matrix in float64 "
              f"alone would be {r['dense_float64_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
