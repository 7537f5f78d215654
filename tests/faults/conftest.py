"""Fixtures of the fault tests: tiny inputs, and a warm fork server that starts CLI processes.

``small_session`` is a small simulated culture (30 nodes, 3 min) for any fault test; the others
are for the kill, resume and full-disk tests (see ``_harness.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _harness, also imported by benchmarks/faults.py

import _harness


@pytest.fixture(scope="session")
def small_session(simulated_session) -> Path:
    """A small simulated NWB session: 10 sensory + 4 x 5 motor units, 2 min of gameplay blocks and
    1 min of rest, with its epochs table (``epochs:state``). Shared: do not modify it (copy it)."""
    return simulated_session("culture", seed=0, **_harness.SESSION)


@pytest.fixture(scope="session")
def fork_launcher(tmp_path_factory):
    """A fork server with the package and torch imported: CLI processes start in milliseconds."""
    pytest.importorskip("torch")
    launcher = _harness.ForkLauncher(tmp_path_factory.mktemp("fork_logs"))
    yield launcher
    launcher.close()


@pytest.fixture(scope="session")
def fault_inputs(tmp_path_factory, fork_launcher, small_session) -> _harness.Inputs:
    """The tiny inputs of every command (session: a copy of ``small_session``, graphs, fitted,
    track, raw voltage), read-only."""
    return _harness.build_inputs(tmp_path_factory.mktemp("fault_inputs"), fork_launcher, session=small_session)


@pytest.fixture(scope="session")
def fault_cases(fault_inputs) -> dict[str, _harness.Case]:
    return _harness.cases(fault_inputs)
