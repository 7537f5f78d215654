"""Generated bad inputs: real NWB files with faults, run through the CLI, each judged on its outcome.

A *case* is a small session (a few units, tens of seconds, a labelled intervals table) plus a set of
faults drawn by ``hypothesis``: spike times unsorted, NaN, infinite, negative, duplicated or far past
the session; empty units or a single unit; intervals whose stop precedes their start or that
overlap; labels of one class; windows longer than the recording; strings where numbers belong; a
cached specification missing a namespace or claiming a newer schema version; and our own
extension types (DynamicConnectivity, NodeEmbeddings) with datasets of the wrong shape.

Each case is written with pynwb (and edited with h5py where pynwb would refuse to write the fault),
then run through the commands that read it, in-process through :func:`nwb_tavrnn.cli.main.main`.
The contract judged by :func:`judge`: a command either succeeds, and then its output is readable
NWB whose float datasets of our types hold no NaN or infinity, or it ends with exactly one line on
stderr and exit code 2 (4 for ``validate``'s findings) -- never a traceback, never exit code 1 (a
bug), never a hang (a per-command time limit), and never an output or a temporary file left behind
by a failure.

:func:`generated_inputs_sweep` runs ``max_examples`` generated cases plus the fixed ones and counts
them; ``benchmarks/faults.py`` reports it, ``tests/faults/test_generated_inputs.py`` asserts on it.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import logging
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import h5py
import numpy as np

log = logging.getLogger(__name__)

#: Seconds one in-process command may take before the case counts as a hang. The slowest command
#: on a tiny case (``run`` with 2 epochs) takes ~3 s on 2 busy cores; the 10k-unit case ~20 s.
COMMAND_TIMEOUT = 60.0

#: Faults of the Units table and the spike times.
SPIKE_FAULTS = ("unsorted", "nan", "inf", "negative", "duplicate", "empty_units", "all_empty", "one_unit",
                "past_session", "far_past_session", "beyond_intervals", "huge_times")
#: Faults of the intervals table and the labels.
INTERVAL_FAULTS = ("stop_before_start", "overlapping", "one_class", "nan_interval", "empty_table")
#: Faults of the analysis settings.
SETTING_FAULTS = ("window_too_long",)
#: Strings where numbers are expected (written with h5py: pynwb refuses them).
STRING_FAULTS = ("string_spike_times", "string_start_time", "string_label_numeric")
#: The specification cached in the file.
SPEC_FAULTS = ("spec_missing_namespace", "spec_newer_core", "spec_newer_ours", "spec_missing_ours")
#: Our own extension types with a dataset replaced by one of the wrong shape.
TYPE_FAULTS = ("conn_data_shape", "conn_window_times_shape", "conn_node_ids_shape", "conn_data_nan",
               "emb_mean_shape", "emb_mean_nan")

ALL_FAULTS = SPIKE_FAULTS + INTERVAL_FAULTS + SETTING_FAULTS + STRING_FAULTS + SPEC_FAULTS + TYPE_FAULTS

#: Faults that need a file written by ``connectivity`` (and for embeddings, ``fit``) first.
_DERIVED_FAULTS = {"spec_newer_ours", "spec_missing_ours", *TYPE_FAULTS}

_LABEL_TABLE = "blocks"


@dataclass(frozen=True)
class Case:
    """One generated input: a session and the faults applied to it.

    Parameters
    ----------
    n_units, duration, rate, seed
        The clean session: Poisson spike trains of ``n_units`` units over ``duration`` seconds.
    window
        Window (and step) length of the connectivity step, seconds.
    faults
        Names from :data:`ALL_FAULTS`.
    windows
        How ``connectivity`` and ``run`` choose windows: ``"sliding"``, ``"from_table"`` (one per
        run of labels of the intervals table) or ``"restricted"`` (sliding inside its intervals).
    commands
        Which commands to run: ``"all"`` (connectivity, inspect, validate, fit, evaluate, run),
        ``"quick"`` (connectivity, inspect, fit, evaluate: no ``validate`` or ``run``, the slow ones)
        or ``"large"`` (connectivity and inspect only, for thousands of nodes).
    """

    n_units: int = 5
    duration: float = 40.0
    rate: float = 8.0
    seed: int = 0
    window: float = 5.0
    faults: tuple[str, ...] = ()
    commands: str = "quick"
    windows: str = "sliding"

    @property
    def label(self) -> str:
        return (f"{'+'.join(self.faults) or 'clean'} (units={self.n_units}, T={self.duration:g}, w={self.window:g}, "
                f"{self.windows}, seed={self.seed})")


@dataclass
class Outcome:
    """What one command did with one case."""

    command: str
    code: int | None
    stderr: str
    seconds: float
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems


# -- writing the input files -------------------------------------------------------------------------------


def _spike_trains(case: Case, rng: np.random.Generator) -> list[np.ndarray]:
    """The case's spike times per unit, faults applied."""
    n = 1 if "one_unit" in case.faults else case.n_units
    trains = [np.sort(rng.uniform(0.0, case.duration, rng.poisson(case.rate * case.duration))) for _ in range(n)]
    f = set(case.faults)
    if "empty_units" in f and n > 1:
        trains[-1] = np.zeros(0)
    if "all_empty" in f:
        trains = [np.zeros(0) for _ in trains]
    for i, t in enumerate(trains):
        if not t.size:
            continue
        t = t.copy()
        if "duplicate" in f:
            t = np.sort(np.concatenate([t, t[: max(1, t.size // 4)]]))
        if "negative" in f and i == 0:
            t[: max(1, t.size // 10)] -= case.duration  # some spikes before the session start
            t = np.sort(t)
        if "past_session" in f and i == 0:
            t = np.concatenate([t, [case.duration * 1.5, case.duration * 2.0]])
        if "far_past_session" in f and i == 0:
            t = np.concatenate([t, [case.duration * 1e4]])
        if "huge_times" in f and i == 0:
            t = np.concatenate([t, [1e300]])
        if "nan" in f and i == 0:
            t[t.size // 2] = np.nan
        if "inf" in f and i == len(trains) - 1:
            t[-1] = np.inf
        if "unsorted" in f:
            t = t[::-1].copy()
        trains[i] = t
    return trains


def _intervals(case: Case) -> tuple[np.ndarray, np.ndarray, list]:
    """The labelled blocks: alternating states, each a few windows long; faults applied."""
    n_blocks = 4
    edges = np.linspace(0.0, case.duration, n_blocks + 1)
    starts, stops = edges[:-1].copy(), edges[1:].copy()
    states = ["a" if k % 2 == 0 else "b" for k in range(n_blocks)]
    f = set(case.faults)
    if "one_class" in f:
        states = ["a"] * n_blocks
    if "stop_before_start" in f:
        starts[1], stops[1] = stops[1], starts[1]
    if "overlapping" in f:
        stops[0] = stops[1] + 0.5 * (stops[1] - starts[1])
    if "nan_interval" in f:
        starts[2] = np.nan
    if "beyond_intervals" in f:  # the labelled time covers only the first half of the recording
        scale = 0.5
        starts, stops = starts * scale, stops * scale
    if "empty_table" in f:
        return np.zeros(0), np.zeros(0), []
    return starts, stops, states


def write_source(case: Case, path: Path) -> Path:
    """Write the case's source NWB file (a Units table and a labelled intervals table) to ``path``."""
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.epoch import TimeIntervals
    from pynwb.file import Subject

    from nwb_tavrnn.io.units import build_units_table

    rng = np.random.default_rng(case.seed)
    nwbfile = NWBFile(session_description="generated fault case", identifier=f"fault-{case.seed}",
                      session_start_time=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))
    nwbfile.subject = Subject(subject_id="s1", species="Mus musculus", sex="U", age="P90D")
    device = nwbfile.create_device(name="probe", description="generated probe")
    groups = [nwbfile.create_electrode_group(name=f"shank{g}", description="shank", location=loc, device=device)
              for g, loc in enumerate(["CA1", "CA3"])]
    trains = _spike_trains(case, rng)
    nwbfile.units = build_units_table(trains, ids=list(range(len(trains))), resolution=1e-4,
                                      electrode_groups=[groups[i % 2] for i in range(len(trains))])
    starts, stops, states = _intervals(case)
    table = TimeIntervals(name=_LABEL_TABLE, description="behavioural blocks")
    if len(states):  # pynwb cannot infer a dtype for an empty column; an empty table has none
        table.add_column(name="state", description="block state")
        table.add_column(name="score", description="a number per block")
    for k, (a, b, s) in enumerate(zip(starts, stops, states)):
        table.add_row(start_time=float(a), stop_time=float(b), state=s, score=float(k % 3))
    nwbfile.add_time_intervals(table)
    with NWBHDF5IO(str(path), mode="w") as io_:
        io_.write(nwbfile, cache_spec=True)
    _apply_h5_faults(case, path)
    return path


def _replace_dataset(group: h5py.Group, name: str, data, keep_attrs: bool = True) -> None:
    """Replace ``group[name]`` by ``data``, keeping its attributes (neurodata type, object id...)."""
    attrs = dict(group[name].attrs) if keep_attrs and name in group else {}
    del group[name]
    dset = group.create_dataset(name, data=data)
    for key, value in attrs.items():
        if not isinstance(value, h5py.Reference):
            dset.attrs[key] = value


def _apply_h5_faults(case: Case, path: Path) -> None:
    """The faults pynwb would refuse to write: strings where numbers belong, a damaged cached spec."""
    f = set(case.faults)
    with h5py.File(path, "r+") as h5:
        if "string_spike_times" in f:
            n = h5["units/spike_times"].shape[0]
            _replace_dataset(h5["units"], "spike_times", np.array([f"t{i}" for i in range(n)], dtype=object),
                             keep_attrs=True)
        if "string_start_time" in f:
            n = h5[f"intervals/{_LABEL_TABLE}/start_time"].shape[0]
            _replace_dataset(h5[f"intervals/{_LABEL_TABLE}"], "start_time",
                             np.array(["soon"] * n, dtype=object))
        if "string_label_numeric" in f and f"intervals/{_LABEL_TABLE}/score" in h5:
            n = h5[f"intervals/{_LABEL_TABLE}/score"].shape[0]
            _replace_dataset(h5[f"intervals/{_LABEL_TABLE}"], "score", np.array(["high", "low"] * n, dtype=object)[:n])
        if "spec_missing_namespace" in f:
            del h5["specifications/hdmf-common"]
        if "spec_newer_core" in f:
            _rewrite_version(h5, "core", "99.0.0")


def _rewrite_version(h5: h5py.File, namespace: str, version: str) -> None:
    """Make the cached spec of ``namespace`` claim ``version`` (and the file, for core)."""
    group = h5[f"specifications/{namespace}"]
    (old,) = list(group)
    group.move(old, version)
    ns = group[f"{version}/namespace"]
    text = ns[()].decode() if isinstance(ns[()], bytes) else str(ns[()])
    text = text.replace(f'"version":"{old}"', f'"version":"{version}"').replace(
        f'"version": "{old}"', f'"version": "{version}"')
    del group[f"{version}/namespace"]
    group[version].create_dataset("namespace", data=text, dtype=h5py.string_dtype())
    if namespace == "core":
        h5.attrs["nwb_version"] = version


def _damage_derived(case: Case, path: Path) -> None:
    """Break our own types in a file written by ``connectivity`` (or ``fit``)."""
    f = set(case.faults)
    with h5py.File(path, "r+") as h5:
        conn = _find_type(h5, "DynamicConnectivity")
        emb = _find_type(h5, "NodeEmbeddings")
        if conn is not None:
            w, n, _ = conn["data"].shape
            if "conn_data_shape" in f:
                _replace_dataset(conn, "data", np.zeros((w, n + 1, n - 1), np.float32))
            if "conn_window_times_shape" in f:
                _replace_dataset(conn, "window_start_times", np.arange(w + 3, dtype=np.float64))
            if "conn_node_ids_shape" in f:
                _replace_dataset(conn, "node_ids", np.arange(2 * n, dtype=np.int64).reshape(n, 2))
            if "conn_data_nan" in f:
                data = conn["data"][()]
                data[0, 0, 1] = data[0, 1, 0] = np.nan
                conn["data"][...] = data
        if emb is not None:
            if "emb_mean_shape" in f:
                w, n, _ = emb["mean"].shape
                _replace_dataset(emb, "mean", np.zeros((w, n + 2), np.float32))
            if "emb_mean_nan" in f:
                mean = emb["mean"][()]
                mean[0, 0, 0] = np.nan
                emb["mean"][...] = mean
        if "spec_newer_ours" in f:
            _rewrite_version(h5, "ndx-dynamic-graphs", "99.0.0")
        if "spec_missing_ours" in f:
            del h5["specifications/ndx-dynamic-graphs"]


def _find_type(h5: h5py.File, neurodata_type: str) -> h5py.Group | None:
    found: list[h5py.Group] = []

    def visit(name, obj):
        if isinstance(obj, h5py.Group) and _text(obj.attrs.get("neurodata_type")) == neurodata_type and not found:
            found.append(obj)

    h5.visititems(visit)
    return found[0] if found else None


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value) if value is not None else ""


# -- running a command and judging it ----------------------------------------------------------------------


class CaseTimeout(BaseException):
    """Raised in the main thread when a command runs past its limit (a BaseException: nothing in
    the package may swallow it)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`CaseTimeout` after ``seconds`` (main thread only; elsewhere no limit)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise CaseTimeout(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_cli(argv: Sequence[str], timeout: float = COMMAND_TIMEOUT) -> tuple[int | None, str, str, float]:
    """Run ``nwb-tavrnn ARGV`` in this process; return (exit code or None on timeout, stdout, stderr,
    seconds)."""
    from nwb_tavrnn.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    # main() configures the root logger once per process; a handler bound to an earlier stderr
    # would print into a closed StringIO, so give it the one captured now.
    root = logging.getLogger()
    saved = root.handlers[:]
    code: int | None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), time_limit(timeout):
            root.handlers = [logging.StreamHandler(err)]
            root.handlers[0].setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
            try:
                code = main([str(a) for a in argv])
            except SystemExit as exc:  # argparse's refusals
                code = exc.code if isinstance(exc.code, int) else 2
    except CaseTimeout as exc:
        code = None
        err.write(f"[harness] {exc}\n")
    finally:
        root.handlers = saved
    return code, out.getvalue(), err.getvalue(), time.perf_counter() - started


def _error_lines(stderr: str) -> list[str]:
    """The lines of stderr that are not log lines (INFO/WARNING records of the step loggers)."""
    return [line for line in stderr.splitlines()
            if line.strip() and not line.startswith(("INFO ", "DEBUG ", "WARNING ", "nwb-tavrnn: warning:"))]


def nonfinite_datasets(path: Path) -> list[str]:
    """Float datasets inside groups of our namespace that hold NaN or infinity."""
    bad: list[str] = []
    with h5py.File(path, "r") as h5:
        def visit(name, obj):
            if not isinstance(obj, h5py.Dataset) or obj.dtype.kind != "f":
                return
            parent = obj.parent
            if _text(parent.attrs.get("namespace")) != "ndx-dynamic-graphs":
                return
            if _text(parent.attrs.get("neurodata_type")) == "EvaluationScores" and obj.name.endswith("/value"):
                return  # scores may be NaN by design (a p-value not computable); not a result array
            data = obj[()]
            if np.size(data) and not np.isfinite(data).all():
                bad.append(name)

        h5.visititems(visit)
    return bad


def judge(command: str, code: int | None, stderr: str, output: Path | None, folder: Path,
          before: set[str]) -> list[str]:
    """Problems with one command's outcome (empty: it kept the contract)."""
    problems: list[str] = []
    if code is None:
        return [f"{command}: hang ({_error_lines(stderr)[-1] if _error_lines(stderr) else 'timeout'})"]
    if "Traceback" in stderr:
        problems.append(f"{command}: traceback on stderr")
    lines = _error_lines(stderr)
    leftovers = sorted(p.name for p in folder.iterdir() if p.name not in before and ".partial" in p.name)
    if leftovers:
        problems.append(f"{command}: temporary files left: {leftovers}")
    ok_codes = (0, 4) if command == "validate" else (0,)
    if code in ok_codes:
        if command == "validate":
            return problems
        if output is not None:
            if not output.is_file():
                problems.append(f"{command}: exit 0 but no output")
            else:
                bad = nonfinite_datasets(output)
                if bad:
                    problems.append(f"{command}: NaN/inf written to {bad}")
                problems += [f"{command}: {p}" for p in _readable(output)]
        return problems
    # Exit 2 is a bad input; 3 an output that cannot be written, e.g. a file that already holds a
    # result of that name (refused, with the --name-prefix that keeps both): both are clean ends.
    clash = code == 3 and bool(lines) and "already holds an object named" in lines[-1]
    if code != 2 and not clash:
        problems.append(f"{command}: exit code {code}: {lines[-1] if lines else stderr.strip()[-200:]!r}")
    if len(lines) != 1:
        problems.append(f"{command}: {len(lines)} error lines instead of 1: {lines[:3]}")
    elif not lines[0].startswith(f"nwb-tavrnn {command}: ") and not lines[0].startswith("nwb-tavrnn: error"):
        problems.append(f"{command}: unexpected stderr {lines[0]!r}")
    if output is not None and output.exists() and output.name not in before:
        problems.append(f"{command}: failed but left {output.name}")
    return problems


def _readable(path: Path) -> list[str]:
    """Problems reading a written file back with pynwb (our types included)."""
    from nwb_tavrnn.errors import NwbTavrnnError
    from nwb_tavrnn.io import open_nwb

    try:
        with open_nwb(path) as nwbfile:
            list(nwbfile.objects.values())
    except NwbTavrnnError as err:
        return [f"output not readable: {err}"]
    return []


# -- one case ----------------------------------------------------------------------------------------------


def _commands(case: Case, folder: Path, source: Path) -> list[tuple[str, list[str], Path | None]]:
    """(command, argv, output) of each step to try on ``source``, in order."""
    window = case.duration * 5 if "window_too_long" in case.faults else case.window
    win = ["--window", f"{window:g}", "--step", f"{window:g}"]
    if case.windows == "from_table":
        win = ["--windows-from", f"{_LABEL_TABLE}:state"]
    elif case.windows == "restricted":
        win += ["--restrict-to", _LABEL_TABLE]
    labels = f"{_LABEL_TABLE}:score:top_bottom=1" if "string_label_numeric" in case.faults else f"{_LABEL_TABLE}:state"
    quick_eval = ["--no-time-shuffle", "--baselines", "--permutations", "9", "--no-figures", "--kmeans-restarts", "1",
                  "--n-splits", "2"]
    conn, fitted = folder / "conn.nwb", folder / "fit.nwb"
    steps = [("connectivity", ["connectivity", source, conn, *win], conn),
             ("inspect", ["inspect", source], None)]
    if case.commands == "large":  # thousands of nodes: the graphs only (a model would take minutes)
        return steps
    if case.commands == "all":
        steps.append(("validate", ["validate", source], None))
    steps += [("fit", ["fit", conn, fitted, "--epochs", "2", "--patience", "0"], fitted),
              ("evaluate", ["evaluate", fitted, folder / "eval.nwb", "--labels", labels, *quick_eval],
               folder / "eval.nwb")]
    if case.commands == "all":
        steps.append(("run", ["run", source, folder / "run.nwb", *win, "--epochs", "2", "--labels", labels,
                              "--no-time-shuffle", "--baselines", "--permutations", "9", "--no-figures", "--kmeans-restarts",
                              "1"], folder / "run.nwb"))
    return steps


def _derived_source(case: Case, folder: Path, source: Path) -> tuple[Path | None, list[Outcome]]:
    """For faults of our own types: a valid derived file (connectivity, and fit for embeddings),
    then damaged. None when the clean steps themselves failed (reported as outcomes)."""
    clean = replace(case, faults=tuple(f for f in case.faults if f not in _DERIVED_FAULTS))
    write_source(clean, source)
    made = folder / "made_conn.nwb"
    outcomes = []
    code, _, err, secs = run_cli(["connectivity", source, made, "--window", f"{case.window:g}", "--step",
                                  f"{case.window:g}"])
    outcomes.append(Outcome("connectivity(setup)", code, err, secs,
                            [] if code in (0, 2) else [f"setup connectivity: exit {code}"]))
    if code != 0:
        return None, outcomes
    if any(f.startswith("emb_") for f in case.faults):
        fitted = folder / "made_fit.nwb"
        code, _, err, secs = run_cli(["fit", made, fitted, "--epochs", "2", "--patience", "0"])
        outcomes.append(Outcome("fit(setup)", code, err, secs, [] if code in (0, 2) else [f"setup fit: exit {code}"]))
        if code != 0:
            return None, outcomes
        made = fitted
    _damage_derived(case, made)
    return made, outcomes


def run_case(case: Case, folder: Path, timeout: float = COMMAND_TIMEOUT) -> list[Outcome]:
    """Write the case into ``folder`` (empty), run its commands, judge each; return the outcomes."""
    source = folder / "source.nwb"
    outcomes: list[Outcome] = []
    if _DERIVED_FAULTS & set(case.faults):
        damaged, outcomes = _derived_source(case, folder, source)
        if damaged is None:
            return outcomes
        steps = [("inspect", ["inspect", damaged], None),
                 ("validate", ["validate", damaged], None)]
        if any(f.startswith(("conn_", "spec_")) for f in case.faults):
            steps.append(("fit", ["fit", damaged, folder / "fit_damaged.nwb", "--epochs", "2", "--patience", "0"],
                          folder / "fit_damaged.nwb"))
        if any(f.startswith(("emb_", "spec_")) for f in case.faults):
            target = damaged if any(f.startswith("emb_") for f in case.faults) else None
            if target is not None:
                steps.append(("evaluate", ["evaluate", target, folder / "eval_damaged.nwb", "--labels",
                                           f"{_LABEL_TABLE}:state", "--no-time-shuffle", "--baselines",
                                           "--permutations", "9", "--no-figures", "--kmeans-restarts", "1", "--n-splits", "2"],
                              folder / "eval_damaged.nwb"))
        steps.append(("connectivity", ["connectivity", damaged, folder / "conn_again.nwb", "--window",
                                       f"{case.window:g}", "--step", f"{case.window:g}", "--name", "Again"],
                      folder / "conn_again.nwb"))
    else:
        write_source(case, source)
        steps = _commands(case, folder, source)
    for command, argv, output in steps:
        if command in ("fit", "evaluate") and not Path(argv[1]).is_file():
            continue  # the step it reads failed (cleanly, or it is judged already)
        before = {p.name for p in folder.iterdir()}
        code, _, err, secs = run_cli(argv, timeout)
        problems = judge(command, code, err, output, folder, before)
        outcomes.append(Outcome(command, code, err, secs, problems))
        if code is None:
            break  # a hung command may have left the process in any state: stop this case
    return outcomes


def check_case(case: Case, timeout: float = COMMAND_TIMEOUT) -> list[str]:
    """Run one case in a fresh temporary folder; return its problems, each prefixed by the case."""
    folder = Path(tempfile.mkdtemp(prefix="nwb_tavrnn_fault_"))
    try:
        outcomes = run_case(case, folder, timeout)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return [f"{case.label}: {p}" for o in outcomes for p in o.problems]


# -- generation --------------------------------------------------------------------------------------------


def cases_strategy(commands: str = "quick"):
    """A hypothesis strategy of :class:`Case` objects: a small session with up to three faults."""
    from hypothesis import strategies as st

    # From 3 units: with 2 units in 2 electrode groups the evaluation's subregion alignment is a
    # known bug of evaluation/metrics.py (a silhouette of one node per group), pinned by its own
    # test rather than rediscovered by every sweep.
    return st.builds(
        Case,
        n_units=st.integers(3, 8),
        duration=st.sampled_from([24.0, 40.0, 60.0]),
        rate=st.sampled_from([2.0, 8.0, 20.0]),
        seed=st.integers(0, 2**16),
        window=st.sampled_from([3.0, 5.0, 8.0]),
        faults=st.lists(st.sampled_from(ALL_FAULTS), min_size=1, max_size=3, unique=True).map(tuple),
        commands=st.just(commands),
        windows=st.sampled_from(["sliding", "sliding", "from_table", "restricted"]),
    )


#: Fixed cases run in every sweep: one per fault family at least, and the 10k-unit table.
FIXED_CASES = (
    Case(faults=()),
    Case(faults=("nan",)),
    Case(faults=("unsorted", "duplicate")),
    Case(faults=("far_past_session",)),
    Case(faults=("stop_before_start",)),
    Case(faults=("one_class",)),
    Case(faults=("string_spike_times",)),
    Case(faults=("spec_newer_ours",)),
    Case(faults=("conn_data_shape",)),
    Case(faults=("emb_mean_shape",)),
)


def large_case() -> Case:
    """10 000 units, mostly silent: the node count must not make the steps hang or crash."""
    return Case(n_units=10_000, duration=20.0, rate=0.05, window=10.0, faults=())


def generated_inputs_sweep(max_examples: int, commands: str = "quick", include_fixed: bool = True,
                           timeout: float = COMMAND_TIMEOUT) -> dict:
    """Run ``max_examples`` generated cases (plus :data:`FIXED_CASES`); count the clean ones.

    Returns
    -------
    dict with ``tried`` (cases run), ``clean`` (cases every command of which kept the contract)
    and ``failures`` (one line per problem).
    """
    from hypothesis import HealthCheck, Phase, given, settings

    tried, clean, failures = 0, 0, []

    def record(case: Case) -> None:
        nonlocal tried, clean
        problems = check_case(case, timeout)
        tried += 1
        clean += not problems
        failures.extend(problems)

    if include_fixed:
        for case in FIXED_CASES:
            record(replace(case, commands=commands))

    # No shrinking: a sweep counts cases rather than minimising one (each costs seconds).
    @settings(max_examples=max_examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), phases=(Phase.explicit, Phase.generate))
    @given(cases_strategy(commands))
    def sweep(case: Case) -> None:
        record(case)  # never fails: every case is counted, not shrunk

    if max_examples > 0:
        sweep()
    return {"tried": tried, "clean": clean, "failures": failures}


if __name__ == "__main__":  # python -m tests.faults._generated N
    logging.basicConfig(level=logging.INFO)
    result = generated_inputs_sweep(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
    log.info("tried %d, clean %d", result["tried"], result["clean"])
    for line in result["failures"]:
        log.info("%s", line)
