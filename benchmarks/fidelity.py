"""TAVRNN 'faithful' (the reference notebook's computation) against 'improved' (the defaults), on
the same simulated DishBrain-style cultures.

Run: ``PYTHONPATH=. python benchmarks/fidelity.py [--sim-seeds 0 1 2] [--out DIR] [--permutations 200]``

Each seed simulates the package's culture (a sensory group and four motor subregions; blocks of
'aligned' and 'unaligned' gameplay, then rest), builds the DishBrain graphs (50 ms binary bins,
|r| >= 0.6, 60 s windows every 60 s) and fits both presets on the same graphs. Each fit is then
scored by the evaluation's default protocol on the three regimes (blocked, purged folds; a
block-permutation label null; a circular block-bootstrap interval), alone (no baselines, no time
shuffle: the model is what differs), with the subregion alignment per regime (the DishBrain finding:
subregions separate in 'aligned' windows). The faithful fit is scored on the posterior means its
recurrence produced, as every other method; the samples it also writes are the reference's
downstream embeddings.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np


def run_seed(seed: int, out: Path, permutations: int) -> list[dict]:
    from nwb_tavrnn.connectivity import ConnectivityParams
    from nwb_tavrnn.connectivity.step import run_connectivity
    from nwb_tavrnn.evaluation.report import EvaluationConfig, evaluate_file
    from nwb_tavrnn.models import TAVRNN
    from nwb_tavrnn.steps.model import fit_file
    from nwb_tavrnn.simulate import SimulationConfig, write_simulation

    sim = write_simulation(out / f"sim{seed}.nwb", SimulationConfig(), seed=seed, overwrite=True)
    graphs = run_connectivity(sim, out / f"sim{seed}_graphs.nwb",
                              ConnectivityParams.preset("dishbrain", window=60.0, step=60.0), overwrite=True)
    rows = []
    for preset in ("faithful", "improved"):
        t0 = time.perf_counter()
        fitted = fit_file(graphs, out / f"sim{seed}_{preset}.nwb", TAVRNN.preset(preset, seed=seed), overwrite=True)
        seconds = time.perf_counter() - t0
        cfg = EvaluationConfig(seeds=3, n_permutations=permutations, baselines=(), time_shuffle=False)
        report = evaluate_file(fitted.path, "epochs:state", report_dir=out / f"sim{seed}_{preset}_report", config=cfg)
        head = report.headline()
        row = head[(head.method == "tavrnn") & (head.analysis == "classification")].iloc[0]
        s = report.summary
        align = s[(s.analysis == "alignment") & s.metric.str.startswith("mean_alignment")].set_index("metric")["mean"]
        rows.append({"seed": seed, "preset": preset, "accuracy": row["mean"], "ci": (row["ci_low"], row["ci_high"]),
                     "p": row["p_value"], "epochs": fitted.model.n_epochs_, "fit_s": seconds,
                     "final_loss": fitted.model.loss_curve_[-1],
                     "alignment": {k.split("[")[1].rstrip("]"): float(v) for k, v in align.items()}})
        r = rows[-1]
        print(f"seed {seed} {preset:>9}: accuracy {r['accuracy']:.2f} [{r['ci'][0]:.2f}, {r['ci'][1]:.2f}], "
              f"p = {r['p']:.3f}, {r['epochs']} epochs in {r['fit_s']:.0f} s, final loss {r['final_loss']:.3f}, "
              "alignment " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(r["alignment"].items())), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sim-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("fidelity_benchmark"))
    parser.add_argument("--permutations", type=int, default=200)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [r for seed in args.sim_seeds for r in run_seed(seed, args.out, args.permutations)]
    print("\npreset     mean accuracy  seeds with p <= 0.05  mean fit s")
    for preset in ("faithful", "improved"):
        mine = [r for r in rows if r["preset"] == preset]
        print(f"{preset:>9}  {np.mean([r['accuracy'] for r in mine]):13.2f}  "
              f"{sum(r['p'] <= 0.05 for r in mine)}/{len(mine):<19}  {np.mean([r['fit_s'] for r in mine]):.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
