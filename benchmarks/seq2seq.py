"""Seq2seq: training time per epoch and peak memory on long recordings, binned on demand; and what
the behaviour decoding's label nulls and latent features cost.

Training: for 100 and 1,000 source units (and 50 target units) of 1 h of Poisson spiking at 5 Hz,
20 ms bins and 2 s continuous segments, one process per case trains for ``--epochs`` epochs on 2
CPU threads and reports the seconds per epoch and its peak resident memory. Beside it: the size the
whole binned matrix would take in float64, which streaming never builds.

Decoding (``--decoding``): the step's default decoding (5 blocked folds, a Seq2seq fitted per fold,
linear / random forest / MLP on latents, source rates and source+target rates) on the two-region
simulator (200 trials, phase and speed labels) and on the same session with its labels replaced by
blocks unrelated to anything (nothing decodes). Printed: the decoding time (the fold models, the
features, the observed fits), the label nulls' time (every decoder refitted per labelling, 100
labellings, sequential stopping after 5 exceedances; refits on every core) as a share of it, per decoder family, and the
latent features' time.

    python benchmarks/seq2seq.py [--units 100 1000] [--hours 1] [--epochs 1]
    python benchmarks/seq2seq.py --decoding [--seeds 0]
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


def decoding_case(rule: str, seed: int, scramble: bool) -> dict:
    """One decoding run of the step's defaults; seconds per part (see the module docstring)."""
    import torch

    from nwb_tavrnn.evaluation.decoding import compare_decoders, decoder_grid
    from nwb_tavrnn.evaluation.trajectory import trajectory_features
    from nwb_tavrnn.io.region_pairs import read_region_pair
    from nwb_tavrnn.steps.seq2seq import DECODING_INPUTS, DecodingOptions, latent_input, rate_features
    from nwb_tavrnn.simulate.two_region import TwoRegionConfig, simulate_two_region, two_region_nwbfile

    torch.set_num_threads(2)
    session = simulate_two_region(TwoRegionConfig(n_trials=200, label_rule=rule), seed=seed)
    data = read_region_pair(two_region_nwbfile(session), "hippocampus", "prefrontal", trials="trials",
                            window=(0.0, 2.0), labels="choice", bin_size=0.02)
    labels = data.labels
    if scramble:  # blocks of 1-15 trials with alternating labels, unrelated to the session
        rng = np.random.default_rng(seed)
        runs = []
        while sum(runs) < data.n_segments:
            runs.append(int(rng.integers(1, 16)))
        labels = np.repeat(np.arange(len(runs)) % 2, runs)[:data.n_segments].astype(str)
    options = DecodingOptions()
    latents = latent_input(data, {"latent_dim": 4, "lag": session.config.lag, "device": "cpu", "seed": 0,
                                  "threads": 2}, options.latent_features, options.chunks)
    # the features' own cost, on latents of the same shape as the fold models give
    z = np.random.default_rng(0).normal(size=(data.n_segments, data.n_bins, 4))
    started = time.perf_counter()
    trajectory_features(z, options.latent_features, options.chunks)
    features_s = time.perf_counter() - started
    started = time.perf_counter()
    features = {"latents": latents, "source_rates": rate_features(data, options.chunks, "source"),
                "source_target_rates": rate_features(data, options.chunks)}
    rates_s = time.perf_counter() - started
    result = compare_decoders(features, labels, data.starts, data.stops, methods=decoder_grid(DECODING_INPUTS),
                              null=options.null, n_permutations=options.n_permutations, n_jobs=options.n_jobs)
    sec = result.seconds
    decoding = rates_s + sum(v for k, v in sec.items() if not k.startswith("null:"))
    families = {}
    for key, value in sec.items():
        if key.startswith("null:"):
            family = next(f for f in ("linear", "random_forest", "mlp") if key[5:].startswith(f))
            families[family] = families.get(family, 0.0) + value
    return {"rule": rule + (" (labels scrambled)" if scramble else ""), "seed": seed, "decoding_s": decoding,
            "fold_models_s": sec["input:latents"], "null_s": families,
            "features_s": features_s,
            "balanced_accuracy": {m: result.metric(m, "balanced_accuracy") for m in result.methods},
            "n_permutations": {m: result.metric(m, "n_permutations") for m in result.methods}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--decoding", action="store_true", help="the decoding's nulls and features instead")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--cases", nargs="+", default=["phase", "speed", "scrambled"],
                        choices=["phase", "speed", "scrambled"], help="decoding cases (default all three)")
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)  # internal: one case in this process
    args = parser.parse_args()
    if args.decoding:
        print("Behaviour decoding, the step's defaults (5 blocked folds; 100 labellings, sequential stopping after 5, refits on every core); "
              "two-region simulator, 200 trials of 2 s, 20 ms bins; 2 threads")
        for seed in args.seeds:
            cases = {"phase": ("phase", False), "speed": ("speed", False), "scrambled": ("phase", True)}
            for rule, scramble in (cases[c] for c in args.cases):
                r = decoding_case(rule, seed, scramble)
                nulls = r["null_s"]
                total = sum(nulls.values())
                print(f"{r['rule']}, seed {seed}: decoding {r['decoding_s']:.1f} s (the fold models "
                      f"{r['fold_models_s']:.1f} s); label nulls {total:.1f} s = {total / r['decoding_s']:.0%} of it: "
                      + ", ".join(f"{k} {v:.1f} s ({v / r['decoding_s']:.0%})" for k, v in nulls.items())
                      + f"; latent features of all segments {1000 * r['features_s']:.0f} ms")
                print("    balanced accuracy: " + ", ".join(f"{m} {v:.3f}" for m, v in r["balanced_accuracy"].items()))
                print("    labellings drawn: " + ", ".join(f"{m} {v:.0f}" for m, v in r["n_permutations"].items()
                                                         if np.isfinite(v)))
        return
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
