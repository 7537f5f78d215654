"""Behaviour decoding on synthetic segments with a known answer: methods, folds, NIR and paired tests."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import ClassVar

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from threadpoolctl import threadpool_limits

from nwb_tavrnn.evaluation.decoding import (
    ANALYSIS,
    DECODERS,
    METRICS,
    binomial_p_value,
    compare_decoders,
    mcnemar_exact,
    plot_decoding,
)
from nwb_tavrnn.evaluation.splits import make_folds


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """Tiny fits: one BLAS thread is several times faster than spin-waiting threads on a busy machine."""
    with threadpool_limits(limits=1):
        yield


def block_labels(n: int, rng: np.random.Generator, classes=("new", "old")) -> np.ndarray:
    """Labels in runs of 5-15 segments, alternating classes, in time order."""
    out, k = [], 0
    while len(out) < n:
        out += [classes[k % len(classes)]] * int(rng.integers(5, 16))
        k += 1
    return np.array(out[:n])


def tail(correct: int, n: int, p: float) -> float:
    """P(X >= correct), X ~ Binomial(n, p), summed by hand."""
    return sum(math.comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(correct, n + 1))


@pytest.fixture(scope="module")
def known():
    """200 consecutive 1 s segments; latent 0 carries the label, the rates barely do."""
    rng = np.random.default_rng(1)
    n = 200
    y = block_labels(n, rng)
    sign = np.where(y == "old", 1.0, -1.0)
    latents = rng.normal(size=(n, 4))
    latents[:, 0] += 1.5 * sign
    rates = rng.normal(size=(n, 20))
    rates[:, :2] += 0.1 * sign[:, None]
    starts = np.arange(n, dtype=float)
    comparison = compare_decoders({"latents": latents, "rates": rates}, y, starts, starts + 1.0, seed=0)
    return comparison, y, starts


def test_latents_beat_nir_and_majority(known):
    comparison, y, _ = known
    assert comparison.methods == list(DECODERS)
    assert comparison.tested.all()
    nir = max(Counter(y).values()) / len(y)
    assert comparison.metric("latent_logistic", "nir") == pytest.approx(nir)
    acc = comparison.metric("latent_logistic", "accuracy")
    assert acc > nir + 0.2
    assert comparison.metric("latent_logistic", "binomial_p_value") < 1e-6
    pair = comparison.mcnemar[(comparison.mcnemar.method_a == "latent_logistic")
                              & (comparison.mcnemar.method_b == "majority")].iloc[0]
    assert pair.p_value < 0.01 and pair.b > pair.c


def test_majority_predicts_each_training_folds_most_frequent_class(known):
    comparison, y, starts = known
    folds = make_folds(starts, starts + 1.0, y, kind="blocked", n_splits=5)
    expected = np.empty(len(y), dtype=object)
    for train, test in folds:
        counts = Counter(y[train])
        # DummyClassifier's tie rule: the first of the sorted classes
        expected[test] = min(counts, key=lambda c: (-counts[c], c))
    assert (comparison.predictions["majority"] == expected.astype(str)).all()
    acc = comparison.metric("majority", "accuracy")
    assert acc == pytest.approx(np.mean(expected == y))
    assert acc <= comparison.metric("majority", "nir")  # blocked folds: never better than the NIR here


def test_majority_equals_nir_when_folds_keep_the_class_balance():
    rng = np.random.default_rng(3)
    y = rng.permutation(np.array(["a"] * 70 + ["b"] * 50))
    starts = np.arange(len(y), dtype=float)
    comparison = compare_decoders({}, y, starts, starts + 1.0, split="stratified", methods=["majority"])
    assert comparison.metric("majority", "accuracy") == comparison.metric("majority", "nir") == 70 / 120
    assert comparison.metric("majority", "balanced_accuracy") == 0.5


def test_scores_long_format(known):
    comparison = known[0]
    s = comparison.scores
    assert list(s.columns) == ["method", "analysis", "metric", "seed", "value"]
    assert set(s.analysis) == {ANALYSIS}
    for method in DECODERS:
        assert list(s[s.method == method].metric) == list(METRICS)
    assert comparison.metric("mlp", "n_tested") == 200
    full = comparison.to_scores()
    pairs = full[full.metric == "mcnemar_p_value"]
    assert len(pairs) == math.comb(len(DECODERS), 2) == len(comparison.mcnemar)
    assert "latent_logistic_vs_majority" in set(pairs.method)
    assert len(full) == len(s) + len(pairs) and list(full.columns) == list(s.columns)


def test_p_values_match_hand_computations(known):
    comparison, y, _ = known
    pred = comparison.predictions["latent_logistic"]
    correct = int(np.sum(pred == y))
    nir = max(Counter(y).values()) / len(y)
    assert comparison.metric("latent_logistic", "binomial_p_value") == pytest.approx(tail(correct, len(y), nir),
                                                                                    rel=1e-9)
    # a case with a p-value far from 0 and 1
    assert binomial_p_value(14, 20, 0.55) == pytest.approx(tail(14, 20, 0.55), rel=1e-12)
    # McNemar on constructed predictions: b = 7, c = 2, 11 concordant
    right_a = np.array([1] * 7 + [0] * 2 + [1] * 6 + [0] * 5, bool)
    right_b = np.array([0] * 7 + [1] * 2 + [1] * 6 + [0] * 5, bool)
    b, c, p = mcnemar_exact(right_a, right_b)
    assert (b, c) == (7, 2)
    assert p == pytest.approx(2 * sum(math.comb(9, k) for k in range(3)) / 2 ** 9, rel=1e-12)  # 0.1797
    assert mcnemar_exact(right_a, right_a) == (0, 0, 1.0)
    # the comparison's table counts the same discordant segments as the predictions show
    for row in comparison.mcnemar.itertuples():
        ra, rb = comparison.predictions[row.method_a] == y, comparison.predictions[row.method_b] == y
        assert (row.b, row.c) == (int(np.sum(ra & ~rb)), int(np.sum(~ra & rb)))
        assert row.p_value == pytest.approx(mcnemar_exact(ra, rb)[2])


def test_noise_p_values_are_not_too_small():
    small, ps = 0, []
    for seed in range(30):
        rng = np.random.default_rng(100 + seed)
        n = 60
        y = np.where(rng.random(n) < 0.6, "old", "new")
        starts = np.arange(n, dtype=float)
        comparison = compare_decoders({"latents": rng.normal(size=(n, 3))}, y, starts, starts + 1.0, seed=seed,
                                      methods=["latent_logistic"])
        p = comparison.metric("latent_logistic", "binomial_p_value")
        ps.append(p)
        small += p < 0.05
    assert small / 30 <= 0.2
    assert 0.2 < np.median(ps) < 1.0  # not degenerate: the test is not simply always 1


class _Spy(BaseEstimator, ClassifierMixin):
    """Records the segment indices (feature 0) it is fitted on and asked to predict."""

    calls: ClassVar[list] = []

    def fit(self, x, y):
        self.classes_ = np.unique(y)
        _Spy.calls.append(("fit", x[:, 0].astype(int)))
        return self

    def predict(self, x):
        _Spy.calls.append(("predict", x[:, 0].astype(int)))
        return np.full(len(x), self.classes_[0])


def test_folds_never_share_time_between_training_and_testing():
    rng = np.random.default_rng(7)
    n, gap = 100, 1.0
    starts = np.arange(n, dtype=float)
    stops = starts + 2.5  # every segment overlaps two neighbours on each side
    y = block_labels(n, rng)
    _Spy.calls.clear()
    methods = {"spy": ("index", lambda seed: _Spy()), **DECODERS}
    comparison = compare_decoders({"index": np.arange(n)[:, None], "latents": rng.normal(size=(n, 2))}, y, starts,
                                  stops, purge_gap=gap, methods=methods)
    assert comparison.methods == ["spy", "latent_logistic", "majority"]  # no rates: the rate methods are skipped
    folds = comparison.folds
    assert folds.kind == "blocked" and folds.purged > 0  # the overlap made the purge drop training segments
    fits = [idx for kind, idx in _Spy.calls if kind == "fit"]
    predicts = [idx for kind, idx in _Spy.calls if kind == "predict"]
    assert len(fits) == len(predicts) == len(folds)
    tested = np.concatenate(predicts)
    assert np.array_equal(np.sort(tested), np.arange(n))  # every segment tested exactly once
    for train, test, fitted, predicted in zip(folds.train, folds.test, fits, predicts):
        assert np.array_equal(fitted, train) and np.array_equal(predicted, test)
        near = (starts[fitted][:, None] < stops[test][None, :] + gap) & \
               (stops[fitted][:, None] > starts[test][None, :] - gap)
        assert not near.any()
    # the same folds for every method: identical to make_folds with the same arguments
    again = make_folds(starts, stops, y, kind="blocked", n_splits=5, purge_gap=gap)
    for a, b in itertools.chain(zip(folds.train, again.train), zip(folds.test, again.test)):
        assert np.array_equal(a, b)


def test_one_class_training_fold_predicts_that_class():
    y = np.array(["a", "a"] + ["b"] * 8)
    starts = np.arange(10, dtype=float)
    rng = np.random.default_rng(0)
    comparison = compare_decoders({"latents": rng.normal(size=(10, 2)), "rates": rng.normal(size=(10, 3))}, y,
                                  starts, starts + 1.0, methods=["latent_logistic", "random_forest", "mlp"])
    for method in comparison.methods:
        assert (comparison.predictions[method][:2] == "b").all()  # fold 0 trains on "b" only


def test_bad_input_is_refused():
    starts = np.arange(6, dtype=float)
    with pytest.raises(ValueError, match="rows"):
        compare_decoders({"latents": np.zeros((5, 2))}, list("aabbab"), starts, starts + 1)
    with pytest.raises(ValueError, match="label"):
        compare_decoders({"latents": np.zeros((6, 2))}, ["a", None, "b", "b", "a", "b"], starts, starts + 1)
    with pytest.raises(ValueError, match="no decoding method"):
        compare_decoders({"other": np.zeros((6, 2))}, list("aabbab"), starts, starts + 1,
                         methods=["latent_logistic"])
    with pytest.raises(ValueError, match="unknown"):
        compare_decoders({}, list("aabbab"), starts, starts + 1, methods=["svm"])


def test_figure_is_written(tmp_path):
    rng = np.random.default_rng(2)
    y = block_labels(60, rng)
    latents = rng.normal(size=(60, 2)) + (y == "old")[:, None]
    starts = np.arange(60, dtype=float)
    comparison = compare_decoders({"latents": latents}, y, starts, starts + 1.0)
    paths = plot_decoding(comparison, tmp_path / "figs")
    assert [p.name for p in paths] == ["decoding.png", "decoding.pdf"]
    for p in paths:
        assert p.is_file() and p.stat().st_size > 1000
