"""Scores, baselines and figures of point-process models (:mod:`nwb_tavrnn.evaluation.point_process`).

The yardstick is a simulated decision session whose per-neuron intensities, choice probabilities
and RT law are known exactly: :class:`TrueModel` below implements the model protocols from the
simulator's ground truth alone (``session.intensity`` / ``cumulative`` / ``choice_probability``,
and the race of the integrators' Poisson counts), independently of the code under test. Models
are fitted on one session (seed 1) and scored on another (seed 2, held out).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from nwb_tavrnn.evaluation.point_process import (
    BehaviourModel,
    HomogeneousPoisson,
    IntensityModel,
    PSTHPoisson,
    bits_per_spike,
    choice_accuracy,
    neural_log_likelihood,
    plot_intensities,
    plot_ks,
    plot_rt_distributions,
    rt_ks,
    rt_mixture_cdf,
    time_rescaling_ks,
    unit_bits,
    unit_log_likelihood,
)
from nwb_tavrnn.io.trials import read_trial_spikes
from nwb_tavrnn.simulate.decision import DecisionConfig, decision_nwbfile, simulate_decision

# ~150 000 spikes a session: enough for the time-rescaling test to see a constant rate's misfit
# (and a KS distance of 0.01), small enough to simulate in about a second. The threshold is one
# the integrators of weak stimuli often miss within the window (P(none) 0.65 at |c| = 0.1, 0.1 at
# 0.25): "no response" is a frequent outcome, and RTs given a response differ from unconditional ones.
CONFIG = DecisionConfig(n_trials=300, neurons=(8, 8, 8), threshold=225)
GRID = np.linspace(0.0, CONFIG.window, 200, endpoint=False)


class TrueModel:
    """The generating model, from the simulator's ground truth (IntensityModel and BehaviourModel)."""

    def __init__(self, session, rt_shift: float = 0.0) -> None:
        self.session = session
        self.rt_shift = rt_shift  # > 0: a wrong model whose RTs are all later by this much

    def region_log_intensity(self, data):
        out = np.empty(len(data.spike_time))
        c = data.stimulus[data.spike_trial, 0]
        for k, region in enumerate(data.regions):
            for value in np.unique(c):
                sel = (data.spike_region == k) & (c == value)
                out[sel] = np.log(self.session.intensity(region, data.spike_time[sel], value))
        return out

    def region_cumulative(self, data, times):
        out = np.empty(np.shape(times) + (data.n_regions,))
        for k, region in enumerate(data.regions):
            for value in np.unique(data.stimulus[:, 0]):
                rows = data.stimulus[:, 0] == value
                out[rows, :, k] = self.session.cumulative(region, times[rows], value)
        return out

    def intensity_curves(self, stimulus, grid):
        regions = sorted(set(self.session.unit_region))  # the order read_trial_spikes gives
        return np.array([[self.session.intensity(r, grid, c) for r in regions] for c in np.asarray(stimulus)[:, 0]])

    def choice_probabilities(self, data):
        out = np.empty((data.n_trials, data.n_actions + 1))
        for value in np.unique(data.stimulus[:, 0]):
            p = self.session.choice_probability(value)
            out[data.stimulus[:, 0] == value] = [p[a] for a in data.actions] + [p["none"]]
        return out

    def rt_cdf(self, data, grid):
        # a response by t: either integrator's pooled count has reached the threshold by t
        cfg = self.session.config
        t = np.asarray(grid) - self.rt_shift
        out = np.empty((data.n_trials, len(t)))
        for value in np.unique(data.stimulus[:, 0]):
            survive = [stats.poisson.cdf(cfg.threshold - 1, cfg.neurons[k] * self.session.cumulative(side, t, value))
                       for k, side in ((1, "left"), (2, "right"))]
            out[data.stimulus[:, 0] == value] = 1.0 - survive[0] * survive[1]
        return out


def _session(seed: int):
    session = simulate_decision(CONFIG, seed)
    data = read_trial_spikes(decision_nwbfile(session), ["stimulus"], "choice", "rt", window=CONFIG.window)
    assert np.array_equal(data.stimulus[:, 0], session.stimulus)  # trial j of both is the same trial
    return session, data


@pytest.fixture(scope="module")
def train():
    return _session(1)


@pytest.fixture(scope="module")
def held_out():
    return _session(2)


@pytest.fixture(scope="module")
def baselines(train):
    _, data = train
    return {"homogeneous": HomogeneousPoisson().fit(data), "psth": PSTHPoisson().fit(data)}


@pytest.fixture(scope="module")
def glm(train):
    pytest.importorskip("nemos")
    from nwb_tavrnn.evaluation.point_process import RaisedCosineGLM

    return RaisedCosineGLM().fit(train[1])


def _trains(data):
    """Each (trial, unit)'s spike times, sorted: the brute-force loops' input."""
    order = np.lexsort((data.spike_time, data.spike_unit, data.spike_trial))
    key = data.spike_trial[order] * len(data.unit_region) + data.spike_unit[order]
    cuts = np.flatnonzero(np.diff(key)) + 1
    groups = np.split(data.spike_time[order], cuts)
    return {int(key[start]): g for start, g in zip(np.r_[0, cuts], groups)}


def _relative_l2(estimate, truth):
    return np.linalg.norm(estimate - truth, axis=-1) / np.linalg.norm(truth, axis=-1)


# -- log-likelihood ---------------------------------------------------------------------------------
def test_log_likelihood_equals_the_formula_summed_trial_by_trial(held_out):
    session, data = held_out
    true = TrueModel(session)
    assert isinstance(true, IntensityModel) and isinstance(true, BehaviourModel)
    trains = _trains(data)
    brute = np.zeros(data.n_regions)
    w = np.array([data.window])
    for j in range(data.n_trials):
        c = session.stimulus[j]
        for u, k in enumerate(data.unit_region):
            region = data.regions[k]
            t = trains.get(j * len(data.unit_region) + u, np.zeros(0))
            brute[k] += np.log(session.intensity(region, t, c)).sum() - session.cumulative(region, w, c)[0]
    assert np.allclose(neural_log_likelihood(true, data), brute, rtol=1e-9, atol=0)

    # a constant rate fitted on the same trials: LL_k = N_k (log(N_k / (n_k T W)) − 1) in closed form
    hom = HomogeneousPoisson().fit(data)
    spikes = np.bincount(data.spike_region, minlength=data.n_regions)
    closed = spikes * (np.log(spikes / (data.neurons * data.n_trials * data.window)) - 1.0)
    assert np.allclose(neural_log_likelihood(hom, data), closed, rtol=1e-9, atol=0)
    assert np.array_equal(bits_per_spike(hom, data, hom), np.zeros(data.n_regions))


# -- time rescaling ---------------------------------------------------------------------------------
def test_time_rescaling_passes_the_truth_and_rejects_a_constant_rate(held_out, baselines):
    session, data = held_out
    true = TrueModel(session)
    results = time_rescaling_ks(true, data)
    spikes = np.bincount(data.spike_region, minlength=data.n_regions)
    for k, res in enumerate(results):
        assert res.region == data.regions[k]
        # every spike's interval plus one censored final interval per unit and trial
        assert res.n == spikes[k] + data.n_trials * data.neurons[k] == len(res.u)
        assert res.p_value > 0.01, (res.region, res.statistic, res.p_value)
    constant = time_rescaling_ks(baselines["homogeneous"], data)
    for k, region in enumerate(data.regions):
        if region != "sensory":  # the integrators ramp from 4 to ~40 Hz: a constant rate is far off
            assert constant[k].p_value < 1e-6, (region, constant[k].p_value)
    # the textbook version (complete intervals only) rejects even the truth at this many intervals:
    # the window cuts the long ones (KS bias ≈ 0.37 / Λ(W), here 0.014 against a 0.006 critical value)
    assert min(r.p_value for r in time_rescaling_ks(true, data, censored="drop")) < 1e-3


def test_time_rescaled_intervals_match_a_spike_by_spike_loop(held_out):
    session, full = held_out
    data = full.subset(np.arange(25))
    got = time_rescaling_ks(TrueModel(session), data, censored="drop")
    trains = _trains(data)
    expected = [[] for _ in data.regions]
    for j in range(data.n_trials):
        c = data.stimulus[j, 0]
        for u, k in enumerate(data.unit_region):
            t = trains.get(j * len(data.unit_region) + u, np.zeros(0))
            z = np.diff(np.r_[0.0, session.cumulative(data.regions[k], t, c)])
            expected[k].extend(1.0 - np.exp(-z))
    for k, res in enumerate(got):
        assert np.allclose(res.u, np.sort(expected[k]), rtol=1e-12, atol=1e-12)
    # chunked calls of region_cumulative give the same values
    chunked = time_rescaling_ks(TrueModel(session), data, censored="drop", max_elements=5000)
    assert all(np.array_equal(a.u, b.u) for a, b in zip(got, chunked))


def test_per_unit_scores_of_the_simulated_session(train, held_out, baselines):
    session, data = held_out
    true = TrueModel(session)
    # each unit its region's intensity: the units' LLs add up to the region's
    per_unit = unit_log_likelihood(true, data)
    assert np.allclose(np.bincount(data.unit_region, weights=per_unit), neural_log_likelihood(true, data), rtol=1e-10)
    # the simulator's units of a region are alike: per-unit tests of the truth pass (24 tests: a
    # Bonferroni 0.01), and a per-unit PSTH gains about what the region PSTH does (0.01-0.02 bits
    # less measured: each of its rates rests on 8 times fewer spikes)
    p = [r.p_value for r in time_rescaling_ks(true, data, per="unit")]
    assert len(p) == len(data.unit_region) and min(p) > 0.01 / len(p), p
    unit_psth = PSTHPoisson(per="unit").fit(train[1])
    scores = unit_bits(unit_psth, data, HomogeneousPoisson(per="unit").fit(train[1]))
    region = bits_per_spike(baselines["psth"], data, baselines["homogeneous"])
    assert np.all(scores.per_region > 0) and np.allclose(scores.per_region, region, atol=0.05), (scores.per_region,
                                                                                                 region)


# -- baselines --------------------------------------------------------------------------------------
def _check_self_consistent(model, data):
    """Λ(W) is the integral of the model's own λ(t), and log λ at spikes its own curve there."""
    stimulus = data.stimulus[:3]
    fine = np.linspace(0.0, data.window, 4001)
    integral = np.trapezoid(model.intensity_curves(stimulus, fine), fine, axis=-1)  # (3, regions)
    cum = model.region_cumulative(data.subset([0, 1, 2]), np.full((3, 1), data.window))[:, 0, :]
    assert np.allclose(cum, integral, rtol=2e-3), (type(model).__name__, cum, integral)
    spikes = np.flatnonzero(data.spike_trial == 0)[:50]
    curve = model.intensity_curves(stimulus[:1], data.spike_time[spikes])[0, data.spike_region[spikes],
                                                                          np.arange(len(spikes))]
    # atol: the GLM evaluates its basis in float32 (jax), in arrays of different lengths
    assert np.allclose(model.region_log_intensity(data)[spikes], np.log(curve), rtol=0, atol=1e-5)


def test_psth_sits_between_a_constant_rate_and_the_truth(train, held_out, baselines):
    session, data = held_out
    psth, hom = baselines["psth"], baselines["homogeneous"]
    true_bps = bits_per_spike(TrueModel(session), data, hom)
    psth_bps = bits_per_spike(psth, data, hom)
    assert np.all(psth_bps > 0) and np.all(psth_bps < true_bps), (psth_bps, true_bps)
    # ~50 trials × 8 neurons per condition: ~5 % Poisson noise per 50 ms bin, and the steps cannot
    # follow the 150 ms rise within a bin; 5-7 % relative L2 measured, 15 % allowed
    extreme = np.array([[-0.5], [0.5]])
    truth = TrueModel(session).intensity_curves(extreme, GRID)
    assert np.all(_relative_l2(psth.intensity_curves(extreme, GRID), truth) < 0.15)
    # an unseen stimulus gets the pooled PSTH: the mean of the conditions' PSTHs weighted by their
    # training trials (the floor, the same in each, passes through the mean unchanged)
    unique, condition = train[1].conditions()
    weights = np.bincount(condition) / train[1].n_trials
    pooled = np.tensordot(weights, psth.intensity_curves(unique, GRID), axes=1)
    assert np.allclose(psth.intensity_curves(np.array([[0.35]]), GRID)[0], pooled, rtol=1e-12)
    _check_self_consistent(psth, data)


def test_glm_sits_between_a_constant_rate_and_the_truth(held_out, baselines, glm):
    session, data = held_out
    hom = baselines["homogeneous"]
    true_bps = bits_per_spike(TrueModel(session), data, hom)
    glm_bps = bits_per_spike(glm, data, hom)
    assert np.all(glm_bps > 0) and np.all(glm_bps < true_bps), (glm_bps, true_bps)
    # the integrators' log-rate is nearly linear in c: 3-10 % relative L2 measured at c = ±0.5, 20 %
    # allowed. The sensory rate depends on |c|, which a design linear in c cannot express (it fits
    # the mean over the signs: 33-37 % off), so it is not held to a tolerance here.
    truth = TrueModel(session)
    for stimulus in (np.array([[-0.5], [0.5]]), np.array([[0.35]])):  # 0.35: never seen, interpolated
        err = _relative_l2(glm.intensity_curves(stimulus, GRID), truth.intensity_curves(stimulus, GRID))
        integrators = [data.regions.index("left"), data.regions.index("right")]
        assert np.all(err[:, integrators] < 0.2), err
    _check_self_consistent(glm, data)


# -- behaviour --------------------------------------------------------------------------------------
def test_choice_accuracy_of_the_truth_is_that_of_its_exact_probabilities(held_out, baselines):
    session, data = held_out
    # independently: the simulator's probabilities by outcome name, against its own choice strings
    by_stimulus = {c: session.choice_probability(c) for c in np.unique(session.stimulus)}
    exact = [by_stimulus[c] for c in session.stimulus]
    predicted = np.array([max(p, key=p.get) for p in exact])
    expected_accuracy = np.mean(predicted == session.choice)
    expected_logp = np.mean([np.log(p[ch]) for p, ch in zip(exact, session.choice)])
    score = choice_accuracy(TrueModel(session).choice_probabilities(data), data)
    assert score.accuracy == expected_accuracy and score.n_trials == data.n_trials
    assert score.mean_log_probability == pytest.approx(expected_logp, rel=1e-12)
    # a stimulus-blind guess is clearly worse than the truth (0.36 against 0.85 measured)
    blind = choice_accuracy(baselines["homogeneous"].choice_probabilities(data), data)
    assert blind.accuracy < score.accuracy - 0.15
    # the PSTH's behaviour is a proper distribution, and its RT CDF ends at 1 − P(none)
    psth = baselines["psth"]
    p = psth.choice_probabilities(data)
    assert np.allclose(p.sum(axis=1), 1.0) and np.all(p > 0)
    assert np.allclose(psth.rt_cdf(data, np.array([data.window]))[:, 0], 1.0 - p[:, -1])


def test_rt_ks_accepts_the_truth_and_rejects_shifted_rts(held_out):
    session, data = held_out
    grid = np.linspace(0.0, data.window, 401)
    for method in ("mixture", "pit"):
        assert rt_ks(TrueModel(session), data, grid, method=method).p_value > 0.01
        assert rt_ks(TrueModel(session, rt_shift=0.1), data, grid, method=method).p_value < 1e-6
    mixture = rt_mixture_cdf(TrueModel(session), data, grid)
    assert mixture[0] == 0.0 and mixture[-1] == pytest.approx(1.0) and np.all(np.diff(mixture) >= -1e-12)


# -- figures ----------------------------------------------------------------------------------------
def test_figures_are_written(tmp_path, held_out, baselines):
    session, data = held_out
    true, psth = TrueModel(session), baselines["psth"]
    unique, _ = data.conditions()
    paths = plot_intensities({"true": true.intensity_curves(unique, GRID)}, GRID, data.regions,
                             data.condition_labels(), tmp_path, psth=psth.intensity_curves(unique, GRID))
    grid = np.linspace(0.0, data.window, 201)
    paths += plot_rt_distributions(data.rt, {"true": rt_mixture_cdf(true, data, grid),
                                             "psth": rt_mixture_cdf(psth, data, grid)}, grid, tmp_path / "rt")
    paths += plot_ks({"true": time_rescaling_ks(true, data), "psth": time_rescaling_ks(psth, data)}, data.regions,
                     tmp_path)
    assert len(paths) == 6 and {p.suffix for p in paths} == {".png", ".pdf"}
    assert all(p.is_file() and p.stat().st_size > 1000 for p in paths)
