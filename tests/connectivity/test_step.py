"""The connectivity step from NWB to NWB: streamed results, windows from intervals, planted regimes."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from nwb_tavrnn.cli.main import main
from nwb_tavrnn.connectivity import ConnectivityParams, SparseGraphWarning, compute_dynamic_connectivity
from nwb_tavrnn.connectivity.step import run_connectivity
from nwb_tavrnn.errors import InputFileError
from nwb_tavrnn.io import open_nwb
from nwb_tavrnn.io.read import read_one, read_spike_trains
from nwb_tavrnn.schema import DynamicConnectivity
from nwb_tavrnn.validation import validate_file

from ..conftest import sha256


@pytest.fixture(scope="module")
def sim_file(simulated_session):
    """The small simulated culture (``SimulationConfig.small()``, seed 0), shared: copy before writing."""
    return simulated_session("culture", seed=0)


def test_streamed_file_equals_in_memory_result(sim_file, tmp_path):
    params = ConnectivityParams.preset("default", window=30.0, step=15.0)
    out = run_connectivity(sim_file, tmp_path / "graphs.nwb", params, chunk_windows=3)
    with open_nwb(sim_file) as nwbfile:
        expected = compute_dynamic_connectivity(read_spike_trains(nwbfile), params)
    with open_nwb(out) as nwbfile:
        conn = read_one(nwbfile, DynamicConnectivity, "DynamicConnectivity")
        np.testing.assert_array_equal(conn.data[()], expected.adjacency)
        np.testing.assert_array_equal(conn.correlation[()], expected.correlation)
        np.testing.assert_array_equal(conn.inactive_mask[()], expected.inactive_mask)
        np.testing.assert_allclose(conn.window_start_times[()], expected.window_start_times)
        assert conn.data.compression == "gzip" and conn.data.chunks is not None
        stored = json.loads(conn.parameters)
        assert ConnectivityParams.from_dict({k: stored[k] for k in params.to_dict()}) == params
        assert conn.window_duration == 30.0 and conn.threshold_mode == "density"
        assert list(nwbfile.units.id[conn.node_region.data[:]]) == list(conn.node_ids[:])
    assert validate_file(out).ok


def test_planted_regimes_give_different_graphs(sim_file, tmp_path):
    """One window per epoch: aligned epochs hold more within-subregion edges than unaligned ones."""
    out = run_connectivity(sim_file, tmp_path / "epochs.nwb", ConnectivityParams.preset("default"),
                           windows_from="epochs:state")
    with open_nwb(out) as nwbfile:
        conn = read_one(nwbfile, DynamicConnectivity, "DynamicConnectivity")
        labels = json.loads(conn.parameters)["window_labels"]
        adj = conn.data[()]
        groups = np.asarray(conn.node_groups[:]).astype(str)
        epochs = nwbfile.epochs.to_dataframe()
    assert labels == [s for s in epochs["state"]]  # consecutive epochs differ, so one window each
    motor = groups != "sensory"
    same = (groups[:, None] == groups[None, :]) & motor[:, None] & motor[None, :]
    np.fill_diagonal(same, False)
    within = np.array([(a[same] > 0).mean() for a in adj])
    labels = np.array(labels)
    aligned, unaligned = within[labels == "aligned"], within[labels == "unaligned"]
    assert aligned.min() > unaligned.max(), (aligned, unaligned)
    assert aligned.mean() > 0.5 and unaligned.mean() < 0.3


def test_restrict_to_intervals_and_groups(sim_file, tmp_path):
    out = run_connectivity(sim_file, tmp_path / "r.nwb", ConnectivityParams.preset("default", window=20.0, step=20.0),
                           restrict_to="epochs:state=aligned", groups=["right-up", "left-up"])
    with open_nwb(out) as nwbfile:
        conn = read_one(nwbfile, DynamicConnectivity, "DynamicConnectivity")
        epochs = nwbfile.epochs.to_dataframe()
        aligned = epochs[epochs["state"] == "aligned"]
        starts, stops = conn.window_start_times[()], conn.window_stop_times[()]
        inside = [((aligned.start_time <= s + 1e-9) & (aligned.stop_time >= e - 1e-9)).any() for s, e in zip(starts, stops)]
        assert all(inside) and len(starts) == 3 * len(aligned)
        assert set(np.asarray(conn.node_groups[:]).astype(str)) == {"right-up", "left-up"}
        assert conn.num_nodes == 20


def test_paper_threshold_on_weak_data_warns_with_a_working_setting(sim_file, tmp_path):
    params = ConnectivityParams.preset("dishbrain", window=30.0, step=30.0, threshold=0.99)
    with pytest.warns(SparseGraphWarning, match="99th percentile of off-diagonal"):
        run_connectivity(sim_file, tmp_path / "sparse.nwb", params)


def test_silent_units_are_masked_never_nan(source_file, tmp_path):
    out = run_connectivity(source_file, tmp_path / "g.nwb", ConnectivityParams.preset("default", window=20.0, step=10.0))
    with open_nwb(out) as nwbfile:
        conn = read_one(nwbfile, DynamicConnectivity)
        data, mask = conn.data[()], conn.inactive_mask[()]
    assert np.isfinite(data).all()
    assert mask[:, -1].all() and not mask[:, :-1].any()  # the mock's last unit is silent
    assert (data[:, -1, :-1] == 0).all() and (data[:, -1, -1] == 1).all()


def test_bad_requests_fail_before_writing(sim_file, tmp_path, capsys):
    before = sha256(sim_file)
    out = tmp_path / "x.nwb"
    with pytest.raises(InputFileError, match="no intervals table named 'nope'; the file has: epochs, trials"):
        run_connectivity(sim_file, out, windows_from="nope")
    with pytest.raises(InputFileError, match="no node has the requested group"):
        run_connectivity(sim_file, out, groups=["cortex"])
    with pytest.raises(InputFileError, match="shorter than one window"):
        run_connectivity(sim_file, out, ConnectivityParams.preset("default", window=10000.0))
    assert main(["connectivity", str(sim_file), str(out), "--restrict-to", "epochs:state=sleep"]) == 2
    assert "no row of 'epochs' has state = 'sleep'" in capsys.readouterr().err
    assert not out.exists() and sha256(sim_file) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_cli_append_and_in_place(sim_file, tmp_path, capsys):
    import shutil

    work = tmp_path / "work.nwb"
    shutil.copyfile(sim_file, work)
    out = tmp_path / "appended.nwb"
    assert main(["connectivity", str(work), str(out), "--append", "--window", "30", "--step", "30"]) == 0
    with open_nwb(out) as nwbfile:
        names = sorted(nwbfile.processing["ecephys"].data_interfaces)
    assert names == ["DynamicConnectivity", "ground_truth_coupling"]
    assert main(["connectivity", str(work), "--in-place", "--name", "graphs30", "--window", "30"]) == 0
    with open_nwb(work) as nwbfile:
        assert "graphs30" in nwbfile.processing["ecephys"].data_interfaces
    assert main(["connectivity", str(work), "--in-place", "--name", "graphs30"]) == 3
    assert "already holds an object named 'graphs30'" in capsys.readouterr().err


def test_real_dandi_units_end_to_end(dandi_file, tmp_path):
    before = sha256(dandi_file)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SparseGraphWarning)  # the default must give non-empty graphs here
        out = run_connectivity(dandi_file, tmp_path / "dandi_graphs.nwb")
    assert sha256(dandi_file) == before
    with open_nwb(out) as nwbfile:
        conn = read_one(nwbfile, DynamicConnectivity)
        assert conn.num_nodes == 35 and conn.num_windows == 46
        adj = conn.data[()]
        off = adj[:, ~np.eye(35, dtype=bool)]
        assert 0.05 < (off > 0).mean() < 0.2  # density target 0.1
    report = validate_file(out)
    assert report.ok, [str(f) for f in report.problems]


def test_real_dandi_windows_from_trial_table(dandi_file, tmp_path):
    out = run_connectivity(dandi_file, tmp_path / "trials.nwb", windows_from="recognition_table")
    with open_nwb(out) as nwbfile:
        conn = read_one(nwbfile, DynamicConnectivity)
        table = nwbfile.intervals["recognition_table"].to_dataframe()
        assert conn.num_windows == 180
        np.testing.assert_allclose(conn.window_start_times[()], table.start_time.to_numpy(), atol=0.05)


def test_edge_strength_and_turnover_summaries():
    """What the connectivity figure plots, against hand-counted values: under a density threshold
    the density is constant, these are not."""
    from nwb_tavrnn.connectivity.compute import edge_strength, edge_turnover

    a = np.zeros((3, 4, 4))
    a[:, np.arange(4), np.arange(4)] = 1.0  # the diagonal never counts
    a[0, 0, 1] = a[0, 1, 0] = 0.8
    a[0, 2, 3] = a[0, 3, 2] = -0.6
    a[1, 0, 1] = a[1, 1, 0] = 0.9
    a[1, 0, 2] = a[1, 2, 0] = 0.7
    strength = edge_strength(a)
    assert strength[0] == pytest.approx(0.7) and strength[1] == pytest.approx(0.8) and np.isnan(strength[2])
    turnover = edge_turnover(a)
    # window 1 shares the pair (0,1) with window 0; the union holds (0,1), (2,3), (0,2): 2 of 6 directed edges
    assert np.isnan(turnover[0]) and turnover[1] == pytest.approx(2 / 6) and turnover[2] == pytest.approx(0.0)
