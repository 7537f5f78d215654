"""The two-region generator: spikes follow the stated rates, the target reads the lagged latent
through the stated map, labels follow the latent, and the NWB file and CLI carry all of it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from nwb_tavrnn.errors import ParameterError
from nwb_tavrnn.simulate import TwoRegionConfig, simulate_two_region, write_two_region_session

BIN = 0.05  # s


@pytest.fixture(scope="module")
def session():
    """100 trials of the default session (250 s, 70 units): shared by the read-only tests."""
    return simulate_two_region(TwoRegionConfig(n_trials=100), seed=7)


def _interp(session, t: np.ndarray) -> np.ndarray:
    """The latent at ``t``, recomputed here from the stored grid (not via the session's methods)."""
    return np.column_stack([np.interp(t, session.latent_times, col) for col in session.latent.T])


def _expected_counts(session, lag: float) -> np.ndarray:
    """∫ λ over each 50 ms bin (midpoint rule on 1 ms sub-bins), from the equations of the module
    docstring applied to the stored parameters with the target reading the latent ``lag`` s earlier.

    Shapes
    ------
    -> (bins, units)
    """
    sub = 0.001
    per_bin = round(BIN / sub)
    n_bins = int(session.spikes.t_stop // BIN)
    t = (np.arange(n_bins * per_bin) + 0.5) * sub
    src = np.exp(session.source_offset + _interp(session, t) @ session.source_loading.T)
    g = np.tanh(_interp(session, t - lag) @ session.target_map.T + session.target_bias)
    tgt = np.exp(session.target_offset + g @ session.target_loading.T)
    rates = np.concatenate([src, tgt], axis=1)
    return rates.reshape(n_bins, per_bin, -1).sum(axis=1) * sub


def _observed_counts(session, n_bins: int) -> np.ndarray:
    edges = np.arange(n_bins + 1) * BIN
    return np.column_stack([np.histogram(t, edges)[0] for t in session.spikes.times])


def _calibration(observed: np.ndarray, expected: np.ndarray, groups: int = 10):
    """Per unit, bins grouped by deciles of the expected count: the correlation of the groups' observed
    and expected totals, and a χ² statistic of all groups of all units (Poisson: var = mean)."""
    corr, chi2 = [], 0.0
    for u in range(observed.shape[1]):
        order = np.argsort(expected[:, u])
        o = np.array([observed[idx, u].sum() for idx in np.array_split(order, groups)])
        e = np.array([expected[idx, u].sum() for idx in np.array_split(order, groups)])
        corr.append(np.corrcoef(o, e)[0, 1])
        chi2 += float(np.sum((o - e) ** 2 / e))
    dof = observed.shape[1] * groups
    return np.array(corr), stats.chi2.sf(chi2, dof)


# -- determinism -----------------------------------------------------------------------------------
def test_same_seed_same_session_different_seed_different_session():
    cfg = TwoRegionConfig(n_trials=10, n_source=5, n_target=4)
    a, b, c = simulate_two_region(cfg, seed=3), simulate_two_region(cfg, seed=3), simulate_two_region(cfg, seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a.spikes.times, b.spikes.times))
    assert np.array_equal(a.latent, b.latent) and np.array_equal(a.labels, b.labels)
    assert np.array_equal(a.target_map, b.target_map)
    assert not np.array_equal(a.latent, c.latent)
    assert not any(np.array_equal(x, y) for x, y in zip(a.spikes.times, c.spikes.times))
    # separate random streams: more trials keep the same neurons
    more = simulate_two_region(dataclasses.replace(cfg, n_trials=20), seed=3)
    assert np.array_equal(a.source_loading, more.source_loading) and np.array_equal(a.target_offset, more.target_offset)


def test_config_is_validated():
    for bad in ({"latent_dim": 3}, {"dt": 0.005}, {"decision_time": 2.5}, {"lapse": 1.5}, {"inter_trial": 0.0},
                {"trial_duration": 1.0005}, {"source_name": "prefrontal"}, {"initial_radius": (0.0, 1.0)}):
        with pytest.raises(ParameterError):
            simulate_two_region(TwoRegionConfig(**bad))
    with pytest.raises(ParameterError):
        simulate_two_region(TwoRegionConfig(n_trials=2), seed=-1)


# -- the truth -------------------------------------------------------------------------------------
def test_spikes_follow_the_true_rates(session):
    expected = _expected_counts(session, session.config.lag)
    observed = _observed_counts(session, len(expected))
    # overall and per unit, the counts are those of Poisson processes with these intensities
    assert observed.sum() / expected.sum() == pytest.approx(1.0, abs=0.01)
    z = (observed.sum(0) - expected.sum(0)) / np.sqrt(expected.sum(0))
    assert np.all(np.abs(z) < 4.5)
    # and they follow the rate's modulation: deciles of the true expected count are calibrated
    corr, p = _calibration(observed, expected)
    assert np.mean(corr > 0.8) >= 0.9 and p > 1e-3
    # the test has power: the same check against a target that reads the latent without the lag fails
    wrong = _expected_counts(session, 0.0)
    n_src = session.config.n_source
    _, p_wrong = _calibration(observed[:, n_src:], wrong[:, n_src:])
    _, p_right = _calibration(observed[:, n_src:], expected[:, n_src:])
    assert p_wrong < 1e-6 < p_right


def test_rates_are_the_stated_functions_of_the_latent(session):
    cfg = session.config
    rng = np.random.default_rng(0)
    t = rng.uniform(0, session.spikes.t_stop, 5000)
    x, x_lag = _interp(session, t), _interp(session, t - cfg.lag)
    assert np.allclose(session.latent_at(t), x)
    assert np.allclose(session.source_rates(t), np.exp(session.source_offset + x @ session.source_loading.T))
    target = np.exp(session.target_offset
                    + np.tanh(x_lag @ session.target_map.T + session.target_bias) @ session.target_loading.T)
    assert np.allclose(session.target_rates(t), target)
    unlagged = np.exp(session.target_offset
                      + np.tanh(x @ session.target_map.T + session.target_bias) @ session.target_loading.T)
    assert not np.allclose(session.target_rates(t), unlagged, rtol=0.05)
    assert np.allclose(session.rates(t)[:, cfg.n_source:], target)
    # the modulation is strong: log rates swing by about ±1 around their offsets
    log_sd = np.log(session.rates(t)).std(axis=0)
    assert 0.4 < np.median(log_sd) < 1.5
    # the stated parameter scales
    assert np.allclose(np.linalg.norm(session.source_loading, axis=1), cfg.source_gain)
    assert np.allclose(np.linalg.norm(session.target_map, axis=1), cfg.target_sharpness)
    assert np.allclose(np.linalg.norm(session.target_loading, axis=1), cfg.target_gain)
    assert np.all((np.exp(session.source_offset) >= 5) & (np.exp(session.source_offset) <= 15))


def test_latent_is_a_noisy_limit_cycle_that_differs_between_trials(session):
    cfg = session.config
    z = session.latent[:, 0] + 1j * session.latent[:, 1]
    starts = np.searchsorted(session.latent_times, session.onsets - 1e-9)
    # within trials (after the relaxation from the random start radius) the state sits near radius √μ
    late = np.concatenate([np.arange(s + cfg.trial_steps // 2, s + cfg.trial_steps) for s in starts])
    assert np.mean(np.abs(z[late])) == pytest.approx(np.sqrt(cfg.mu), abs=0.1)
    # and rotates at the stated frequency
    within = np.concatenate([np.arange(s, s + cfg.trial_steps) for s in starts])
    speed = np.angle(z[within + 1] / z[within]) / cfg.dt
    assert np.mean(speed) / (2 * np.pi) == pytest.approx(cfg.frequency, rel=0.05)
    # trials start from random phases and radii within the stated range
    phase, radius = np.angle(z[starts]), np.abs(z[starts])
    assert stats.kstest(phase, stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3
    assert radius.min() >= cfg.initial_radius[0] and radius.max() <= cfg.initial_radius[1]
    assert radius.std() > 0.2
    # continuous (no jumps between trials): the grid steps are small everywhere
    assert np.max(np.linalg.norm(np.diff(session.latent, axis=0), axis=1)) < 0.1


def test_labels_follow_the_latent_at_the_decision_time():
    cfg = TwoRegionConfig(n_trials=1000, n_source=1, n_target=1)
    s = simulate_two_region(cfg, seed=5)
    state = _interp(s, s.onsets + cfg.decision_time)
    rule = np.where(state[:, 0] > 0, "A", "B")
    assert np.array_equal(rule != s.labels, s.lapsed)
    assert np.mean(s.lapsed) == pytest.approx(cfg.lapse, abs=0.025)
    assert 0.4 < np.mean(s.labels == "A") < 0.6
    # no lapses: the label is the rule; another angle, another half-plane
    s0 = simulate_two_region(dataclasses.replace(cfg, n_trials=200, lapse=0.0, decision_angle=np.pi / 2), seed=6)
    state = _interp(s0, s0.onsets + cfg.decision_time)
    assert np.array_equal(np.where(state[:, 1] > 0, "A", "B"), s0.labels)


@pytest.mark.parametrize("seed", range(5))
def test_labels_are_roughly_balanced(seed):
    labels = simulate_two_region(TwoRegionConfig(n_source=1, n_target=1), seed=seed).labels
    assert set(labels) == {"A", "B"} and 0.3 <= np.mean(labels == "A") <= 0.7


# -- files -----------------------------------------------------------------------------------------
def test_nwb_round_trip(tmp_path):
    from pynwb import NWBHDF5IO

    cfg = TwoRegionConfig(n_trials=12, n_source=6, n_target=5)
    session = simulate_two_region(cfg, seed=2)
    path = write_two_region_session(tmp_path / "two.nwb", cfg, seed=2)
    with NWBHDF5IO(str(path), mode="r", load_namespaces=True) as io:
        nwbfile = io.read()
        units = nwbfile.units
        assert len(units) == 11
        assert list(units["region"][:]) == ["hippocampus"] * 6 + ["prefrontal"] * 5
        assert [units["electrodes"][i]["location"].iloc[0] for i in range(11)] == list(session.unit_region)
        assert {g.name: g.location for g in nwbfile.electrode_groups.values()} == {
            "hippocampus": "hippocampus", "prefrontal": "prefrontal"}
        for i in range(11):
            assert np.array_equal(units.get_unit_spike_times(i), session.spikes.times[i])
        trials = nwbfile.trials.to_dataframe()
        assert list(trials.choice) == list(session.labels)
        assert np.allclose(trials.start_time, session.onsets) and np.allclose(trials.stop_time, session.stops)
        latent = nwbfile.processing["ground_truth"]["true_latent"]
        assert latent.unit == "a.u."
        assert np.array_equal(latent.data[:], session.latent)
        assert np.allclose(latent.starting_time + np.arange(len(session.latent)) / latent.rate, session.latent_times)
    with pytest.raises(Exception, match="exist"):
        write_two_region_session(path, cfg, seed=2)


def test_cli_writes_a_two_region_session(tmp_path):
    from pynwb import NWBHDF5IO

    from nwb_tavrnn.cli.main import main

    path = tmp_path / "two_region.nwb"
    assert main(["--quiet", "simulate", str(path), "--task", "two-region", "--n-trials", "20"]) == 0
    with NWBHDF5IO(str(path), mode="r", load_namespaces=True) as io:
        nwbfile = io.read()
        assert len(nwbfile.trials) == 20 and len(nwbfile.units) == 70
        assert "true_latent" in nwbfile.processing["ground_truth"].data_interfaces
    # network-only options, and impossible values, are refused with exit code 2
    other = tmp_path / "other.nwb"
    assert main(["--quiet", "simulate", str(other), "--task", "two-region", "--n-sensory", "10"]) == 2
    assert main(["--quiet", "simulate", str(other), "--task", "two-region", "--small"]) == 2
    assert main(["--quiet", "simulate", str(other), "--task", "two-region", "--n-trials", "0"]) == 2
    assert not other.exists()


def test_speed_labels_live_in_the_dynamics():
    """label_rule='speed': blocks of trials rotate speed_ratio times faster; the label is the block,
    the phase at the decision time carries nothing."""
    cfg = TwoRegionConfig(n_trials=120, n_source=4, n_target=3, label_rule="speed", lapse=0.0)
    s = simulate_two_region(cfg, seed=4)
    assert np.array_equal(s.labels == cfg.labels[0], s.fast)
    runs = np.diff(np.flatnonzero(np.r_[True, s.fast[1:] != s.fast[:-1], True]))
    assert 4 <= runs.mean() <= 16  # autocorrelated: blocks of about speed_block trials
    # the mean angular velocity of the true latent inside each trial (unwrapped phase of oscillator 0)
    speeds = []
    for onset in s.onsets:
        t = onset + np.arange(0, cfg.trial_duration, cfg.dt)
        z = s.latent_at(t)
        phase = np.unwrap(np.angle(z[:, 0] + 1j * z[:, 1]))
        speeds.append((phase[-1] - phase[0]) / (t[-1] - t[0]) / (2 * np.pi))
    speeds = np.array(speeds)
    assert np.median(speeds[s.fast]) == pytest.approx(cfg.frequency * cfg.speed_ratio, rel=0.15)
    assert np.median(speeds[~s.fast]) == pytest.approx(cfg.frequency, rel=0.15)
    # the half-plane at the decision time is unrelated to the label
    state = s.decision_states()
    agree = np.mean((state[:, 0] > 0) == s.fast)
    assert 0.3 < agree < 0.7
    # the phase rule's sessions are unchanged by the new option (same streams)
    a = simulate_two_region(TwoRegionConfig(n_trials=20, n_source=4, n_target=3), seed=4)
    b = simulate_two_region(TwoRegionConfig(n_trials=20, n_source=4, n_target=3, speed_ratio=3.0), seed=4)
    assert np.array_equal(a.latent, b.latent) and not a.fast.any()
    with pytest.raises(ValueError, match="label_rule"):
        TwoRegionConfig(label_rule="rhythm").validate()
