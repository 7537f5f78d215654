"""The evaluation protocol: folds that share no time, block-aware nulls, the p-value, the interval,
and the classifier computed for every labelling at once, each checked against an independent
implementation or a known answer."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.linear_model import RidgeClassifier  # noqa: E402

from nwb_tavrnn.errors import InputFileError  # noqa: E402
from nwb_tavrnn.evaluation.metrics import (  # noqa: E402
    block_bootstrap_interval,
    fold_features,
    predict_labels,
)
from nwb_tavrnn.evaluation.nulls import label_null, p_value  # noqa: E402
from nwb_tavrnn.evaluation.splits import label_blocks, make_folds, window_overlap  # noqa: E402


def _overlapping(n=30, window=120.0, step=60.0):
    starts = np.arange(n) * step
    return starts, starts + window


@pytest.mark.parametrize("kind", ["blocked", "label_blocks", "stratified"])
def test_no_training_window_shares_time_with_a_test_window(kind):
    starts, stops = _overlapping()
    y = np.repeat(["a", "b", "a", "b", "a", "b"], 5)
    folds = make_folds(starts, stops, y, kind, n_splits=5, purge_gap=30.0)
    tested = np.concatenate(folds.test)
    assert sorted(tested) == list(range(30))  # every window tested exactly once
    for train, test in folds:
        for j in train:
            for i in test:  # at least 30 s apart: no shared spike, and the purge gap kept
                assert starts[j] >= stops[i] + 30.0 or stops[j] <= starts[i] - 30.0
    if kind == "blocked":  # contiguous runs in time order
        assert all(np.all(np.diff(t) == 1) for t in folds.test)
    if kind == "label_blocks":  # whole label blocks held out together
        blocks = label_blocks(y)
        for test in folds.test:
            for b in np.unique(blocks[test]):
                assert set(np.flatnonzero(blocks == b)) <= set(test)
    assert window_overlap(starts, stops) == 60.0 and window_overlap(starts, starts + 60.0) == 0.0
    assert "purged" in folds.describe()


def test_a_fold_left_without_training_windows_is_a_clear_error():
    starts = np.zeros(4)
    with pytest.raises(InputFileError, match="no training window"):
        make_folds(starts, starts + 100.0, ["a", "b", "a", "b"], "blocked", n_splits=2)


def test_ridge_for_every_labelling_at_once_equals_scikit_learns_balanced_ridge_classifier():
    rng = np.random.default_rng(0)
    for n, d, k, pca in [(40, 4, 2, None), (30, 20, 3, None), (36, 500, 2, 5), (48, 6, 3, None)]:
        x = rng.normal(size=(n, d))
        labellings = rng.integers(0, k, size=(6, n))
        labellings[-1] = np.sort(labellings[-1])  # whole folds of one class: classes missing from training
        starts = np.arange(n) * 60.0
        folds = make_folds(starts, starts + 60.0, labellings[0].astype(str))
        prepared = fold_features(x, folds, pca)
        got = predict_labels(prepared, labellings, k)
        for row, codes in zip(got, labellings):
            want = np.empty(n, int)
            for fold in prepared:
                train_codes = codes[fold.train]
                if np.unique(train_codes).size == 1:
                    want[fold.test] = train_codes[0]
                    continue
                model = RidgeClassifier(alpha=1.0, class_weight="balanced").fit(fold.x_train, train_codes)
                want[fold.test] = model.predict(fold.x_test)
            np.testing.assert_array_equal(row, want)


def test_p_value_formula_on_a_fixed_null():
    null = np.array([0.2, 0.5, 0.5, 0.7, 0.9])
    # random draws: (1 + #{null >= observed}) / (1 + draws); ties count as as-extreme
    assert p_value(0.7, null, exact=False) == pytest.approx((1 + 2) / 6)
    assert p_value(0.95, null, exact=False) == pytest.approx(1 / 6)
    assert p_value(0.5, null, exact=False) == pytest.approx((1 + 4) / 6)
    # every labelling (the observed among them): #{null >= observed} / size
    assert p_value(0.7, null, exact=True) == pytest.approx(2 / 5)
    assert p_value(0.9, null, exact=True) == pytest.approx(1 / 5)


def test_p_values_are_uniform_under_an_exchangeable_null():
    # H0 with exchangeable labels: P(p <= a) <= a for every a, and close to a
    rng = np.random.default_rng(5)
    ps = []
    for _ in range(2000):
        null = rng.normal(size=99)
        ps.append(p_value(rng.normal(), null, exact=False))
    ps = np.asarray(ps)
    for a in (0.01, 0.05, 0.1, 0.5):
        assert abs(np.mean(ps <= a) - a) < 3 * math.sqrt(a * (1 - a) / len(ps)) + 0.01


def test_block_permutation_moves_whole_blocks_and_says_when_no_test_is_possible():
    y = np.repeat(list("ABABABABABAB"), 3)  # 12 blocks of 3 windows
    null = label_null(y, "block_permutation", n_permutations=200, seed=1)
    assert null.n_blocks == 12 and null.n_possible == math.comb(12, 6) and not null.exact
    assert null.testable and null.min_p == pytest.approx(max(2 / math.comb(12, 6), 1 / 201))
    blocks = label_blocks(y)
    for labels in null.labels:  # constant inside every block, 6 blocks per class
        assert all(len(set(labels[blocks == b])) == 1 for b in range(12))
        assert sorted(labels[::3]) == sorted(y[::3])
    # few blocks: every distinct assignment enumerated, the observed one included
    few = label_null(np.repeat(list("ABAB"), 3), "block_permutation", n_permutations=200)
    assert few.exact and len(few.labels) == 6 and not few.testable and "no valid label test" in few.reason
    assert any((lab == np.repeat(list("ABAB"), 3)).all() for lab in few.labels)
    # two task periods: never testable
    two = label_null(np.repeat(list("AB"), 10), "block_permutation")
    assert not two.testable and two.min_p == 1.0
    # design blocks given: neighbouring rows with one label stay separate blocks
    rows = np.repeat(np.arange(12), 3)
    y_design = np.repeat(list("AABABBABAABB"), 3)
    assert label_null(y_design, blocks=rows, n_permutations=10).n_blocks == 12
    assert label_null(y_design, n_permutations=10).n_blocks == 8
    # a circular shift of a periodic design reproduces it: no test
    assert not label_null(np.repeat(list("ABABABAB"), 3), "circular_shift", n_permutations=100).testable


def test_block_bootstrap_interval_covers_the_mean_of_correlated_errors():
    rng = np.random.default_rng(2)
    hits = 0
    for _ in range(200):
        # errors in runs of 5 windows (a whole label block misclassified): true accuracy 0.7
        correct = np.repeat(rng.uniform(size=12) < 0.7, 5).astype(float)
        low, high = block_bootstrap_interval(correct, block=5, n_boot=500, seed=int(rng.integers(1e9)))
        hits += low <= 0.7 <= high
        assert 0.0 <= low <= correct.mean() <= high <= 1.0
    assert hits / 200 >= 0.85  # nominal 95 %; percentile intervals on 12 blocks run a little short


def test_a_fold_that_tests_a_class_its_training_never_shows_is_warned_with_the_ceiling():
    """'rest' only at the end: the fold testing it never trains on it, so those windows cannot be
    right; the warning says so, with the ceiling it puts on every accuracy, and names n_splits."""
    from nwb_tavrnn.errors import ParameterWarning
    from nwb_tavrnn.evaluation.label_specs import WindowLabels
    from nwb_tavrnn.evaluation.protocol import build_protocol
    from nwb_tavrnn.evaluation.settings import EvaluationConfig

    labels = ["a", "b"] * 12 + ["rest"] * 6  # 30 windows, 6 of 'rest' in one block at the end
    starts = np.arange(30) * 10.0
    cfg = EvaluationConfig(n_splits=5, n_permutations=0)
    with pytest.warns(ParameterWarning, match=r"1 of 5 folds .*'rest' \(6 windows\).* exceed 0\.80") as caught:
        build_protocol(WindowLabels(labels, None, "given"), starts, starts + 10.0, cfg)
    assert caught[0].message.parameter == ("n_splits",)
    # every class in every fold's training: no warning
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", ParameterWarning)
        build_protocol(WindowLabels(["a", "b"] * 15, None, "given"), starts, starts + 10.0, cfg)
