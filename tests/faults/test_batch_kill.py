"""``batch`` on a real local Dask cluster with a worker process killed (SIGKILL) mid-task.

Expected: every other output intact and validating, the inputs byte-identical, the lost file
either retried by Dask (its task is rescheduled on another worker: every row ``ok``, exit 0) or
reported as failed (``worker failed``, exit 1), and no temporary left that the batch neither
removed nor named in a warning.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import _harness
import pandas as pd
import pytest
import yaml

pytest.importorskip("distributed")
pytest.importorskip("torch")
psutil = pytest.importorskip("psutil")

FAST = {"connectivity": {"preset": "dishbrain", "window": 30.0, "step": 30.0},
        "model": {"epochs": 5, "patience": None, "seed": 0, "device": "cpu"}}


def _workers(pid: int) -> list:
    """The Dask worker processes of the batch process ``pid`` (its spawned children)."""
    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            cmd = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "spawn_main" in cmd:  # the resource tracker is started with "resource_tracker import main"
            found.append(child)
    return found


def _batch_with_a_killed_worker(inputs, out, tmp_path, env_extra=None):
    config = tmp_path / "fast.yaml"
    config.write_text(yaml.safe_dump(FAST))
    before = {p.name: _harness.sha256(p) for p in inputs.iterdir()}
    env = {**os.environ, **_harness.CHILD_ENV, **(env_extra or {})}
    proc = subprocess.Popen([sys.executable, "-m", "nwb_tavrnn.cli.main", "batch", str(inputs), "--output", str(out),
                             "--workers", "2", "--config", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    killed = None
    deadline = time.monotonic() + 240
    while killed is None and proc.poll() is None and time.monotonic() < deadline:
        busy = _harness.temporaries(out)  # a task's working folder: the pipeline is writing
        workers = _workers(proc.pid)
        if busy and workers:
            time.sleep(0.3)  # well inside the task
            killed = workers[0].pid
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    try:
        _, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert killed is not None, f"no worker was seen busy: {stderr[-2000:]}"
    assert {p.name: _harness.sha256(p) for p in inputs.iterdir()} == before  # inputs untouched
    table = pd.read_csv(out / "batch_summary.csv", keep_default_na=False)
    for row in table[table.status == "ok"].itertuples():
        ok, why = _harness.complete(row.output, "NodeEmbeddings")
        assert ok, why
    failed = table[table.status != "ok"]
    if failed.empty:
        assert proc.returncode == 0, stderr  # retried: nothing lost
    else:
        assert proc.returncode == 1, stderr
        # every task Dask had placed on the killed worker (running or queued there) is lost
        assert all(e.startswith("worker failed: KilledWorker") and "nothing was written" in e for e in failed.error)
        for name in failed.file:
            assert not (out / f"{os.path.basename(name)[:-4]}_tavrnn.nwb").exists()
    expected = {"batch_summary.csv"} | {os.path.basename(o) for o in table.output if o}
    extra = {p.name for p in out.iterdir()} - expected
    unreported = [name for name in extra if str(out / name) not in stderr]
    assert not unreported, f"left in the output folder, neither removed nor reported: {unreported}\n{stderr[-2000:]}"
    assert not {name for name in extra if not _harness.TEMPORARY.match(name)}, extra  # nothing half-written
    return table, proc.returncode


@pytest.fixture(scope="module")
def batch_inputs(tmp_path_factory, small_session):
    import shutil

    folder = tmp_path_factory.mktemp("batch_inputs")
    for name in ("a", "b", "c"):
        shutil.copyfile(small_session, folder / f"culture_{name}.nwb")
    return folder


@pytest.mark.slow
def test_a_killed_worker_loses_only_its_task_and_dask_retries_it(batch_inputs, tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    table, code = _batch_with_a_killed_worker(batch_inputs, out, tmp_path)
    assert code == 0 and list(table.status) == ["ok"] * 3  # the lost task ran again on another worker


@pytest.mark.slow
def test_a_killed_worker_without_retries_is_reported_failed(batch_inputs, tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    table, code = _batch_with_a_killed_worker(batch_inputs, out, tmp_path,
                                              {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"})
    assert code == 1 and "failed" in set(table.status) and "ok" in set(table.status)
