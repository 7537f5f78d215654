import warnings

import numpy as np
import pytest

from nwb_tavrnn.connectivity import (
    ConnectivityParams,
    bin_range,
    compute_dynamic_connectivity,
    explicit_windows,
    iter_dynamic_connectivity,
    iter_window_correlations,
    sliding_windows,
)
from nwb_tavrnn.io.spike_trains import SpikeTrains

from .conftest import poisson_trains


def _reference(trains, windows, binary):
    out = []
    for a, b in zip(windows.start_bins, windows.stop_bins):
        x = bin_range(trains.times, windows.origin, windows.bin_size, a, b - a, binary=binary, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.corrcoef(x))
    return np.array(out)


def _collect(trains, windows, binary, chunk_windows):
    rs, masks, seen = [], [], []
    for c in iter_window_correlations(trains.times, windows, binary=binary, chunk_windows=chunk_windows):
        rs.append(c.correlation)
        masks.append(c.inactive)
        seen.append((c.index.start, c.index.stop))
    return np.concatenate(rs), np.concatenate(masks), seen


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("chunk", [1, 3, 7, 100])
def test_matches_numpy_corrcoef_sliding(random_trains, binary, chunk):
    w = sliding_windows(0.0, 300.0, 0.05, window=20.0, step=7.5)  # step not a divisor: uneven blocks
    r, inactive, seen = _collect(random_trains, w, binary, chunk)
    ref = _reference(random_trains, w, binary)
    assert not inactive.any()
    np.testing.assert_allclose(r, ref, atol=1e-5)
    assert seen[0][0] == 0 and seen[-1][1] == len(w)


def test_matches_numpy_corrcoef_explicit_unsorted_with_gaps(random_trains):
    w = explicit_windows([200.0, 3.0, 40.0, 41.0, 250.0, 10.0], [230.0, 13.0, 100.0, 60.0, 299.0, 11.0], 0.05)
    r, _, _ = _collect(random_trains, w, False, 4)
    np.testing.assert_allclose(r, _reference(random_trains, w, False), atol=1e-5)


def test_silent_and_constant_nodes_are_masked_never_nan():
    rng = np.random.default_rng(5)
    times = [np.sort(rng.uniform(0, 60, 300)) for _ in range(4)]
    times.append(np.array([]))                                   # silent throughout
    times.append(np.sort(rng.uniform(0, 20, 100)))               # silent after 20 s
    times.append(np.arange(0, 60, 0.05) + 0.01)                  # a spike in every bin: constant
    trains = SpikeTrains(times, np.arange(7), t_start=0.0, t_stop=60.0)
    w = sliding_windows(0.0, 60.0, 0.05, window=20.0, step=20.0)
    r, inactive, _ = _collect(trains, w, True, 2)
    assert np.isfinite(r).all()
    np.testing.assert_array_equal(inactive[:, 4], True)
    np.testing.assert_array_equal(inactive[:, 6], True)
    np.testing.assert_array_equal(inactive[:, 5], [False, True, True])
    assert not inactive[:, :4].any()
    for k in range(3):
        dead = np.flatnonzero(inactive[k])
        np.testing.assert_array_equal(np.diagonal(r[k]), 1.0)
        off = r[k][dead][:, np.setdiff1d(np.arange(7), dead)]
        np.testing.assert_array_equal(off, 0.0)
    ref = _reference(trains, w, True)
    live = ~inactive[0]
    np.testing.assert_allclose(r[0][np.ix_(live, live)], ref[0][np.ix_(live, live)], atol=1e-5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_matches_elephant():
    pytest.importorskip("elephant")
    import neo
    import quantities as pq
    from elephant.conversion import BinnedSpikeTrain
    from elephant.spike_train_correlation import correlation_coefficient

    trains = poisson_trains(8, 120.0, 6.0, seed=3)
    w = sliding_windows(0.0, 120.0, 0.05, window=40.0, step=20.0)
    for binary in (True, False):
        r, _, _ = _collect(trains, w, binary, 2)
        for k, (a, b) in enumerate(zip(w.start_times, w.stop_times)):
            sts = [neo.SpikeTrain(t[(t >= a) & (t < b)] * pq.s, t_start=a * pq.s, t_stop=b * pq.s)
                   for t in trains.times]
            bst = BinnedSpikeTrain(sts, bin_size=0.05 * pq.s, t_start=a * pq.s, t_stop=b * pq.s)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = correlation_coefficient(bst, binary=binary)
            np.testing.assert_allclose(r[k], ref, atol=1e-5)


def test_stream_equals_compute_and_result_fields(random_trains):
    params = ConnectivityParams(bin_size=0.05, window=30.0, step=15.0, threshold_mode="density", density=0.2,
                                absolute=False)
    full = compute_dynamic_connectivity(random_trains, params, chunk_windows=5)
    parts = list(iter_dynamic_connectivity(random_trains, params, chunk_windows=4))
    assert sum(p.adjacency.shape[0] for p in parts) == full.num_windows == 19
    np.testing.assert_array_equal(np.concatenate([p.adjacency for p in parts]), full.adjacency)
    assert full.adjacency.dtype == np.float32 and full.correlation.dtype == np.float32
    assert full.inactive_mask.shape == (19, 12) and full.inactive_mask.dtype == bool
    assert full.window_start_times.dtype == np.float64
    assert (full.correlation < 0).any()                      # signed when absolute=False
    np.testing.assert_array_equal(full.adjacency, np.swapaxes(full.adjacency, 1, 2))
    np.testing.assert_array_equal(np.diagonal(full.adjacency, axis1=1, axis2=2), 1.0)
    np.testing.assert_array_equal(full.node_ids, random_trains.ids)
    assert full.params is params
    np.testing.assert_allclose(full.edge_density(), 0.2, atol=0.01)
