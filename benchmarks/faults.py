"""Reliability measured: kill it, starve it, and count what was lost or half-written.

Runs the full fault sweeps of ``tests/faults`` and prints one Markdown table: for each command and
fault, the trials run, outputs corrupted (must be 0), sources changed (must be 0), temporaries left
that no later run removed or reported, and reruns that succeeded.

Faults:

SIGKILL, SIGTERM
    ``--kills`` kills of every writing command, shared with its ``--in-place`` variant (half of
    each signal), at moments drawn uniformly in [0, the command's uninterrupted duration], each
    followed by a rerun of the same command (see ``tests/faults/_harness.py``). The processes are
    forked from a warm server (the package imported once), so kills land in the work, not the
    imports.
resume-kill
    ``fit --checkpoint-every 1 --resume`` SIGKILLed at random epochs, then resumed: the resumed
    arrays must equal the uninterrupted run's exactly (numpy.array_equal).
worker-kill
    ``batch`` on a local Dask cluster with a worker process SIGKILLed mid-task (Dask retries the
    task; and again with retries off, where the file must be reported as failed).
full-disk
    Every command writing into a too-small tmpfs (where mounting is permitted) and under a
    file-size limit: one error line, exit code 3, nothing left.
remote, generated inputs
    From the other fault helpers, when present (``_remote.py``, ``_generated.py``).

Usage::

    python benchmarks/faults.py [--kills 50] [--quick] [--lanes 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import importlib
import logging
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

FAULTS = Path(__file__).resolve().parents[1] / "tests" / "faults"
sys.path.insert(0, str(FAULTS))
sys.path.insert(1, str(FAULTS.parents[1]))  # the repository: tests.faults._remote imports tests.http_server

import _harness

log = logging.getLogger("faults")


def _kill_rows(inputs, names, kills, work, lanes, seed) -> list[dict]:
    counts = _harness.kills_per_signal(names, kills)
    rows = []
    for sweep in _harness.run_sweeps(inputs, names, counts, work, seed=seed, lanes=lanes):
        row = sweep.row()
        row["reruns_ok_text"] = f"{row['reruns_ok']} of {row['reruns']}"
        notes = [f"{sweep.duration:.2f} s uninterrupted"]
        if row["left_by_kill"]:
            notes.append(f"{row['left_by_kill']} kills left temporaries, removed or reported by the rerun")
        done = sum(t.outcome == "complete" for t in sweep.trials)
        if done:
            notes.append(f"{done} killed after the rename (complete file)")
        if sweep.problems:
            notes.append("PROBLEMS: " + " / ".join(sweep.problems[:3]))
        row["notes"] = "; ".join(notes)
        rows.append(row)
    return rows


def _resume_rows(inputs, launcher, work, n, seed) -> list[dict]:
    import numpy as np

    first, last, arrays = _harness.training_window(inputs.graphs, launcher, work)
    rng = np.random.default_rng(_harness.seed_of("resume/benchmark", seed))
    trials = [_harness.resume_trial(inputs.graphs, launcher, work / str(k), arrays, float(rng.uniform(first, last)))
              for k in range(n)]
    equal = sum(t.equal for t in trials)
    epochs = sorted(t.killed_at_epoch for t in trials)
    return [{"command": "fit --resume", "fault": "resume-kill", "trials": n, "corrupted": n - equal,
             "sources_changed": 0, "leftover": sum(bool(t.checkpoint_temporaries) for t in trials),
             "reruns_ok_text": f"{sum(t.resumed_code == 0 for t in trials)} of {n}",
             "notes": f"resumed arrays identical (array_equal) in {equal} of {n}; killed at epochs {epochs} "
                      f"of {_harness.RESUME_EPOCHS}"}]


def _worker_rows(session, work) -> list[dict]:
    import test_batch_kill

    rows = []
    inputs = work / "batch_inputs"
    inputs.mkdir(parents=True)
    for name in ("a", "b", "c"):
        shutil.copyfile(session, inputs / f"culture_{name}.nwb")
    for label, env in (("Dask retries", None), ("retries off", {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"})):
        out = work / label.replace(" ", "_")
        out.mkdir()
        (work / (label + "_cfg")).mkdir()
        try:
            table, code = test_batch_kill._batch_with_a_killed_worker(inputs, out, work / (label + "_cfg"), env)
            ok = int((table.status == "ok").sum())
            rows.append({"command": "batch", "fault": f"worker-kill ({label})", "trials": 1, "corrupted": 0,
                         "sources_changed": 0, "leftover": 0, "reruns_ok_text": "n/a",
                         "notes": f"exit {code}; {ok} of {len(table)} files ok, the others reported "
                                  "'worker failed'" if ok < len(table) else f"exit {code}; all {ok} files ok"})
        except AssertionError as err:
            rows.append({"command": "batch", "fault": f"worker-kill ({label})", "trials": 1, "corrupted": "?",
                         "sources_changed": "?", "leftover": "?", "reruns_ok_text": "n/a",
                         "notes": f"FAILED: {str(err).splitlines()[0][:200]}"})
    return rows


def _disk_rows(cases, launcher, work) -> list[dict]:
    rows = []
    for variant in ("tmpfs", "fsize-limit"):
        trials, skipped = [], False
        for name, case in cases.items():
            folder = work / variant / name.replace(" ", "_")
            if variant == "tmpfs":
                size = (f"{(case.original.stat().st_size + 64 * 1024) // 4096 * 4096 // 1024}k" if case.in_place
                        else "128k")
                with _harness.small_tmpfs(folder, size) as mounted:
                    if mounted is None:
                        skipped = True
                        break
                    trials.append(_harness.disk_trial(case, launcher, mounted, variant))
            else:
                folder.mkdir(parents=True)
                trials.append(_harness.disk_trial(case, launcher, folder, variant, 200_000))
        if skipped:
            rows.append({"command": "all", "fault": f"full-disk ({variant})", "trials": 0, "notes": "not permitted here"})
            continue
        bad = [t for t in trials if not t.ok]
        rows.append({"command": "all 10 variants", "fault": f"full-disk ({variant})", "trials": len(trials),
                     "corrupted": sum(not t.destination_clean for t in trials),
                     "sources_changed": sum(t.source_changed for t in trials),
                     "leftover": sum(bool(t.leftover) for t in trials), "reruns_ok_text": "n/a",
                     "notes": (f"{len(trials) - len(bad)} of {len(trials)}: exit 3 and one line 'no space left on "
                               "device while writing ...'") + (f"; FAILED: {bad[0]}" if bad else "")})
    return rows


def _remote_rows() -> list[dict]:
    try:  # as part of the tests package: it shares the tests' local HTTP server (a relative import)
        _remote = importlib.import_module("tests.faults._remote")
    except ImportError:
        return [{"command": "remote", "fault": "remote faults", "notes": "not available"}]
    rows = []
    for trial in _remote.remote_fault_trials():
        row = {"command": trial.get("command", "remote"), "fault": trial.get("fault", "remote"),
               "trials": trial.get("trials", 1), "corrupted": trial.get("corrupted", trial.get("outputs_corrupted", 0)),
               "sources_changed": trial.get("sources_changed", 0), "leftover": trial.get("leftover", 0),
               "reruns_ok_text": trial.get("reruns_ok", "n/a"), "notes": trial.get("notes", "")}
        rows.append(row)
    return rows


def _generated_rows(max_examples: int) -> list[dict]:
    try:
        import _generated
    except ImportError:
        return [{"command": "all", "fault": "generated bad inputs", "notes": "not available"}]
    result = _generated.generated_inputs_sweep(max_examples)
    failures = result.get("failures", [])
    return [{"command": "all", "fault": "generated bad inputs", "trials": result.get("tried", 0),
             "corrupted": len(failures), "sources_changed": "", "leftover": "", "reruns_ok_text": "n/a",
             "notes": f"{result.get('clean', 0)} of {result.get('tried', 0)} ended in one clear error line"
                      + (f"; FAILURES: {failures[:2]}" if failures else "")}]


def _guard(name, fn, *args) -> list[dict]:
    try:
        return fn(*args)
    except Exception as err:  # noqa: BLE001 - one broken sweep must not hide the others' rows
        traceback.print_exc()
        return [{"command": name, "fault": "?", "notes": f"FAILED: {type(err).__name__}: {err}"[:300]}]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50,
                        help="kills per command, half of each signal, shared with its --in-place variant (50)")
    parser.add_argument("--quick", action="store_true", help="4 kills per command, 2 resume kills, 10 generated inputs")
    parser.add_argument("--lanes", type=int, default=2, help="worker processes for the kill sweeps (2)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    kills, resumes, generated = (4, 2, 10) if args.quick else (args.kills, 10, 200)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nwb_tavrnn_faults_") as tmp:
        work = Path(tmp)
        launcher = _harness.ForkLauncher(work / "logs", ("spikeinterface.full",))
        try:
            inputs = _harness.build_inputs(work / "inputs", launcher)
            cases = _harness.cases(inputs)
            rows = _guard("kill sweeps", _kill_rows, inputs, list(cases), kills, work / "kills", args.lanes, args.seed)
            rows += _guard("fit --resume", _resume_rows, inputs, launcher, work / "resume", resumes, args.seed)
            rows += _guard("batch", _worker_rows, inputs.session, work / "batch")
            rows += _guard("full disk", _disk_rows, cases, launcher, work / "disk")
        finally:
            launcher.close()
        rows += _guard("remote", _remote_rows)
        rows += _guard("generated", _generated_rows, generated)
    print(_harness.tally(rows))
    print(f"\ntotal wall time: {time.perf_counter() - started:.0f} s "
          f"(at least {kills} kills per command{' (--quick)' if args.quick else ''}, {args.lanes} lanes)")
    bad = [r for r in rows if str(r.get("corrupted", 0)) not in ("0", "") or str(r.get("sources_changed", 0))
           not in ("0", "") or str(r.get("leftover", 0)) not in ("0", "") or "FAIL" in str(r.get("notes", ""))]
    return 1 if bad else 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
