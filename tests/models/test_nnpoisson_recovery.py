"""NNPoisson against the truth of the simulated decision task (slow: three fits, ~6 min on 2 cores).

The truth is the simulator's closed-form intensities and exact race probabilities
(:meth:`DecisionSession.true_model`), not the model's. Mixed tuning puts units tuned in opposite
directions in every region, which the pooled model cannot represent; one session per case, the
first 600 trials train and the last 400 test (a per-unit model needs the same units)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from nwb_tavrnn.evaluation import point_process as pp  # noqa: E402
from nwb_tavrnn.io.trials import read_trial_spikes  # noqa: E402
from nwb_tavrnn.models.nnpoisson import NNPoisson  # noqa: E402
from nwb_tavrnn.simulate.decision import DecisionConfig, decision_nwbfile, simulate_decision  # noqa: E402

pytestmark = pytest.mark.slow


def _split_session(seed, tuning):
    session = simulate_decision(DecisionConfig(n_trials=1000, tuning=tuning), seed)
    data = read_trial_spikes(decision_nwbfile(session), ["stimulus"], "choice", "rt", window=session.config.window)
    return session, data.subset(np.arange(600)), data.subset(np.arange(600, 1000))


def _unit_bits(model, train, test):
    """Held-out bits/spike with each unit's own intensity, against per-unit rates of the training trials."""
    bits = pp.unit_bits(model, test, pp.HomogeneousPoisson(per="unit").fit(train))
    return float(bits.gain.sum() / (bits.spikes.sum() * np.log(2)))


def _accuracy(model, test):
    probs = model.choice_probabilities(test)
    return pp.choice_accuracy(probs, test).accuracy, np.unique(probs.argmax(1))


def test_per_unit_model_recovers_opposite_tuning_within_regions():
    session, train, test = _split_session(0, "mixed")
    truth = session.true_model()
    model = NNPoisson(device="cpu", seed=0, threads=2).fit(train)
    b_true, b_model = _unit_bits(truth, train, test), _unit_bits(model, train, test)
    b_psth = _unit_bits(pp.PSTHPoisson(per="unit").fit(train), train, test)
    b_pooled_truth = _unit_bits(pp.UnitView(pp.region_view(truth), test.unit_region), train, test)
    print(f"per-unit bits/spike: true {b_true:.4f}, nnpoisson {b_model:.4f}, psth_unit {b_psth:.4f}, "
          f"the truth pooled per region {b_pooled_truth:.4f}")
    assert abs(b_true - b_model) <= 0.01
    assert b_model > b_psth
    assert b_pooled_truth < b_true - 0.02  # the case is outside the pooled model's class

    grid = np.linspace(0.0, test.window, 200)
    stimuli, _ = test.conditions()
    fitted, true = model.unit_intensity_curves(stimuli, grid), truth.unit_intensity_curves(stimuli, grid)
    errors = np.linalg.norm(fitted - true, axis=2) / np.linalg.norm(true, axis=2)
    print("relative L2 of the unit intensities: max", errors.max().round(3), "median", np.median(errors).round(3))
    assert errors.max() < 0.15

    (acc_model, classes), (acc_true, _) = _accuracy(model, test), _accuracy(truth, test)
    print(f"choice accuracy: nnpoisson {acc_model:.3f}, true {acc_true:.3f}")
    assert abs(acc_model - acc_true) <= 0.03
    assert len(classes) >= 2  # never one class for every test trial


def test_homogeneous_regions_per_unit_no_worse_than_pooled():
    session, train, test = _split_session(0, "regional")
    truth = session.true_model()
    unit = NNPoisson(device="cpu", seed=0, threads=2).fit(train)
    pooled = NNPoisson(device="cpu", seed=0, threads=2, readout="region", components=1).fit(train)
    b_true, b_unit, b_pooled = (_unit_bits(m, train, test) for m in (truth, unit, pooled))
    b_glm = _unit_bits(pp.RaisedCosineGLM().fit(train), train, test)
    print(f"per-unit bits/spike: true {b_true:.4f}, unit read-out {b_unit:.4f}, pooled {b_pooled:.4f}, glm {b_glm:.4f}")
    assert b_unit >= b_pooled - 0.005
    assert abs(b_true - b_pooled) < 0.05 and b_pooled > b_glm

    grid = np.linspace(0.0, test.window, 200)
    stimuli, _ = test.conditions()
    fitted, true = pooled.intensity_curves(stimuli, grid), truth.intensity_curves(stimuli, grid)
    errors = np.linalg.norm(fitted - true, axis=2) / np.linalg.norm(true, axis=2)
    assert errors.max() < 0.10
    # the default's choices; the pooled fit is under-confident near zero stimulus here (0.812 against
    # 0.887, published in the README), so it is reported, not held to the truth
    acc_unit, acc_pooled, acc_true = (_accuracy(m, test)[0] for m in (unit, pooled, truth))
    print(f"choice accuracy: unit read-out {acc_unit:.3f}, pooled {acc_pooled:.3f}, true {acc_true:.3f}")
    assert abs(acc_unit - acc_true) <= 0.03
