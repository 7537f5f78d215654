import numpy as np
import pytest

from nwb_tavrnn.connectivity import (
    bin_range,
    bin_spike_trains,
    explicit_windows,
    label_runs,
    sliding_windows,
    sliding_windows_in_ranges,
)

from .conftest import poisson_trains


def test_bin_counts_match_histogram():
    trains = poisson_trains(5, 50.0, 20.0, seed=0)
    binned, edges = bin_spike_trains(trains, 0.0, 50.0, 0.05, binary=False)
    assert binned.shape == (5, 1000) and edges.shape == (1001,)
    for i, t in enumerate(trains.times):
        np.testing.assert_array_equal(binned[i], np.histogram(t, edges)[0])
    binary, _ = bin_spike_trains(trains, 0.0, 50.0, 0.05, binary=True)
    np.testing.assert_array_equal(binary, np.minimum(binned, 1))


def test_chunks_of_the_grid_line_up():
    trains = poisson_trains(4, 20.0, 30.0, seed=2)
    whole = bin_range(trains.times, 0.0, 0.01, 0, 2000, binary=False)
    parts = np.concatenate([bin_range(trains.times, 0.0, 0.01, a, b - a, binary=False)
                            for a, b in [(0, 333), (333, 1001), (1001, 2000)]], axis=1)
    np.testing.assert_array_equal(whole, parts)
    sub, edges = bin_spike_trains(trains, 3.333, 7.0, 0.01, binary=False, origin=0.0)
    assert np.isclose(edges[0], 3.33)
    np.testing.assert_array_equal(sub, whole[:, 333:700])


def test_spike_on_a_bin_edge_goes_to_the_bin_it_starts():
    binned, _ = bin_spike_trains([np.array([0.0, 0.15, 0.3, 0.9999999])], 0.0, 1.0, 0.05, binary=False)
    assert binned[0, 0] == 1 and binned[0, 3] == 1 and binned[0, 6] == 1 and binned[0, 19] == 1
    assert binned.sum() == 4


def test_paper_window_counts():
    assert len(sliding_windows(0.0, 1200.0, 0.05, 120.0, 60.0)) == 19
    assert len(sliding_windows(0.0, 600.0, 0.05, 120.0, 60.0)) == 9
    w = sliding_windows(10.0, 1210.0, 0.05)
    assert w.start_times[0] == 10.0 and np.isclose(w.stop_times[-1], 1210.0)
    np.testing.assert_array_equal(w.n_bins, 2400)


def test_explicit_windows_snap_and_restrict():
    w = explicit_windows([0.012, 5.0, 30.0], [2.0, 9.99, 40.0], bin_size=0.025)
    np.testing.assert_allclose(w.start_times, [0.0, 5.0, 30.0])
    np.testing.assert_allclose(w.stop_times, [2.0, 10.0, 40.0])
    np.testing.assert_array_equal(w.within([0.0, 25.0], [12.0, 35.0]), [True, True, False])
    assert len(w.restrict([0.0], [100.0])) == 3
    with pytest.raises(ValueError):
        explicit_windows([1.0], [1.01], bin_size=0.05)


def test_windows_in_ranges_and_label_runs():
    w = sliding_windows_in_ranges([0.0, 1200.0], [1200.0, 1800.0], 0.05)
    assert len(w) == 19 + 9
    assert not np.any((w.start_times < 1200.0) & (w.stop_times > 1200.0))
    t = np.arange(10.0)
    starts, stops, labels = label_runs(t, np.array([0, 0, 1, 1, 1, 0, 0, 2, 2, 2]))
    np.testing.assert_array_equal(starts, [0, 2, 5, 7])
    np.testing.assert_array_equal(stops, [2, 5, 7, 9])
    np.testing.assert_array_equal(labels, [0, 1, 0, 2])
