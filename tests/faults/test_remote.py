"""Remote inputs from a misbehaving server: one line, exit code 2, in bounded time, nothing written.

The server and the trials are in :mod:`._remote`. Each trial here runs with
``NWB_TAVRNN_HTTP_TIMEOUT=0.5`` (the slow test and the benchmark with 1 s): a stalled server must
then cost a few seconds, not forever.
"""

from __future__ import annotations

import pytest

from nwb_tavrnn.cli.main import main

from ._generated import Case, write_source
from ._remote import FAULTS, count_requests, http_timeout, one_trial, remote_fault_trials, trial_problems

pytest.importorskip("remfile")

#: HTTP timeout of the default-suite trials (seconds); loopback answers in well under 1 ms.
TIMEOUT = 0.5


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return write_source(Case(n_units=6, duration=40.0), tmp_path_factory.mktemp("remote") / "source.nwb")


@pytest.fixture(scope="module")
def requests_of_connectivity(source):
    return count_requests(source, "connectivity")


@pytest.mark.parametrize("fault", FAULTS)
def test_connectivity_fault_while_reading_the_data(source, requests_of_connectivity, fault):
    """The fault hits the last request, after the file was opened: spike times half read."""
    result = one_trial(source, "connectivity", fault, healthy=requests_of_connectivity - 1, timeout=TIMEOUT)
    assert trial_problems(result, "connectivity", TIMEOUT) == [], result
    assert result["code"] == 2 and result["seconds"] < 6 * TIMEOUT + 5, result


def test_inspect_stall_at_the_first_request(source):
    result = one_trial(source, "inspect", "stall", healthy=0, timeout=TIMEOUT)
    assert trial_problems(result, "inspect", TIMEOUT) == [], result
    assert "cannot read as a remote HDF5 file" in result["lines"][0]


def test_trial_judge_can_fail():
    """The judge flags a hang, a traceback, exit code 1, a leftover and a failed rerun."""
    good = {"code": 2, "lines": ["nwb-tavrnn inspect: error: x"], "seconds": 1.0, "traceback": False,
            "corrupted": False, "leftovers": [], "source_changed": False, "rerun_ok": True}
    assert trial_problems(good, "inspect") == []
    assert trial_problems({**good, "code": None}, "inspect") == ["hang"]
    assert trial_problems({**good, "traceback": True}, "inspect") == ["traceback"]
    assert trial_problems({**good, "code": 1}, "inspect") == ["exit code 1"]
    assert trial_problems({**good, "leftovers": [".x.partial.nwb"]}, "inspect")
    assert trial_problems({**good, "rerun_ok": False}, "inspect") == ["rerun failed"]
    assert trial_problems({**good, "seconds": 100.0}, "inspect")


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf"])
def test_bad_timeout_setting_is_one_line(source, capsys, value):
    with http_timeout(value):
        assert main(["inspect", "http://127.0.0.1:9/file.nwb"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "NWB_TAVRNN_HTTP_TIMEOUT" in err, err


@pytest.mark.slow
def test_every_fault_of_every_command():
    rows = remote_fault_trials()
    assert len(rows) == 2 * len(FAULTS)
    for row in rows:
        assert row["problems"] == [] and row["clean"] == row["trials"] == row["reruns_ok"], row
