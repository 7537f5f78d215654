"""Killing CLI processes at random moments: nothing lost, nothing half-written, the rerun succeeds.

Each trial starts a writing command (``connectivity``, ``fit``, ``evaluate``, ``run``, ``sort``,
``segments`` and the ``--in-place`` variants) as a process, sends SIGKILL or SIGTERM after a delay
drawn uniformly in [0, the command's uninterrupted duration] (seeded), and checks
(:func:`_harness.kill_trial`):

- the destination is absent, the previous complete file byte for byte, or (the kill came after
  the rename) a complete file that validates;
- every source is byte-identical (sha256);
- after SIGTERM (handled: exit 143) no temporary is left; after SIGKILL the rerun removes what was
  left, or names it in a warning;
- rerunning the same command succeeds and writes a file that validates
  (:func:`nwb_tavrnn.validation.validate_file`).

The default subset is a few kills of the fast commands; ``-m slow`` runs a sweep of 16 kills of every
command (half of each signal), and ``-m extended`` the full sweep of 50 that ``benchmarks/faults.py``
tabulates.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import _harness
import numpy as np
import pytest

pytest.importorskip("torch")


def _assert_ok(trial: _harness.Trial) -> None:
    assert trial.ok, f"{trial.case} {trial.signal} at {trial.delay} s (exit {trial.code}): {trial.problems}"
    assert trial.outcome in ("absent", "previous", "complete")
    assert not trial.source_changed
    assert trial.rerun in (True, None) and not trial.leftover


@pytest.mark.parametrize(("name", "sig", "previous"), [
    ("connectivity", signal.SIGKILL, True),
    ("segments", signal.SIGTERM, False),
    ("connectivity --in-place", signal.SIGTERM, True),
    ("evaluate --in-place", signal.SIGKILL, True),
])
def test_a_kill_at_a_random_moment_loses_nothing(name, sig, previous, fault_cases, fork_launcher, tmp_path):
    case = fault_cases[name]
    duration = _harness.measure(case, fork_launcher, tmp_path)  # also the previous complete file
    rng = np.random.default_rng(_harness.seed_of(f"{name}/{sig.name}/fast"))
    trial = _harness.kill_trial(case, fork_launcher, tmp_path, sig, float(rng.uniform(0, duration)), previous)
    _assert_ok(trial)


def test_sigterm_mid_write_cleans_up_and_exits_143(fault_cases, fork_launcher, tmp_path):
    """SIGTERM once the run writes into its work folder: the handler unwinds, the temporary goes,
    exit 143.

    The test waits for a file *inside* the work folder, not for the folder: a signal in the
    instant between the folder's creation and the block that removes it leaves the folder (see
    the xfail test below), and on a busy machine the child is often paused in that instant."""
    case = fault_cases["run"]
    destination = tmp_path / "out.nwb"
    # Epochs without end: on a busy machine the 3-epoch run could finish before the signal arrives.
    proc = fork_launcher.start([*case.command(case.original, destination), "--set", "model.epochs=100000"],
                               cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not _harness.writing(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.002)
    assert _harness.writing(tmp_path), "the run never wrote into its working folder"
    os.kill(proc.pid, signal.SIGTERM)
    done = fork_launcher.wait(proc)
    assert done.code == 128 + signal.SIGTERM, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "nwb-tavrnn run: terminated; nothing was left at the output"
    assert not destination.exists()
    assert _harness.temporaries(tmp_path) == []


def test_an_interrupt_right_after_the_work_folder_is_made_leaves_nothing(small_session, tmp_path, monkeypatch):
    """The instant a signal can still fall in: the folder exists, the cleanup block is not entered.
    SIGTERM's handler raises at the next bytecode; here the interrupt is raised there directly."""
    from nwb_tavrnn import pipeline
    from nwb_tavrnn.config import PipelineConfig

    make = pipeline.temporary_work_folder

    def then_interrupted(*args, **kwargs):
        make(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "temporary_work_folder", then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        pipeline.run_pipeline(small_session, tmp_path / "out.nwb", PipelineConfig(model={"epochs": 1}))
    assert _harness.temporaries(tmp_path) == []


def test_the_next_run_removes_a_killed_runs_temporaries_and_reports_unknown_ones(fault_cases, fork_launcher,
                                                                                  tmp_path):
    """What SIGKILL leaves (a temporary named after a process that no longer exists) is removed by
    the next run of the same destination; one of a live process (a concurrent write) is kept; one
    whose writer cannot be checked (an older naming) is reported."""
    from nwb_tavrnn.io.files import temporary_name

    dead = subprocess.Popen([sys.executable, "-c", "import os; print(os.getpid())"], stdout=subprocess.PIPE)
    dead_pid = int(dead.communicate()[0])  # reaped: this pid names no process now
    live_pid = fork_launcher.server.pid

    def left_by(pid: int, suffix: str) -> str:
        name = temporary_name("out", suffix)
        return name.replace(f"-{os.getpid()}-", f"-{pid}-")

    killed_file, killed_dir = tmp_path / left_by(dead_pid, ".nwb"), tmp_path / left_by(dead_pid, "")
    live = tmp_path / left_by(live_pid, ".nwb")
    older = tmp_path / ".out.k2x9q7ab.partial"  # pipeline.py's mkdtemp naming: writer unknown
    for path in (killed_file, live):
        path.write_bytes(b"half an HDF5 file")
    for path in (killed_dir, older):
        path.mkdir()
        (path / "result.nwb").write_bytes(b"half")
    other = tmp_path / left_by(dead_pid, ".nwb").replace(".out.", ".other.")  # another destination's
    other.write_bytes(b"x")
    case = fault_cases["connectivity"]
    done = fork_launcher.wait(fork_launcher.start(case.command(case.original, tmp_path / "out.nwb"), cwd=tmp_path))
    assert done.code == 0, done.stderr
    assert not killed_file.exists() and not killed_dir.exists()
    assert live.exists() and other.exists()
    assert older.exists() and str(older) in done.stderr and "interrupted run" in done.stderr
    assert _harness.complete(tmp_path / "out.nwb", case.expect)[0]


# The full sweep (50 kills of every command) is the slow suite's longest test (27 min measured beside
# other jobs on 2 cores): CI's 90-minute budget holds a third of it; `pytest -m extended` runs it all.
@pytest.mark.parametrize("per_command", [pytest.param(16, marks=pytest.mark.slow),
                                         pytest.param(50, marks=pytest.mark.extended)])
def test_full_kill_sweep(per_command, fault_inputs, tmp_path):
    """At least ``per_command`` kills of every command (16 in the slow suite, 50 in the extended
    one), half SIGKILL and half SIGTERM (a command with an ``--in-place`` variant shares them with
    it: 13 + 13 per variant at 50), on two worker processes."""
    names = list(_harness.cases(fault_inputs))
    counts = _harness.kills_per_signal(names, per_command)
    sweeps = _harness.run_sweeps(fault_inputs, names, counts, tmp_path)
    problems = [p for s in sweeps for p in s.problems]
    rows = [s.row() for s in sweeps]
    assert not problems, "\n".join(problems[:20])
    assert all(r["trials"] == counts[r["command"]] and r["corrupted"] == 0 and r["sources_changed"] == 0
               and r["leftover"] == 0 and r["reruns_ok"] == r["reruns"] for r in rows), rows
    kills: dict[str, int] = {}
    for r in rows:
        kills[r["command"].split()[0]] = kills.get(r["command"].split()[0], 0) + r["trials"]
    assert min(kills.values()) >= per_command and set(kills) == {
        "connectivity", "fit", "evaluate", "segments", "sort", "run"}, kills


@pytest.mark.slow
def test_entry_point_kill_sweep(fault_inputs, tmp_path):
    """Kills of real ``python -m nwb_tavrnn.cli.main`` processes, imports included (slower starts)."""
    sweeps = _harness.run_sweeps(fault_inputs, ["connectivity", "fit"], 3, tmp_path, launcher="exec")
    problems = [p for s in sweeps for p in s.problems]
    assert not problems, "\n".join(problems[:20])
    assert sum(len(s.trials) for s in sweeps) == 12
