"""Graphs and embeddings as pynapple objects, on the same time axis as the file's spike trains."""

from __future__ import annotations

import numpy as np
import pytest

nap = pytest.importorskip("pynapple")
pytest.importorskip("torch")


@pytest.fixture(scope="module")
def fitted(simulated_session, tmp_path_factory):
    from nwb_tavrnn.connectivity import ConnectivityParams
    from nwb_tavrnn.connectivity.step import run_connectivity
    from nwb_tavrnn.models import TAVRNN
    from nwb_tavrnn.steps.model import fit_file

    folder = tmp_path_factory.mktemp("pynapple")
    session = simulated_session("culture", seed=0)
    graphs = run_connectivity(session, folder / "graphs.nwb", ConnectivityParams.preset("default", window=30, step=30))
    overlapping = run_connectivity(session, folder / "overlap.nwb",
                                   ConnectivityParams.preset("default", window=30, step=15))
    return fit_file(graphs, folder / "fitted.nwb", TAVRNN(epochs=2, device="cpu")).path, graphs, overlapping


def test_graphs_and_embeddings_as_pynapple_objects(fitted):
    import nwb_tavrnn as nt
    from nwb_tavrnn.io import open_nwb
    from nwb_tavrnn.io.read import read_one
    from nwb_tavrnn.schema import DynamicConnectivity, NodeEmbeddings

    path, _, _ = fitted
    objects = nt.to_pynapple(path)
    with open_nwb(path) as nwbfile:
        conn = read_one(nwbfile, DynamicConnectivity)
        starts, stops = conn.window_start_times[()], conn.window_stop_times[()]
        dense, corr = conn.to_dense(), conn.correlation[()]
        mean = read_one(nwbfile, NodeEmbeddings).mean[()]
        spikes = nwbfile.units["spike_times"][0]
    np.testing.assert_array_equal(objects["graphs"].t, (starts + stops) / 2)
    np.testing.assert_array_equal(objects["graphs"].d, dense)
    np.testing.assert_array_equal(objects["correlation"].d, corr)
    np.testing.assert_array_equal(objects["embeddings"].d, mean)
    np.testing.assert_allclose(objects["window_embeddings"].d, mean.mean(axis=1), rtol=1e-6)
    windows = objects["windows"]
    np.testing.assert_array_equal(windows.start, starts)
    np.testing.assert_allclose(windows.end, stops, rtol=0, atol=2e-6)  # pynapple ends abutting intervals 1 µs early
    # pynapple's own operations on one time axis: the spikes of the first two windows, and the
    # graphs of those windows only
    first_two = windows[0:2]
    counted = nap.Ts(t=np.asarray(spikes)).restrict(first_two)
    assert len(counted) == int(np.sum((spikes >= starts[0]) & (spikes < stops[1])))
    assert len(objects["graphs"].restrict(first_two)) == 2


def test_overlapping_windows_keep_their_table(fitted):
    import nwb_tavrnn as nt

    _, _, overlapping = fitted
    objects = nt.to_pynapple(overlapping)
    assert "windows" not in objects and "embeddings" not in objects  # graphs only, in windows that overlap
    table = objects["window_table"]
    assert len(table) == len(objects["graphs"]) and (table.start.values[1:] < table.end.values[:-1]).all()


def test_a_file_without_graphs_is_one_clear_error(simulated_session):
    import nwb_tavrnn as nt
    from nwb_tavrnn.errors import InputFileError

    with pytest.raises(InputFileError, match="has no DynamicConnectivity"):
        nt.to_pynapple(simulated_session("decision", seed=2, n_trials=60, neurons=(3, 3, 3), tuning="mixed"))
