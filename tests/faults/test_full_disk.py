"""A full disk: one clear error line, exit code 3, nothing half-written, no temporaries, source untouched.

Two ways to fill the disk, both real kernel limits on a real CLI process:

``tmpfs``
    The destination's folder is a tmpfs too small for the result (``mount -t tmpfs -o size=...``;
    skipped where mounting is not permitted): writes fail with ENOSPC. For ``--in-place`` the
    source sits on it with room for itself but not for the temporary copy.
``fsize-limit``
    ``RLIMIT_FSIZE`` of the process below the result's size (SIGXFSZ ignored, so the write fails
    with EFBIG instead of killing the process): the same path through the code as a full disk,
    on any machine.
"""

from __future__ import annotations

import os
import shutil

import _harness
import pytest

pytest.importorskip("torch")

#: Bytes a process may write to one file under the fsize-limit variant: below every result.
FSIZE_LIMIT = 200_000


def _check(trial: _harness.DiskTrial) -> None:
    assert trial.code == 3, trial
    assert trial.one_line, trial
    assert trial.message.startswith("nwb-tavrnn ") and "no space left on device while writing" in trial.message, trial
    assert "nothing was written" in trial.message
    assert trial.destination_clean and trial.leftover == [] and not trial.source_changed, trial


def _tmpfs_size(case: _harness.Case) -> str:
    """Room for the in-place source but not for its temporary copy; else room for nothing much."""
    if case.in_place:
        return f"{(os.path.getsize(case.original) + 64 * 1024) // 4096 * 4096 // 1024}k"
    return "128k"


def _tmpfs_trial(case: _harness.Case, launcher, folder) -> _harness.DiskTrial:
    with _harness.small_tmpfs(folder, _tmpfs_size(case)) as mounted:
        if mounted is None:
            pytest.skip("mounting a tmpfs is not permitted here")
        return _harness.disk_trial(case, launcher, mounted, "tmpfs")


def test_fsize_limit_on_the_real_entry_point(fault_cases, tmp_path):
    """``python -m nwb_tavrnn.cli.main connectivity`` under a file-size limit (no fork server)."""
    launcher = _harness.ExecLauncher(tmp_path / "logs")
    (tmp_path / "out").mkdir()
    _check(_harness.disk_trial(fault_cases["connectivity"], launcher, tmp_path / "out", "fsize-limit",
                               FSIZE_LIMIT))


@pytest.mark.parametrize("name", ["connectivity --in-place", "run"])
def test_full_tmpfs(name, fault_cases, fork_launcher, tmp_path):
    _check(_tmpfs_trial(fault_cases[name], fork_launcher, tmp_path / "mnt"))


def test_a_previous_file_survives_a_full_disk(fault_cases, fork_launcher, tmp_path):
    """With --overwrite and a complete earlier result at the destination, it is left byte for byte."""
    case = fault_cases["segments"]
    shutil.copyfile(fault_cases["connectivity"].original, tmp_path / "out.nwb")  # stands for an earlier result
    trial = _harness.disk_trial(case, fork_launcher, tmp_path, "fsize-limit", FSIZE_LIMIT)
    _check(trial)
    assert (tmp_path / "out.nwb").exists()


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["tmpfs", "fsize-limit"])
def test_every_command_on_a_full_disk(variant, fault_cases, fork_launcher, tmp_path):
    failures = []
    for name, case in fault_cases.items():
        folder = tmp_path / name.replace(" ", "_")
        if variant == "tmpfs":
            trial = _tmpfs_trial(case, fork_launcher, folder)
        else:
            folder.mkdir()
            trial = _harness.disk_trial(case, fork_launcher, folder, variant, FSIZE_LIMIT)
        try:
            _check(trial)
        except AssertionError:
            failures.append(trial)
    assert not failures, "\n".join(map(str, failures))
