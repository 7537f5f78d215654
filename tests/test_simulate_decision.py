"""The decision simulator's tuning modes: the regional mode unchanged bit for bit, mixed tuning
within regions with exact per-unit intensities, the race on the units that follow each
accumulator, the true model of the trials read back from NWB, and the CLI option."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from scipy import stats

from nwb_tavrnn.errors import ParameterError
from nwb_tavrnn.io.trials import read_trial_spikes
from nwb_tavrnn.simulate.decision import DecisionConfig, decision_nwbfile, simulate_decision

from .cli_run import run_quiet

#: sha1 of simulate_decision(DecisionConfig(n_trials=20), seed=3) (see ``_digest``), computed before
#: mixed tuning existed: the regional mode must keep drawing the same session.
REGIONAL_SHA1 = "ab46e3a5777c2fbaa3c479ae00fb5f194deae827"

#: A threshold the followers of weak stimuli often miss within the window: "none" is frequent.
MIXED = DecisionConfig(n_trials=600, stimuli=(-0.3, 0.05, 0.2), threshold=240, tuning="mixed")


def _digest(session) -> str:
    """Spike counts per unit, the concatenated spike times, choices and RTs."""
    h = hashlib.sha1()
    h.update(np.array([len(t) for t in session.spikes.times], dtype=np.int64).tobytes())
    h.update(np.concatenate(session.spikes.times).astype(np.float64).tobytes())
    h.update("|".join(session.choice).encode())
    h.update(session.rt.astype(np.float64).tobytes())
    return h.hexdigest()


def _window_counts(session) -> np.ndarray:
    """Spikes of each unit in [onset, onset + W) of each trial. Shape (trials, units)."""
    w = session.config.window
    return np.column_stack([np.searchsorted(t, session.onsets + w) - np.searchsorted(t, session.onsets)
                            for t in session.spikes.times])


@pytest.fixture(scope="module")
def mixed():
    """A 600-trial mixed-tuning session (gain spread 0.3) and its trials read back from NWB."""
    session = simulate_decision(MIXED, seed=11)
    data = read_trial_spikes(decision_nwbfile(session), ["stimulus"], "choice", "rt", window=MIXED.window)
    assert np.array_equal(data.stimulus[:, 0], session.stimulus)
    return session, data


def test_regional_session_is_bitwise_unchanged():
    session = simulate_decision(DecisionConfig(n_trials=20), seed=3)
    assert session.config.tuning == "regional"
    assert _digest(session) == REGIONAL_SHA1
    np.testing.assert_array_equal(session.unit_gain, 1.0)
    np.testing.assert_array_equal(session.unit_preference, np.repeat([0.0, -1.0, 1.0], 8))
    assert list(session.unit_accumulator) == [""] * 8 + ["left"] * 8 + ["right"] * 8


@pytest.mark.parametrize("bad", [{"tuning": "pooled"}, {"gain_spread": -0.1}, {"gain_spread": float("nan")}])
def test_bad_tuning_is_refused(bad):
    with pytest.raises(ParameterError):
        DecisionConfig(**bad).validate()


def test_mixed_units_alternate_and_gains_have_their_own_stream():
    cfg = DecisionConfig(n_trials=30, neurons=(3, 4, 5), tuning="mixed", gain_spread=0.5)
    session = simulate_decision(cfg, seed=2)
    alternate = lambda n: np.where(np.arange(n) % 2 == 0, -1.0, 1.0)  # noqa: E731
    np.testing.assert_array_equal(session.unit_preference, np.concatenate([alternate(n) for n in cfg.neurons]))
    z = np.random.default_rng([2, 1]).standard_normal(12)
    np.testing.assert_allclose(session.unit_gain, np.exp(0.5 * z - 0.125), rtol=1e-15)
    # integrators follow their preference, whatever their region
    assert list(session.unit_accumulator[3:]) == ["left", "right", "left", "right", "left", "right", "left",
                                                  "right", "left"]
    # the main stream is untouched: the same stimuli as the regional session of the same seed
    regional = simulate_decision(DecisionConfig(n_trials=30, neurons=(3, 4, 5)), seed=2)
    np.testing.assert_array_equal(session.stimulus, regional.stimulus)


def test_mixed_unit_counts_match_the_unit_cumulative(mixed):
    """Each unit's spike count in the window, summed over the trials of each stimulus value, is
    Poisson with mean n_trials · Λ_i(W | c): z-scores against the closed form."""
    session, _ = mixed
    counts = _window_counts(session)
    w = np.array(MIXED.window)
    z = []
    for c in MIXED.stimuli:
        trials = session.stimulus == c
        assert trials.sum() > 150
        for u in range(session.n_units):
            expected = trials.sum() * float(session.unit_cumulative(u, w, c))
            z.append((counts[trials, u].sum() - expected) / np.sqrt(expected))
    z = np.array(z)
    assert np.abs(z).max() < 4.5, z
    assert stats.chi2.sf(np.sum(z**2), len(z)) > 1e-3


def test_balanced_pooled_rate_ignores_the_stimulus_but_units_do_not():
    session = simulate_decision(DecisionConfig(n_trials=2, tuning="mixed", gain_spread=0.0), seed=0)
    t = np.linspace(0.0, 1.0, 51)
    for region in ("sensory", "left", "right"):
        pooled = [session.intensity(region, t, c) for c in (-0.5, 0.0, 0.25, 1.0)]
        for other in pooled[1:]:
            np.testing.assert_allclose(other, pooled[0], rtol=1e-13)
        units = np.flatnonzero(session.unit_region == region)
        # the region's rate is its units' mean
        np.testing.assert_allclose(np.mean([session.unit_intensity(u, t, 0.25) for u in units], axis=0),
                                   session.intensity(region, t, 0.25), rtol=1e-13)
        for u in units:
            left, right = session.unit_intensity(u, t, -0.5), session.unit_intensity(u, t, 0.5)
            assert np.all(np.sign(right[1:] - left[1:]) == session.unit_preference[u])
            assert np.abs(right[-1] - left[-1]) > 10.0  # Hz: the units carry the stimulus


@pytest.mark.parametrize("tuning", ["regional", "mixed"])
def test_unit_intensity_integrates_to_the_cumulative(tuning):
    session = simulate_decision(DecisionConfig(n_trials=2, tuning=tuning, gain_spread=0.4), seed=5)
    for u in (0, 5, 9, 20):
        for c in (-0.5, 0.25):
            for stop in (0.05, 0.3, 1.0):
                t = np.linspace(0.0, stop, 20001)
                quad = np.trapezoid(session.unit_intensity(u, t, c), t)
                assert float(session.unit_cumulative(u, np.array(stop), c)) == pytest.approx(quad, rel=1e-7)


def test_mixed_choices_follow_the_exact_race(mixed):
    session, _ = mixed
    for c in MIXED.stimuli:
        trials = session.stimulus == c
        exact = session.choice_probability(c)
        assert sum(exact.values()) == pytest.approx(1.0, abs=1e-3)
        for side in ("left", "right", "none"):
            observed = np.mean(session.choice[trials] == side)
            se = np.sqrt(max(exact[side] * (1 - exact[side]), 1e-4) / trials.sum())
            assert abs(observed - exact[side]) < 4 * se + 1e-3, (c, side, observed, exact[side])
    assert 0.2 < np.mean(session.choice == "none") < 0.5
    # the race is on the followers' summed intensity: the favoured side wins more often
    assert session.choice_probability(0.2)["right"] > 0.5 > session.choice_probability(-0.3)["right"]


def test_mixed_rts_follow_the_exact_race(mixed):
    """RTs of the responses to each stimulus against the true model's P(response by t) given one."""
    session, data = mixed
    truth = session.true_model()
    grid = np.linspace(0.0, MIXED.window, 2001)
    for c in MIXED.stimuli:
        trials = np.flatnonzero((session.stimulus == c) & np.isfinite(session.rt))
        cdf = truth.rt_cdf(data, grid)[trials[0]]
        assert stats.kstest(session.rt[trials], lambda t: np.interp(t, grid, cdf) / cdf[-1]).pvalue > 0.01


def test_regional_choice_probability_is_the_region_race():
    """In regional mode Σ_{followers} λ_i is n_k · λ_k: the race of today's regions."""
    from nwb_tavrnn.simulate.decision import _poisson_cdf, _poisson_pmf

    cfg = DecisionConfig(n_trials=2, neurons=(4, 5, 7), threshold=25)
    session = simulate_decision(cfg, seed=0)
    t = np.linspace(0.0, cfg.window, 4001)
    for c in (-0.25, 0.1):
        dens, surv = {}, {}
        for k, side in ((1, "left"), (2, "right")):
            lam, big = cfg.neurons[k] * session.intensity(side, t, c), cfg.neurons[k] * session.cumulative(side, t, c)
            dens[side], surv[side] = lam * _poisson_pmf(cfg.threshold - 1, big), _poisson_cdf(cfg.threshold - 1, big)
        p = session.choice_probability(c)
        assert p["right"] == pytest.approx(np.trapezoid(dens["right"] * surv["left"], t), rel=1e-12, abs=1e-15)
        assert p["left"] == pytest.approx(np.trapezoid(dens["left"] * surv["right"], t), rel=1e-12, abs=1e-15)
        assert p["none"] == pytest.approx(surv["left"][-1] * surv["right"][-1], rel=1e-12, abs=1e-300)


def test_true_model_shapes_and_values(mixed):
    session, data = mixed
    truth = session.true_model()
    n, units, w = data.n_trials, len(data.unit_region), MIXED.window
    assert list(data.unit_ids) == list(range(session.n_units))
    grid = np.linspace(0.0, w, 40, endpoint=False)
    times = np.broadcast_to(grid, (n, len(grid)))

    log_unit = truth.unit_log_intensity(data)
    assert log_unit.shape == data.spike_time.shape and np.all(np.isfinite(log_unit))
    for s in (0, len(log_unit) // 2, len(log_unit) - 1):
        u, j = data.unit_ids[data.spike_unit[s]], data.spike_trial[s]
        assert log_unit[s] == pytest.approx(np.log(session.unit_intensity(u, data.spike_time[s], session.stimulus[j])))

    cum = truth.unit_cumulative(data, times)
    assert cum.shape == (n, len(grid), units)
    at_w = truth.unit_cumulative(data, np.full((n, 1), w))[:, 0, :]
    closed = np.array([[session.unit_cumulative(u, np.array(w), c) for u in data.unit_ids] for c in session.stimulus])
    np.testing.assert_allclose(at_w, closed, rtol=1e-12)

    log_region = truth.region_log_intensity(data)
    assert log_region.shape == data.spike_time.shape
    s = len(log_region) // 3
    region = data.regions[data.spike_region[s]]
    assert log_region[s] == pytest.approx(
        np.log(session.intensity(region, data.spike_time[s], session.stimulus[data.spike_trial[s]])))
    region_cum = truth.region_cumulative(data, times)
    assert region_cum.shape == (n, len(grid), data.n_regions)
    for k in range(data.n_regions):  # the region's per-neuron intensity is its units' mean
        np.testing.assert_allclose(region_cum[..., k], cum[..., data.unit_region == k].mean(axis=-1), rtol=1e-12)

    stimulus = np.array([[-0.3], [0.2]])
    curves = truth.unit_intensity_curves(stimulus, grid)
    assert curves.shape == (2, session.n_units, len(grid))
    np.testing.assert_allclose(curves[1, 7], session.unit_intensity(7, grid, 0.2), rtol=1e-13)
    regional_curves = truth.intensity_curves(stimulus, grid)
    assert regional_curves.shape == (2, 3, len(grid))
    np.testing.assert_allclose(regional_curves[0, data.regions.index("right")],
                               session.intensity("right", grid, -0.3), rtol=1e-13)

    probs = truth.choice_probabilities(data)
    assert data.actions == ["left", "right"] and probs.shape == (n, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-3)
    j = int(np.argmax(session.stimulus == 0.05))
    assert probs[j].tolist() == pytest.approx([session.choice_probability(0.05)[k] for k in ("left", "right", "none")])

    cdf = truth.rt_cdf(data, np.append(grid, w))
    assert cdf.shape == (n, len(grid) + 1)
    assert np.all(np.diff(cdf, axis=1) >= -1e-12) and cdf[:, 0] == pytest.approx(0.0)
    np.testing.assert_allclose(cdf[:, -1], 1.0 - probs[:, -1], atol=1e-9)


def test_true_model_of_a_regional_session_is_the_region_truth():
    session = simulate_decision(DecisionConfig(n_trials=40), seed=1)
    data = read_trial_spikes(decision_nwbfile(session), ["stimulus"], "choice", "rt", window=1.0)
    truth = session.true_model()
    k = data.spike_region
    expected = [np.log(session.intensity(data.regions[k[s]], data.spike_time[s], session.stimulus[data.spike_trial[s]]))
                for s in range(0, len(k), 97)]
    np.testing.assert_array_equal(truth.region_log_intensity(data)[::97], expected)
    # every unit of a region has the region's rate
    np.testing.assert_allclose(truth.unit_log_intensity(data), truth.region_log_intensity(data), rtol=1e-14)


def test_cli_tuning_option(tmp_path):
    from nwb_tavrnn.cli.main import main
    from nwb_tavrnn.io import open_nwb

    path = tmp_path / "mixed.nwb"
    assert main(["--quiet", "simulate", str(path), "--task", "decision", "--n-trials", "12", "--tuning", "mixed"]) == 0
    with open_nwb(path) as nwbfile:
        assert json.loads(nwbfile.notes)["config"]["tuning"] == "mixed"
        assert len(nwbfile.trials) == 12
    other = tmp_path / "other.nwb"
    rc, err = run_quiet(["simulate", other, "--task", "two-region", "--tuning", "mixed"])
    assert rc == 2 and "--tuning" in err and not other.exists()
    rc, _ = run_quiet(["simulate", other, "--tuning", "mixed"])  # the default task, network
    assert rc == 2 and not other.exists()


def test_cli_summary_names_the_tuning(tmp_path, capsys):
    from nwb_tavrnn.cli.main import main

    assert main(["--quiet", "simulate", str(tmp_path / "a.nwb"), "--task", "decision", "--n-trials", "5",
                 "--tuning", "mixed"]) == 0
    assert "mixed tuning" in capsys.readouterr().out
    assert main(["--quiet", "simulate", str(tmp_path / "b.nwb"), "--task", "decision", "--n-trials", "5"]) == 0
    assert "regional tuning" in capsys.readouterr().out
