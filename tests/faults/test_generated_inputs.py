"""Generated bad inputs end cleanly: a correct result, or one line on stderr and exit code 2.

The cases, the commands they go through and the contract are in :mod:`._generated`. The default
suite runs the fixed cases (one per fault family) and a dozen generated ones, in-process; a few
also as real subprocesses, where a traceback would reach the terminal. ``-m slow`` runs a larger
sweep with every command (``validate`` and ``run`` included) and the 10 000-unit table.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from ._generated import (
    FIXED_CASES,
    Case,
    cases_strategy,
    check_case,
    generated_inputs_sweep,
    judge,
    large_case,
    nonfinite_datasets,
    run_cli,
    write_source,
)

pytest.importorskip("torch")


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread(one_torch_thread):
    """Tiny models train as fast on one thread, and immune to a busy machine."""


#: The fixed cases the default suite runs: those the generated examples and the subprocess tests
#: below do not already cover (the sweep runs all of FIXED_CASES).
DEFAULT_FIXED = [c for c in FIXED_CASES if set(c.faults) <= {"far_past_session", "stop_before_start", "spec_newer_ours",
                                                             "emb_mean_shape"}]


@pytest.mark.parametrize("case", DEFAULT_FIXED, ids=lambda c: "+".join(c.faults) or "clean")
def test_fixed_case_ends_cleanly(case):
    assert check_case(case) == []


# Shrinking is off: each example costs seconds, and the failing case is printed whole anyway.
@settings(max_examples=8, deadline=None, database=None, derandomize=True,
          phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=cases_strategy("quick"))
def test_generated_case_ends_cleanly(case):
    assert check_case(case) == []


def test_two_units_in_two_groups_evaluate_cleanly():
    """Found by the sweep: 2 units, one per electrode group, made evaluate end with exit code 1."""
    assert check_case(Case(n_units=2, duration=24.0, rate=2.0, window=3.0)) == []


def test_the_judge_flags_what_breaks_the_contract(tmp_path):
    """The checks can fail: a traceback, exit code 1, two lines, NaN in a result, a leftover."""
    before = {p.name for p in tmp_path.iterdir()}
    assert judge("connectivity", 2, "nwb-tavrnn connectivity: error: bad\n", None, tmp_path, before) == []
    assert judge("inspect", 1, "nwb-tavrnn inspect: unexpected ValueError: x\n", None, tmp_path, before)
    assert judge("inspect", 2, "Traceback (most recent call last):\nValueError\n", None, tmp_path, before)
    assert judge("fit", 2, "nwb-tavrnn fit: error: a\nsecond line\n", None, tmp_path, before)
    assert judge("fit", None, "", None, tmp_path, before)[0].startswith("fit: hang")
    (tmp_path / ".out.1234.partial.nwb").write_bytes(b"")
    assert "temporary files left" in judge("fit", 2, "nwb-tavrnn fit: error: a\n", None, tmp_path, before)[0]
    # A result holding NaN: write a valid derived file, then put a NaN into its graphs.
    import h5py

    source = write_source(Case(), tmp_path / "src.nwb")
    out = tmp_path / "conn.nwb"
    assert run_cli(["connectivity", source, out, "--window", "5", "--step", "5"])[0] == 0
    assert nonfinite_datasets(out) == []
    with h5py.File(out, "r+") as h5:
        h5["processing/ecephys/DynamicConnectivity/data"][0, 0, 1] = float("nan")
    assert nonfinite_datasets(out) == ["processing/ecephys/DynamicConnectivity/data"]


def test_a_hang_is_cut_at_the_time_limit():
    """The per-command limit works on a command that never returns."""
    import time

    from ._generated import CaseTimeout, time_limit

    started = time.perf_counter()
    with pytest.raises(CaseTimeout), time_limit(0.5):
        time.sleep(30)
    assert time.perf_counter() - started < 5


def _subprocess(argv: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run([sys.executable, "-m", "nwb_tavrnn.cli.main", *map(str, argv)], capture_output=True,
                          text=True, timeout=120, env=env, check=False)


@pytest.mark.parametrize("faults, command", [
    (("nan",), "connectivity"),
])
def test_real_process_prints_one_line_and_no_traceback(tmp_path, faults, command):
    source = write_source(Case(faults=faults), tmp_path / "bad.nwb")
    argv = [command, source] + ([tmp_path / "out.nwb", "--window", "5"] if command == "connectivity" else [])
    done = _subprocess(argv)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"nwb-tavrnn {command}: error: "), done.stderr
    assert not (tmp_path / "out.nwb").exists()
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]


def test_real_process_on_damaged_extension_type(tmp_path):
    """Our own type with a dataset of the wrong shape: refused on reading, in a real process."""
    folder = tmp_path / "case"
    folder.mkdir()
    from ._generated import _derived_source

    damaged, outcomes = _derived_source(Case(faults=("conn_data_shape",)), folder, folder / "source.nwb")
    assert damaged is not None, [o.stderr for o in outcomes]
    done = _subprocess(["fit", damaged, tmp_path / "fit.nwb", "--epochs", "1"])
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "fit.nwb").exists()


@pytest.mark.slow
def test_larger_sweep_with_every_command():
    """~60 generated cases plus the fixed ones through every command, validate and run included."""
    result = generated_inputs_sweep(60, commands="all")
    assert result["tried"] >= 60
    assert result["failures"] == [], "\n".join(result["failures"])


@pytest.mark.slow
def test_ten_thousand_units():
    """10 000 mostly silent units: inspected and turned into graphs, neither hanging nor crashing."""
    case = large_case()
    problems = check_case(replace(case, commands="large"), timeout=300)
    assert problems == []
