"""Label rules and scores on small fixtures with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nwb_tavrnn.errors import InputFileError
from nwb_tavrnn.evaluation.labels import (
    classes_from_values,
    labelled,
    labels_from_array,
    labels_from_intervals,
    labels_from_table_spans,
    values_from_intervals,
    values_from_series,
)
from nwb_tavrnn.evaluation.metrics import (
    classify,
    cluster,
    correlate,
    permutation_test,
    subregion_alignment,
    summarize,
)
from nwb_tavrnn.evaluation.nulls import label_null
from nwb_tavrnn.evaluation.splits import make_folds

EPOCHS = pd.DataFrame({"start_time": [0.0, 100.0, 250.0], "stop_time": [100.0, 250.0, 400.0],
                       "state": ["a", "b", "a"], "tags": [["x"], ["y"], ["x"]]})


def test_majority_label_by_overlap_and_coverage():
    # windows: inside a; 60 s of a + 40 s of b; 30 of b + 70 of a; beyond the table
    starts = np.array([10.0, 40.0, 220.0, 390.0])
    stops = starts + 100
    assert labels_from_intervals(EPOCHS, "state", starts, stops) == ["a", "a", "a", None]
    assert labels_from_intervals(EPOCHS, "state", [150.0], [250.0]) == ["b"]
    assert labels_from_intervals(EPOCHS, "state", starts, stops, min_purity=0.65) == ["a", None, "a", None]
    assert labels_from_intervals(EPOCHS, "tags", [150.0], [250.0]) == ["y"]  # list columns are joined
    with pytest.raises(InputFileError, match="no column 'nope'"):
        labels_from_intervals(EPOCHS, "nope", starts, stops)


def test_period_labels_from_table_spans():
    # two blocks of trials with gaps between trials: 0-100 s (encoding), 150-300 s (recognition)
    encoding = pd.DataFrame({"start_time": np.arange(0.0, 100.0, 10.0), "stop_time": np.arange(0.0, 100.0, 10.0) + 4})
    recognition = pd.DataFrame({"start_time": np.arange(150.0, 300.0, 10.0),
                                "stop_time": np.arange(150.0, 300.0, 10.0) + 4})
    tables = {"encoding": encoding, "recognition": recognition}
    starts = np.array([0.0, 40.0, 80.0, 110.0, 160.0, 250.0, 280.0])
    stops = starts + 40
    # the gaps between trials count; a window mostly between the blocks or past the end is unlabelled
    assert labels_from_table_spans(tables, starts, stops) == [
        "encoding", "encoding", None, None, "recognition", "recognition", None]
    # per-row overlap would leave every window unlabelled (trials cover only 40 % of the time)
    assert labels_from_intervals(encoding.assign(t="e"), "t", starts[:2], stops[:2]) == [None, None]
    # tables whose trials interleave have no periods; an empty table has no span
    with pytest.raises(InputFileError, match=r"spans of '(go|encoding)' and '(go|encoding)' overlap"):
        labels_from_table_spans({"encoding": encoding, "go": encoding.iloc[::2]}, starts, stops)
    with pytest.raises(InputFileError, match="'none' has no rows"):
        labels_from_table_spans({"encoding": encoding, "none": encoding.iloc[:0]}, starts, stops)


def test_numeric_column_averaged_by_overlap():
    trials = pd.DataFrame({"start_time": [0.0, 10.0, 20.0, 30.0], "stop_time": [10.0, 20.0, 30.0, 40.0],
                           "hit": [True, False, True, True]})
    rate = values_from_intervals(trials, "hit", [0.0, 0.0, 15.0, 100.0], [20.0, 40.0, 35.0, 110.0])
    np.testing.assert_allclose(rate[:3], [0.5, 0.75, (5 * 0 + 10 + 5) / 20])
    assert np.isnan(rate[3])


def test_series_mean_per_window():
    t = np.arange(0, 10, 0.5)
    x = t.copy()
    m = values_from_series(t, x, [0.0, 5.0, 20.0], [2.0, 6.0, 30.0])
    np.testing.assert_allclose(m[:2], [0.75, 5.25])
    assert np.isnan(m[2])
    xy = np.stack([np.full_like(t, 3.0), np.full_like(t, 4.0)], axis=1)
    # 2-D data: the first column unless asked otherwise (the docstring's promise), or the norm
    np.testing.assert_allclose(values_from_series(t, xy, [0.0], [10.0]), [3.0])
    np.testing.assert_allclose(values_from_series(t, xy, [0.0], [10.0], component=1), [4.0])
    np.testing.assert_allclose(values_from_series(t, xy, [0.0], [10.0], component="norm"), [5.0])
    with pytest.raises(InputFileError, match="choose column=0..1"):
        values_from_series(t, xy, [0.0], [10.0], component=2)


def test_top_bottom_and_quantile_rules():
    values = [0.9, 0.1, 0.5, 0.8, 0.2, 0.3, 0.7, np.nan]
    top = classes_from_values(values, "top_bottom", k=2)
    assert top == ["High", "Low", None, "High", "Low", None, None, None]
    q = classes_from_values(values, "quantile", n_classes=2)
    assert q == ["q2", "q1", "q1", "q2", "q1", "q1", "q2", None]
    with pytest.raises(InputFileError, match="at least 8 windows"):
        classes_from_values(values, "top_bottom", k=4)


def test_tied_values_share_a_class_whatever_the_window_order():
    # many zero speeds first, then moving: ties must not be split by window order
    speeds = np.array([0.0] * 6 + [1.0, 2.0, 3.0, 4.0])
    q = classes_from_values(speeds, "quantile", n_classes=2)
    assert q[:6] == ["q1"] * 6 and set(q[6:]) == {"q2"} | ({"q1"} & set(q[6:]))
    assert len({c for v, c in zip(speeds, q) if v == 0.0}) == 1
    reversed_q = classes_from_values(speeds[::-1], "quantile", n_classes=2)
    assert reversed_q[::-1] == q
    # the paper's top/bottom rule: windows tied with the k-th value are all in, never picked by order
    tb = classes_from_values([0.0, 0.0, 0.0, 5.0, 6.0, 7.0], "top_bottom", k=2)
    assert tb == ["Low", "Low", "Low", None, "High", "High"]
    with pytest.raises(InputFileError, match="share the value"):
        classes_from_values([1.0, 1.0, 1.0, 1.0], "top_bottom", k=2)


def test_labelled_needs_two_classes_of_two():
    idx, y = labelled(["a", None, "b", "a", "b"])
    assert list(idx) == [0, 2, 3, 4] and list(y) == ["a", "b", "a", "b"]
    with pytest.raises(InputFileError, match="1 class"):
        labelled(["a", "a", None])
    with pytest.raises(InputFileError, match="fewer than 2 windows"):
        labelled(["a", "a", "b"])
    with pytest.raises(InputFileError, match="3 labels given for 4 windows"):
        labels_from_array(["a", "b", "c"], 4)


def _separable(n=40, shift=4.0, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array(["a", "b"] * (n // 2))
    x = rng.normal(size=(n, 4))
    x[y == "b", 0] += shift
    return x, y


def _folds(y):
    starts = np.arange(len(y)) * 60.0
    return make_folds(starts, starts + 60.0, y)


def test_classification_finds_separable_classes_and_not_noise():
    x, y = _separable()
    result = classify(x, y, _folds(y))
    assert result.scores["accuracy"] > 0.9 and result.correct.mean() == result.scores["accuracy"]
    noise = classify(np.random.default_rng(1).normal(size=(40, 4)), y, _folds(y))
    assert noise.scores["accuracy"] < 0.75


def test_permutation_null_is_at_chance_and_p_small_for_real_signal():
    x, y = _separable()
    null = label_null(y, "iid", n_permutations=19, seed=0)  # single windows: these labels have no blocks
    res = permutation_test(x, y, _folds(y), null)
    assert res.observed == classify(x, y, _folds(y)).scores["accuracy"]  # the p-value is of the headline figure
    assert res.observed > 0.9
    assert 0.3 < res.null.mean() < 0.7  # chance for two balanced classes
    assert res.p_value == pytest.approx(1 / 20)
    noise = permutation_test(np.random.default_rng(2).normal(size=(40, 4)), y, _folds(y), null)
    assert noise.p_value > 0.05


def test_clustering_scores():
    x, y = _separable(shift=8.0)
    s = summarize(cluster(x[:, :1], y, seeds=range(3))).set_index("metric")
    assert s.loc["ari", "mean"] > 0.9 and s.loc["nmi", "mean"] > 0.8 and s.loc["silhouette", "mean"] > 0.5


def test_subregion_alignment_tracks_group_structure():
    rng = np.random.default_rng(0)
    groups = np.repeat(["g1", "g2", "g3"], 10)
    centers = {"g1": [1, 0, 0], "g2": [0, 1, 0], "g3": [0, 0, 1]}
    aligned = np.array([centers[g] for g in groups]) + 0.05 * rng.normal(size=(30, 3))
    mixed = rng.normal(size=(30, 3))
    scores = subregion_alignment(np.stack([aligned, mixed]), groups)
    assert scores[0] > 0.8 and abs(scores[1]) < 0.2
    only_two = subregion_alignment(np.stack([aligned]), groups, exclude=["g3"])
    assert only_two[0] > 0.8
    rho = correlate([0.1, 0.2, 0.3, 0.4, 0.5], [1, 2, 3, 4, 6])
    assert rho["rho"] == pytest.approx(1.0) and rho["n"] == 5


def test_baseline_features_and_time_shuffle():
    from nwb_tavrnn.evaluation.features import (
        circular_shift,
        correlation_features,
        embedding_features,
        rate_features,
    )
    from nwb_tavrnn.io.spike_trains import SpikeTrains

    corr = np.arange(2 * 3 * 3, dtype=float).reshape(2, 3, 3)
    np.testing.assert_array_equal(correlation_features(corr), [[1, 2, 5], [10, 11, 14]])
    emb = np.arange(2 * 3 * 2, dtype=float).reshape(2, 3, 2)
    np.testing.assert_array_equal(embedding_features(emb), [[2, 3], [8, 9]])
    assert embedding_features(emb, "flatten").shape == (2, 6)
    trains = SpikeTrains([[0.5, 1.5, 2.5, 3.5], [1.0, 1.1]], ids=[1, 2], t_start=0.0, t_stop=4.0)
    np.testing.assert_allclose(rate_features(trains, [0.0, 2.0], [2.0, 4.0]), [[1.0, 1.0], [1.0, 0.0]])
    shuffled = circular_shift(trains, seed=1)
    assert list(shuffled.spike_counts) == [4, 2]
    assert all(((t >= 0) & (t < 4)).all() for t in shuffled.times)
    gap = np.diff(np.sort(shuffled.times[1]))[0]
    assert min(gap, 4 - gap) == pytest.approx(0.1)  # the rotation keeps intervals (modulo the span)


def test_pca_inside_folds_keeps_signal():
    rng = np.random.default_rng(3)
    y = np.array(["a", "b"] * 20)
    signal = np.where(y == "b", 1.0, -1.0)[:, None] + 0.3 * rng.normal(size=(40, 30))  # a dominant component
    wide = np.concatenate([signal, rng.normal(size=(40, 50))], axis=1)
    assert classify(wide, y, _folds(y), pca=5).scores["accuracy"] > 0.7


def test_within_window_shuffle_keeps_counts_per_window_and_breaks_synchrony():
    from nwb_tavrnn.evaluation.features import circular_shift, rate_features
    from nwb_tavrnn.io.spike_trains import SpikeTrains

    rng = np.random.default_rng(5)
    # two nodes firing together (same times), at 5 Hz in the first 50 s and 40 Hz in the last 50 s
    times = np.sort(np.concatenate([rng.uniform(0, 50, 250), rng.uniform(50, 100, 2000)]))
    trains = SpikeTrains([times, times.copy()], ids=[0, 1], t_start=0.0, t_stop=100.0)
    starts, stops = np.arange(0, 90, 10.0), np.arange(0, 90, 10.0) + 20.0
    shuffled = circular_shift(trains, seed=2, boundaries=np.concatenate([starts, stops]))
    np.testing.assert_array_equal(rate_features(shuffled, starts, stops), rate_features(trains, starts, stops))
    same = np.isin(np.round(shuffled.times[0], 9), np.round(shuffled.times[1], 9)).mean()
    assert same < 0.01  # the shared spike times are gone
    # a spike at t_stop (a train's end is often its last spike) stays out of every window
    edge = SpikeTrains([np.array([1.0, 6.0, 20.0])], ids=[0], t_start=0.0, t_stop=20.0)
    moved = circular_shift(edge, seed=3, boundaries=[10.0])
    assert moved.times[0][-1] == 20.0
    np.testing.assert_array_equal(rate_features(moved, [0.0, 10.0], [10.0, 20.0]), [[0.2], [0.0]])
    # a rotation over the whole recording keeps the totals but not the per-window counts
    whole = circular_shift(trains, seed=2)
    assert list(whole.spike_counts) == [2250, 2250]
    assert np.abs(rate_features(whole, starts, stops) - rate_features(trains, starts, stops)).max() > 5


def test_spans_spec_reads_the_named_tables():
    from pynwb.epoch import TimeIntervals
    from pynwb.testing.mock.file import mock_NWBFile

    from nwb_tavrnn.evaluation.report import window_labels

    nwbfile = mock_NWBFile()
    for name, (a, b) in {"encoding_table": (0.0, 100.0), "recognition_table": (150.0, 300.0)}.items():
        table = TimeIntervals(name=name, description="trials")
        for t in np.arange(a, b, 10.0):
            table.add_interval(start_time=t, stop_time=t + 4.0)
        nwbfile.add_time_intervals(table)
    wl = window_labels(nwbfile, "spans:encoding_table,recognition_table", np.array([0.0, 200.0]),
                       np.array([60.0, 260.0]))
    assert wl.labels == ["encoding_table", "recognition_table"]
    with pytest.raises(InputFileError, match="no table 'trials'; the file has: encoding_table, recognition_table"):
        window_labels(nwbfile, "spans:encoding_table,trials", np.array([0.0]), np.array([60.0]))


def test_wide_pca_matches_exact_pca_up_to_sign():
    from sklearn.decomposition import PCA

    from nwb_tavrnn.evaluation.metrics import principal_components

    rng = np.random.default_rng(4)
    train, test = rng.normal(size=(12, 500)), rng.normal(size=(4, 500))
    wide = principal_components(5, *train.shape).fit(train)
    exact = PCA(n_components=5, svd_solver="full").fit(train)
    assert type(wide).__name__ == "KernelPCA" and type(principal_components(5, 500, 12)).__name__ == "PCA"
    np.testing.assert_allclose(np.abs(wide.transform(test)), np.abs(exact.transform(test)), atol=1e-8)
