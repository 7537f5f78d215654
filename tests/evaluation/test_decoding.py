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
    DIFFERENCE_ANALYSIS,
    METRICS,
    balanced_contributions,
    binomial_p_value,
    compare_decoders,
    decoder_grid,
    mcnemar_exact,
    plot_decoding,
)
from nwb_tavrnn.evaluation.nulls import block_sign_flip_test
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
    comparison = compare_decoders({"latents": latents, "rates": rates}, y, starts, starts + 1.0, seed=0,
                                  n_permutations=49, methods=METHODS)
    return comparison, y, starts


#: The linear decoder on both inputs (its null is solved for every labelling at once), the random
#: forest on the rates (its null refitted per labelling, stopping early where it reaches nothing).
METHODS = ["linear_latents", "linear_rates", "random_forest_rates", "majority"]


def test_latents_beat_chance_and_their_null(known):
    comparison, y, _ = known
    assert comparison.methods == METHODS
    nir = max(Counter(y).values()) / len(y)
    assert comparison.metric("linear_latents", "nir") == pytest.approx(nir)
    assert comparison.metric("linear_latents", "chance") == 0.5
    ba = comparison.metric("linear_latents", "balanced_accuracy")
    assert ba > 0.8
    low, high = (comparison.metric("linear_latents", f"balanced_accuracy_ci_{k}") for k in ("low", "high"))
    assert low < ba < high and low > 0.6
    # nothing of 49 circular shifts reaches it: the smallest p-value of 49 random draws
    assert comparison.metric("linear_latents", "p_value") == pytest.approx(1 / 50)
    assert comparison.metric("linear_latents", "null_balanced_accuracy_95") < 0.75  # near chance, far below 0.8
    assert comparison.metric("linear_latents", "binomial_p_value_iid") < 1e-6
    pair = comparison.difference("linear_latents", "majority")
    majority = comparison.metric("majority", "balanced_accuracy")
    assert pair.difference == pytest.approx(ba - majority) and pair.ci_low > 0 and pair.p_value < 0.01
    assert pair.mcnemar_b > pair.mcnemar_c
    flipped = comparison.difference("majority", "linear_latents")
    assert flipped.difference == pytest.approx(-pair.difference) and flipped.ci_high == pytest.approx(-pair.ci_low)


def test_balanced_accuracy_and_contributions_match_scikit_learn(known):
    from sklearn.metrics import balanced_accuracy_score

    comparison, y, _ = known
    for method in comparison.methods:
        pred = comparison.predictions[method]
        assert comparison.metric(method, "balanced_accuracy") == pytest.approx(balanced_accuracy_score(y, pred))
        assert comparison.metric(method, "accuracy") == pytest.approx(np.mean(pred == y))
        assert balanced_contributions(y, pred == y).sum() == pytest.approx(balanced_accuracy_score(y, pred))


def test_majority_predicts_each_training_folds_most_frequent_class(known):
    comparison, y, starts = known
    folds = make_folds(starts, starts + 1.0, y, kind="blocked", n_splits=5)
    expected = np.empty(len(y), dtype=object)
    for train, test in folds:
        counts = Counter(y[train])
        expected[test] = min(counts, key=lambda c: (-counts[c], c))  # ties: the first of the sorted classes
    assert (comparison.predictions["majority"] == expected.astype(str)).all()
    assert comparison.metric("majority", "balanced_accuracy") <= 0.5 + 1e-12
    assert np.isnan(comparison.metric("majority", "p_value"))  # reads nothing: no null


def test_scores_long_format(known):
    comparison = known[0]
    s = comparison.scores
    assert list(s.columns) == ["method", "analysis", "metric", "seed", "value"]
    assert set(s.analysis) == {ANALYSIS}
    assert list(s[s.method == "random_forest_rates"].metric) == list(METRICS)
    assert comparison.metric("random_forest_rates", "n_tested") == 200
    assert comparison.metric("random_forest_rates", "n_permutations") < 49  # stopped early: no information
    full = comparison.to_scores()
    pairs = full[full.analysis == DIFFERENCE_ANALYSIS]
    assert len(pairs) == 7 * math.comb(len(METHODS), 2) == 7 * len(comparison.differences)
    assert "linear_latents_vs_majority" in set(pairs.method)
    assert list(full.columns) == list(s.columns)


def test_iid_p_values_match_hand_computations(known):
    comparison, y, _ = known
    pred = comparison.predictions["linear_latents"]
    correct = int(np.sum(pred == y))
    nir = max(Counter(y).values()) / len(y)
    assert comparison.metric("linear_latents", "binomial_p_value_iid") == pytest.approx(tail(correct, len(y), nir),
                                                                                        rel=1e-9)
    assert binomial_p_value(14, 20, 0.55) == pytest.approx(tail(14, 20, 0.55), rel=1e-12)
    # McNemar on constructed predictions: b = 7, c = 2, 11 concordant
    right_a = np.array([1] * 7 + [0] * 2 + [1] * 6 + [0] * 5, bool)
    right_b = np.array([0] * 7 + [1] * 2 + [1] * 6 + [0] * 5, bool)
    b, c, p = mcnemar_exact(right_a, right_b)
    assert (b, c) == (7, 2)
    assert p == pytest.approx(2 * sum(math.comb(9, k) for k in range(3)) / 2 ** 9, rel=1e-12)  # 0.1797
    assert mcnemar_exact(right_a, right_a) == (0, 0, 1.0)
    for row in comparison.differences.itertuples():
        ra, rb = comparison.predictions[row.method_a] == y, comparison.predictions[row.method_b] == y
        assert (row.mcnemar_b, row.mcnemar_c) == (int(np.sum(ra & ~rb)), int(np.sum(~ra & rb)))


def test_sign_flip_test_against_a_hand_enumeration():
    """Four blocks with sums 3, -1, 2, 0.5: the 16 sign patterns counted by hand."""
    d = np.array([1.0, 2.0, -1.0, 2.0, 0.5, 0.0])
    blocks = np.array([0, 0, 1, 2, 3, 3])
    res = block_sign_flip_test(d, blocks)
    sums = np.array([3.0, -1.0, 2.0, 0.5])
    stats = [abs(sum(s * v for s, v in zip(signs, sums))) for signs in itertools.product([-1, 1], repeat=4)]
    assert res.exact and res.n_blocks == 4 and res.difference == pytest.approx(4.5)
    assert res.p_value == pytest.approx(np.mean(np.array(stats) >= 4.5 - 1e-12)) == pytest.approx(6 / 16)
    assert res.min_p == pytest.approx(2 / 16)
    # blocks with no difference drop out; no difference at all is p = 1
    assert block_sign_flip_test(np.zeros(5), np.arange(5)).p_value == 1.0


def test_holm_against_a_hand_computation():
    from nwb_tavrnn.evaluation.decoding import holm

    # sorted 0.01, 0.02, 0.04, 0.5 -> 4*0.01, max(3*0.02, .), max(2*0.04, .), max(0.5, .)
    np.testing.assert_allclose(holm(np.array([0.04, 0.01, 0.5, 0.02])), [0.08, 0.04, 0.5, 0.06])


def test_intervals_are_balanced_accuracies_of_the_resamples():
    """Each bootstrap resample's balanced accuracy is recomputed from its own class mix: a perfect
    decoder's interval is exactly 1, a constant guess's exactly 1 / classes."""
    from nwb_tavrnn.evaluation.metrics import balanced_accuracy_interval

    rng = np.random.default_rng(8)
    y = block_labels(200, rng)
    assert balanced_accuracy_interval(y, np.ones(200, bool), 15) == (1.0, 1.0)
    assert balanced_accuracy_interval(y, y == "old", 15) == (0.5, 0.5)
    low, high = balanced_accuracy_interval(y, y == "old", 15, right_other=np.ones(200, bool))
    assert low == high == -0.5


def test_many_blocks_and_label_dependent_folds():
    rng = np.random.default_rng(9)
    res = block_sign_flip_test(rng.normal(size=1500) + 0.2, np.arange(1500), n_flips=2000)
    assert not res.exact and res.n_blocks == 1500 and res.p_value == pytest.approx(1 / 2001)
    y = block_labels(40, rng)
    starts = np.arange(40, dtype=float)
    with pytest.raises(ValueError, match="split='blocked'"):
        compare_decoders({"latents": rng.normal(size=(40, 2))}, y, starts, starts + 1, split="stratified",
                         methods=["linear_latents"])


def test_generic_refits_equal_the_batched_ridge():
    """The label null refits any scikit-learn classifier per labelling; with scikit-learn's own
    balanced RidgeClassifier it must give exactly the batched solver's predictions."""
    from sklearn.linear_model import RidgeClassifier

    from nwb_tavrnn.evaluation.metrics import fold_features, predict_labels

    rng = np.random.default_rng(4)
    y = block_labels(60, rng, classes=("a", "b", "c"))
    codes = np.unique(y, return_inverse=True)[1]
    x = rng.normal(size=(60, 5)) + codes[:, None] * 0.3
    starts = np.arange(60, dtype=float)
    prepared = fold_features(x, make_folds(starts, starts + 1, y))
    labellings = np.array([rng.permutation(codes) for _ in range(4)])
    batched = predict_labels(prepared, labellings, 3, "ridge")
    refitted = predict_labels(prepared, labellings, 3, lambda seed: RidgeClassifier(alpha=1.0))
    assert np.array_equal(batched, refitted)


def test_fold_inputs_are_prepared_once_per_fold_on_its_training_segments():
    rng = np.random.default_rng(5)
    n = 80
    y = block_labels(n, rng)
    starts = np.arange(n, dtype=float)
    seen = []

    def latent_input(train, test):  # stands in for a model fitted on the training segments
        seen.append((train.copy(), test.copy()))
        signal = (y == "old").astype(float)
        return signal[train, None] + rng.normal(size=(len(train), 2)), signal[test, None] + rng.normal(size=(len(test), 2))

    comparison = compare_decoders({"latents": latent_input}, y, starts, starts + 1, n_permutations=4,
                                  methods=decoder_grid(["latents"], ["linear", "random_forest"]))
    assert len(seen) == len(comparison.folds) == 5  # not once per permutation or method
    for (train, test), (ftrain, ftest) in zip(seen, comparison.folds):
        assert np.array_equal(train, ftrain) and np.array_equal(test, ftest)
    assert comparison.metric("linear_latents", "balanced_accuracy") > 0.6
    assert {"input:latents", "fit:random_forest_latents", "null:random_forest_latents"} <= set(comparison.seconds)


def test_segments_out_of_time_order_are_decoded_as_in_time_order():
    rng = np.random.default_rng(6)
    n = 60
    y = block_labels(n, rng)
    x = rng.normal(size=(n, 3)) + (y == "old")[:, None]
    starts = np.arange(n, dtype=float)
    perm = rng.permutation(n)
    a = compare_decoders({"latents": x}, y, starts, starts + 1, methods=["linear_latents"], n_permutations=19)
    b = compare_decoders({"latents": x[perm]}, y[perm], starts[perm], starts[perm] + 1, methods=["linear_latents"],
                         n_permutations=19)
    assert np.array_equal(a.predictions["linear_latents"][perm], b.predictions["linear_latents"])
    assert a.metric("linear_latents", "p_value") == b.metric("linear_latents", "p_value")


def test_folds_never_share_time_between_training_and_testing():
    rng = np.random.default_rng(7)
    n, gap = 100, 1.0
    starts = np.arange(n, dtype=float)
    stops = starts + 2.5  # every segment overlaps two neighbours on each side
    y = block_labels(n, rng)
    calls = []

    def spy(train, test):  # a fold input sees exactly the segments the decoders are fitted and tested on
        calls.append((train, test))
        return rng.normal(size=(len(train), 2)), rng.normal(size=(len(test), 2))

    comparison = compare_decoders({"index": spy, "latents": rng.normal(size=(n, 2))}, y, starts, stops,
                                  purge_gap=gap, methods={"spy": ("index", "ridge"), **DECODERS}, n_permutations=0)
    assert comparison.methods == ["spy", "linear_latents", "random_forest_latents", "mlp_latents", "majority"]
    folds = comparison.folds
    assert folds.kind == "blocked" and folds.purged > 0  # the overlap made the purge drop training segments
    assert len(calls) == len(folds)
    assert np.array_equal(np.sort(np.concatenate([t for _, t in calls])), np.arange(n))  # each tested once
    for train, test in calls:
        near = (starts[train][:, None] < stops[test][None, :] + gap) & (stops[train][:, None] > starts[test][None, :] - gap)
        assert not near.any()
    again = make_folds(starts, stops, y, kind="blocked", n_splits=5, purge_gap=gap)
    for a, b in itertools.chain(zip(folds.train, again.train), zip(folds.test, again.test)):
        assert np.array_equal(a, b)


def test_one_class_training_fold_predicts_that_class():
    y = np.array(["a", "a"] + ["b"] * 8)
    starts = np.arange(10, dtype=float)
    rng = np.random.default_rng(0)
    comparison = compare_decoders({"latents": rng.normal(size=(10, 2)), "rates": rng.normal(size=(10, 3))}, y,
                                  starts, starts + 1.0, methods=["linear_latents", "random_forest_rates", "mlp_rates"],
                                  n_permutations=0)
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
                         methods=["linear_latents"])
    with pytest.raises(ValueError, match="null must be"):
        compare_decoders({"latents": np.zeros((6, 2))}, list("aabbab"), starts, starts + 1, null="shuffle")
    with pytest.raises(ValueError, match="unknown"):
        compare_decoders({}, list("aabbab"), starts, starts + 1, methods=["svm"])


def test_figure_is_written(tmp_path):
    rng = np.random.default_rng(2)
    y = block_labels(60, rng)
    latents = rng.normal(size=(60, 2)) + (y == "old")[:, None]
    starts = np.arange(60, dtype=float)
    comparison = compare_decoders({"latents": latents}, y, starts, starts + 1.0, n_permutations=19,
                                  methods=["linear_latents", "majority"])
    paths = plot_decoding(comparison, tmp_path / "figs")
    assert [p.name for p in paths] == ["decoding.png", "decoding.pdf"]
    for p in paths:
        assert p.is_file() and p.stat().st_size > 1000


def test_null_refits_in_threads_equal_one_thread_and_stop_where_besag_clifford_says():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(10)
    n = 80
    y = block_labels(n, rng)
    starts = np.arange(n, dtype=float)
    features = {"weak": rng.normal(size=(n, 3)) + 0.2 * (y == "old")[:, None], "none": rng.normal(size=(n, 3))}
    methods = {"weak": ("weak", lambda seed: LogisticRegression()), "none": ("none", lambda seed: LogisticRegression())}
    runs = [compare_decoders(features, y, starts, starts + 1, methods=methods, n_permutations=60, n_jobs=jobs)
            for jobs in (1, 2)]
    for method in methods:
        assert runs[0].metric(method, "p_value") == runs[1].metric(method, "p_value")
        assert runs[0].metric(method, "n_permutations") == runs[1].metric(method, "n_permutations")
    # no information: stopped at the 5th null score reaching the observed one, p = 5 / drawn
    drawn = runs[0].metric("none", "n_permutations")
    assert drawn < 60 and runs[0].metric("none", "p_value") == pytest.approx(5 / drawn)
