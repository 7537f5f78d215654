"""Decoding behaviour from latents, beside competitors, on the same time-respecting folds, with
tests that stay valid when neighbouring segments are not independent.

A model's latents, summarised per segment (a trial, or a continuous stretch of time), are used to
predict a behavioural label of that segment (e.g. the old/new response), beside competitors that
read firing rates. Every method is fitted and tested on the *same* folds
(:func:`~nwb_tavrnn.evaluation.splits.make_folds`: contiguous in time and purged by default).

**Inputs** are arrays (one row of features per segment) or *fold inputs*: callables
``(train, test) -> (x_train, x_test)`` computed once per fold, e.g. a Seq2seq fitted on the fold's
training segments and the latent features of both sets under that model. Every input is
standardised inside each fold (fitted on the training segments).

**Decoders** are class-balanced, so a fold whose class mix differs from the training folds' (the
rule under blocked folds) does not push predictions towards the training majority: ``linear`` is
the evaluation's balanced ridge classifier (solved for every labelling at once), ``random_forest``
and ``mlp`` are fitted with balanced sample weights. The headline score is the **balanced
accuracy** (mean recall of the classes; 1 / classes for a decoder without information, whatever
the class mix).

**Tests.**

* Each decoder: a *label null* that keeps the labels' temporal structure
  (:func:`~nwb_tavrnn.evaluation.nulls.label_null`: the label sequence circularly shifted by
  default, which keeps its autocorrelation exactly; or whole label blocks permuted, valid but
  conservative for runs of alternating classes; or single trials permuted, for a randomised
  design); for every
  null labelling the decoder is refitted on the same folds and the same fold features (the
  model producing the latents never sees a label, so nothing else is refitted). This is the
  mechanism of the window evaluation (:func:`~nwb_tavrnn.evaluation.metrics.permutation_test`).
* Each pair of methods: the difference of balanced accuracies with a paired block-bootstrap
  interval and a two-sided block sign-flip p-value
  (:func:`~nwb_tavrnn.evaluation.nulls.block_sign_flip_test`) over the null's blocks.
* Descriptive only, labelled ``_iid``: the exact binomial test against the no-information rate and
  McNemar's test, which assume independent segments. On autocorrelated labels with drifting
  features they reject far more often than their level (tests/evaluation/test_decoding_calibration.py).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Union

import numpy as np
import pandas as pd
from scipy import stats

from .metrics import (
    ClassifierSpec,
    FoldFeatures,
    _encode,
    balanced_accuracy_interval,
    fold_features,
    permutation_test,
    predict_labels,
)
from .nulls import NULLS, block_sign_flip_test, label_null
from .splits import Folds, label_blocks, make_folds

log = logging.getLogger(__name__)

ANALYSIS = "behaviour_decoding"
DIFFERENCE_ANALYSIS = "behaviour_decoding_difference"
#: The score every test is about: the mean recall of the classes.
HEADLINE = "balanced_accuracy"
METRICS = ("accuracy", "balanced_accuracy", "balanced_accuracy_ci_low", "balanced_accuracy_ci_high", "chance",
           "nir", "n_tested", "null_balanced_accuracy_mean", "null_balanced_accuracy_95", "n_permutations",
           "testable", "p_value", "binomial_p_value_iid")
#: Refits of a one-labelling-at-a-time decoder stop once this many null scores reach the observed one.
STOP_AFTER = 5

#: A fold input: (training indices, test indices) -> (training features, test features).
FoldInput = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class Decoder(NamedTuple):
    """A decoding method: which input of ``features`` it reads, and its classifier.

    ``classifier`` is ``"ridge"`` (the balanced ridge, every labelling at once), ``"logistic"``, a
    factory ``seed -> unfitted scikit-learn classifier`` (fitted with balanced sample weights), or
    ``"majority"`` (the training fold's most frequent class; reads no features: ``feature`` None).
    """

    feature: str | None
    classifier: Union[str, Callable[[int], Any]]


def _random_forest(seed: int):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=100, random_state=seed)


def _mlp(seed: int):
    from sklearn.neural_network import MLPClassifier

    # no early stopping: its validation split would be a shuffled (time-mixing) subset of the training fold
    return MLPClassifier(hidden_layer_sizes=(64, 64), early_stopping=False, max_iter=300, random_state=seed)


#: Classifier families of the default grid (name -> classifier of :class:`Decoder`).
FAMILIES: dict[str, ClassifierSpec] = {"linear": "ridge", "random_forest": _random_forest, "mlp": _mlp}


def decoder_grid(inputs: Sequence[str], families: Sequence[str] = tuple(FAMILIES),
                 majority: bool = True) -> dict[str, Decoder]:
    """Every family on every input, named ``FAMILY_INPUT`` (e.g. ``random_forest_source_rates``),
    plus the majority class: the like-for-like comparison (the same decoders on every input)."""
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown decoder families {unknown}; known: {', '.join(FAMILIES)}")
    out = {f"{family}_{name}": Decoder(name, FAMILIES[family]) for name in inputs for family in families}
    if majority:
        out["majority"] = Decoder(None, "majority")
    return out


#: The methods compared by default: the three families on ``latents`` and on ``rates``, and the majority.
DECODERS: dict[str, Decoder] = decoder_grid(("latents", "rates"))


@dataclass
class DecodingComparison:
    """Out-of-fold predictions of every method on the same folds, their scores and tests.

    Attributes
    ----------
    predictions
        Method -> predicted label of every segment.
    labels, classes
        The segments' labels (as strings) and the sorted distinct labels.
    scores
        Long format (method, analysis, metric, seed, value), analysis ``behaviour_decoding``,
        metrics :data:`METRICS` (``p_value``: the label null of the balanced accuracy, absent when
        the null allows no valid test; ``binomial_p_value_iid``: descriptive, assumes independent
        segments).
    differences
        One row per pair of methods: method_a, method_b, difference (balanced accuracy A − B),
        ci_low, ci_high (paired block bootstrap), p_value (block sign flip, two-sided),
        p_value_holm (Holm's adjustment over all pairs), n_blocks, mcnemar_b, mcnemar_c,
        mcnemar_p_value_iid (descriptive).
    folds
        The folds every method was fitted and tested on.
    inputs
        Method -> the key of ``features`` it read (None for the majority class).
    protocol
        One line each: folds, label null, paired test, interval.
    seconds
        ``input:NAME`` -> seconds to prepare that input over the folds; ``fit:METHOD`` and
        ``null:METHOD`` -> seconds of the observed fits and of the null refits.

    Shapes
    ------
    predictions[method], labels : (segments,)
    classes : (classes,)
    """

    predictions: dict[str, np.ndarray]
    labels: np.ndarray
    classes: np.ndarray
    scores: pd.DataFrame
    differences: pd.DataFrame
    folds: Folds
    inputs: dict[str, str | None]
    protocol: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def methods(self) -> list[str]:
        """The methods that were run, in order."""
        return list(self.predictions)

    @property
    def tested(self) -> np.ndarray:
        """Every segment is tested once (the folds :func:`make_folds` makes)."""
        return np.ones(len(self.labels), dtype=bool)

    def metric(self, method: str, metric: str) -> float:
        """One score, e.g. ``metric("linear_latents", "p_value")`` (NaN when absent)."""
        s = self.scores
        value = s[(s.method == method) & (s.metric == metric)]["value"]
        if value.empty:
            if method not in self.predictions:
                raise KeyError(f"no method {method!r}; run: {', '.join(self.predictions)}")
            return float("nan")
        return float(value.iloc[0])

    def difference(self, method_a: str, method_b: str) -> pd.Series:
        """The paired comparison of two methods (signs follow the order asked for)."""
        d = self.differences
        row = d[(d.method_a == method_a) & (d.method_b == method_b)]
        if len(row):
            return row.iloc[0]
        row = d[(d.method_a == method_b) & (d.method_b == method_a)]
        if row.empty:
            raise KeyError(f"no comparison of {method_a!r} and {method_b!r}")
        flipped = row.iloc[0].copy()
        flipped["method_a"], flipped["method_b"] = method_a, method_b
        flipped["difference"] = -row.iloc[0]["difference"]
        flipped["ci_low"], flipped["ci_high"] = -row.iloc[0]["ci_high"], -row.iloc[0]["ci_low"]
        flipped["mcnemar_b"], flipped["mcnemar_c"] = row.iloc[0]["mcnemar_c"], row.iloc[0]["mcnemar_b"]
        return flipped

    def to_scores(self) -> pd.DataFrame:
        """The scores plus, per pair (method ``"a_vs_b"``, analysis ``behaviour_decoding_difference``),
        the difference, its interval, its sign-flip p-value and McNemar's (``_iid``), in the long
        format of EvaluationScores (columns method, analysis, metric, seed, value)."""
        seed = int(self.scores["seed"].iloc[0]) if len(self.scores) else -1
        rows = []
        for r in self.differences.itertuples():
            for metric, value in (("balanced_accuracy_difference", r.difference), ("ci_low", r.ci_low),
                                  ("ci_high", r.ci_high), ("p_value", r.p_value), ("p_value_holm", r.p_value_holm),
                                  ("n_blocks", r.n_blocks),
                                  ("mcnemar_p_value_iid", r.mcnemar_p_value_iid)):
                rows.append({"method": f"{r.method_a}_vs_{r.method_b}", "analysis": DIFFERENCE_ANALYSIS,
                             "metric": metric, "seed": seed, "value": float(value)})
        return pd.concat([self.scores, pd.DataFrame(rows, columns=self.scores.columns)], ignore_index=True)


def binomial_p_value(correct: int, n: int, nir: float) -> float:
    """One-sided exact binomial p-value of an accuracy against the no-information rate.

    P(X >= correct) for X ~ Binomial(n, nir): how often a classifier no better than always
    guessing the largest class would be right this often, *if segments were independent*
    (descriptive only: neighbouring segments of a recording are not).
    """
    if n == 0:
        return float("nan")
    return float(stats.binomtest(int(correct), int(n), float(nir), alternative="greater").pvalue)


def mcnemar_exact(right_a: np.ndarray, right_b: np.ndarray) -> tuple[int, int, float]:
    """Exact McNemar test of two classifiers on the same segments (assumes independent segments).

    Only the discordant segments count: b where A is right and B wrong, c the reverse; under the
    null of equal accuracy each discordant segment goes either way with probability 1/2, so the
    two-sided p-value is that of a binomial test of b out of b + c at 0.5 (1 when b + c = 0).

    Shapes
    ------
    right_a, right_b : (segments,) bool, whether each method was right on each segment
    """
    right_a, right_b = np.asarray(right_a, bool), np.asarray(right_b, bool)
    b = int(np.sum(right_a & ~right_b))
    c = int(np.sum(~right_a & right_b))
    p = 1.0 if b + c == 0 else float(stats.binomtest(b, b + c, 0.5).pvalue)
    return b, c, p


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (controls the family-wise error rate
    under any dependence between the tests).

    Shapes
    ------
    p_values : (tests,) -> (tests,)
    """
    p = np.asarray(p_values, float)
    order = np.argsort(p)
    m = len(p)
    adjusted = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


def balanced_contributions(truth: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Each segment's share of the balanced accuracy: ``right_i / (classes · n_{class of i})``, so
    the shares sum to the balanced accuracy.

    Shapes
    ------
    truth, right : (segments,) -> (segments,)
    """
    _, inverse, counts = np.unique(truth, return_inverse=True, return_counts=True)
    return np.asarray(right, float) / (len(counts) * counts[inverse])


def _resolve(methods: Mapping[str, Decoder | tuple] | Sequence[str] | None) -> dict[str, Decoder]:
    if methods is None:
        return dict(DECODERS)
    if isinstance(methods, Mapping):
        return {str(k): Decoder(*v) for k, v in methods.items()}
    unknown = [m for m in methods if m not in DECODERS]
    if unknown:
        raise ValueError(f"unknown decoding methods {unknown}; known: {', '.join(DECODERS)} "
                         "(pass a mapping name -> (feature key, classifier) for others)")
    return {m: DECODERS[m] for m in methods}


def prepare_input(value: np.ndarray | FoldInput, folds: Folds) -> list[FoldFeatures]:
    """One input's features in every fold, standardised on the fold's training segments.

    An array is cut by the folds; a fold input is called once per fold. Features that are not
    finite on some training segment are dropped (decided on the training segments alone); a
    non-finite test value becomes 0 (the training mean) after standardisation.

    Shapes
    ------
    value : (segments, ...) flattened to (segments, features), or a FoldInput
    """
    from sklearn.preprocessing import StandardScaler

    if not callable(value):
        return fold_features(value, folds)
    out = []
    for train, test in folds:
        x_train, x_test = value(np.asarray(train), np.asarray(test))
        x_train = np.asarray(x_train, float).reshape(len(train), -1)
        x_test = np.asarray(x_test, float).reshape(len(test), -1)
        finite = np.isfinite(x_train).all(axis=0)
        x_train, x_test = x_train[:, finite], x_test[:, finite]
        scaler = StandardScaler().fit(x_train)
        x_test = np.where(np.isfinite(x_test), x_test, scaler.mean_)
        out.append(FoldFeatures(np.asarray(train), np.asarray(test), scaler.transform(x_train),
                                scaler.transform(x_test)))
    return out


def _majority(folds: Folds, codes: np.ndarray) -> np.ndarray:
    pred = np.full(len(codes), -1, dtype=int)
    for train, test in folds:
        pred[test] = np.bincount(codes[train]).argmax()  # ties: the first of the sorted classes
    return pred


def compare_decoders(features: Mapping[str, np.ndarray | FoldInput], labels: Sequence, starts: Sequence[float],
                     stops: Sequence[float], *, n_splits: int = 5, purge_gap: float = 0.0, split: str = "blocked",
                     seed: int = 0, methods: Mapping[str, Decoder | tuple] | Sequence[str] | None = None,
                     null: str = "circular_shift", n_permutations: int = 100, blocks: Sequence | None = None,
                     alpha: float = 0.05, n_boot: int = 2000, stop_after: int | None = STOP_AFTER,
                     n_jobs: int | None = 1, on_input: Callable[[str], None] | None = None) -> DecodingComparison:
    """Decode the segments' labels with every method on the same folds; test each against a label
    null and every pair against each other (see the module docstring).

    Parameters
    ----------
    features
        Input name -> per-segment features (an array), or a fold input (see :data:`FoldInput`),
        e.g. ``{"latents": fit_and_summarise, "rates": R}``. A method whose input is missing is
        skipped (logged).
    labels
        Behavioural label of every segment (compared as strings; every segment must be labelled).
    starts, stops
        Segment times in seconds: the folds follow time order and drop training segments that
        overlap a test segment or lie within ``purge_gap`` of one.
    n_splits, purge_gap, split, seed
        Passed to :func:`~nwb_tavrnn.evaluation.splits.make_folds` (``split`` is its ``kind``);
        ``seed`` also seeds the estimators, the null and the bootstrap.
    methods
        None: :data:`DECODERS`. A sequence of names of :data:`DECODERS`. A mapping name ->
        ``Decoder(feature key, classifier)`` (or a plain tuple), e.g. :func:`decoder_grid`.
    null, n_permutations, blocks, alpha
        The label null (:data:`~nwb_tavrnn.evaluation.nulls.NULLS`; ``iid`` for trials of a
        randomised design), its labellings (0: no null), the design block of every segment
        (default: runs of equal labels) and the level at which a null must be able to reject.
        The blocks are also the units of the paired sign-flip test and about the length of the
        bootstrap's blocks.
    n_boot
        Bootstrap resamples of the intervals.
    stop_after
        Sequential stopping of the null of decoders refitted one labelling at a time
        (:func:`~nwb_tavrnn.evaluation.metrics.permutation_test`); None refits every labelling.
    n_jobs
        Threads refitting the null labellings of decoders fitted one labelling at a time (-1 or
        None: every core); the results do not depend on it.
    on_input
        Called with an input's name before it is prepared (progress of slow fold inputs).

    Returns
    -------
    DecodingComparison

    Shapes
    ------
    features[key] : (segments, ...) or a FoldInput
    labels, starts, stops, blocks : (segments,)

    Raises
    ------
    ValueError
        When a feature array, the labels and the times disagree in length, a label is missing,
        or no method has its input.
    """
    y = np.asarray(labels, dtype=object)
    if y.ndim != 1:
        raise ValueError(f"labels must be one per segment, got shape {y.shape}")
    if pd.isna(y).any():
        raise ValueError("every segment needs a label; drop unlabelled segments first")
    n = len(y)
    if len(starts) != n or len(stops) != n:
        raise ValueError(f"{n} labels but {len(starts)} starts and {len(stops)} stops")
    if null not in NULLS:
        raise ValueError(f"null must be one of {', '.join(NULLS)}, got {null!r}")
    if int(n_permutations) < 0:
        raise ValueError(f"n_permutations must be >= 0, got {n_permutations}")
    # a null labelling must be scored on folds that do not depend on the observed labels
    if n_permutations and (split == "stratified" or (split == "label_blocks" and null != "block_permutation")):
        raise ValueError(f"split {split!r} builds folds from the observed labels, which a {null} null does not keep: "
                         "use split='blocked'" + (" (or label_blocks with null='block_permutation')"
                                                  if split == "label_blocks" else ""))
    chosen = _resolve(methods)
    for key, value in features.items():
        if not callable(value) and len(value) != n:
            raise ValueError(f"features[{key!r}] has {len(value)} rows for {n} segments")
    run = {}
    for name, dec in chosen.items():
        if dec.feature is not None and dec.feature not in features:
            log.info("decoding: skipping %s (no %r features given)", name, dec.feature)
            continue
        run[name] = dec
    if not run:
        raise ValueError(f"no decoding method has its input among the features given ({', '.join(features)})")

    # time order throughout: the null's blocks, the bootstrap and the sign flips run along time
    order = np.argsort(np.asarray(starts, float), kind="stable")
    if not np.array_equal(order, np.arange(n)):
        ordered = {k: (_reindexed(v, order) if callable(v) else np.asarray(v)[order]) for k, v in features.items()}
        result = compare_decoders(
            ordered, y[order], np.asarray(starts, float)[order], np.asarray(stops, float)[order], n_splits=n_splits,
            purge_gap=purge_gap, split=split, seed=seed, methods=run, null=null, n_permutations=n_permutations,
            blocks=None if blocks is None else np.asarray(blocks)[order], alpha=alpha, n_boot=n_boot,
            stop_after=stop_after, n_jobs=n_jobs, on_input=on_input)
        return _unordered(result, order)

    classes, codes = _encode(y)
    y = classes[codes]
    design = np.unique(np.asarray(blocks), return_inverse=True)[1] if blocks is not None else label_blocks(y)
    folds = make_folds(starts, stops, y, kind=split, n_splits=n_splits, purge_gap=purge_gap, seed=seed,
                       blocks=design)
    log.info("decoding: %s", folds.describe())
    labelling = label_null(y, null, int(n_permutations), seed, alpha, blocks=design) if n_permutations else None
    units = np.arange(n) if null == "iid" else design  # what the sign flips and the bootstrap keep together
    n_units = len(np.unique(units))
    boot_block = int(np.clip(round(n / n_units), 1, max(1, n // 4)))
    if labelling is not None and not labelling.testable:
        log.warning("decoding: no valid label test: %s", labelling.reason)

    seconds: dict[str, float] = {}
    prepared: dict[str, list[FoldFeatures]] = {}
    for key in dict.fromkeys(dec.feature for dec in run.values() if dec.feature is not None):
        if on_input:
            on_input(key)
        started = time.perf_counter()
        prepared[key] = prepare_input(features[key], folds)
        seconds[f"input:{key}"] = time.perf_counter() - started

    nir = float(np.bincount(codes, minlength=len(classes)).max() / n)
    predicted: dict[str, np.ndarray] = {}
    rows = []
    for name, dec in run.items():
        started = time.perf_counter()
        if dec.classifier == "majority":
            pred = _majority(folds, codes)
        else:
            pred = predict_labels(prepared[dec.feature], codes[None, :], len(classes), dec.classifier, seed=seed)[0]
        seconds[f"fit:{name}"] = time.perf_counter() - started
        predicted[name] = pred
        right = pred == codes
        shares = balanced_contributions(codes, right)
        low, high = balanced_accuracy_interval(codes, right, boot_block, n_boot=n_boot, seed=seed)
        values = {"accuracy": float(right.mean()), "balanced_accuracy": float(shares.sum()),
                  "balanced_accuracy_ci_low": low, "balanced_accuracy_ci_high": high,
                  "chance": 1.0 / len(classes), "nir": nir, "n_tested": float(n)}
        if labelling is not None and dec.classifier != "majority":  # the majority class reads nothing to test
            started = time.perf_counter()
            perm = permutation_test(None, y, None, labelling, dec.classifier, seed=seed, statistic=HEADLINE,
                                    prepared=prepared[dec.feature], stop_after=stop_after,
                                    observed=float(shares.sum()), skip_untestable=True, n_jobs=n_jobs)
            seconds[f"null:{name}"] = time.perf_counter() - started
            drawn = len(perm.null) > 0
            values.update({"null_balanced_accuracy_mean": float(np.mean(perm.null)) if drawn else np.nan,
                           "null_balanced_accuracy_95": float(np.quantile(perm.null, 0.95)) if drawn else np.nan,
                           "n_permutations": float(len(perm.null)), "testable": float(perm.testable)})
            if perm.testable:
                values["p_value"] = perm.p_value
        values["binomial_p_value_iid"] = binomial_p_value(int(right.sum()), n, nir)
        rows += [{"method": name, "analysis": ANALYSIS, "metric": k, "seed": int(seed), "value": float(v)}
                 for k, v in values.items()]
        log.info("decoding: %s balanced accuracy %.3f [%.3f, %.3f] (chance %.3f; label-null p = %s)", name,
                 values["balanced_accuracy"], low, high, 1.0 / len(classes),
                 f"{values['p_value']:.3g}" if "p_value" in values else "n/a")

    pairs = []
    for a, b in itertools.combinations(predicted, 2):
        right_a, right_b = predicted[a] == codes, predicted[b] == codes
        d = balanced_contributions(codes, right_a) - balanced_contributions(codes, right_b)
        test = block_sign_flip_test(d, units, seed=seed)
        low, high = balanced_accuracy_interval(codes, right_a, boot_block, right_other=right_b, n_boot=n_boot,
                                               seed=seed)
        nb, nc, p_iid = mcnemar_exact(right_a, right_b)
        pairs.append({"method_a": a, "method_b": b, "difference": test.difference, "ci_low": low, "ci_high": high,
                      "p_value": test.p_value, "n_blocks": test.n_blocks, "mcnemar_b": nb, "mcnemar_c": nc,
                      "mcnemar_p_value_iid": p_iid})

    differences = pd.DataFrame(pairs, columns=["method_a", "method_b", "difference", "ci_low", "ci_high", "p_value",
                                               "n_blocks", "mcnemar_b", "mcnemar_c", "mcnemar_p_value_iid"])
    differences.insert(6, "p_value_holm", holm(differences["p_value"].to_numpy(float)))
    protocol = {
        "split": folds.describe(),
        "label_null": (labelling.describe() + ("" if labelling.testable else f"; not testable: {labelling.reason}")
                       if labelling is not None else "not run (n_permutations = 0)"),
        "statistic": "balanced accuracy (mean recall of the classes); decoders class-balanced",
        "paired_test": (f"two-sided sign flip of the balanced-accuracy difference over {n_units} "
                        + ("segments (a randomised design)" if null == "iid" else "label blocks")
                        + f"; p_value_holm: Holm's adjustment over the {len(differences)} pairs"),
        "interval": (f"95 % circular block bootstrap (blocks of {boot_block} segments) of the out-of-fold "
                     "balanced accuracy; covers the sampling of segments, not refitting"),
        "iid_tests": "binomial_p_value_iid and mcnemar_p_value_iid assume independent segments (descriptive)",
    }
    return DecodingComparison(
        predictions={name: classes[pred] for name, pred in predicted.items()}, labels=y, classes=classes,
        scores=pd.DataFrame(rows, columns=["method", "analysis", "metric", "seed", "value"]),
        differences=differences,
        folds=folds, inputs={name: dec.feature for name, dec in run.items()}, protocol=protocol, seconds=seconds)


def _reindexed(fold_input: FoldInput, order: np.ndarray) -> FoldInput:
    """A fold input over segments given in ``order`` (time order) instead of their original order."""
    return lambda train, test: fold_input(order[train], order[test])


def _unordered(result: DecodingComparison, order: np.ndarray) -> DecodingComparison:
    """A comparison computed in time order, with segment-indexed results back in the caller's order."""
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    result.predictions = {k: v[back] for k, v in result.predictions.items()}
    result.labels = result.labels[back]
    folds = result.folds
    result.folds = Folds(folds.kind, [np.sort(order[t]) for t in folds.train], [np.sort(order[t]) for t in folds.test],
                         folds.purge_gap, folds.purged)
    return result


def plot_decoding(comparison: DecodingComparison, folder: str | Path, stem: str = "decoding") -> list[Path]:
    """Bar chart of each method's balanced accuracy with its block-bootstrap interval, chance as a
    horizontal line, each label null's 95th percentile as a tick, and the label-null p-value above
    each bar; saved as PNG and PDF.

    Returns
    -------
    list[Path]
        The files written (``folder/stem.png``, ``folder/stem.pdf``).
    """
    from ..plots import pyplot, save_figure

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plt = pyplot()
    names = comparison.methods
    ba = np.array([comparison.metric(m, HEADLINE) for m in names])
    low = np.array([comparison.metric(m, "balanced_accuracy_ci_low") for m in names])
    high = np.array([comparison.metric(m, "balanced_accuracy_ci_high") for m in names])
    chance = comparison.metric(names[0], "chance")
    fig, ax = plt.subplots(figsize=(1.6 + 0.7 * len(names), 3.8))
    # grey for a method that reads no features (the majority class): a reference, not a decoder
    colours = ["tab:gray" if comparison.inputs.get(m) is None else "tab:blue" for m in names]
    x = np.arange(len(names))
    ax.bar(x, ba, color=colours, yerr=np.vstack([ba - low, high - ba]).clip(min=0), capsize=2, ecolor="0.3")
    ax.axhline(chance, ls="--", color="k", lw=1, label=f"chance ({chance:.2f})")
    null95 = np.array([comparison.metric(m, "null_balanced_accuracy_95") for m in names])
    shown = np.isfinite(null95)
    if shown.any():
        ax.scatter(x[shown], null95[shown], marker="_", s=200, color="tab:red", label="label null, 95th percentile")
    for k, m in enumerate(names):
        p = comparison.metric(m, "p_value")
        if np.isfinite(p):
            top = np.nanmax([high[k], null95[k]])  # above the interval and the null's tick
            ax.text(k, min(top, 1.0) + 0.02, f"p={p:.2g}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, names, rotation=35, ha="right", fontsize=7)
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("out-of-fold balanced accuracy")
    ax.legend(loc="lower right", fontsize=7)
    ax.set_title(f"Behaviour decoding, {len(comparison.folds)}-fold {comparison.folds.kind} "
                 f"({len(comparison.labels)} segments); p: label null", fontsize=8)
    return save_figure(fig, folder, stem)


__all__ = ["ANALYSIS", "DECODERS", "DIFFERENCE_ANALYSIS", "FAMILIES", "HEADLINE", "METRICS", "Decoder",
           "DecodingComparison", "FoldInput", "balanced_contributions", "binomial_p_value", "compare_decoders",
           "decoder_grid", "holm", "mcnemar_exact", "plot_decoding", "prepare_input"]
