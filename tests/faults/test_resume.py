"""``fit --checkpoint-dir D --checkpoint-every 1 --resume`` killed (SIGKILL) at random epochs: the
resumed run's results equal the uninterrupted run's exactly.

"Exactly" is ``numpy.array_equal`` on every array the fit writes: the embeddings' means and
log-variances, the temporal attention, the loss curve and every trained weight stored in the
ModelProvenance (CPU, same seed, one thread). Kill moments are drawn uniformly over the training
of an uninterrupted run (from its first checkpoint to its last), so they fall at random epochs.
"""

from __future__ import annotations

import _harness
import numpy as np
import pytest

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def reference(fault_inputs, fork_launcher, tmp_path_factory):
    """(first checkpoint s, last checkpoint s, arrays) of one uninterrupted checkpointing fit."""
    return _harness.training_window(fault_inputs.graphs, fork_launcher, tmp_path_factory.mktemp("reference"))


def _check(trial: _harness.ResumeTrial, reference_arrays: dict) -> None:
    assert trial.resumed_code == 0
    assert trial.equal, f"killed at epoch {trial.killed_at_epoch}: max |difference| {trial.max_abs_diff}"
    assert trial.checkpoint_temporaries == []
    compared = {name.split("/", 2)[-1] for name in reference_arrays}
    assert {"NodeEmbeddings/mean", "NodeEmbeddings/log_variance", "ModelProvenance/weights",
            "ModelProvenance/training_loss"} <= compared, compared


def test_resumed_fit_equals_the_uninterrupted_one(reference, fault_inputs, fork_launcher, tmp_path):
    first, last, arrays = reference
    delay = float(np.random.default_rng(_harness.seed_of("resume/fast")).uniform(first, last))
    trial = _harness.resume_trial(fault_inputs.graphs, fork_launcher, tmp_path, arrays, delay)
    _check(trial, arrays)


@pytest.mark.slow
def test_resume_after_kills_at_many_epochs(reference, fault_inputs, fork_launcher, tmp_path):
    first, last, arrays = reference
    rng = np.random.default_rng(_harness.seed_of("resume/slow"))
    trials = [_harness.resume_trial(fault_inputs.graphs, fork_launcher, tmp_path / str(k), arrays,
                                    float(rng.uniform(first, last))) for k in range(8)]
    for trial in trials:
        _check(trial, arrays)
    assert len({t.killed_at_epoch for t in trials}) >= 3, [t.killed_at_epoch for t in trials]  # spread out
