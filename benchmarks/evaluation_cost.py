"""What a default ``nwb-tavrnn run`` costs on a typical in-vivo session, and where the time goes.

Run: ``PYTHONPATH=. python benchmarks/evaluation_cost.py [--out DIR] [--minutes 72] [--units 25]
[--window 30] [--step STEP] [--sequential]``

A drifting session (``nwb_tavrnn.simulate.drift``: 25 units, 72 minutes, 12 label blocks with a
planted effect) goes through the real command line, ``nwb-tavrnn run FILE OUT --labels
blocks:condition`` with 30 s windows and otherwise default settings, its stderr piped to a log as a
user's batch job would. The script prints the wall time of each step (from the log lines the run
writes when stderr is not a terminal), the evaluation's share, and the target (5 minutes).
``--sequential`` also runs the evaluation with one process (``evaluation.n_jobs=1``: the learned
baselines and the time-shuffle refits one after another, as before) and prints the ratio.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 300.0


def _run(source: Path, out: Path, window: float, step: float, extra: list[str]) -> tuple[float, dict[str, float], str]:
    command = [sys.executable, "-m", "nwb_tavrnn.cli.main", "run", str(source), str(out), "--labels",
               "blocks:condition", "--set", f"connectivity.window={window}", "--set", f"connectivity.step={step}",
               "--overwrite", *extra]
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"run failed ({done.returncode}): {done.stderr.strip().splitlines()[-1]}")
    steps = {m.group(1): float(m.group(2)) for m in re.finditer(r"pipeline: (\w+) done in ([\d.]+) s", done.stderr)}
    progress = [line for line in done.stderr.splitlines() if line.startswith("INFO")]
    print(f"  {len(progress)} progress lines in the log while piped, among them:")
    for line in progress:
        if "trained in" in line or "done in" in line:
            print(f"    {line}")
    return seconds, steps, done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("evaluation_cost_benchmark"))
    parser.add_argument("--minutes", type=float, default=72.0)
    parser.add_argument("--units", type=int, default=25)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--step", type=float, default=None, help="between window starts (default: the window)")
    parser.add_argument("--sequential", action="store_true", help="also time the evaluation in one process")
    args = parser.parse_args(argv)
    step = args.window if args.step is None else args.step
    from nwb_tavrnn.simulate import DriftConfig, write_drift_session

    args.out.mkdir(parents=True, exist_ok=True)
    source = write_drift_session(args.out / "session.nwb", DriftConfig(n_units=args.units, n_groups=3,
                                                                      minutes=args.minutes, effect=0.8),
                                 seed=0, overwrite=True)
    print(f"## default run: {args.units} units, {args.minutes:g} min, {args.window:g} s windows, "
          f"{os.cpu_count()} cores")
    total, steps, stdout = _run(source, args.out / "result.nwb", args.window, step, [])
    print(stdout.rstrip())
    print(f"wall {total:.0f} s (target {TARGET_SECONDS:.0f} s: {'met' if total <= TARGET_SECONDS else 'missed'}); "
          + ", ".join(f"{k} {v:.0f} s" for k, v in steps.items())
          + f"; evaluation {100 * steps.get('evaluation', 0) / total:.0f} % of the run")
    if args.sequential:
        print("## the same, evaluation trainings one after another (evaluation.n_jobs=1)")
        total_seq, steps_seq, _ = _run(source, args.out / "result_seq.nwb", args.window, step,
                                       ["--set", "evaluation.n_jobs=1"])
        print(f"wall {total_seq:.0f} s; evaluation {steps_seq.get('evaluation', 0):.0f} s; parallel evaluation is "
              f"{steps_seq.get('evaluation', 0) / max(steps.get('evaluation', 1), 1e-9):.2f}x faster")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
