"""How the connectivity step should store its two big arrays: write time, read time and size of each
HDF5 filter setting, against today's (gzip level 4 with the shuffle filter) in the same run.

Run: ``PYTHONPATH=. python benchmarks/storage.py [--units 128] [--minutes 60]``

The graphs come from our connectivity step on Poisson spike trains with shared drives (groups of
units that fire together, so r has the spread of real data): 10 ms bins, 10 s windows, the default
density threshold. ``data`` (the thresholded weights, about 90 % zeros) and ``correlation`` (signed
r, every pair: close to incompressible) are written with the step's own chunk shape; only filters
that plain h5py and every HDF5 reader open without plugins are tried (deflate and shuffle).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

SETTINGS = {
    "gzip 4 + shuffle (today)": dict(compression="gzip", compression_opts=4, shuffle=True),
    "gzip 1 + shuffle": dict(compression="gzip", compression_opts=1, shuffle=True),
    "gzip 1": dict(compression="gzip", compression_opts=1),
    "gzip 4": dict(compression="gzip", compression_opts=4),
    "none": {},
}


def graphs(units: int, minutes: float, seed: int = 0):
    from nwb_tavrnn.connectivity import ConnectivityParams, compute_dynamic_connectivity
    from nwb_tavrnn.io.spike_trains import SpikeTrains

    rng = np.random.default_rng(seed)
    duration = minutes * 60.0
    groups = rng.integers(0, 8, units)
    drive_times = [np.sort(rng.uniform(0, duration, int(2.0 * duration))) for _ in range(8)]
    times = []
    for g in groups:
        own = rng.uniform(0, duration, rng.poisson(4.0 * duration))
        shared = drive_times[g][rng.random(len(drive_times[g])) < 0.3]
        times.append(np.sort(np.concatenate([own, shared + rng.normal(0, 0.003, len(shared))]).clip(0, duration)))
    trains = SpikeTrains(times=times, ids=np.arange(units), t_start=0.0, t_stop=duration)
    params = ConnectivityParams.preset("default", bin_size=0.01, window=10.0, step=10.0)
    return compute_dynamic_connectivity(trains, params, warn_if_empty=False)


def measure(array: np.ndarray, chunks: tuple, setting: dict, folder: Path) -> tuple[float, float, int]:
    path = folder / "x.h5"
    started = time.perf_counter()
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=array, chunks=chunks, **setting)
    written = time.perf_counter() - started
    started = time.perf_counter()
    with h5py.File(path, "r") as f:
        f["x"][()]
    read = time.perf_counter() - started
    size = os.path.getsize(path)
    path.unlink()
    return written, read, size


def main() -> None:
    from nwb_tavrnn.connectivity.step import _chunks

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    started = time.perf_counter()
    result = graphs(args.units, args.minutes)
    print(f"{args.units} units x {args.minutes:g} min, 10 ms bins, 10 s windows: {result.num_windows} windows "
          f"({time.perf_counter() - started:.1f} s to compute)")
    with tempfile.TemporaryDirectory() as tmp:
        for name, array in (("data (weights)", result.adjacency), ("correlation (signed r)", result.correlation)):
            chunks = _chunks(*array.shape[:2], array.dtype.itemsize)
            print(f"\n{name}: {array.nbytes / 1e6:.1f} MB in memory, chunks {chunks}")
            print(f"  {'setting':26s} {'write s':>8s} {'read s':>8s} {'MB':>7s} {'write vs today':>15s} "
                  f"{'size vs today':>14s}")
            base = None
            for label, setting in SETTINGS.items():
                runs = [measure(array, chunks, setting, Path(tmp)) for _ in range(args.repeat)]
                w, r, size = min(x[0] for x in runs), min(x[1] for x in runs), runs[0][2]
                base = base or (w, size)
                print(f"  {label:26s} {w:8.3f} {r:8.3f} {size / 1e6:7.1f} {w / base[0]:14.2f}x "
                      f"{size / base[1]:13.2f}x")


if __name__ == "__main__":
    main()
