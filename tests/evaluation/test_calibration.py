"""Calibration of the default evaluation: a label that changes nothing while the network drifts
slowly is "decoded" no more often than alpha; a planted label effect is found.

Cheap features (each window's raw correlation matrix) stand in for the model's, scored by the very
code the evaluation uses (see :mod:`nwb_tavrnn.evaluation.calibration`); the end-to-end check with
the model is in tests/test_pipeline.py.
"""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")

from nwb_tavrnn.evaluation.calibration import monte_carlo_error, rejection_rate  # noqa: E402
from nwb_tavrnn.evaluation.report import EvaluationConfig  # noqa: E402

ALPHA = 0.05


def within_mc_error(rate: float, draws: int, sds: float = 3.0) -> bool:
    return abs(rate - ALPHA) <= sds * monte_carlo_error(ALPHA, draws)


CHEAP = {"n_permutations": 199, "time_shuffle": False, "seeds": 1}


@pytest.mark.slow  # about 45 s; keeps the default suite under 10 minutes (CI runs the slow suite too)
def test_default_evaluation_is_calibrated_under_drift_and_detects_a_planted_effect():
    cfg = EvaluationConfig(**CHEAP)
    false_positives, chance_accuracy = rejection_rate(range(200), cfg)
    assert within_mc_error(false_positives, 200), false_positives  # 200 draws: 5 % +- 3 standard errors
    assert chance_accuracy < 0.6
    detected, accuracy = rejection_rate(range(1000, 1020), cfg, effect=1.0)
    assert detected >= 0.8 and accuracy >= 0.8, (detected, accuracy)


@pytest.mark.extended  # a demonstration (the iid protocol fails); beyond CI's time budget
def test_the_old_protocol_fails_the_same_check():
    """Shuffled stratified folds on half-overlapping windows with an i.i.d. label permutation: the
    drift alone is "decoded" far more often than alpha (the check above would fail)."""
    old = EvaluationConfig(**CHEAP, split="stratified", null="iid")
    false_positives, _ = rejection_rate(range(100), old)
    assert false_positives > ALPHA + 2 * monte_carlo_error(ALPHA, 100), false_positives


@pytest.mark.extended  # 400 + 400 + 60 sessions: about 3 minutes; beyond CI's time budget
def test_calibration_over_many_draws():
    cfg = EvaluationConfig(**CHEAP)
    false_positives, _ = rejection_rate(range(2000, 2400), cfg)
    assert within_mc_error(false_positives, 400), false_positives
    # a strictly alternating design is not a random assignment of blocks: the blocks are runs whose
    # permutations merge; the test must stay valid (at most alpha within Monte-Carlo error)
    for drift in ({}, {"drift_coupling": 0.0, "drift_rate": 0.0}):  # with drift, and pure noise
        alternating, _ = rejection_rate(range(3000, 3200), cfg, design="alternating", **drift)
        assert alternating <= ALPHA + 3 * monte_carlo_error(ALPHA, 200), (drift, alternating)
    detected, accuracy = rejection_rate(range(4000, 4060), cfg, effect=1.0)
    assert detected >= 0.85 and accuracy >= 0.85, (detected, accuracy)
