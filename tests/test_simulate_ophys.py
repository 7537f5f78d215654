"""Tests of the synthetic calcium imaging: exact kernel sums, the noise the config asks for, the same
spikes as the network simulation, and a clean NWB file that plain pynwb reads."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from nwb_tavrnn.errors import OutputFileError
from nwb_tavrnn.io.spike_trains import SpikeTrains
from nwb_tavrnn.simulate import (
    CalciumConfig,
    CalciumConfigError,
    SimulationConfig,
    calcium_traces,
    simulate_network,
    write_ophys_simulation,
)
from nwb_tavrnn.simulate.calcium import calcium_kernel, calcium_streams, frame_times, roi_layout

SEED = 0


@pytest.fixture(scope="module")
def sim():
    return simulate_network(SimulationConfig.small(), seed=SEED)


@pytest.fixture(scope="module")
def files(simulated_session):
    """``write_ophys_simulation`` and ``write_simulation`` of ``SimulationConfig.small()``, same seed."""
    return {"ophys": simulated_session("ophys", seed=SEED), "spikes": simulated_session("culture", seed=SEED)}


# --- an independent implementation, straight from the equations ----------------------------------


def _brute_force_dff(trains: list[np.ndarray], times: np.ndarray, amplitude: float, tau_r: float,
                     tau_d: float) -> np.ndarray:
    """ΔF/F_k,i = Σ_{s <= t_k} A/c (exp(-(t_k - s)/τd) - exp(-(t_k - s)/τr)), float64, frame by frame."""
    u_peak = tau_r * tau_d / (tau_d - tau_r) * np.log(tau_d / tau_r)
    c = np.exp(-u_peak / tau_d) - np.exp(-u_peak / tau_r)
    out = np.zeros((times.size, len(trains)))
    for i, spikes in enumerate(trains):
        for k, t in enumerate(times):
            u = t - spikes[spikes <= t]
            out[k, i] = amplitude / c * np.sum(np.exp(-u / tau_d) - np.exp(-u / tau_r))
    return out


def test_kernel_peaks_at_the_amplitude():
    cfg = CalciumConfig(amplitude=0.25, tau_rise=0.05, tau_decay=0.6)
    u = np.linspace(-1.0, 5.0, 600_001)
    h = calcium_kernel(u, cfg)
    assert h.max() == pytest.approx(0.25, abs=1e-9)
    assert u[np.argmax(h)] == pytest.approx(cfg.peak_time, abs=2e-5)
    assert np.all(h[u <= 0] == 0) and np.all(h[u > 0] > 0)
    # the decay: far from the rise, h falls by exp(-1) per tau_decay
    assert calcium_kernel(3.0, cfg) / calcium_kernel(2.4, cfg) == pytest.approx(np.exp(-1), rel=1e-6)


@pytest.mark.parametrize("t_start, rate", [(0.0, 20.0), (3.7, 17.3)])
def test_traces_match_the_brute_force_sum(t_start, rate):
    rng = np.random.default_rng(5)
    t_stop = t_start + 40.0
    grid = frame_times(t_start, 800, rate)
    trains = [
        np.sort(rng.uniform(t_start - 3.0, t_stop + 1.0, 60)),  # spikes before t_start and after the last frame
        np.sort(np.concatenate([grid[[0, 5, 6, 100]], grid[200] + [-1e-9, 1e-9]])),  # on (and next to) frames
        np.sort(t_start + 10.0 + rng.exponential(0.004, 8)),  # one burst, several spikes per frame
        np.zeros(0),
        np.sort(rng.uniform(t_start, t_stop, 400)),  # dense: transients pile up
    ]
    spikes = SpikeTrains(trains, ids=np.arange(10, 15))
    cfg = CalciumConfig(rate=rate, noise_std=0.0, amplitude=0.15, tau_rise=0.04, tau_decay=0.7)
    out = calcium_traces(spikes, t_start, t_stop, cfg, np.random.default_rng(0))
    expected_t = t_start + np.arange(out.n_frames) / rate
    np.testing.assert_array_equal(out.timestamps, expected_t)
    assert expected_t[-1] < t_stop <= expected_t[-1] + 1 / rate
    want = _brute_force_dff(trains, expected_t, 0.15, 0.04, 0.7)
    np.testing.assert_allclose(out.dff_true, want, rtol=1e-6, atol=1e-6)
    assert out.dff_true.dtype == np.float32 and out.F.dtype == np.float32
    np.testing.assert_array_equal(out.roi_ids, np.arange(10, 15))
    # no noise, no drift: F is the baseline scaled by 1 + ΔF/F
    np.testing.assert_allclose(out.F, out.F0[None, :] * (1 + want), rtol=1e-5)
    np.testing.assert_allclose(out.dff, want, atol=1e-5)


def test_traces_of_the_simulated_spikes_match_the_brute_force_sum(sim):
    cfg = CalciumConfig(noise_std=0.0)
    out = calcium_traces(sim.spikes, 0.0, sim.duration, cfg, np.random.default_rng(1))
    assert out.F.shape == (int(sim.duration * 20), sim.n_nodes)
    frames = slice(1000, 1400)  # 20 s within the first aligned block
    rois = [0, 25, 59]
    want = _brute_force_dff([sim.spikes.times[i] for i in rois], out.timestamps[frames], cfg.amplitude,
                            cfg.tau_rise, cfg.tau_decay)
    np.testing.assert_allclose(out.dff_true[frames][:, rois], want, rtol=1e-6, atol=1e-6)


def test_noise_sd_follows_the_config():
    spikes = SpikeTrains([np.zeros(0), np.zeros(0)], ids=[0, 1], t_start=0.0, t_stop=2000.0)
    cfg = CalciumConfig(noise_std=0.12)
    out = calcium_traces(spikes, 0.0, 2000.0, cfg, np.random.default_rng(3))
    assert out.n_frames == 40_000
    rel = (out.F.astype(np.float64) - out.F0) / out.F0
    assert np.all(out.dff_true == 0)
    # 40 000 frames: the SD is known to ~0.4 %, the mean to ~5e-4 of F0
    np.testing.assert_allclose(rel.std(axis=0), 0.12, rtol=0.02)
    np.testing.assert_allclose(rel.mean(axis=0), 0.0, atol=3e-3)
    assert np.corrcoef(rel[1:, 0], rel[:-1, 0])[0, 1] == pytest.approx(0, abs=0.02)  # white
    assert out.F0[0] != out.F0[1]


def test_drift_is_slow_and_leaves_the_noise_as_it_was():
    spikes = SpikeTrains([np.zeros(0)] * 3, ids=[0, 1, 2], t_start=0.0, t_stop=4000.0)
    base = CalciumConfig(noise_std=0.05)
    plain = calcium_traces(spikes, 0.0, 4000.0, base, np.random.default_rng(9))
    drifting = calcium_traces(spikes, 0.0, 4000.0, dataclasses.replace(base, drift_std=0.1, drift_tau=2.0),
                              np.random.default_rng(9))
    np.testing.assert_array_equal(plain.F0, drifting.F0)
    drift = (drifting.F.astype(np.float64) - plain.F) / plain.F0  # the noise cancels: same stream
    np.testing.assert_allclose(drift.std(axis=0), 0.1, rtol=0.1)
    assert np.corrcoef(drift[1:, 0], drift[:-1, 0])[0, 1] == pytest.approx(np.exp(-1 / (20 * 2.0)), abs=0.01)


def test_same_seed_same_traces_other_seed_other_noise(sim):
    cfg = CalciumConfig()
    a = calcium_traces(sim.spikes, 0.0, sim.duration, cfg, calcium_streams(4)[0])
    b = calcium_traces(sim.spikes, 0.0, sim.duration, cfg, calcium_streams(4)[0])
    c = calcium_traces(sim.spikes, 0.0, sim.duration, cfg, calcium_streams(5)[0])
    np.testing.assert_array_equal(a.F, b.F)
    np.testing.assert_array_equal(a.dff_true, c.dff_true)  # the signal is the spikes'
    assert not np.allclose(a.F0, c.F0)
    noise_a, noise_c = (x.F / x.F0[None, :] - 1 - x.dff_true for x in (a, c))
    assert abs(np.corrcoef(noise_a.ravel(), noise_c.ravel())[0, 1]) < 0.01


def test_roi_layout_is_discs_grouped_and_apart():
    sizes = (20, 10, 10, 10, 10)
    masks, (height, width) = roi_layout(sizes, CalciumConfig(), np.random.default_rng(0))
    assert len(masks) == 60
    pixels = set()
    for m in masks:
        assert m.shape == (81, 3) and np.all(m[:, 2] == 1)  # radius 5: 81 pixels
        assert m[:, 0].min() >= 0 and m[:, 0].max() < width and m[:, 1].min() >= 0 and m[:, 1].max() < height
        here = {(int(x), int(y)) for x, y, _ in m}
        assert not pixels & here, "two ROIs share a pixel"
        pixels |= here
    centres = np.array([m[:, :2].mean(axis=0) for m in masks])
    group = np.repeat(np.arange(5), sizes)
    dist = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    same = group[:, None] == group[None]
    near_same = np.where(same & ~np.eye(60, dtype=bool), dist, np.inf).min(axis=1)
    near_other = np.where(same, np.inf, dist).min(axis=1)
    assert np.all(near_same < 20) and np.all(near_same < near_other)  # grid neighbours of one group
    assert dist[same].mean() < 0.5 * dist[~same].mean()  # each group a compact patch


@pytest.mark.parametrize("bad", [{"rate": 0}, {"rate": float("nan")}, {"tau_rise": 0.5, "tau_decay": 0.4},
                                 {"amplitude": -0.1}, {"noise_std": -1}, {"f0_median": 0}, {"drift_std": -0.1},
                                 {"roi_radius": 0}, {"roi_pitch": 10}, {"indicator": ""}])
def test_bad_config_is_rejected(bad):
    with pytest.raises(CalciumConfigError):
        CalciumConfig(**bad).validate()


# --- the NWB file --------------------------------------------------------------------------------


def test_spikes_are_those_of_the_network_simulation(files, sim):
    import pynwb

    with pynwb.NWBHDF5IO(str(files["ophys"]), "r") as io:
        truth = io.read().processing["ophys"]["ground_truth_spikes"]
        ids = truth.id[:]
        times = [np.asarray(truth["spike_times"][i]) for i in range(len(truth))]
        assert list(truth["roi"].data[:]) == list(range(len(truth)))
    with pynwb.NWBHDF5IO(str(files["spikes"]), "r") as io:
        units = io.read().units
        np.testing.assert_array_equal(ids, units.id[:])
        for i in range(len(units)):
            np.testing.assert_array_equal(times[i], units["spike_times"][i])
            np.testing.assert_array_equal(times[i], sim.spikes.times[i])


def test_file_round_trips_with_plain_pynwb(files, sim):
    import pynwb
    from pynwb.misc import Units

    cfg = CalciumConfig()
    expected = calcium_traces(sim.spikes, 0.0, sim.duration, cfg, calcium_streams(SEED)[0])
    with pynwb.NWBHDF5IO(str(files["ophys"]), "r") as io, pynwb.NWBHDF5IO(str(files["spikes"]), "r") as io2:
        f, s = io.read(), io2.read()
        assert f.units is None and f.electrodes is None and not f.electrode_groups
        assert not any(isinstance(obj, Units) for obj in f.objects.values())
        for name in ("session_id", "session_start_time", "lab", "institution"):
            assert getattr(f, name) == getattr(s, name), name
        for name in ("subject_id", "species", "sex", "age", "description"):
            assert getattr(f.subject, name) == getattr(s.subject, name), name
        assert f.epochs.to_dataframe().equals(s.epochs.to_dataframe())
        assert f.trials.to_dataframe().equals(s.trials.to_dataframe())
        assert list(f.epochs["state"][:]) == list(sim.epochs["state"])

        ophys = f.processing["ophys"]
        series = ophys["Fluorescence"]["RoiResponseSeries"]
        assert series.rate == 20.0 and series.starting_time == 0.0
        np.testing.assert_array_equal(series.data[:], expected.F)
        seg = ophys["ImageSegmentation"]["PlaneSegmentation"]
        np.testing.assert_array_equal(seg.id[:], sim.spikes.ids)
        assert list(seg["group"][:]) == list(sim.spikes.groups)
        np.testing.assert_allclose(seg["baseline_f0"][:], expected.F0)
        assert len(seg["pixel_mask"][0]) == 81
        assert series.rois.table is seg and list(series.rois.data[:]) == list(range(sim.n_nodes))
        plane = seg.imaging_plane
        assert plane.location == sim.config.location and plane.indicator == "GCaMP6f"
        assert plane.imaging_rate == 20.0


def test_file_is_clean_under_the_validators(files):
    pytest.importorskip("nwbinspector")
    from nwb_tavrnn.validation import validate_file

    report = validate_file(files["ophys"])
    assert report.problems == [], "\n".join(map(str, report.problems))


def test_write_refuses_to_overwrite_and_bad_configs(tmp_path):
    path = tmp_path / "x.nwb"
    path.write_bytes(b"keep me")
    with pytest.raises(OutputFileError):
        write_ophys_simulation(path, SimulationConfig.small(gameplay_minutes=1.0, rest_minutes=0.0))
    assert path.read_bytes() == b"keep me"
    with pytest.raises(CalciumConfigError):
        write_ophys_simulation(tmp_path / "y.nwb", SimulationConfig.small(), CalciumConfig(rate=-1))
    assert not (tmp_path / "y.nwb").exists()


# --- command line --------------------------------------------------------------------------------


def test_cli_writes_an_ophys_file(tmp_path, capsys):
    import pynwb

    from nwb_tavrnn.cli.main import main

    out = tmp_path / "cli.nwb"
    argv = ["--quiet", "simulate", str(out), "--task", "ophys", "--small", "--n-motor", "4", "--gameplay-minutes",
            "1", "--rest-minutes", "0.5", "--frame-rate", "10", "--seed", "2"]
    assert main(argv) == 0
    line = capsys.readouterr().out.strip()
    assert line.count("\n") == 0 and "ophys" in line and "36 ROIs" in line and "10 Hz" in line
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        series = io.read().processing["ophys"]["Fluorescence"]["RoiResponseSeries"]
        assert series.rate == 10.0 and series.data.shape == (900, 36)
    for bad in (["--task", "ophys", "--frame-rate", "0"], ["--task", "network", "--frame-rate", "20"],
                ["--task", "decision", "--frame-rate", "20"], ["--task", "ophys", "--n-trials", "5"]):
        assert main(["--quiet", "simulate", str(tmp_path / "bad.nwb"), "--small", *bad]) == 2, bad
        assert not (tmp_path / "bad.nwb").exists()


# --- sanity: the planted structure survives the kernel and the noise -------------------------------


@pytest.mark.slow
def test_subregion_structure_survives_in_the_traces(sim):
    """Mean zero-lag Pearson r of the 20 Hz ΔF/F traces, within vs between motor subregions, per regime."""
    traces = calcium_traces(sim.spikes, 0.0, sim.duration, CalciumConfig(), calcium_streams(SEED)[0])
    g = sim.spikes.groups
    motor = g != "sensory"
    upper = np.triu(np.ones((g.size, g.size), dtype=bool), 1)
    same = g[:, None] == g[None, :]
    within = upper & same & motor[:, None]
    between = upper & ~same & motor[:, None] & motor[None, :]
    t = traces.timestamps
    ep = sim.epochs
    r = {}
    for state in ("aligned", "unaligned", "rest"):
        sel = np.zeros(t.size, dtype=bool)
        for a, b in zip(ep["start_time"][ep["state"] == state], ep["stop_time"][ep["state"] == state]):
            sel |= (t >= a) & (t < b)
        for kind, x in (("noisy", traces.dff), ("noiseless", traces.dff_true)):
            c = np.corrcoef(x[sel].T)
            r[state, kind] = (c[within].mean(), c[between].mean())
            print(f"\n{state:9s} {kind:9s} r within subregion {r[state, kind][0]:.3f}, "
                  f"between subregions {r[state, kind][1]:.3f}", end="")
    print()
    w, b = r["aligned", "noisy"]
    assert w > 0.5 and w - b > 0.4
    w, b = r["unaligned", "noisy"]
    assert abs(w - b) < 0.05


@pytest.mark.slow
def test_default_size_file_is_written_and_clean(tmp_path):
    """The full DishBrain-sized session (900 ROIs, 30 min at 20 Hz) in one file, validator-clean."""
    pytest.importorskip("nwbinspector")
    import pynwb

    from nwb_tavrnn.validation import validate_file

    path = write_ophys_simulation(tmp_path / "full.nwb", seed=1)
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        series = io.read().processing["ophys"]["Fluorescence"]["RoiResponseSeries"]
        assert series.data.shape == (36_000, 900)
    report = validate_file(path)
    assert report.problems == [], "\n".join(map(str, report.problems))
