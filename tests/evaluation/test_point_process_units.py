"""Per-unit scores and baselines, the observation mask, and behaviour comparisons of
:mod:`nwb_tavrnn.evaluation.point_process`.

The data are built directly as :class:`TrialSpikes` with seeded Poisson spikes of known constant
rates per unit and condition (``_synthetic``), so that every expected value below comes from the
equations and the generating rates, not from the code under test.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from scipy import stats

from nwb_tavrnn.evaluation.point_process import (
    HomogeneousPoisson,
    IntensityModel,
    PSTHPoisson,
    UnitIntensityModel,
    bits_per_spike,
    compare_behaviour,
    condition_ceiling,
    neural_log_likelihood,
    region_bits_per_spike_from_units,
    region_view,
    time_rescaling_ks,
    unit_bits,
    unit_bits_per_spike,
    unit_log_likelihood,
    unit_view,
)
from nwb_tavrnn.io.trials import TrialSpikes

W = 1.0


def _synthetic(rates, unit_region, n_trials: int, seed: int, observed=None, n_regions: int | None = None,
               accuracy: float = 0.8) -> TrialSpikes:
    """Constant rates (Hz) per condition and unit; trial j is condition j % C; spikes only where observed.

    Choices: the condition's "correct" action (condition % 2) with probability ``accuracy``.
    """
    rng = np.random.default_rng(seed)
    rates = np.asarray(rates, dtype=np.float64)
    n_cond, n_units = rates.shape
    condition = np.arange(n_trials) % n_cond
    obs = np.ones((n_trials, n_units), dtype=bool) if observed is None else observed
    t, trial, unit = [], [], []
    for j in range(n_trials):
        for i in np.flatnonzero(obs[j]):
            k = rng.poisson(rates[condition[j], i] * W)
            t.append(rng.uniform(0.0, W, k))
            trial.append(np.full(k, j))
            unit.append(np.full(k, i))
    n_regions = n_regions or int(max(unit_region)) + 1
    choice = np.where(rng.uniform(size=n_trials) < accuracy, condition % 2, 1 - condition % 2)
    return TrialSpikes(stimulus=condition[:, None].astype(float), stimulus_names=["s"],
                       regions=[f"r{k}" for k in range(n_regions)], unit_region=np.asarray(unit_region),
                       spike_time=np.concatenate(t), spike_trial=np.concatenate(trial), spike_unit=np.concatenate(unit),
                       choice=choice, actions=["a", "b"], rt=np.full(n_trials, 0.5), window=W,
                       trial_ids=np.arange(n_trials), onsets=np.arange(n_trials) * 3.0,
                       unit_ids=100 + np.arange(n_units),
                       observed=observed)


class TrueUnits:
    """The generating constant rates, per unit only (a UnitIntensityModel without region methods)."""

    def __init__(self, rates, unit_region) -> None:
        self.rates = np.asarray(rates, dtype=np.float64)  # (conditions, units)
        self.unit_region_ = np.asarray(unit_region)

    def _rate(self, stimulus):
        return self.rates[np.asarray(stimulus)[:, 0].astype(int)]  # (n, units)

    def unit_log_intensity(self, data):
        return np.log(self._rate(data.stimulus)[data.spike_trial, data.spike_unit])

    def unit_cumulative(self, data, times):
        return np.asarray(times)[..., None] * self._rate(data.stimulus)[:, None, :]

    def unit_intensity_curves(self, stimulus, grid):
        return np.repeat(self._rate(stimulus)[:, :, None], len(grid), axis=2)


# two conditions; in region 0 unit A fires 20 Hz in condition 0 and 2 Hz in 1, unit B the reverse
OPPOSITE = np.array([[20.0, 2.0, 20.0, 2.0, 8.0],
                     [2.0, 20.0, 2.0, 20.0, 8.0]])
OPPOSITE_REGION = [0, 0, 0, 0, 1]


def _half_observed(n_trials: int, n_units: int, unit: int = 0) -> np.ndarray:
    observed = np.ones((n_trials, n_units), dtype=bool)
    observed[n_trials // 2:, unit] = False  # lost half-way through the session
    return observed


@pytest.fixture(scope="module")
def opposite():
    return _synthetic(OPPOSITE, OPPOSITE_REGION, 200, 1), _synthetic(OPPOSITE, OPPOSITE_REGION, 200, 2)


@pytest.fixture(scope="module")
def masked():
    """The opposite-tuning units, unit 0 observed in the first half of the trials only."""
    return (_synthetic(OPPOSITE, OPPOSITE_REGION, 200, 3, observed=_half_observed(200, 5)),
            _synthetic(OPPOSITE, OPPOSITE_REGION, 200, 4, observed=_half_observed(200, 5)))


# -- per-unit log-likelihood against the equations --------------------------------------------------
def test_unit_log_likelihood_of_constant_rates_is_the_closed_form(masked):
    train, test = masked
    hom = HomogeneousPoisson(per="unit").fit(train)
    assert isinstance(hom, UnitIntensityModel) and isinstance(hom, IntensityModel)
    # rate: spikes over the trials each unit was observed in (unit 0: 100, not 200)
    spikes_train = np.array([(train.spike_unit == i).sum() for i in range(5)])
    obs_train = np.array([train.observed[:, i].sum() for i in range(5)])
    assert obs_train[0] == 100
    assert np.allclose(hom.rate_, spikes_train / (obs_train * W), rtol=1e-12)
    # LL_i = n_i log r_i − r_i W (observed trials of i), on held-out trials
    n = np.array([(test.spike_unit == i).sum() for i in range(5)])
    obs = test.observed.sum(axis=0)
    expected = n * np.log(hom.rate_) - hom.rate_ * W * obs
    assert np.allclose(unit_log_likelihood(hom, test), expected, rtol=1e-10, atol=0)
    assert np.array_equal(unit_bits_per_spike(hom, test, hom), np.zeros(5))


def test_unit_log_likelihood_of_a_per_unit_psth_matches_a_trial_by_trial_loop(masked):
    train, test = masked
    psth = PSTHPoisson(per="unit", bin_width=0.1).fit(train)
    # the fitted rate of unit 0, condition 1, bin 3: its spikes there over its observed trials × width
    in_cond = (train.stimulus[:, 0] == 1) & train.observed[:, 0]
    sel = (train.spike_unit == 0) & in_cond[train.spike_trial] & (np.floor(train.spike_time / 0.1) == 3)
    assert psth.rate_[1, 0, 3] == pytest.approx(sel.sum() / (in_cond.sum() * 0.1) + psth.floor / W, rel=1e-12)
    widths = np.diff(psth.edges_)
    brute = np.zeros(5)
    for j in range(test.n_trials):
        c = int(test.stimulus[j, 0])
        for i in range(5):
            if not test.observed[j, i]:
                continue
            t = test.spike_time[(test.spike_trial == j) & (test.spike_unit == i)]
            bins = np.minimum((t / 0.1).astype(int), len(widths) - 1)
            brute[i] += np.log(psth.rate_[c, i, bins]).sum() - (psth.rate_[c, i] * widths).sum()
    assert np.allclose(unit_log_likelihood(psth, test), brute, rtol=1e-10, atol=0)


def test_region_models_seen_per_unit_sum_to_their_region_scores(masked):
    train, test = masked
    psth, hom = PSTHPoisson().fit(train), HomogeneousPoisson().fit(train)
    # independently: the region LL charges each trial for the units of the region observed in it
    brute = np.zeros(2)
    for j in range(test.n_trials):
        c = int(test.stimulus[j, 0])
        for i, k in enumerate(test.unit_region):
            if not test.observed[j, i]:
                continue
            t = test.spike_time[(test.spike_trial == j) & (test.spike_unit == i)]
            bins = np.minimum((t / psth.width_).astype(int), psth.rate_.shape[2] - 1)
            brute[k] += np.log(psth.rate_[c, k, bins]).sum() - (psth.rate_[c, k] * np.diff(psth.edges_)).sum()
    region_ll = neural_log_likelihood(psth, test)
    assert np.allclose(region_ll, brute, rtol=1e-10, atol=0)
    # λ_i = λ_k(i): the units' LLs add up to the region's, and so do the bits per spike
    per_unit = unit_log_likelihood(psth, test)
    assert np.allclose(np.bincount(test.unit_region, weights=per_unit), region_ll, rtol=1e-12)
    assert np.allclose(unit_log_likelihood(unit_view(psth, test.unit_region), test), per_unit, rtol=0, atol=0)
    assert np.allclose(region_bits_per_spike_from_units(psth, test, hom), bits_per_spike(psth, test, hom), rtol=1e-10)
    # time rescaling: a region model's per-unit Λ is its region's, so "unit_pooled" is "region"
    by_region = time_rescaling_ks(psth, test)
    pooled = time_rescaling_ks(psth, test, per="unit_pooled")
    assert all(np.array_equal(a.u, b.u) for a, b in zip(by_region, pooled))
    per_unit_ks = time_rescaling_ks(psth, test, per="unit")
    assert [r.name for r in per_unit_ks] == [str(u) for u in test.unit_ids]
    assert [r.region for r in per_unit_ks] == [test.regions[k] for k in test.unit_region]
    for k, res in enumerate(by_region):
        units = [r for r in per_unit_ks if r.region == res.region]
        assert np.array_equal(np.sort(np.concatenate([r.u for r in units])), res.u)


# -- opposite tuning --------------------------------------------------------------------------------
def test_per_unit_baselines_see_opposite_tuning_that_region_ones_average_away(opposite):
    train, test = opposite
    reference = HomogeneousPoisson(per="unit").fit(train)
    unit_psth, region_psth = PSTHPoisson(per="unit").fit(train), PSTHPoisson().fit(train)
    unit_bps = unit_bits_per_spike(unit_psth, test, reference)
    region_bps = unit_bits_per_spike(region_psth, test, reference)
    tuned = np.arange(4)  # the 8 Hz unit of region 1 is untuned: near 0 either way
    assert np.all(unit_bps[tuned] > 0.3), unit_bps
    assert np.all(np.abs(region_bps[tuned]) < 0.05), region_bps
    scores = unit_bits(unit_psth, test, reference)
    assert scores.per_region[0] > 0.3 and np.allclose(scores.per_unit, unit_bps)
    # its region view is the mean of A and B, flat: no better than a constant region rate
    assert abs(bits_per_spike(unit_psth, test, HomogeneousPoisson().fit(train))[0]) < 0.05
    # region methods of a per-unit model: the mean over the region's units (= the region PSTH here)
    grid = np.linspace(0.0, W, 7, endpoint=False)
    assert np.allclose(unit_psth.intensity_curves(np.array([[0.0], [1.0]]), grid),
                       region_psth.intensity_curves(np.array([[0.0], [1.0]]), grid), rtol=1e-9)
    assert np.allclose(unit_psth.region_log_intensity(test), region_psth.region_log_intensity(test), rtol=1e-9)
    # per-unit time rescaling: the per-unit PSTH passes with each unit's own Λ; the region one fails
    assert min(r.p_value for r in time_rescaling_ks(unit_psth, test, per="unit")) > 1e-3
    assert max(time_rescaling_ks(region_psth, test, per="unit")[i].p_value for i in tuned) < 1e-6
    assert time_rescaling_ks(unit_psth, test, per="unit_pooled")[0].p_value > 1e-3


def test_a_unit_only_model_is_scored_per_region_through_the_mean_of_its_units(opposite):
    _, test = opposite
    true = TrueUnits(OPPOSITE, OPPOSITE_REGION)
    assert isinstance(true, UnitIntensityModel) and not isinstance(true, IntensityModel)
    # independently: region k's per-neuron rate is the mean of its units' rates (11 Hz in region 0)
    mean_rate = np.stack([OPPOSITE[:, :4].mean(axis=1), OPPOSITE[:, 4]], axis=1)  # (conditions, regions)
    c = test.stimulus[:, 0].astype(int)
    spikes = np.bincount(test.spike_region, minlength=2)
    expected = (np.bincount(test.spike_region, weights=np.log(mean_rate[c[test.spike_trial], test.spike_region]))
                - test.neurons * mean_rate[c].sum(axis=0) * W)
    assert np.allclose(neural_log_likelihood(true, test), expected, rtol=1e-12)
    assert spikes.sum() == len(test.spike_time)
    view = region_view(true, test.unit_region)
    assert np.allclose(view.intensity_curves(np.array([[0.0]]), np.array([0.5]))[0, :, 0], mean_rate[0])
    assert len(time_rescaling_ks(true, test)) == 2  # a region test through the view


# -- observation mask -------------------------------------------------------------------------------
def test_rates_count_only_the_trials_a_unit_was_observed_in():
    rates = np.array([[10.0, 10.0]])
    observed = _half_observed(400, 2)
    data = _synthetic(rates, [0, 0], 400, 5, observed=observed)
    truth_sd = np.sqrt(10.0 / (200 * W))  # the rate estimate's sd from the unit's 200 observed trials
    unit = HomogeneousPoisson(per="unit").fit(data)
    assert abs(unit.rate_[0] - 10.0) < 5 * truth_sd, unit.rate_  # not 5 Hz
    region = HomogeneousPoisson().fit(data)
    assert abs(region.rate_[0] - 10.0) < 5 * np.sqrt(10.0 / (600 * W)), region.rate_  # not 7.5 Hz
    psth = PSTHPoisson(per="unit", bin_width=0.5).fit(data)
    assert np.all(np.abs(psth.rate_[0, 0] - 10.0) < 5 * np.sqrt(10.0 / (200 * 0.5)))
    region_psth = PSTHPoisson(bin_width=0.5).fit(data)
    assert np.all(np.abs(region_psth.rate_[0, 0] - 10.0) < 5 * np.sqrt(10.0 / (600 * 0.5)))
    # a censored interval per observed (trial, unit) only
    ks = time_rescaling_ks(unit, data, per="unit")
    for i in range(2):
        assert ks[i].n == (data.spike_unit == i).sum() + observed[:, i].sum()


def test_per_unit_models_refuse_other_units_and_floor_silent_ones(opposite, caplog):
    train, test = opposite
    rates = OPPOSITE.copy()
    rates[:, 2] = 0.0  # a silent unit
    silent = _synthetic(rates, OPPOSITE_REGION, 60, 6)
    with caplog.at_level(logging.WARNING):
        hom = HomogeneousPoisson(per="unit").fit(silent)
        psth = PSTHPoisson(per="unit").fit(silent)
    assert hom.rate_[2] == pytest.approx(1e-3 / W) and np.all(hom.rate_[[0, 1, 3, 4]] > 1.0)
    assert np.all(psth.rate_[:, 2] == pytest.approx(psth.floor / W))
    assert sum("without training spikes" in r.getMessage() for r in caplog.records) >= 2
    assert np.all(np.isfinite(unit_log_likelihood(hom, test)))
    fewer = _synthetic(OPPOSITE[:, :4], OPPOSITE_REGION[:4], 20, 7, n_regions=2)
    for model in (hom, psth):
        with pytest.raises(ValueError, match="units"):
            unit_log_likelihood(model, fewer)
        with pytest.raises(ValueError, match="units"):
            neural_log_likelihood(model, fewer)
    with pytest.raises(ValueError, match="per"):
        PSTHPoisson(per="neuron")
    with pytest.raises(ValueError, match="per"):
        time_rescaling_ks(hom, test, per="neuron")


# -- time rescaling per unit ------------------------------------------------------------------------
def test_per_unit_ks_p_values_are_uniform_under_the_true_model():
    rng = np.random.default_rng(8)
    rates = rng.uniform(2.0, 30.0, size=(1, 40))
    unit_region = np.repeat([0, 1], 20)
    data = _synthetic(rates, unit_region, 150, 9)
    true = TrueUnits(rates, unit_region)
    p = np.array([r.p_value for r in time_rescaling_ks(true, data, per="unit")])
    assert len(p) == 40 and stats.kstest(p, "uniform").pvalue > 0.01, np.sort(p)
    assert np.mean(p < 0.05) < 0.2
    assert all(r.p_value > 1e-3 for r in time_rescaling_ks(true, data, per="unit_pooled"))
    # a constant rate per unit fitted on other trials: as good, up to its estimation error
    fitted = HomogeneousPoisson(per="unit").fit(_synthetic(rates, unit_region, 600, 10))
    p_fit = np.array([r.p_value for r in time_rescaling_ks(fitted, data, per="unit")])
    assert stats.kstest(p_fit, "uniform").pvalue > 0.01, np.sort(p_fit)
    # the region mean of very different rates, given to every unit, fails unit by unit
    p_region = np.array([r.p_value for r in time_rescaling_ks(HomogeneousPoisson().fit(data), data, per="unit")])
    assert np.median(p_region) < 1e-3


# -- GLM per unit -----------------------------------------------------------------------------------
def test_per_unit_glm_sees_opposite_tuning_and_the_mask(opposite, masked):
    pytest.importorskip("nemos")
    from nwb_tavrnn.evaluation.point_process import RaisedCosineGLM

    train, test = opposite
    glm = RaisedCosineGLM(n_basis=4, bin_width=0.05, per="unit").fit(train)
    reference = HomogeneousPoisson(per="unit").fit(train)
    assert np.all(unit_bits_per_spike(glm, test, reference)[:4] > 0.3)
    assert glm.coef_.shape == (5, 2, 4)
    # region methods: the mean over the region's units, at exact spike times as on the grid
    grid = np.linspace(0.0, W, 11)
    curves = glm.unit_intensity_curves(np.array([[1.0]]), grid)
    assert np.allclose(glm.intensity_curves(np.array([[1.0]]), grid)[0, 0], curves[0, :4].mean(axis=0))
    # a unit observed in half the trials: its rate is the truth, not half of it (Poisson noise: ~4 %)
    masked_train, _ = masked
    glm_masked = RaisedCosineGLM(n_basis=4, bin_width=0.05, per="unit").fit(masked_train)
    level = glm_masked.unit_intensity_curves(np.array([[0.0], [1.0]]), np.linspace(0.1, 0.9, 9)).mean(axis=2)
    assert np.allclose(level[:, 0], OPPOSITE[:, 0], rtol=0.25), level[:, 0]
    region_masked = RaisedCosineGLM(n_basis=4, bin_width=0.05).fit(masked_train)  # the exposure path
    level = region_masked.intensity_curves(np.array([[0.0]]), np.linspace(0.1, 0.9, 9)).mean(axis=2)
    assert level[0, 0] == pytest.approx(OPPOSITE[0, :4].mean(), rel=0.15)


def test_newton_fit_agrees_with_nemos():
    nmo = pytest.importorskip("nemos")
    from nwb_tavrnn.evaluation.point_process import fit_poisson_glm

    rng = np.random.default_rng(11)
    x = rng.normal(size=(3000, 5))
    w = rng.normal(0.0, 0.3, size=(5, 3))
    y = rng.poisson(np.exp(x @ w - 1.0)).astype(float)
    coef, intercept, converged = fit_poisson_glm(x, y, np.ones_like(y), np.full(3, 3000.0), 1e-2)
    glm = nmo.glm.PopulationGLM(observation_model="Poisson", regularizer="Ridge", regularizer_strength=1e-2,
                                solver_name="BFGS").fit(x, y)
    assert converged
    # 1e-4 and 4e-4 measured (nemos fits in float32); the penalty alone moves them by 0.012
    assert np.allclose(coef, np.asarray(glm.coef_).T, atol=1e-3)
    assert np.allclose(intercept, np.asarray(glm.intercept_), atol=1e-3)
    # an exposure per row: twice the exposure is the same rate, the counts doubled
    doubled = rng.poisson(2 * np.exp(x @ w - 1.0)).astype(float)
    c2, b2, _ = fit_poisson_glm(x, doubled, np.full_like(y, 2.0), np.full(3, 3000.0), 1e-4)
    assert np.allclose(c2, w.T, atol=0.1) and np.allclose(b2, -1.0, atol=0.1)


# -- behaviour comparison ---------------------------------------------------------------------------
def test_compare_behaviour_intervals_tests_and_ceiling():
    rates = np.array([[5.0], [5.0], [5.0], [5.0]])
    data = _synthetic(rates, [0], 200, 12, accuracy=0.8)
    outcome = np.where(data.choice >= 0, data.choice, 2)
    perfect = np.full((200, 3), 0.01)
    perfect[np.arange(200), outcome] = 0.98
    chance = np.full((200, 3), 1 / 3)
    chance[:, 0] += 1e-9  # argmax: action a, right on ~half of the trials
    result = compare_behaviour({"chance": chance, "perfect": perfect, "same": chance.copy()}, data, "chance",
                               block=10, n_boot=500)
    by_name = {m.method: m for m in result.methods}
    for m in result.methods:
        assert m.accuracy_interval[0] <= m.accuracy <= m.accuracy_interval[1]
        assert m.log_probability_interval[0] <= m.log_probability <= m.log_probability_interval[1]
    assert by_name["perfect"].accuracy == 1.0 and by_name["perfect"].accuracy_interval == (1.0, 1.0)
    assert by_name["chance"].accuracy == pytest.approx(np.mean(outcome == 0))
    assert by_name["chance"].accuracy_test is None
    assert by_name["perfect"].accuracy_test.p_value < 0.01
    assert by_name["perfect"].accuracy_test.difference == pytest.approx(1.0 - np.mean(outcome == 0))
    assert by_name["perfect"].log_probability_test.p_value < 0.01
    assert by_name["same"].accuracy_test.p_value == 1.0 and by_name["same"].log_probability_test.p_value == 1.0
    # ceiling: each condition's most frequent outcome among these trials
    condition = data.stimulus[:, 0].astype(int)
    expected = sum(np.bincount(outcome[condition == c]).max() for c in range(4)) / 200
    assert result.ceiling == condition_ceiling(data) == pytest.approx(expected)
    rows = result.rows()
    assert len(rows) == 7 and rows[-1]["value"] == result.ceiling
    with pytest.raises(ValueError, match="reference"):
        compare_behaviour({"a": chance}, data, "b")
