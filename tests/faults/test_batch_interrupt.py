"""``batch`` interrupted at random moments, as a user does it: Ctrl-C (SIGINT to the whole process
group, workers included) or ``kill`` (SIGTERM to the batch process).

Expected every time: no temporary anywhere in the output folder or beside the inputs, the inputs
byte-identical, no traceback, and an exit code that says what happened (130 interrupted, 143
terminated, 0 when the signal came after the batch had finished its work). Only a signal while the
interpreter itself is still importing (before our code runs) meets Python's own handling (a
traceback for Ctrl-C, a silent death for SIGTERM); by then nothing has been made.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import _harness
import pytest
import yaml

pytest.importorskip("distributed")
pytest.importorskip("torch")

FAST = {"connectivity": {"preset": "dishbrain", "window": 30.0, "step": 30.0},
        "model": {"epochs": 5, "patience": None, "seed": 0, "device": "cpu"}}


def _batch(inputs, out, config) -> subprocess.Popen:
    env = {**os.environ, **_harness.CHILD_ENV}
    return subprocess.Popen([sys.executable, "-m", "nwb_tavrnn.cli.main", "batch", str(inputs), "--output", str(out),
                             "--workers", "2", "--config", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)


def _left(folder) -> list[str]:
    return [os.path.join(root, name) for root, dirs, files in os.walk(folder) for name in dirs + files
            if _harness.TEMPORARY.match(name)]


@pytest.fixture(scope="module")
def batch_inputs(tmp_path_factory, small_session):
    import shutil

    folder = tmp_path_factory.mktemp("interrupt_inputs")
    for name in ("a", "b"):
        shutil.copyfile(small_session, folder / f"culture_{name}.nwb")
    return folder


@pytest.mark.parametrize("trials", [pytest.param(4, marks=pytest.mark.slow),  # 1.5 min on 2 cores
                                    pytest.param(20, marks=pytest.mark.extended)])  # 6 min
def test_batch_interrupted_at_random_moments_leaves_no_temporary(batch_inputs, tmp_path, trials):
    config = tmp_path / "fast.yaml"
    config.write_text(yaml.safe_dump(FAST))
    before = {p.name: _harness.sha256(p) for p in batch_inputs.iterdir()}
    # one whole run: how long the moments to draw from last, and a finished batch leaves nothing either
    started = time.monotonic()
    proc = _batch(batch_inputs, tmp_path / "whole", config)
    _, stderr = proc.communicate(timeout=_harness.HANG_SECONDS)
    whole = time.monotonic() - started
    assert proc.returncode == 0, stderr[-2000:]
    assert not _left(tmp_path / "whole") and "Traceback" not in stderr and "distributed" not in stderr, stderr
    rng = random.Random(20261207 + trials)
    seen = []
    for trial in range(trials):
        how = ("SIGINT to the group", "SIGTERM to the batch")[trial % 2]
        moment = rng.uniform(0.0, whole)
        out = tmp_path / f"out{trial}"
        proc = _batch(batch_inputs, out, config)
        time.sleep(moment)
        try:
            if how.startswith("SIGINT"):
                os.killpg(proc.pid, signal.SIGINT)
            else:
                os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:  # it had already finished
            pass
        try:
            _, stderr = proc.communicate(timeout=_harness.HANG_SECONDS)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        said = f"trial {trial}: {how} at {moment:.1f} s of {whole:.1f} s, exit {proc.returncode}:\n{stderr[-2000:]}"
        assert not _left(out) and not _left(batch_inputs), said
        assert {p.name: _harness.sha256(p) for p in batch_inputs.iterdir()} == before, said
        # the signal's default action, before our code ran (the interpreter importing): nothing made
        importing = proc.returncode in (-signal.SIGINT, -signal.SIGTERM) and not out.exists()
        if not importing:
            expected = {0, 130} if how.startswith("SIGINT") else {0, 128 + signal.SIGTERM}
            assert proc.returncode in expected, said
            assert "Traceback" not in stderr and "distributed" not in stderr, said
        seen.append(proc.returncode)
    if trials >= 10:  # with this many draws some fall inside the work, both ways
        assert {130, 128 + signal.SIGTERM} <= set(seen), seen
