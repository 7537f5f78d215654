"""Benchmark of the dynamic connectivity step against Elephant and a bare matrix product.

Run: ``PYTHONPATH=. python benchmarks/connectivity.py [--elephant-windows N] [--skip-long]``

Cases
-----
(a) 128 units x 1 h, 10 ms bins, 10 s windows, step 10 s (non-overlapping).
(b) 900 nodes x 20 min, 50 ms bins, 120 s windows, 60 s step (the DishBrain recipe).
(c) ROI traces: 1,000 ROIs x 1 h at 30 Hz read from an NWB file (processing/ophys), one-frame
    bins, 60 s windows every 30 s (the ``ophys`` preset's windows), against one batched float32
    GEMM over all windows (``np.matmul`` on the stacked windows of traces already in memory; its
    reading and stacking not timed); then the peak traced memory of streaming 15 min vs 1 h.

For each case it prints our time (binning + correlation + threshold, all windows), Elephant's
per-window ``correlation_coefficient`` (timed on a few windows and extrapolated per window, which
is said in the output), a bare float32 matrix product ``X_w X_wᵀ`` per window on data binned
beforehand (binning not timed), and then the peak traced memory of streaming 1 h vs 4 h of case (a).
Spike trains are seeded Poisson at 3 Hz.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
import warnings

import numpy as np

from nwb_tavrnn.connectivity import (
    ConnectivityParams,
    bin_range,
    compute_dynamic_connectivity,
    iter_dynamic_connectivity,
    plan_windows,
)
from nwb_tavrnn.io.spike_trains import SpikeTrains


def poisson(n: int, duration: float, rate: float = 3.0, seed: int = 0) -> SpikeTrains:
    rng = np.random.default_rng(seed)
    times = [np.sort(rng.uniform(0.0, duration, rng.poisson(rate * duration))) for _ in range(n)]
    return SpikeTrains(times, np.arange(n), t_start=0.0, t_stop=duration)


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bare_matmul(x: np.ndarray, win) -> None:
    """The floor: one float32 Gram product per window on data binned in advance."""
    for a, b in zip(win.start_bins, win.stop_bins):
        xw = x[:, a:b]
        xw @ xw.T


def elephant_per_window(trains: SpikeTrains, win, n_windows: int, binary: bool) -> float | None:
    try:
        import neo
        import quantities as pq
        from elephant.conversion import BinnedSpikeTrain
        from elephant.spike_train_correlation import correlation_coefficient
    except ImportError:
        return None
    bs = win.bin_size * pq.s
    t0 = time.perf_counter()
    for k in range(n_windows):
        a, b = float(win.start_times[k]), float(win.stop_times[k])
        sts = [neo.SpikeTrain(t[np.searchsorted(t, a):np.searchsorted(t, b)] * pq.s, t_start=a * pq.s,
                              t_stop=b * pq.s) for t in trains.times]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            correlation_coefficient(BinnedSpikeTrain(sts, bin_size=bs, t_start=a * pq.s, t_stop=b * pq.s),
                                    binary=binary)
    return (time.perf_counter() - t0) / n_windows


def run_case(label: str, trains: SpikeTrains, params: ConnectivityParams, n_elephant: int) -> None:
    win = plan_windows(trains, params)
    n_w = len(win)
    print(f"\n({label}) {len(trains)} nodes x {trains.duration / 60:.0f} min, bin {params.bin_size * 1e3:.0f} ms, "
          f"window {params.window:g} s, step {params.step:g} s -> {n_w} windows")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Poisson data: the fixed threshold leaves the graphs empty
        ours = best_of(lambda: compute_dynamic_connectivity(trains, params))
    first, n_bins = int(win.start_bins.min()), int(win.stop_bins.max() - win.start_bins.min())
    x = bin_range(trains.times, win.origin, win.bin_size, first, n_bins, binary=params.binary)
    bare = best_of(lambda: bare_matmul(x, win))
    print(f"  ours (bin + correlate + threshold, all windows): {ours:8.3f} s  ({ours / n_w * 1e3:.2f} ms/window)")
    print(f"  bare float32 X_w X_w^T per window, pre-binned:   {bare:8.3f} s  -> ours / bare = {ours / bare:.2f}x")
    per = elephant_per_window(trains, win, min(n_elephant, n_w), params.binary)
    if per is None:
        print("  elephant not installed: skipped")
    else:
        est = per * n_w
        print(f"  elephant correlation_coefficient: {per * 1e3:.1f} ms/window, timed on {min(n_elephant, n_w)} "
              f"windows and extrapolated to {n_w}: {est:.2f} s -> ours is {est / ours:.0f}x faster")


def stream_peak(trains: SpikeTrains, params: ConnectivityParams) -> tuple[float, int]:
    """Peak traced memory (MiB) of streaming every window and discarding it (as a writer would)."""
    gc.collect()
    tracemalloc.start()
    n = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for chunk in iter_dynamic_connectivity(trains, params):
            n += chunk.adjacency.shape[0]
            del chunk  # a writer would have stored it by now
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--elephant-windows", type=int, default=5, help="windows to time Elephant on per case")
    ap.add_argument("--skip-long", action="store_true", help="skip the 4 h memory run")
    ap.add_argument("--traces-only", action="store_true", help="run case (c) only")
    ap.add_argument("--rois", type=int, default=1000, help="case (c): ROIs (1000)")
    args = ap.parse_args()
    print(f"numpy {np.__version__}; times are the best of 3 runs; Poisson spike trains at 3 Hz")
    if args.traces_only:
        traces_case(args.rois)
        return

    pa = ConnectivityParams(bin_size=0.01, binary=True, window=10.0, step=10.0, threshold_mode="fixed",
                            threshold=0.6)
    a_1h = poisson(128, 3600.0, seed=1)
    run_case("a", a_1h, pa, args.elephant_windows)

    pb = ConnectivityParams.preset("dishbrain")
    run_case("b", poisson(900, 1200.0, seed=2), pb, max(1, args.elephant_windows // 2))

    print("\nPeak traced memory while streaming case (a) (input spike trains excluded; chunks discarded):")
    peak1, n1 = stream_peak(a_1h, pa)
    print(f"  1 h: {peak1:7.1f} MiB ({n1} windows)")
    if not args.skip_long:
        del a_1h
        a_4h = poisson(128, 4 * 3600.0, seed=1)
        peak4, n4 = stream_peak(a_4h, pa)
        print(f"  4 h: {peak4:7.1f} MiB ({n4} windows) -> ratio 4 h / 1 h = {peak4 / peak1:.2f}")
        res_mib = n4 * 128 * 128 * 4 * 2 / 2**20
        print(f"  (the materialised 4 h result would hold {res_mib:.0f} MiB of adjacency + correlation)")
    traces_case(args.rois)


def write_traces_file(path, n_rois: int, minutes: float, rate: float = 30.0, seed: int = 0):
    """An NWB file of seeded calcium-like traces: AR(1) noise plus a slow shared component, around 500 a.u."""
    import datetime
    import uuid

    from pynwb import NWBFile

    from nwb_tavrnn.io.files import write_nwbfile
    from nwb_tavrnn.ophys.write import add_ophys_module

    rng = np.random.default_rng(seed)
    frames = int(minutes * 60 * rate)
    x = np.empty((frames, n_rois), dtype=np.float32)
    state = np.zeros(n_rois, dtype=np.float32)
    shared = np.zeros(1, dtype=np.float32)
    for a in range(0, frames, 4096):  # in blocks: the generator's own memory stays small
        b = min(frames, a + 4096)
        noise = rng.standard_normal((b - a, n_rois), dtype=np.float32)
        drive = rng.standard_normal(b - a, dtype=np.float32)
        for k in range(b - a):
            state = 0.9 * state + noise[k]
            shared = 0.99 * shared + 0.1 * drive[k]
            x[a + k] = 500.0 + 10.0 * state + 20.0 * shared
    nwbfile = NWBFile(session_description="benchmark traces", identifier=str(uuid.uuid4()),
                      session_start_time=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))
    centres = np.stack([np.arange(n_rois) % 64, np.arange(n_rois) // 64], axis=1)
    pixel_masks = [np.array([[c, r, 1.0]]) for r, c in centres]
    add_ophys_module(nwbfile, traces={"raw": x}, image_shape=(64, max(64, n_rois // 64 + 1)), rate=rate,
                     pixel_masks=pixel_masks)
    del x
    return write_nwbfile(nwbfile, path)


def traces_case(n_rois: int) -> None:
    import tempfile
    from pathlib import Path

    from pynwb import NWBHDF5IO

    from nwb_tavrnn.connectivity.correlation import iter_window_correlations
    from nwb_tavrnn.ophys.read import read_roi_traces

    params = ConnectivityParams.preset("ophys", bin_size=1 / 30, window=60.0, step=30.0)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_traces_file(Path(tmp) / "traces_1h.nwb", n_rois, 60.0)
        short = write_traces_file(Path(tmp) / "traces_15min.nwb", n_rois, 15.0)
        with NWBHDF5IO(str(path), "r") as io:
            traces = read_roi_traces(io.read())
            win = plan_windows(traces, params)
            n_w = len(win)
            print(f"\n(c) {n_rois} ROIs x 60 min at 30 Hz from {path.stat().st_size / 2**20:.0f} MiB of NWB, one-frame "
                  f"bins, window 60 s, step 30 s -> {n_w} windows")

            def correlations():
                for chunk in iter_window_correlations(traces, win):
                    del chunk

            def step():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    for chunk in iter_dynamic_connectivity(traces, params):
                        del chunk

            t_corr = best_of(correlations, repeat=2)
            t_ours = best_of(step, repeat=2)
            from nwb_tavrnn.ophys.traces import RoiTraces

            in_memory = RoiTraces(data=np.asarray(traces.data[()]), columns=traces.columns, ids=traces.ids,
                                  rate=traces.rate)  # the peer's input: the traces already in memory

            def correlations_in_memory():
                for chunk in iter_window_correlations(in_memory, win):
                    del chunk

            t_mem = best_of(correlations_in_memory, repeat=2)
            del in_memory
            x = np.ascontiguousarray(traces.data[()].T)  # (rois, frames) float32, in memory: not timed
            starts = win.start_bins - int(win.start_bins.min())
            length = int(win.n_bins.max())
            stacked = np.stack([x[:, a:a + length] for a in starts])  # (windows, rois, frames): not timed
            t_gemm = best_of(lambda: np.matmul(stacked, stacked.transpose(0, 2, 1)), repeat=2)
            print(f"  one batched float32 GEMM over the stacked windows:       {t_gemm:7.2f} s "
                  f"({t_gemm / n_w * 1e3:.0f} ms/window)")
            print(f"  ours, Pearson r of every window, traces in memory:       {t_mem:7.2f} s "
                  f"-> ours / GEMM = {t_mem / t_gemm:.2f}x")
            print(f"  ours, Pearson r of every window (read NWB + bin + r):    {t_corr:7.2f} s "
                  f"-> ours / GEMM = {t_corr / t_gemm:.2f}x (the file's gzip decompression included)")
            print(f"  ours, the whole step (+ density threshold, |r|, float32): {t_ours:7.2f} s "
                  f"-> ours / GEMM = {t_ours / t_gemm:.2f}x")
            del x, stacked
        peaks = {}
        for label, p in (("15 min", short), ("60 min", path)):
            with NWBHDF5IO(str(p), "r") as io:
                traces = read_roi_traces(io.read())
                gc.collect()
                tracemalloc.start()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    for chunk in iter_dynamic_connectivity(traces, params):
                        del chunk
                peaks[label] = tracemalloc.get_traced_memory()[1] / 2**20
                tracemalloc.stop()
        print(f"  peak traced memory while streaming: 15 min {peaks['15 min']:.0f} MiB, 60 min {peaks['60 min']:.0f} "
              f"MiB -> ratio {peaks['60 min'] / peaks['15 min']:.2f} (the 60 min traces are "
              f"{n_rois * 108000 * 4 / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
