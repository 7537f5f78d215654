"""Tests of the planted-regime simulator: the structure is really there, and the file is clean NWB."""

from __future__ import annotations

import argparse
import subprocess
import sys

import numpy as np
import pytest

from nwb_tavrnn.errors import NwbTavrnnError, OutputFileError
from nwb_tavrnn.simulate import (
    GROUND_TRUTH_NAME,
    SimulatedSession,
    SimulationConfig,
    SimulationConfigError,
    simulate_network,
    write_simulation,
)

SEEDS = (0, 1, 2, 3)
BIN = 0.05  # s, as in the paper


@pytest.fixture(scope="module")
def sims() -> dict[int, SimulatedSession]:
    return {seed: simulate_network(SimulationConfig.small(), seed=seed) for seed in SEEDS}


@pytest.fixture(scope="module")
def nwb_path(simulated_session):
    """``write_simulation(path, SimulationConfig.small(), seed=0)``, shared (read only)."""
    return simulated_session("culture", seed=0)


def _binary_binned(sim: SimulatedSession, start: float, stop: float) -> np.ndarray:
    edges = np.arange(start, stop + 1e-9, BIN)
    return np.stack([np.histogram(t, edges)[0] > 0 for t in sim.spikes.times]).astype(float)


def _regime_correlations(sim: SimulatedSession, state: str) -> np.ndarray:
    """Zero-lag Pearson correlation of 50 ms binary trains over all epochs of ``state``."""
    ep = sim.epochs
    sel = ep["state"] == state
    x = np.concatenate([_binary_binned(sim, a, b) for a, b in zip(ep["start_time"][sel], ep["stop_time"][sel])], axis=1)
    return np.nan_to_num(np.corrcoef(x))


def _pair_masks(sim: SimulatedSession) -> dict[str, np.ndarray]:
    """Upper-triangle masks of node pairs: same motor subregion, different subregions, both sensory."""
    g = sim.spikes.groups
    motor = g != "sensory"
    upper = np.triu(np.ones((g.size, g.size), dtype=bool), 1)
    same = g[:, None] == g[None, :]
    return {
        "within": upper & same & motor[:, None],
        "between": upper & ~same & motor[:, None] & motor[None, :],
        "sensory": upper & ~motor[:, None] & ~motor[None, :],
        "all": upper,
    }


def _dishbrain_edge_fractions(sim: SimulatedSession) -> dict[str, dict[str, np.ndarray]]:
    """The paper's recipe (50 ms binary bins, |r| >= 0.6), one window per epoch.

    Returns, per regime and pair class, the fraction of pairs that are edges in each of its epochs.
    """
    from nwb_tavrnn.connectivity import ConnectivityParams, compute_dynamic_connectivity

    ep = sim.epochs
    params = ConnectivityParams.preset("dishbrain", window=60.0 * sim.config.block_minutes,
                                       step=60.0 * sim.config.block_minutes)
    res = compute_dynamic_connectivity(sim.spikes, params, windows=(ep["start_time"], ep["stop_time"]),
                                       warn_if_empty=False)
    masks = _pair_masks(sim)
    out: dict[str, dict[str, list]] = {}
    for w, state in enumerate(ep["state"]):
        edges = res.adjacency[w] > 0
        for name, mask in masks.items():
            out.setdefault(str(state), {}).setdefault(name, []).append(edges[mask].mean())
    return {state: {k: np.asarray(v) for k, v in d.items()} for state, d in out.items()}


def _motor_stats(sim: SimulatedSession, state: str) -> tuple[float, float]:
    """Mean correlation within motor subregions, and between different motor subregions."""
    c = _regime_correlations(sim, state)
    subs = [np.flatnonzero(sim.spikes.groups == m) for m in sim.config.motor_subregions]
    within = np.mean([c[np.ix_(s, s)][np.triu_indices(s.size, 1)].mean() for s in subs])
    between = np.mean([c[np.ix_(a, b)].mean() for i, a in enumerate(subs) for b in subs[i + 1:]])
    return float(within), float(between)


# --- configuration ----------------------------------------------------------------------------


def test_default_config_is_dishbrain_sized():
    cfg = SimulationConfig()
    assert cfg.n_nodes == 900
    assert cfg.group_names == ("sensory", "right-down", "right-up", "left-down", "left-up")
    assert cfg.duration == 30 * 60
    assert SimulationConfig.small().n_nodes == 60


@pytest.mark.parametrize(
    "bad",
    [dict(n_motor=0), dict(rate=0), dict(aligned_within=0.9, aligned_sensory_to_motor=0.2), dict(p_within=1.5),
     dict(first_state="rest"), dict(trial_duration=(3.0, 1.0)), dict(motor_subregions=("a", "a")),
     dict(burst_rate=-1.0), dict(burst_fraction=1.5), dict(burst_aligned=-0.1), dict(burst_jitter=0.0)],
)
def test_bad_config_is_rejected(bad):
    with pytest.raises(SimulationConfigError) as info:
        simulate_network(SimulationConfig.small(**bad))
    assert isinstance(info.value, ValueError) and isinstance(info.value, NwbTavrnnError)
    assert "\n" not in str(info.value)


# --- the simulation ------------------------------------------------------------------------------


def test_outputs_are_consistent(sims):
    sim = sims[0]
    cfg = sim.config
    assert len(sim.spikes) == cfg.n_nodes
    assert sim.spikes.t_start == 0 and sim.spikes.t_stop == cfg.duration
    for t in sim.spikes.times:
        assert t.size and t[0] >= 0 and t[-1] < cfg.duration and np.all(np.diff(t) > 0)
        np.testing.assert_allclose(t * cfg.sampling_rate, np.round(t * cfg.sampling_rate), atol=1e-6)
    ep = sim.epochs
    assert ep["start_time"][0] == 0 and ep["stop_time"][-1] == cfg.duration
    np.testing.assert_array_equal(ep["start_time"][1:], ep["stop_time"][:-1])  # contiguous
    assert list(ep["state"]) == ["aligned", "unaligned", "aligned", "unaligned", "rest"]
    assert list(ep["session"]) == ["gameplay"] * 4 + ["rest"]
    tr = sim.trials
    assert tr["hit"].dtype == bool and tr["start_time"].size > 20
    assert np.all(tr["stop_time"] > tr["start_time"])
    # trials stay inside one gameplay block, whose regime they carry
    assert np.array_equal(sim.state_at(tr["start_time"]), tr["state"])
    assert np.array_equal(sim.state_at(np.nextafter(tr["stop_time"], 0)), tr["state"])
    assert tr["stop_time"].max() <= 60 * cfg.gameplay_minutes


def test_same_seed_same_data_other_seed_differs(sims):
    again = simulate_network(SimulationConfig.small(), seed=0)
    ref = sims[0]
    assert all(np.array_equal(a, b) for a, b in zip(again.spikes.times, ref.spikes.times))
    for state in ref.coupling:
        np.testing.assert_array_equal(again.coupling[state], ref.coupling[state])
    np.testing.assert_array_equal(again.trials["hit"], ref.trials["hit"])
    np.testing.assert_array_equal(again.target_rates, ref.target_rates)
    other = sims[1]
    assert not all(np.array_equal(a, b) for a, b in zip(other.spikes.times, ref.spikes.times))
    assert not np.array_equal(other.coupling["aligned"], ref.coupling["aligned"])


def test_rates_match_requested(sims):
    for sim in sims.values():
        rates = sim.spikes.rates
        assert abs(rates.mean() / sim.config.rate - 1) < 0.1
        assert np.median(np.abs(rates / sim.target_rates - 1)) < 0.2
        assert np.corrcoef(rates, sim.target_rates)[0, 1] > 0.9


def test_rate_option_is_followed():
    sim = simulate_network(SimulationConfig.small(rate=2.0, rate_spread=0.0, gameplay_minutes=2.0), seed=5)
    np.testing.assert_allclose(sim.target_rates, 2.0)
    assert abs(sim.spikes.rates.mean() / 2.0 - 1) < 0.1


def test_coupling_matrices_are_as_planted(sims):
    sim = sims[0]
    g = sim.spikes.groups
    sensory, motor = g == "sensory", g != "sensory"
    same_sub = (g[:, None] == g[None, :]) & motor[:, None] & motor[None, :]
    for state, w in sim.coupling.items():
        assert w.shape == (sim.n_nodes, sim.n_nodes) and np.all(w >= 0)
        assert np.all(np.diag(w) == 0)
    a, u, r = sim.coupling["aligned"], sim.coupling["unaligned"], sim.coupling["rest"]
    # source-major: a[j, i] is j -> i. Aligned: sensory -> motor, never motor -> sensory.
    assert a[np.ix_(sensory, motor)].sum() > 0 and a[np.ix_(motor, sensory)].sum() == 0
    assert a[same_sub].mean() > 5 * u[same_sub].mean()
    assert a[motor[:, None] & motor[None, :] & ~same_sub].sum() == 0
    assert r[np.ix_(sensory, motor)].sum() == 0 and r[motor[:, None] & motor[None, :] & ~same_sub].sum() > 0
    # the in-fractions: sum_j W[j, i] nu_j / nu_i is the planted coupled fraction of each target
    cfg, nu = sim.config, sim.target_rates
    frac = a.T @ nu / nu
    np.testing.assert_allclose(frac[motor], cfg.aligned_within + cfg.aligned_sensory_to_motor)
    np.testing.assert_allclose(frac[sensory], cfg.sensory_within)
    # stability: spectral radius below one
    for w in sim.coupling.values():
        assert np.abs(np.linalg.eigvals(w)).max() < 1


def test_within_subregion_correlation_higher_when_aligned(sims):
    within_a, within_u, diffs = [], [], []
    for sim in sims.values():
        wa, _ = _motor_stats(sim, "aligned")
        wu, _ = _motor_stats(sim, "unaligned")
        within_a.append(wa)
        within_u.append(wu)
        diffs.append(wa - wu)
    diffs = np.asarray(diffs)
    # planted direction, in every seed, far beyond seed-to-seed noise
    assert min(within_a) > max(within_u)
    assert diffs.mean() > 0.1
    assert diffs.mean() > 5 * max(np.std(within_a, ddof=1), np.std(within_u, ddof=1))


def test_subregion_structure_is_specific_to_aligned(sims):
    for sim in sims.values():
        wa, ba = _motor_stats(sim, "aligned")
        wr, br = _motor_stats(sim, "rest")
        wu, bu = _motor_stats(sim, "unaligned")
        # aligned: subregions stand out; rest: one motor pool (no subregion contrast), more
        # between-subregion correlation than in the unstructured unaligned regime
        assert wa - ba > 3 * abs(wr - br)
        assert br > bu


def test_dishbrain_recipe_finds_subregion_edges_when_aligned(sims):
    """Network bursts make |r| >= 0.6 edges (the paper's threshold) within motor subregions when aligned."""
    within_a, within_u = [], []
    for sim in sims.values():
        frac = _dishbrain_edge_fractions(sim)
        within_a.append(frac["aligned"]["within"].mean())
        within_u.append(frac["unaligned"]["within"].mean())
        assert frac["aligned"]["within"].min() > 0.3  # every aligned block, not just on average
        assert frac["unaligned"]["within"].max() < 0.05
        for state in frac:  # subregions never fuse into one community
            assert frac[state]["between"].max() < 0.02
        assert frac["rest"]["within"].mean() < 0.05  # rest: one motor pool, weaker and unstructured
        assert frac["aligned"]["all"].mean() > frac["unaligned"]["all"].mean()
    diffs = np.asarray(within_a) - np.asarray(within_u)
    # planted direction, in every seed, far beyond seed-to-seed noise
    assert min(within_a) > max(within_u) + 0.3
    assert diffs.mean() > 5 * max(np.std(within_a, ddof=1), np.std(within_u, ddof=1))


def test_default_config_with_dishbrain_recipe():
    """The default (900-node) tuning: substantial aligned subregion structure, sparse graphs overall."""
    sim = simulate_network(SimulationConfig(gameplay_minutes=4.0, rest_minutes=0.0), seed=11)
    frac = _dishbrain_edge_fractions(sim)
    assert 0.15 < frac["aligned"]["within"].mean() < 0.7
    assert frac["unaligned"]["within"].max() < 0.02
    assert frac["aligned"]["between"].max() < 0.01 and frac["unaligned"]["between"].max() < 0.01
    assert 0.0 < frac["aligned"]["sensory"].mean() < 0.3  # sensory bursts: some sensory edges too
    for state in frac:
        assert 0.005 < frac[state]["all"].mean() < 0.1
    assert abs(sim.spikes.rates.mean() / sim.config.rate - 1) < 0.05


def test_without_bursts_no_strong_correlations():
    off = SimulationConfig.small(burst_rate=0.0)
    sim = simulate_network(off, seed=0)
    assert all(np.all(b == 0) for b in sim.burst_rates.values())
    frac = _dishbrain_edge_fractions(sim)
    assert all(f["all"].max() == 0 for f in frac.values())
    assert abs(sim.spikes.rates.mean() / off.rate - 1) < 0.1
    # burst_fraction=0 is the same switch: the very same spikes
    same = simulate_network(SimulationConfig.small(burst_fraction=0.0), seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(same.spikes.times, sim.spikes.times))


def test_burst_budget_keeps_rates(sims):
    sim = sims[0]
    cfg, nu = sim.config, sim.target_rates
    for state, burst in sim.burst_rates.items():
        # every node takes part in the bursts of every regime; the Hawkes part supplies the rest
        np.testing.assert_allclose(burst, cfg.burst_fraction * nu)
        w = sim.coupling[state].T  # target-major
        np.testing.assert_allclose(sim.spontaneous_rates[state], (nu - burst) - w @ (nu - burst), atol=1e-12)
    # burst spikes really are synchronous: in aligned blocks a motor subregion's 5 ms bins are
    # mostly empty or crowded
    ep = sim.epochs
    a0, a1 = ep["start_time"][0], ep["stop_time"][0]
    sub = np.flatnonzero(sim.spikes.groups == cfg.motor_subregions[0])
    counts = sum(np.histogram(sim.spikes.times[i], np.arange(a0, a1 + 1e-9, 0.005))[0] > 0 for i in sub)
    assert np.mean(counts >= sub.size // 2) > 0.01
    assert np.mean(counts[counts > 0] >= sub.size // 2) > 0.1


def test_hit_rate_higher_in_aligned_trials(sims):
    hits = {"aligned": [], "unaligned": []}
    for sim in sims.values():
        for state in hits:
            hits[state].extend(sim.trials["hit"][sim.trials["state"] == state])
    rate_a, rate_u = np.mean(hits["aligned"]), np.mean(hits["unaligned"])
    assert rate_a > rate_u + 0.2
    assert len(hits["aligned"]) > 50 and len(hits["unaligned"]) > 50


# --- the NWB file --------------------------------------------------------------------------------


def test_file_passes_pynwb_validation(nwb_path):
    import pynwb

    assert pynwb.validate(path=str(nwb_path)) == []


def test_file_passes_nwbinspector(nwb_path):
    pytest.importorskip("nwbinspector")
    from nwbinspector import inspect_nwbfile, load_config

    messages = list(inspect_nwbfile(str(nwb_path), config=load_config("dandi")))
    serious = [m for m in messages if m.importance.name in ("CRITICAL", "BEST_PRACTICE_VIOLATION")]
    assert not serious, "\n".join(f"{m.importance.name} {m.check_function_name}: {m.message}" for m in serious)


def test_file_contents(nwb_path, sims):
    from nwb_tavrnn.io.files import open_nwb
    from nwb_tavrnn.schema import DynamicConnectivity

    sim = sims[0]
    n = sim.n_nodes
    with open_nwb(nwb_path) as f:
        assert f.subject.subject_id and f.subject.species and f.subject.sex and f.subject.age
        units = f.units
        assert len(units) == n and units.resolution == pytest.approx(1 / sim.config.sampling_rate)
        for i in (0, n // 2, n - 1):
            np.testing.assert_array_equal(units["spike_times"][i], sim.spikes.times[i])
        assert units["electrode_group"][n - 1].name == "left-up"
        assert set(f.electrode_groups) == set(sim.config.group_names)
        assert len(f.electrodes) == n

        epochs = f.epochs.to_dataframe()
        assert list(epochs["state"]) == list(sim.epochs["state"])
        assert list(epochs["session"]) == list(sim.epochs["session"])
        trials = f.trials.to_dataframe()
        assert trials["hit"].dtype == bool and list(trials["hit"]) == list(sim.trials["hit"])

        gt = f.processing["ecephys"][GROUND_TRUTH_NAME]
        assert isinstance(gt, DynamicConnectivity)
        assert gt.directed and gt.method == "planted_coupling" and gt.threshold_mode == "none"
        assert gt.num_windows == len(epochs) and gt.num_nodes == n
        np.testing.assert_array_equal(gt.window_start_times[()], sim.epochs["start_time"])
        np.testing.assert_array_equal(gt.window_stop_times[()], sim.epochs["stop_time"])
        np.testing.assert_array_equal(gt.to_dense(), sim.coupling_per_epoch())
        np.testing.assert_array_equal(gt.node_ids[()], units.id[:])
        assert [x.decode() if isinstance(x, bytes) else x for x in gt.node_groups[()]] == list(sim.spikes.groups)
        assert gt.node_region.table is units and list(gt.node_region.data[()]) == list(range(n))
        assert gt.parameters_dict["states"] == list(sim.epochs["state"])


def test_write_refuses_to_overwrite(tmp_path):
    path = tmp_path / "x.nwb"
    path.write_bytes(b"keep me")
    with pytest.raises(OutputFileError):
        write_simulation(path, SimulationConfig.small(gameplay_minutes=1.0, rest_minutes=0.0))
    assert path.read_bytes() == b"keep me"


# --- command line --------------------------------------------------------------------------------


def _cli(argv: list[str]) -> int:
    """Run ``nwb-tavrnn simulate`` through main() once it is registered there, else directly."""
    from nwb_tavrnn.cli import main as cli_main

    if "simulate" in cli_main.SUBCOMMANDS:
        return cli_main.main(argv)
    from nwb_tavrnn.cli import simulate as cli_simulate

    parser = argparse.ArgumentParser(prog="nwb-tavrnn")
    cli_simulate.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except NwbTavrnnError as err:
        return err.exit_code


def test_cli_writes_a_file(tmp_path, capsys):
    out = tmp_path / "cli.nwb"
    argv = ["simulate", str(out), "--small", "--seed", "7", "--n-motor", "5", "--gameplay-minutes", "1",
            "--rest-minutes", "0.5", "--firing-rate", "4"]
    assert _cli(argv) == 0
    assert out.exists()
    from nwb_tavrnn.io.files import open_nwb

    with open_nwb(out) as f:
        assert len(f.units) == 20 + 4 * 5
        assert f.epochs.to_dataframe()["stop_time"].iloc[-1] == pytest.approx(90.0)
    assert _cli(argv) == OutputFileError.exit_code  # exists, no --overwrite
    assert _cli([*argv, "--overwrite"]) == 0
    assert _cli(["simulate", str(tmp_path / "bad.nwb"), "--small", "--firing-rate", "-1"]) == SimulationConfigError.exit_code
    assert not (tmp_path / "bad.nwb").exists()


def test_import_is_light():
    code = "import sys, nwb_tavrnn.simulate; print(sorted(m for m in ('torch', 'spikeinterface', 'nwbinspector', 'sklearn') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_raw_voltage_for_sorting(sims):
    pytest.importorskip("spikeinterface")
    from nwb_tavrnn.simulate import simulate_recording

    sim = sims[0]
    nodes = np.arange(20, 30)
    rec, sorting = simulate_recording(sim, duration=3.0, nodes=nodes, noise_level=5.0)
    traces = rec.get_traces()
    assert traces.shape == (int(3.0 * sim.config.sampling_rate), nodes.size)
    assert traces.min() < -10 * 5.0  # spikes stand well out of the noise
    assert list(sorting.get_unit_ids()) == list(sim.spikes.ids[nodes])
    node = int(nodes[1])
    truth = sim.spikes.times[node]
    truth = truth[(truth >= 0.002) & (truth < 2.996)]  # templates must fit inside the recording
    got = sorting.get_unit_spike_train(unit_id=node) / sim.config.sampling_rate
    assert got.size == truth.size and np.allclose(got, truth, atol=1 / sim.config.sampling_rate)


# -- the decision task ---------------------------------------------------------------------------
def test_decision_task_choices_follow_the_exact_race():
    """Simulated choice frequencies against the race probabilities computed from the intensities
    alone (an independent route: no simulation), within 4 binomial standard errors."""
    from nwb_tavrnn.simulate import DecisionConfig, simulate_decision

    session = simulate_decision(DecisionConfig(n_trials=2400, stimuli=(-0.1, 0.05, 0.3), threshold=40), seed=3)
    for c in (-0.1, 0.05, 0.3):
        trials = session.stimulus == c
        exact = session.choice_probability(c)
        assert sum(exact.values()) == pytest.approx(1.0, abs=1e-3)
        for side in ("left", "right"):
            observed = np.mean(session.choice[trials] == side)
            se = np.sqrt(max(exact[side] * (1 - exact[side]), 1e-4) / trials.sum())
            assert abs(observed - exact[side]) < 4 * se + 1e-3, (c, side, observed, exact[side])


def test_decision_task_spike_counts_and_rts_match_the_intensities():
    from scipy import stats

    from nwb_tavrnn.simulate import DecisionConfig, simulate_decision

    cfg = DecisionConfig(n_trials=1500, stimuli=(0.25,), window=0.6, threshold=12)
    session = simulate_decision(cfg, seed=4)
    w = cfg.window
    for k, region in enumerate(("sensory", "left", "right")):
        units = np.flatnonzero(session.unit_region == region)
        counts = [sum(np.count_nonzero((session.spikes.times[u] >= o) & (session.spikes.times[u] < o + w))
                      for u in units) for o in session.onsets]
        expected = cfg.neurons[k] * float(session.cumulative(region, np.array([w]), 0.25)[0])
        assert np.mean(counts) == pytest.approx(expected, rel=4 / np.sqrt(expected * len(counts)) + 0.005)
    # RT of any response: P(RT <= t) = 1 - S_left(t) S_right(t), S the survival of a race side's count
    from nwb_tavrnn.simulate.decision import _poisson_cdf

    def cdf(t):
        t = np.asarray(t, dtype=float)
        survive = [_poisson_cdf(cfg.threshold - 1, cfg.neurons[k] * session.cumulative(side, t, 0.25))
                   for k, side in ((1, "left"), (2, "right"))]
        return 1.0 - survive[0] * survive[1]

    responded = np.isfinite(session.rt)
    none_share = np.mean(~responded)
    assert none_share == pytest.approx(session.choice_probability(0.25)["none"], abs=0.03)
    # conditional on a response within the window
    assert stats.kstest(session.rt[responded], lambda t: cdf(t) / cdf(w)).pvalue > 0.01


def test_decision_task_written_to_nwb(tmp_path):
    from nwb_tavrnn.io import open_nwb
    from nwb_tavrnn.simulate import DecisionConfig, write_decision_session

    path = write_decision_session(tmp_path / "decision.nwb", DecisionConfig(n_trials=20), seed=1)
    with open_nwb(path) as nwbfile:
        trials = nwbfile.trials.to_dataframe()
        assert list(trials.columns[-4:]) == ["stimulus", "choice", "rt", "response_time"]
        assert set(trials.choice) <= {"left", "right", "none"} and len(trials) == 20
        responded = trials.choice != "none"
        assert np.allclose(trials.response_time[responded], trials.start_time[responded] + trials.rt[responded])
        assert sorted(set(nwbfile.electrodes["location"][:])) == ["left", "right", "sensory"]
        assert len(nwbfile.units) == 24 and set(nwbfile.units["region"][:]) == {"left", "right", "sensory"}
