import numpy as np
import pytest

from nwb_tavrnn.connectivity import (
    ConnectivityParams,
    SparseGraphWarning,
    compute_dynamic_connectivity,
    density_edges,
    fixed_edges,
    mp_bounds_analytic,
    top_k_edges,
    weighted_adjacency,
)

from .conftest import block_trains, poisson_trains

BLOCKS = [5, 5, 5, 5]


def _block_mask(blocks):
    lab = np.repeat(np.arange(len(blocks)), blocks)
    same = lab[:, None] == lab[None, :]
    np.fill_diagonal(same, False)
    return same


@pytest.fixture(scope="module")
def planted():
    return block_trains(BLOCKS, duration=240.0, seed=11)


def test_fixed_known_answer():
    r = np.array([[[1.0, 0.7, -0.65, 0.1], [0.7, 1.0, 0.59, 0.0], [-0.65, 0.59, 1.0, 0.9], [0.1, 0.0, 0.9, 1.0]]])
    inactive = np.array([[False, False, False, True]])
    e = fixed_edges(r, inactive, 0.6)
    expected = np.zeros((1, 4, 4), bool)
    expected[0, 0, 1] = expected[0, 1, 0] = expected[0, 0, 2] = expected[0, 2, 0] = True
    np.testing.assert_array_equal(e, expected)   # 0.9 dropped: node 3 is inactive; 0.59 below threshold
    adj = weighted_adjacency(np.abs(r), e)
    np.testing.assert_allclose(adj[0], [[1, 0.7, 0.65, 0], [0.7, 1, 0, 0], [0.65, 0, 1, 0], [0, 0, 0, 1]])
    assert adj.dtype == np.float32


def test_top_k_and_density_known_answer():
    r = np.array([[[1, .9, .2, .1], [.9, 1, .3, .05], [.2, .3, 1, .4], [.1, .05, .4, 1]]], dtype=float)
    none = np.zeros((1, 4), bool)
    e = top_k_edges(r, none, 1)
    # node0→1, node1→0, node2→3, node3→2
    np.testing.assert_array_equal(np.argwhere(np.triu(e[0])), [[0, 1], [2, 3]])
    e = density_edges(r, none, 0.5)                      # 3 of 6 pairs: .9, .4, .3
    np.testing.assert_array_equal(np.argwhere(np.triu(e[0])), [[0, 1], [1, 2], [2, 3]])
    assert not density_edges(r, none, 0.0).any()


@pytest.mark.parametrize("mode, extra", [
    ("top_k", dict(top_k=4)),
    ("density", dict(density=float((_block_mask(BLOCKS).sum() / 2) / (20 * 19 / 2)))),
    ("mp", dict(mp_null="analytic")),
    ("mp", dict(mp_null="shuffle", n_surrogates=40)),
    ("mp", dict(mp_null="shuffle", n_surrogates=40, mp_sides="upper")),
])
def test_modes_recover_planted_blocks(planted, mode, extra):
    params = ConnectivityParams(bin_size=0.05, binary=True, window=60.0, step=60.0, threshold_mode=mode, **extra)
    res = compute_dynamic_connectivity(planted, params)
    assert res.num_windows == 4
    truth = _block_mask(BLOCKS)
    for adj in res.adjacency:
        edges = adj > 0
        np.fill_diagonal(edges, False)
        np.testing.assert_array_equal(edges, truth)
        np.testing.assert_array_equal(np.diagonal(adj), 1.0)
        np.testing.assert_array_equal(adj, adj.T)


def test_mp_is_seeded_and_chunk_invariant(planted):
    params = ConnectivityParams(bin_size=0.05, window=60.0, step=30.0, threshold_mode="mp", n_surrogates=20, seed=3)
    a = compute_dynamic_connectivity(planted, params, chunk_windows=1)
    b = compute_dynamic_connectivity(planted, params, chunk_windows=5)
    np.testing.assert_array_equal(a.adjacency, b.adjacency)


def test_mp_finds_nothing_in_independent_trains():
    trains = poisson_trains(15, 120.0, 5.0, seed=8)
    params = ConnectivityParams(bin_size=0.05, window=60.0, step=60.0, threshold_mode="mp", mp_null="analytic")
    with pytest.warns(SparseGraphWarning):
        res = compute_dynamic_connectivity(trains, params)
    assert res.edge_density().max() < 0.05
    lo, hi = mp_bounds_analytic(100, 400)
    assert np.isclose(lo, 0.25) and np.isclose(hi, 2.25)


def test_warns_on_empty_graphs_with_r_range_and_advice():
    trains = poisson_trains(10, 240.0, 3.0, seed=4)
    with pytest.warns(SparseGraphWarning, match=r"99th percentile.*`threshold_mode` density with `density` 0.1") as w:
        res = compute_dynamic_connectivity(trains, ConnectivityParams.preset("dishbrain"))
    assert {"threshold_mode", "density"} <= set(w[0].message.parameter)  # the command line names their flags
    assert res.num_windows == 3 and res.edge_density().max() == 0
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = compute_dynamic_connectivity(trains, ConnectivityParams.preset("default"))
    assert (res.edge_density() > 0.05).all()


def test_params_round_trip_and_presets():
    p = ConnectivityParams.preset("dishbrain")
    assert (p.bin_size, p.binary, p.window, p.step, p.absolute, p.threshold_mode, p.threshold) == \
        (0.05, True, 120.0, 60.0, True, "fixed", 0.6)
    assert ConnectivityParams.from_dict(p.to_dict()) == p
    assert p.preset_name == "dishbrain"
    import json

    assert json.loads(json.dumps(ConnectivityParams().to_dict()))["preset_name"] is None  # storable as JSON
    assert ConnectivityParams.preset("default", density=0.2).density == 0.2
    with pytest.raises(ValueError, match="known"):
        ConnectivityParams.preset("nope")
    with pytest.raises(ValueError):
        ConnectivityParams(threshold_mode="bogus")
    with pytest.raises(ValueError):
        ConnectivityParams.from_dict({"bin_sz": 1})
