"""Shared machinery of the fault tests and of ``benchmarks/faults.py``: tiny inputs, CLI launchers,
kill trials and their checks.

Two ways to start a CLI process, with the same interface (:class:`ExecLauncher`,
:class:`ForkLauncher`):

``exec``
    ``python -m nwb_tavrnn.cli.main ARGV`` in a new process: exactly what a user runs. Each start
    pays the imports (2 s for most commands, 7 s once torch_geometric is in), during which a kill
    touches no file.
``fork``
    A fork server imports the package and its heavy dependencies once (computing nothing: no
    thread pool, no HDF5 file open), then forks one child per command; the child calls the same
    ``nwb_tavrnn.cli.main.main(ARGV)`` the entry point calls, with its own signal handlers and
    exit code, and is killed by pid like any process. Kill moments then spread over the work
    itself, and a sweep of hundreds of kills fits in minutes.

A trial (:func:`kill_trial`): start a command, send SIGKILL or SIGTERM after a delay drawn
uniformly in [0, its uninterrupted duration], then check that the destination is absent, the
previous complete file (byte-identical) or a complete new file (the kill came after the rename),
that every source is byte-identical (sha256), which temporaries were left, and that rerunning
the same command succeeds with a file that validates and removes (or reports) what the killed
run left.

This file is also the fork server's program: ``python _harness.py --serve``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]

#: Environment of every CLI process: one OpenMP thread that sleeps when idle (2-core machines),
#: set before torch is imported anywhere, and the repository importable.
CHILD_ENV = {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "MKL_NUM_THREADS": "1",
             "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))}

#: Seconds any single CLI process may take before a trial fails as hung.
HANG_SECONDS = 300.0

#: Names of temporaries a write leaves beside its destination while it runs (io/files.py and
#: pipeline.py) or in a checkpoint folder (models/training.py): hidden, and ``.partial`` in them.
TEMPORARY = re.compile(r"^\..+\.partial(\.nwb)?$|^checkpoint\.pt\.tmp$")


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def writing(folder: Path) -> bool:
    """Whether a temporary *folder* in ``folder`` holds a file: a run is inside its write (the
    pipeline creates files in its work folder only within the block that removes the folder)."""
    for path in temporaries(folder):
        with contextlib.suppress(OSError):  # a file, or removed meanwhile
            if path.is_dir() and any(path.iterdir()):
                return True
    return False


def temporaries(folder: Path) -> list[Path]:
    """Every temporary (see :data:`TEMPORARY`) in ``folder``, sorted."""
    if not Path(folder).is_dir():
        return []
    return sorted(p for p in Path(folder).iterdir() if TEMPORARY.match(p.name))


# -- launchers ------------------------------------------------------------------------------------
@dataclass
class Proc:
    """A started CLI process."""

    pid: int
    started: float
    err: Path
    popen: subprocess.Popen | None = None


@dataclass
class Finished:
    """How a CLI process ended: ``code`` (negative: killed by that signal), seconds, stderr."""

    code: int
    seconds: float
    stderr: str


class ExecLauncher:
    """``python -m nwb_tavrnn.cli.main ARGV``: a new interpreter per command."""

    name = "exec"

    def __init__(self, logs: Path):
        self.logs = Path(logs)
        self.logs.mkdir(parents=True, exist_ok=True)
        self._n = 0

    def start(self, argv: list[str], cwd: Path | None = None, fsize_limit: int | None = None) -> Proc:
        self._n += 1
        err = self.logs / f"exec-{self._n}.err"

        def limit() -> None:  # in the child, before exec: a real kernel file-size limit
            if fsize_limit is not None:
                import resource

                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead
                resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_limit, fsize_limit))

        with open(err, "wb") as fh:
            popen = subprocess.Popen([sys.executable, "-m", "nwb_tavrnn.cli.main", *argv], cwd=cwd,
                                     stdout=subprocess.DEVNULL, stderr=fh, stdin=subprocess.DEVNULL,
                                     env={**os.environ, **CHILD_ENV}, start_new_session=True,
                                     preexec_fn=limit if fsize_limit is not None else None)  # noqa: PLW1509
        return Proc(popen.pid, time.monotonic(), err, popen)

    def wait(self, proc: Proc, timeout: float = HANG_SECONDS) -> Finished:
        try:
            code = proc.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.popen.wait()
            raise AssertionError(f"CLI process {proc.pid} hung for {timeout} s: {proc.err.read_text()[-2000:]}")
        seconds = time.monotonic() - proc.started
        _kill_group(proc.pid)  # helpers it started (joblib workers...) must not outlive it
        return Finished(code, seconds, proc.err.read_text(errors="replace"))

    def close(self) -> None:
        pass


class ForkLauncher:
    """Children forked from a warm server that has imported the package (see the module docstring).

    Parameters
    ----------
    logs
        Folder for the children's stderr.
    preload
        Extra modules the server imports (e.g. ``spikeinterface.full`` for ``sort``).
    """

    name = "fork"

    def __init__(self, logs: Path, preload: tuple[str, ...] = ()):
        self.logs = Path(logs)
        self.logs.mkdir(parents=True, exist_ok=True)
        self._n = 0
        self.server = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", *preload],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(self.logs / "server.err", "wb"),  # noqa: SIM115
            env={**os.environ, **CHILD_ENV}, text=True, bufsize=1, start_new_session=True)
        ready = self.server.stdout.readline()
        if not ready.startswith("ready"):
            raise RuntimeError(f"fork server failed: {(self.logs / 'server.err').read_text()[-2000:]}")

    def _ask(self, request: dict) -> dict:
        self.server.stdin.write(json.dumps(request) + "\n")
        self.server.stdin.flush()
        line = self.server.stdout.readline()
        if not line:
            raise RuntimeError(f"fork server died: {(self.logs / 'server.err').read_text()[-2000:]}")
        return json.loads(line)

    def start(self, argv: list[str], cwd: Path | None = None, fsize_limit: int | None = None) -> Proc:
        self._n += 1
        err = self.logs / f"fork-{self._n}.err"
        reply = self._ask({"op": "start", "argv": argv, "cwd": str(cwd or os.getcwd()), "err": str(err),
                           "fsize_limit": fsize_limit})
        return Proc(int(reply["pid"]), time.monotonic(), err)

    def wait(self, proc: Proc, timeout: float = HANG_SECONDS) -> Finished:
        reply = self._ask({"op": "wait", "pid": proc.pid, "timeout": timeout})
        if reply.get("hung"):
            raise AssertionError(f"CLI process {proc.pid} hung for {timeout} s: {proc.err.read_text()[-2000:]}")
        # a child killed at once may not have opened its stderr file yet
        text = proc.err.read_text(errors="replace") if proc.err.exists() else ""
        return Finished(int(reply["code"]), float(reply["seconds"]), text)

    def close(self) -> None:
        if self.server.poll() is None:  # it has no child left; its interpreter's shutdown is slow
            self.server.kill()
            self.server.wait()
        with contextlib.suppress(OSError, ValueError):
            self.server.stdin.close()
            self.server.stdout.close()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def serve(preload: list[str]) -> None:
    """The fork server's loop: JSON requests on stdin, one JSON reply per line on stdout."""
    import importlib
    import resource

    # What the CLI imports on its way to each command's work, so the children start warm.
    for name in ("nwb_tavrnn.cli.main", "pynwb", "hdmf", "h5py", "pandas", "scipy.sparse", "sklearn.linear_model",
                 "torch", "torch_geometric", "nwb_tavrnn.models", "nwb_tavrnn.models.tavrnn",
                 "nwb_tavrnn.connectivity.step", "nwb_tavrnn.evaluation.report", "nwb_tavrnn.pipeline",
                 "nwb_tavrnn.validation", *preload):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    from nwb_tavrnn.cli import main as cli_main
    from nwb_tavrnn.schema import load_namespace

    load_namespace()
    protocol = sys.stdout
    started: dict[int, float] = {}
    print("ready", file=protocol, flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "start":
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:  # the child: a CLI process like any other from here on
                code = 1
                try:
                    os.setpgid(0, 0)
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    signal.signal(signal.SIGINT, signal.default_int_handler)
                    fd = os.open(request["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                    os.dup2(fd, 2)
                    os.chdir(request["cwd"])
                    null = os.open(os.devnull, os.O_RDWR)
                    os.dup2(null, 0)
                    os.dup2(null, 1)
                    sys.stdin = open(0, closefd=False)  # noqa: SIM115
                    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
                    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
                    logging.root.handlers.clear()  # main() configures logging as in a fresh process
                    if request.get("fsize_limit") is not None:
                        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                        resource.setrlimit(resource.RLIMIT_FSIZE, (request["fsize_limit"],) * 2)
                    sys.argv = ["nwb-tavrnn", *request["argv"]]
                    code = cli_main.main()  # from sys.argv, as the console script calls it
                except SystemExit as exc:  # argparse errors
                    code = exc.code if isinstance(exc.code, int) else 2
                except BaseException:  # noqa: BLE001
                    import traceback

                    traceback.print_exc()
                finally:
                    with contextlib.suppress(Exception):
                        sys.stdout.flush()
                        sys.stderr.flush()
                    os._exit(int(code or 0))
            started[pid] = time.monotonic()
            print(json.dumps({"pid": pid}), file=protocol, flush=True)
        elif request["op"] == "wait":
            pid, deadline = int(request["pid"]), time.monotonic() + float(request["timeout"])
            reply: dict = {}
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    reply = {"code": os.waitstatus_to_exitcode(status),
                             "seconds": time.monotonic() - started.pop(pid, time.monotonic())}
                    break
                if time.monotonic() > deadline:
                    _kill_group(pid)
                    os.waitpid(pid, 0)
                    reply = {"hung": True}
                    break
                time.sleep(0.002)
            _kill_group(pid)  # helpers it started must not outlive it
            print(json.dumps(reply), file=protocol, flush=True)


# -- inputs and commands --------------------------------------------------------------------------
#: Each command's options on the tiny inputs: 30 nodes, 3 min, 30-s windows, 3 epochs.
CONNECTIVITY = ["--preset", "dishbrain", "--window", "30", "--step", "30"]
FIT = ["--epochs", "3", "--patience", "0", "--device", "cpu", "--seed", "0"]
EVALUATE = ["--labels", "epochs:state", "--kmeans-restarts", "1", "--permutations", "0", "--baselines", "--no-time-shuffle",
            "--no-figures", "--n-splits", "2"]
RUN = ["--window", "30", "--step", "30", "--set", "model.epochs=3", "--set", "model.patience=null",
       "--set", "model.device=cpu"]
SORT = ["--format", "binary", "--sampling-frequency", "20000", "--num-channels", "4", "--dtype", "int16",
        "--gain-to-uv", "0.1", "--hdmea", "--detect-threshold", "6"]


@dataclass
class Inputs:
    """The tiny input files, built once (:func:`build_inputs`); never written after that."""

    folder: Path
    session: Path  # spike trains (simulated culture) with epochs
    graphs: Path  # session + DynamicConnectivity
    fitted: Path  # graphs + NodeEmbeddings
    track: Path  # a session with a position series
    raw: Path  # 4-channel binary voltage


def write_track(path: Path) -> Path:
    """A small NWB file with units and a 2-D ``track_position`` series of an animal running laps on a
    tilted track (dwell at one end, run, dwell at the other, ...)."""
    from pynwb.behavior import Position

    from nwb_tavrnn.io import write_nwbfile
    from nwb_tavrnn.testing import mock_source_nwbfile

    rate, pieces = 50.0, []
    for lap in range(6):
        pieces.append(np.full(int(4 * rate), float(lap % 2)))
        ramp = np.linspace(0, 1, int(6 * rate), endpoint=False)
        pieces.append(ramp if lap % 2 == 0 else 1 - ramp)
    s = np.concatenate(pieces)
    direction = np.array([np.cos(0.6), np.sin(0.6)])
    xy = 100 + 300 * s[:, None] * direction[None, :] + np.random.default_rng(0).normal(0, 1.0, (len(s), 2))
    nwbfile = mock_source_nwbfile()
    position = Position(name="TrackPosition")
    position.create_spatial_series(name="track_position", data=xy, starting_time=0.0, rate=rate,
                                   reference_frame="top-left corner of the camera image", unit="pixels")
    behavior = nwbfile.processing.get("behavior") or nwbfile.create_processing_module("behavior", "position")
    behavior.add(position)
    return write_nwbfile(nwbfile, path)


def write_raw(path: Path, channels: int = 4, seconds: float = 3.0, rate: float = 20000.0) -> Path:
    """Int16 voltage (0.1 uV per unit): noise of 10 uV and, on every channel, 60 negative spikes of
    120 uV; ``sort --hdmea`` finds them as threshold crossings."""
    rng = np.random.default_rng(1)
    n = int(seconds * rate)
    traces = rng.normal(0.0, 10.0, (n, channels))
    shape = -120.0 * np.exp(-0.5 * ((np.arange(40) - 10) / 3.0) ** 2)
    for c in range(channels):
        for start in rng.choice(n - 40, size=60, replace=False):
            traces[start:start + 40, c] += shape
    (traces * 10).astype(np.int16).tofile(path)
    return path


#: The tiny simulated session: ``SimulationConfig.small(**SESSION)``, seed 0 (30 nodes, 3 min).
SESSION = {"n_sensory": 10, "n_motor": 5, "gameplay_minutes": 2.0, "rest_minutes": 1.0}


def build_inputs(folder: Path, launcher, session: Path | None = None) -> Inputs:
    """Write the tiny inputs into ``folder`` (the derived ones through ``launcher``'s CLI). With
    ``session`` (an already written ``SimulationConfig.small(**SESSION)``, seed 0), copy it instead
    of simulating it again."""
    from nwb_tavrnn.simulate import SimulationConfig, write_simulation

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    given, session = session, folder / "session.nwb"
    graphs, fitted = folder / "graphs.nwb", folder / "fitted.nwb"
    if given is not None:
        shutil.copyfile(given, session)
    else:
        write_simulation(session, SimulationConfig.small(**SESSION), seed=0)
    for argv in (["connectivity", str(session), str(graphs), *CONNECTIVITY],
                 ["fit", str(graphs), str(fitted), *FIT]):
        done = launcher.wait(launcher.start(argv))
        assert done.code == 0, done.stderr
    track = write_track(folder / "track.nwb")
    raw = folder / "recording.raw"
    write_raw(raw)
    for path in folder.iterdir():  # inputs are read-only to the commands: a write would fail loudly
        path.chmod(0o444)
    return Inputs(folder, session, graphs, fitted, track, raw)


@dataclass(frozen=True)
class Case:
    """One command variant: how to call it, what it reads, and what its result holds.

    ``argv(source, destination)`` gives the command line; for ``in_place`` cases ``source`` and
    ``destination`` are the same working copy of ``original``.
    """

    name: str
    original: Path
    argv: Callable[[Path, Path], list[str]]
    expect: str  # neurodata_type (or HDF5 path, when it has a '/') a complete result holds
    in_place: bool = False
    needs: str = ""  # an optional package the command needs

    def command(self, source: Path, destination: Path) -> list[str]:
        return self.argv(source, destination)


def cases(inputs: Inputs) -> dict[str, Case]:
    """Every writing command and its ``--in-place`` variant (``fit`` and ``sort`` have none)."""
    i = inputs
    return {c.name: c for c in [
        Case("connectivity", i.session, lambda s, d: ["connectivity", str(s), str(d), *CONNECTIVITY, "--overwrite"],
             "DynamicConnectivity"),
        Case("connectivity --in-place", i.session,
             lambda s, d: ["connectivity", str(s), "--in-place", *CONNECTIVITY], "DynamicConnectivity", True),
        Case("fit", i.graphs, lambda s, d: ["fit", str(s), str(d), *FIT, "--overwrite"], "NodeEmbeddings",
             needs="torch"),
        Case("evaluate", i.fitted, lambda s, d: ["evaluate", str(s), str(d), *EVALUATE, "--overwrite"],
             "EvaluationScores", needs="sklearn"),
        Case("evaluate --in-place", i.fitted, lambda s, d: ["evaluate", str(s), *EVALUATE, "--in-place"],
             "EvaluationScores", True, needs="sklearn"),
        Case("segments", i.track, lambda s, d: ["segments", str(s), str(d), "--series", "track_position", "--overwrite"],
             "intervals/position_segments"),
        Case("segments --in-place", i.track, lambda s, d: ["segments", str(s), "--in-place", "--series", "track_position"],
             "intervals/position_segments", True),
        Case("sort", i.raw, lambda s, d: ["sort", str(s), str(d), *SORT, "--overwrite"], "units",
             needs="spikeinterface"),
        Case("run", i.session, lambda s, d: ["run", str(s), str(d), *RUN, "--overwrite"], "NodeEmbeddings",
             needs="torch"),
        Case("run --in-place", i.session, lambda s, d: ["run", str(s), "--in-place", *RUN], "NodeEmbeddings", True,
             needs="torch"),
    ]}


# -- checks ---------------------------------------------------------------------------------------
def holds(path: Path, expect: str) -> bool:
    """Whether the NWB file at ``path`` holds ``expect`` (an HDF5 path, or a neurodata_type)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if "/" in expect or expect == "units":
                return expect in f and (expect != "units" or len(f["units/id"]) > 0)
            found = []
            f.visititems(lambda name, obj: found.append(name)
                         if obj.attrs.get("neurodata_type") == expect else None)
            return bool(found)
    except OSError:
        return False


def complete(path: Path, expect: str) -> tuple[bool, str]:
    """A complete result: validates (pynwb + nwbinspector, :func:`nwb_tavrnn.validation.validate_file`)
    and holds ``expect``. Returns (ok, why not)."""
    from nwb_tavrnn.errors import NwbTavrnnError
    from nwb_tavrnn.validation import validate_file

    try:
        report = validate_file(path)
    except NwbTavrnnError as err:
        return False, str(err)
    if not report.ok:
        return False, "; ".join(map(str, report.problems))[:500]
    if not holds(path, expect):
        return False, f"no {expect}"
    return True, ""


@dataclass
class Trial:
    """What one kill did, and what the rerun did."""

    case: str
    signal: str
    delay: float
    code: int  # of the killed process (negative: killed by that signal; 143: SIGTERM handled)
    previous: bool  # a previous complete file was at the destination
    outcome: str  # "absent", "previous", "complete" (the kill came after the rename) or "corrupt"
    source_changed: bool
    left_by_kill: list[str]
    rerun: bool | None  # None: not needed (the killed run had finished its in-place write)
    rerun_code: int | None = None
    leftover: list[str] = field(default_factory=list)  # after the rerun, neither removed nor reported
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _paths(case: Case, work: Path) -> tuple[Path, Path]:
    """(source, destination) of a run of ``case`` in ``work``: in place, a fresh copy of the input
    is both; otherwise the shared input and ``work/out.nwb``."""
    work.mkdir(parents=True, exist_ok=True)
    if not case.in_place:
        return case.original, work / "out.nwb"
    target = work / case.original.name
    if target.exists():
        target.chmod(0o644)
    shutil.copyfile(case.original, target)
    return target, target


def kill_trial(case: Case, launcher, work: Path, sig: signal.Signals, delay: float, previous: bool,
               validate_rerun: bool = True) -> Trial:
    """Kill ``case``'s command after ``delay`` seconds, check what it left, rerun it, check again.

    ``work`` is the trial's folder (reused across trials: the previous trial's rerun output is the
    "previous complete file" when ``previous``; otherwise it is removed first).
    """
    source, destination = _paths(case, work)
    if case.in_place:
        previous = True  # in place, the previous complete file is the input itself
    else:
        if not previous:
            destination.unlink(missing_ok=True)
        elif not destination.exists():
            raise ValueError("previous=True needs a complete file at the destination (an earlier rerun)")
    source_hash = sha256(source)
    before = sha256(destination) if destination.exists() else None
    argv = case.command(source, destination)
    existing = set(temporaries(work))  # earlier trials' leftovers that a rerun reported, not removed
    proc = launcher.start(argv, cwd=work)
    time.sleep(delay)
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, sig)
    done = launcher.wait(proc)
    problems: list[str] = []
    # the destination: absent, the previous file, or a complete new one; never anything else
    if not destination.exists():
        outcome = "absent" if before is None else "corrupt"
        if before is not None:
            problems.append("the previous complete file is gone")
    elif before is not None and sha256(destination) == before:
        outcome = "previous"
    else:
        ok, why = complete(destination, case.expect)
        outcome = "complete" if ok else "corrupt"
        if not ok:
            problems.append(f"destination neither previous nor complete: {why}")
    source_changed = (not case.in_place) and sha256(source) != source_hash
    if source_changed:
        problems.append("the source changed")
    left = [p.name for p in temporaries(work) if p not in existing]
    if sig == signal.SIGTERM and left and done.code == 128 + signal.SIGTERM:
        problems.append(f"SIGTERM handled (exit 143) but temporaries left: {left}")
    trial = Trial(case.name, sig.name, round(delay, 3), done.code, before is not None, outcome, source_changed,
                  left, None)
    if case.in_place and outcome == "complete":
        trial.problems = problems  # finished before the kill: adding the same results again is refused
        return trial
    rerun = launcher.wait(launcher.start(argv, cwd=work))
    trial.rerun_code = rerun.code
    trial.rerun = rerun.code == 0
    if rerun.code != 0:
        problems.append(f"rerun failed ({rerun.code}): {rerun.stderr.strip().splitlines()[-1:] or ''}")
    elif validate_rerun:
        ok, why = complete(destination, case.expect)
        if not ok:
            trial.rerun = False
            problems.append(f"rerun output does not validate: {why}")
    if not case.in_place and sha256(source) != source_hash:
        trial.source_changed = True
        problems.append("the source changed in the rerun")
    # what the killed run left must be gone now, or named in the rerun's warnings
    trial.leftover = [p.name for p in temporaries(work) if str(p) not in rerun.stderr]
    if trial.leftover:
        problems.append(f"temporaries neither removed nor reported by the rerun: {trial.leftover}")
    trial.problems = problems
    return trial


def measure(case: Case, launcher, work: Path) -> float:
    """Seconds of one uninterrupted run of ``case`` (leaves its complete output in ``work``)."""
    source, destination = _paths(case, work)
    done = launcher.wait(launcher.start(case.command(source, destination), cwd=work))
    assert done.code == 0, f"{case.name}: {done.stderr[-2000:]}"
    return done.seconds


def seed_of(name: str, seed: int = 0) -> int:
    return zlib.crc32(name.encode()) + seed


@dataclass
class Sweep:
    """The trials of one command and signal, and their tally (a row of the benchmark's table)."""

    case: str
    fault: str
    duration: float
    trials: list[Trial] = field(default_factory=list)

    def row(self) -> dict:
        t = self.trials
        return {"command": self.case, "fault": self.fault, "trials": len(t),
                "corrupted": sum(x.outcome == "corrupt" for x in t),
                "sources_changed": sum(x.source_changed for x in t),
                "left_by_kill": sum(bool(x.left_by_kill) for x in t),
                "leftover": sum(bool(x.leftover) for x in t),
                "reruns_ok": sum(x.rerun is True for x in t), "reruns": sum(x.rerun is not None for x in t),
                "seconds": round(self.duration, 2)}

    @property
    def problems(self) -> list[str]:
        return [f"{x.case} {x.signal} at {x.delay} s (exit {x.code}): {p}" for x in self.trials for p in x.problems]


def kill_sweep(case: Case, launcher, work: Path, n: int, sig: signal.Signals, seed: int = 0,
               duration: float | None = None) -> Sweep:
    """``n`` kills of ``case`` with ``sig`` at moments drawn uniformly in [0, duration] (seeded by
    the case's name); every other trial starts with a previous complete file at the destination."""
    if duration is None:
        duration = measure(case, launcher, work)
    elif not case.in_place and not (work / "out.nwb").exists():
        measure(case, launcher, work)
    rng = np.random.default_rng(seed_of(f"{case.name}/{sig.name}", seed))
    sweep = Sweep(case.name, sig.name, duration)
    for k in range(n):
        delay = float(rng.uniform(0.0, duration))
        sweep.trials.append(kill_trial(case, launcher, work, sig, delay, previous=(k % 2 == 0)))
        log.info("%s %s %d/%d at %.2f s: %s", case.name, sig.name, k + 1, n, delay, sweep.trials[-1].outcome)
    return sweep


_LANE: dict = {}


def _lane_sweep(task: tuple) -> list[Sweep]:
    """One case's sweeps (every signal, one uninterrupted timing) in a pool worker with its own
    fork server (started once per worker)."""
    inputs, name, n, signals, seed, work, launcher_kind = task
    logging.basicConfig(level=logging.WARNING)
    if launcher_kind not in _LANE:
        logs = Path(work) / f"logs-{os.getpid()}"
        _LANE[launcher_kind] = (ForkLauncher(logs, ("spikeinterface.full",)) if launcher_kind == "fork"
                                else ExecLauncher(logs))
    launcher = _LANE[launcher_kind]
    case = cases(inputs)[name]
    folder = Path(work) / re.sub(r"[^A-Za-z0-9]+", "_", name)
    duration = measure(case, launcher, folder)
    return [kill_sweep(case, launcher, folder, n, signal.Signals[sig], seed, duration) for sig in signals]


def kills_per_signal(names: list[str], per_command: int) -> dict[str, int]:
    """Kills of each case per signal so that each *command* gets at least ``per_command`` kills:
    a command with an ``--in-place`` variant shares them between its two variants."""
    commands = {name.split()[0] for name in names}
    variants = {c: sum(name.split()[0] == c for name in names) for c in commands}
    return {name: max(1, -(-per_command // (2 * variants[name.split()[0]]))) for name in names}


def run_sweeps(inputs: Inputs, names: list[str], n: int | dict[str, int], work: Path, *,
               signals=("SIGKILL", "SIGTERM"), seed: int = 0, lanes: int = 2, launcher: str = "fork") -> list[Sweep]:
    """``n`` kills (or ``n[name]``) of each named case with each signal, the cases shared among
    ``lanes`` worker processes (each with its own fork server); in the order of ``names``."""
    import concurrent.futures
    import multiprocessing

    counts = n if isinstance(n, dict) else dict.fromkeys(names, n)
    tasks = [(inputs, name, counts[name], tuple(signals), seed, str(work), launcher) for name in names]
    if lanes <= 1:
        return [s for task in tasks for s in _lane_sweep(task)]
    # spawn: the workers must not inherit a test process's torch threads or open HDF5 files
    with concurrent.futures.ProcessPoolExecutor(lanes, mp_context=multiprocessing.get_context("spawn"),
                                                initializer=_close_lanes_at_exit) as pool:
        return [s for result in pool.map(_lane_sweep, tasks) for s in result]


def _close_lanes_at_exit() -> None:
    import atexit

    atexit.register(lambda: [launcher.close() for launcher in _LANE.values()])


# -- resume ---------------------------------------------------------------------------------------
RESUME_EPOCHS = 40


def fit_resume_argv(source: Path, destination: Path, checkpoints: Path, epochs: int = RESUME_EPOCHS) -> list[str]:
    return ["fit", str(source), str(destination), "--epochs", str(epochs), "--patience", "0", "--device", "cpu",
            "--seed", "3", "--checkpoint-dir", str(checkpoints), "--checkpoint-every", "1", "--resume",
            "--overwrite"]


def fit_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays a fit wrote: embeddings (mean, log-variance), attention, the loss curve and every
    trained weight, by name."""
    import h5py

    arrays: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            kind = obj.attrs.get("neurodata_type") if isinstance(obj, h5py.Group) else None
            if kind in ("NodeEmbeddings", "TemporalAttention", "ModelProvenance"):
                def take(sub, item):
                    if isinstance(item, h5py.Dataset) and item.dtype.kind in "fiu":
                        arrays[f"{name}/{sub}"] = item[()]
                obj.visititems(take)
        f.visititems(visit)
    return arrays


def checkpoint_epoch(checkpoints: Path) -> int:
    """The epoch of the checkpoint in ``checkpoints`` (0 when there is none)."""
    path = checkpoints / "checkpoint.pt"
    if not path.exists():
        return 0
    import torch

    return int(torch.load(path, map_location="cpu", weights_only=True)["state"]["epoch"])


@dataclass
class ResumeTrial:
    delay: float
    killed_at_epoch: int
    resumed_code: int
    equal: bool  # every array identical (np.array_equal)
    max_abs_diff: float
    checkpoint_temporaries: list[str]


def resume_trial(graphs: Path, launcher, work: Path, reference: dict[str, np.ndarray], delay: float,
                 epochs: int = RESUME_EPOCHS) -> ResumeTrial:
    """SIGKILL a checkpointing fit after ``delay`` s, resume it, compare its arrays with ``reference``."""
    checkpoints, out = work / "checkpoints", work / "resumed.nwb"
    work.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(checkpoints, ignore_errors=True)
    out.unlink(missing_ok=True)
    argv = fit_resume_argv(graphs, out, checkpoints, epochs)
    proc = launcher.start(argv, cwd=work)
    time.sleep(delay)
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    launcher.wait(proc)
    epoch = checkpoint_epoch(checkpoints)
    resumed = launcher.wait(launcher.start(argv, cwd=work))
    left = [p.name for p in checkpoints.iterdir() if p.name != "checkpoint.pt"] if checkpoints.is_dir() else []
    if resumed.code != 0:
        return ResumeTrial(delay, epoch, resumed.code, False, float("inf"), left)
    got = fit_arrays(out)
    equal = got.keys() == reference.keys() and all(np.array_equal(got[k], reference[k], equal_nan=True)
                                                   for k in reference)
    diff = max((float(np.nanmax(np.abs(got[k].astype(float) - reference[k].astype(float))))
                for k in reference if k in got and got[k].shape == reference[k].shape and got[k].size),
               default=float("inf"))
    return ResumeTrial(delay, epoch, resumed.code, equal, diff, left)


def training_window(graphs: Path, launcher, work: Path, epochs: int = RESUME_EPOCHS) -> tuple[float, float, dict]:
    """One uninterrupted checkpointing fit: the seconds after its start of its first and of its last
    checkpoint (the training), and its arrays (the reference a resumed run must equal)."""
    checkpoints, out = work / "reference_checkpoints", work / "reference.nwb"
    work.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(checkpoints, ignore_errors=True)
    wall = time.time()
    proc = launcher.start(fit_resume_argv(graphs, out, checkpoints, epochs), cwd=work)
    first = None
    while first is None and time.monotonic() - proc.started < HANG_SECONDS:
        if (checkpoints / "checkpoint.pt").exists():
            first = time.monotonic() - proc.started
        elif not Path(f"/proc/{proc.pid}").exists() or (proc.popen is not None and proc.popen.poll() is not None):
            break
        else:
            time.sleep(0.002)
    done = launcher.wait(proc)
    assert done.code == 0, done.stderr[-2000:]
    last = (checkpoints / "checkpoint.pt").stat().st_mtime - wall
    assert checkpoint_epoch(checkpoints) == epochs
    return (first if first is not None else 0.0), max(last, first or 0.0), fit_arrays(out)


# -- full disk ------------------------------------------------------------------------------------
@contextlib.contextmanager
def small_tmpfs(folder: Path, size: str = "1m") -> Iterator[Path | None]:
    """A tmpfs of ``size`` mounted at ``folder``, or None where mounting is not permitted."""
    folder.mkdir(parents=True, exist_ok=True)
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("mount") is None:
        yield None
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, check=False).returncode == 0
    try:
        yield folder if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


@dataclass
class DiskTrial:
    case: str
    variant: str  # "tmpfs" or "fsize-limit"
    code: int
    message: str
    one_line: bool
    destination_clean: bool  # absent, or the previous file byte-identical
    leftover: list[str]
    source_changed: bool

    @property
    def ok(self) -> bool:
        return (self.code == 3 and self.one_line and "no space left on device" in self.message
                and self.destination_clean and not self.leftover and not self.source_changed)


def disk_trial(case: Case, launcher, folder: Path, variant: str, fsize_limit: int | None = None) -> DiskTrial:
    """Run ``case`` writing into ``folder`` (a full tmpfs, or any folder under a file-size limit)."""
    if case.in_place:
        target = folder / case.original.name
        shutil.copyfile(case.original, target)
        source = destination = target
    else:
        source, destination = case.original, folder / "out.nwb"
    source_hash = sha256(source)
    before = sha256(destination) if destination.exists() else None
    done = launcher.wait(launcher.start(case.command(source, destination), cwd=folder, fsize_limit=fsize_limit))
    lines = [ln for ln in done.stderr.splitlines() if ln.strip() and "warning" not in ln.lower()
             and not ln.startswith("INFO")]
    clean = (not destination.exists()) if before is None else sha256(destination) == before
    changed = (not case.in_place) and sha256(source) != source_hash
    return DiskTrial(case.name, variant, done.code, lines[-1] if lines else "", len(lines) == 1, clean,
                     [p.name for p in temporaries(folder)], changed)


def tally(rows: list[dict]) -> str:
    """``rows`` as the Markdown table of the benchmark."""
    head = ["command", "fault", "trials run", "outputs corrupted", "sources changed", "leftover temporaries",
            "reruns that succeeded", "notes"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        out.append("| " + " | ".join(str(r.get(k, "")) for k in ("command", "fault", "trials", "corrupted",
                                                                  "sources_changed", "leftover", "reruns_ok_text",
                                                                  "notes")) + " |")
    return "\n".join(out)


def as_dict(obj) -> dict:
    return dataclasses.asdict(obj)


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--serve":
        serve(sys.argv[2:])
