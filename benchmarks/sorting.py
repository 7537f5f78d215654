"""Sorting front end: seconds of recording processed per second, and our overhead over SpikeInterface.

- 32 channels: full sorting (default sorter, lupin) of a ground-truth recording
  (``generate_ground_truth_recording``), with accuracy against the truth.
- 1,024 channels: HD-MEA mode (per-electrode threshold crossings, no sorting) on a synthetic HD-MEA
  recording with known events per electrode.

Each is timed through ``nwb_tavrnn.sorting`` (no output file, so only the pipeline is compared) and
by calling SpikeInterface directly with the same settings; a short warm-up run first compiles numba
so neither side pays for compilation. Usage::

    python benchmarks/sorting.py [--duration-32 60] [--duration-1024 30] [--n-jobs 2]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import warnings
from pathlib import Path


def direct_sort(recording, params, job_kwargs, folder: Path):
    """The same pipeline as ``nwb_tavrnn.sorting.sort``, written against SpikeInterface directly."""
    import spikeinterface.preprocessing as spre
    import spikeinterface.sorters as ss
    from spikeinterface.core import create_sorting_analyzer
    from spikeinterface.curation import threshold_metrics_label_units

    pp = params.preprocessing
    fs = recording.get_sampling_frequency()
    rec = spre.bandpass_filter(recording, freq_min=pp.bandpass[0], freq_max=min(pp.bandpass[1], 0.45 * fs),
                               dtype="float32")
    bad, _ = spre.detect_bad_channels(rec, method=pp.bad_channels, std_mad_threshold=pp.bad_channel_threshold, seed=0)
    rec = rec.remove_channels(bad)
    rec = spre.common_reference(rec, reference="global", operator=pp.common_reference)
    if not rec.check_serializability("json"):
        rec = rec.save(folder=folder / "preprocessed", format="binary", **job_kwargs)
    sorting = ss.run_sorter(params.sorter, rec, folder=folder / "sorter", remove_existing_folder=True,
                            seed=params.seed, job_kwargs=job_kwargs)
    sorting = sorting.remove_empty_units()
    analyzer = create_sorting_analyzer(sorting, rec, format="memory", sparse=True, seed=params.seed,
                                       job_kwargs=job_kwargs)
    analyzer.compute("random_spikes", max_spikes_per_unit=params.max_spikes_per_unit, seed=params.seed)
    analyzer.compute("templates", ms_before=params.ms_before, ms_after=params.ms_after, operators=["average"],
                     **job_kwargs)
    analyzer.compute("noise_levels", random_slices_kwargs=dict(seed=params.seed), **job_kwargs)
    analyzer.compute("spike_amplitudes", **job_kwargs)
    metrics = analyzer.compute("quality_metrics", metric_names=list(params.metrics)).get_data()
    labels = threshold_metrics_label_units(metrics, params.curation, nan_policy="ignore")
    return sorting.select_units(labels.index[labels["label"] == "good"].to_numpy())


def direct_detect(recording, params, job_kwargs):
    """The same pipeline as ``nwb_tavrnn.sorting.detect_events``, against SpikeInterface directly."""
    import numpy as np
    import spikeinterface.preprocessing as spre
    from spikeinterface.core import get_noise_levels
    from spikeinterface.sortingcomponents.peak_detection import detect_peaks

    pp = params.preprocessing
    fs = recording.get_sampling_frequency()
    rec = spre.bandpass_filter(recording, freq_min=pp.bandpass[0], freq_max=min(pp.bandpass[1], 0.45 * fs),
                               dtype="float32")
    rec = spre.common_reference(rec, reference="global", operator=pp.common_reference)
    noise = get_noise_levels(rec, return_in_uV=False, method="mad",
                             random_slices_kwargs=dict(num_chunks_per_segment=20, chunk_size=int(0.05 * fs), seed=0),
                             **job_kwargs)
    peaks = detect_peaks(rec, method="by_channel", method_kwargs=dict(
        peak_sign=params.peak_sign, detect_threshold=params.detect_threshold,
        exclude_sweep_ms=params.exclude_sweep_ms, noise_levels=np.where(noise > 0, noise, np.inf)),
        job_kwargs=job_kwargs)
    return peaks


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-32", type=float, default=60.0, help="seconds of the 32-channel recording")
    parser.add_argument("--duration-1024", type=float, default=30.0, help="seconds of the 1,024-channel recording")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--skip-sorting", action="store_true", help="only the 1,024-channel HD-MEA mode")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.WARNING)

    from nwb_tavrnn.sorting import (DetectionParams, JobParams, SortingParams, compare_to_ground_truth,
                                    detect_events, sort)
    from nwb_tavrnn.sorting.adapter import (generate_channel_events, generate_ground_truth,
                                                    spikeinterface_version)

    job = JobParams(n_jobs=args.n_jobs)
    job_kwargs = job.to_job_kwargs()
    print(f"SpikeInterface {spikeinterface_version()}, n_jobs={args.n_jobs}")

    if not args.skip_sorting:
        params = SortingParams()
        warm, _ = generate_ground_truth(duration=5.0, num_channels=32, num_units=5, seed=1)
        sort(warm, None, params, job=job)  # compiles numba for both sides
        rec, gt = generate_ground_truth(duration=args.duration_32, num_channels=32, num_units=20, seed=0)
        with tempfile.TemporaryDirectory() as tmp:
            sorting_direct, t_direct = _timed(lambda: direct_sort(rec, params, job_kwargs, Path(tmp)))
        ours, t_ours = _timed(lambda: sort(rec, None, params, job=job))
        from nwb_tavrnn.sorting import sorting_from_times

        score = compare_to_ground_truth(gt, sorting_from_times(dict(zip(ours.unit_ids, ours.spike_times)),
                                                              rec.get_sampling_frequency()))
        score_direct = compare_to_ground_truth(gt, sorting_direct)
        print(f"32 ch x {args.duration_32:g} s, sorting ({params.sorter}) + analyzer + metrics + curation:")
        print(f"  nwb_tavrnn.sort   {t_ours:7.1f} s  = {args.duration_32 / t_ours:6.2f} s of recording per s; "
              f"{score['well_detected']}/20 units well detected (accuracy >= 0.8)")
        print(f"  SpikeInterface    {t_direct:7.1f} s  = {args.duration_32 / t_direct:6.2f} s of recording per s; "
              f"{score_direct['well_detected']}/20 units well detected")
        print(f"  overhead {100 * (t_ours / t_direct - 1):+.1f}%  (sorter runs vary by several % between repeats)")

    params = DetectionParams()
    warm, _ = generate_channel_events(num_channels=64, duration=2.0, seed=1)
    detect_events(warm, None, params, job=job)
    rec, truth = generate_channel_events(num_channels=1024, duration=args.duration_1024, seed=0)
    runs = []  # alternate the order and keep the faster of two runs each (the machine may be shared)
    for _ in range(2):
        direct, t1 = _timed(lambda: direct_detect(rec, params, job_kwargs))
        ours, t2 = _timed(lambda: detect_events(rec, None, params, job=job))
        runs.append((t1, t2))
    t_direct, t_ours = min(r[0] for r in runs), min(r[1] for r in runs)
    n_true = sum(len(t) for t in truth)
    n_found = sum(len(t) for t in ours.event_times)
    print(f"1,024 ch x {args.duration_1024:g} s, HD-MEA mode (threshold crossings, no sorting); "
          f"{n_found} events found for {n_true} injected:")
    print(f"  nwb_tavrnn.detect_events {t_ours:7.1f} s  = {args.duration_1024 / t_ours:6.2f} s of recording per s")
    print(f"  SpikeInterface           {t_direct:7.1f} s  = {args.duration_1024 / t_direct:6.2f} s of recording per s "
          f"({len(direct)} events)")
    print(f"  overhead {100 * (t_ours / t_direct - 1):+.1f}%")


if __name__ == "__main__":
    main()
