"""NNPoisson against the truth of the simulated decision task (slow: one full fit, ~3 min on 2 cores).

The corrected model fitted on one session is scored on another session of the same task against the
generating intensities (the true model), the PSTH and GLM baselines."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from nwb_tavrnn.evaluation import point_process as pp  # noqa: E402
from nwb_tavrnn.io.trials import read_trial_spikes  # noqa: E402
from nwb_tavrnn.models.nnpoisson import NNPoisson  # noqa: E402
from nwb_tavrnn.simulate.decision import DecisionConfig, decision_nwbfile, simulate_decision  # noqa: E402

pytestmark = pytest.mark.slow


class TrueModel:
    """The generating model: the simulator's intensities, and its exact choice probabilities."""

    def __init__(self, session):
        self.s = session

    def region_log_intensity(self, data):
        out = np.empty(len(data.spike_time))
        c = data.stimulus[data.spike_trial, 0]
        for k, region in enumerate(data.regions):
            for value in np.unique(c):
                sel = (data.spike_region == k) & (c == value)
                out[sel] = np.log(self.s.intensity(region, data.spike_time[sel], value))
        return out

    def region_cumulative(self, data, times):
        out = np.empty((*times.shape, data.n_regions))
        for j in range(data.n_trials):
            for k, region in enumerate(data.regions):
                out[j, :, k] = self.s.cumulative(region, times[j], data.stimulus[j, 0])
        return out

    def intensity_curves(self, stimulus, grid):
        return np.stack([[self.s.intensity(r, grid, c) for r in ("left", "right", "sensory")]
                         for c in stimulus[:, 0]])

    def choice_probabilities(self, data):
        probs = {c: self.s.choice_probability(c) for c in np.unique(data.stimulus[:, 0])}
        return np.array([[probs[c]["left"], probs[c]["right"], probs[c]["none"]] for c in data.stimulus[:, 0]])


def _session(seed, n_trials=600):
    session = simulate_decision(DecisionConfig(n_trials=n_trials), seed)
    return session, read_trial_spikes(decision_nwbfile(session), ["stimulus"], "choice", "rt",
                                      window=session.config.window)


def test_corrected_model_recovers_the_generating_model():
    session, train = _session(0)
    _, test = _session(1)
    model = NNPoisson(device="cpu", seed=0, threads=2).fit(train)
    truth = TrueModel(session)
    reference = pp.HomogeneousPoisson().fit(train)

    def bits(m):  # pooled over regions
        spikes = len(test.spike_time)
        return float((pp.neural_log_likelihood(m, test) - pp.neural_log_likelihood(reference, test)).sum()
                     / (spikes * np.log(2)))

    b_true, b_model = bits(truth), bits(model)
    b_psth, b_glm = bits(pp.PSTHPoisson().fit(train)), bits(pp.RaisedCosineGLM().fit(train))
    print(f"bits/spike: true {b_true:.4f}, nnpoisson {b_model:.4f}, psth {b_psth:.4f}, glm {b_glm:.4f}")
    assert abs(b_true - b_model) < 0.05
    assert b_model > b_psth and b_model > b_glm

    # intensities within 10 % (relative L2 over the window) per region and condition
    grid = np.linspace(0.0, test.window, 200)
    stimuli, _ = test.conditions()
    fitted, true = model.intensity_curves(stimuli, grid), truth.intensity_curves(stimuli, grid)
    errors = np.linalg.norm(fitted - true, axis=2) / np.linalg.norm(true, axis=2)
    print("relative L2 of the intensities (conditions x regions):\n", np.round(errors, 3))
    assert errors.max() < 0.10

    # choice accuracy within 0.03 of the generating model's
    acc_model = pp.choice_accuracy(model.choice_probabilities(test), test).accuracy
    acc_true = pp.choice_accuracy(truth.choice_probabilities(test), test).accuracy
    print(f"choice accuracy: nnpoisson {acc_model:.3f}, true {acc_true:.3f}")
    assert abs(acc_model - acc_true) <= 0.03
