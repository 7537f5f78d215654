"""Decoding behaviour from latents, beside competitors, on the same time-respecting folds.

A Seq2seq model's latents, summarised per segment (a trial, or a continuous stretch of time),
are used to predict a behavioural label of that segment (e.g. the old/new response). The seed
project compared this "latents -> behaviour" decoder with a random forest and a deep neural
network on firing rates, and with a majority-class model, and reported accuracy against the
no-information rate (NIR; caret's term: the proportion of the largest class). Here that is done
soundly:

* every method is fitted and tested on the *same* folds (:func:`~nwb_tavrnn.evaluation.splits.make_folds`),
  which by default are contiguous in time and purged, so no test segment shares time with a
  training segment of its fold;
* accuracy is tested against the NIR with a one-sided exact binomial test,
  P(X >= correct | n tested, NIR);
* every pair of methods is compared with an exact McNemar test on the same tested segments.

The binomial and McNemar tests treat segments as independent trials. Neighbouring segments of a
continuous recording often err together, which makes both p-values too small; for such data the
label-permutation null of :mod:`.metrics` (whole label blocks moved) is the stricter test.
"""

from __future__ import annotations

import itertools
import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .metrics import _encode
from .splits import Folds, make_folds

log = logging.getLogger(__name__)

ANALYSIS = "behaviour_decoding"
METRICS = ("accuracy", "balanced_accuracy", "nir", "binomial_p_value", "n_tested")


class Decoder(NamedTuple):
    """A decoding method: which input of ``features`` it reads, and a factory of its (unfitted)
    scikit-learn estimator given the seed.

    ``feature`` None means the method reads no features (the majority-class model).
    """

    feature: str | None
    factory: Callable[[int], Any]


def _latent_logistic(seed: int):
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000, random_state=seed))


def _random_forest(seed: int):
    return RandomForestClassifier(n_estimators=200, random_state=seed)


def _mlp(seed: int):
    # no early stopping: its validation split would be a shuffled (time-mixing) subset of the training fold
    return make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(64, 64), early_stopping=False,
                                                         max_iter=500, random_state=seed))


def _majority(seed: int):
    return DummyClassifier(strategy="most_frequent")


#: The methods compared by default (name -> Decoder). ``rates`` are the seed project's competitor
#: input: the source and target regions' firing rates per segment.
DECODERS: dict[str, Decoder] = {
    "latent_logistic": Decoder("latents", _latent_logistic),
    "random_forest": Decoder("rates", _random_forest),
    "mlp": Decoder("rates", _mlp),
    "majority": Decoder(None, _majority),
}


@dataclass
class DecodingComparison:
    """Out-of-fold predictions of every method on the same folds, their scores and paired tests.

    Attributes
    ----------
    predictions
        Method -> predicted label of every segment; entries where ``tested`` is False are ``""``
        and mean nothing.
    tested
        Segments that were in a test fold (all of them for the folds :func:`make_folds` makes).
    labels
        The segments' labels (as strings, like the rest of the evaluation).
    classes
        The sorted distinct labels.
    scores
        Long format (method, analysis, metric, seed, value), analysis ``behaviour_decoding``,
        metrics accuracy, balanced_accuracy, nir, binomial_p_value, n_tested.
    mcnemar
        One row per pair of methods: method_a, method_b, b (A right, B wrong), c (A wrong, B right),
        p_value (exact, two-sided).
    folds
        The folds every method was fitted and tested on.
    inputs
        Method -> the key of ``features`` it read (None for the majority-class model).

    Shapes
    ------
    predictions[method], tested, labels : (segments,)
    classes : (classes,)
    """

    predictions: dict[str, np.ndarray]
    tested: np.ndarray
    labels: np.ndarray
    classes: np.ndarray
    scores: pd.DataFrame
    mcnemar: pd.DataFrame
    folds: Folds
    inputs: dict[str, str | None]

    @property
    def methods(self) -> list[str]:
        """The methods that were run, in order."""
        return list(self.predictions)

    def metric(self, method: str, metric: str) -> float:
        """One score, e.g. ``metric("latent_logistic", "binomial_p_value")``."""
        s = self.scores
        value = s[(s.method == method) & (s.metric == metric)]["value"]
        if value.empty:
            raise KeyError(f"no {metric!r} for method {method!r}")
        return float(value.iloc[0])

    def to_scores(self) -> pd.DataFrame:
        """The scores plus one ``mcnemar_p_value`` row per pair (method ``"a_vs_b"``), in the long
        format of EvaluationScores (columns method, analysis, metric, seed, value)."""
        seed = int(self.scores["seed"].iloc[0]) if len(self.scores) else -1
        pairs = pd.DataFrame({"method": [f"{a}_vs_{b}" for a, b in zip(self.mcnemar.method_a, self.mcnemar.method_b)],
                              "analysis": ANALYSIS, "metric": "mcnemar_p_value", "seed": seed,
                              "value": self.mcnemar.p_value.astype(float)})
        return pd.concat([self.scores, pairs], ignore_index=True)


def binomial_p_value(correct: int, n: int, nir: float) -> float:
    """One-sided exact binomial p-value of an accuracy against the no-information rate.

    P(X >= correct) for X ~ Binomial(n, nir): how often a classifier no better than always
    guessing the largest class would be right this often, if segments were independent.
    """
    if n == 0:
        return float("nan")
    return float(stats.binomtest(int(correct), int(n), float(nir), alternative="greater").pvalue)


def mcnemar_exact(right_a: np.ndarray, right_b: np.ndarray) -> tuple[int, int, float]:
    """Exact McNemar test of two classifiers on the same segments.

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


def _resolve(methods: Mapping[str, Decoder | tuple] | Sequence[str] | None) -> dict[str, Decoder]:
    if methods is None:
        return dict(DECODERS)
    if isinstance(methods, Mapping):
        return {str(k): Decoder(*v) for k, v in methods.items()}
    unknown = [m for m in methods if m not in DECODERS]
    if unknown:
        raise ValueError(f"unknown decoding methods {unknown}; known: {', '.join(DECODERS)} "
                         "(pass a mapping name -> (feature key, factory) for others)")
    return {m: DECODERS[m] for m in methods}


def _fit_predict(decoder: Decoder, name: str, x: np.ndarray, codes: np.ndarray, folds: Folds,
                 seed: int) -> np.ndarray:
    """Out-of-fold predicted class codes (-1 where a segment is in no test fold)."""
    pred = np.full(len(codes), -1, dtype=int)
    unconverged = 0  # fits that warned of non-convergence
    template = decoder.factory(seed)
    for train, test in folds:
        present = np.unique(codes[train])
        if present.size == 1:
            # scikit-learn's classifiers refuse one class; the only sensible guess is that class
            pred[test] = present[0]
            continue
        model = clone(template)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(x[train], codes[train])
        # non-convergence (common for the MLP on few segments) is summarised once per method below;
        # any other warning is passed on untouched
        for w in caught:
            if issubclass(w.category, ConvergenceWarning):
                unconverged += 1
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        pred[test] = model.predict(x[test])
    if unconverged:
        log.warning("%s: the optimiser warned of non-convergence %d times over %d folds", name, unconverged,
                    len(folds))
    return pred


def compare_decoders(features: Mapping[str, np.ndarray], labels: Sequence, starts: Sequence[float],
                     stops: Sequence[float], *, n_splits: int = 5, purge_gap: float = 0.0, split: str = "blocked",
                     seed: int = 0, methods: Mapping[str, Decoder | tuple] | Sequence[str] | None = None
                     ) -> DecodingComparison:
    """Decode the segments' labels with every method on the same folds; test against the NIR and
    against each other.

    Parameters
    ----------
    features
        Input name -> per-segment features, e.g. ``{"latents": Z, "rates": R}``. A method whose
        input is missing is skipped (logged).
    labels
        Behavioural label of every segment (compared as strings; every segment must be labelled).
    starts, stops
        Segment times in seconds: the folds follow time order and drop training segments that
        overlap a test segment or lie within ``purge_gap`` of one.
    n_splits, purge_gap, split, seed
        Passed to :func:`~nwb_tavrnn.evaluation.splits.make_folds` (``split`` is its ``kind``);
        ``seed`` also seeds the estimators.
    methods
        None: all of :data:`DECODERS`. A sequence of names: those of :data:`DECODERS`. A mapping
        name -> ``Decoder(feature key, factory)`` (or a plain tuple): exactly those methods, e.g.
        ``{**DECODERS, "svm": ("rates", lambda seed: SVC())}`` to add one.

    Returns
    -------
    DecodingComparison

    Shapes
    ------
    features[key] : (segments, ...) flattened to (segments, n_features)
    labels, starts, stops : (segments,)

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
    chosen = _resolve(methods)
    inputs: dict[str, np.ndarray] = {}
    for key, value in features.items():
        x = np.asarray(value, float)
        if len(x) != n:
            raise ValueError(f"features[{key!r}] has {len(x)} rows for {n} segments")
        inputs[key] = x.reshape(n, -1)
    run = {}
    for name, dec in chosen.items():
        if dec.feature is not None and dec.feature not in inputs:
            log.info("decoding: skipping %s (no %r features given)", name, dec.feature)
            continue
        run[name] = dec
    if not run:
        raise ValueError(f"no decoding method has its input among the features given ({', '.join(inputs)})")

    classes, codes = _encode(y)
    folds = make_folds(starts, stops, classes[codes], kind=split, n_splits=n_splits, purge_gap=purge_gap, seed=seed)
    times_tested = np.zeros(n, dtype=int)
    for test in folds.test:
        times_tested[test] += 1
    if (times_tested > 1).any():
        raise ValueError("a segment is in more than one test fold; its out-of-fold prediction would be ambiguous")
    tested = times_tested == 1
    if not tested.all():
        log.warning("decoding: %d of %d segments are in no test fold and are left out of the scores",
                    int((~tested).sum()), n)
    log.info("decoding: %s", folds.describe())

    truth = codes[tested]
    nir = float(np.bincount(truth, minlength=len(classes)).max() / truth.size) if truth.size else float("nan")
    predicted_codes: dict[str, np.ndarray] = {}
    rows = []
    for name, dec in run.items():
        # the majority-class model reads no features; a zero column keeps the estimator API
        x = inputs[dec.feature] if dec.feature is not None else np.zeros((n, 1))
        pred = _fit_predict(dec, name, x, codes, folds, seed)
        predicted_codes[name] = pred
        guess = pred[tested]
        correct = int(np.sum(guess == truth))
        values = {
            "accuracy": correct / truth.size if truth.size else float("nan"),
            "balanced_accuracy": float(balanced_accuracy_score(truth, guess)) if truth.size else float("nan"),
            "nir": nir,
            "binomial_p_value": binomial_p_value(correct, truth.size, nir),
            "n_tested": float(truth.size),
        }
        rows += [{"method": name, "analysis": ANALYSIS, "metric": k, "seed": int(seed), "value": float(v)}
                 for k, v in values.items()]
        log.info("decoding: %s accuracy %.3f (NIR %.3f, binomial p = %.3g)", name, values["accuracy"], nir,
                 values["binomial_p_value"])

    pairs = []
    for a, b in itertools.combinations(predicted_codes, 2):
        nb, nc, p = mcnemar_exact(predicted_codes[a][tested] == truth, predicted_codes[b][tested] == truth)
        pairs.append({"method_a": a, "method_b": b, "b": nb, "c": nc, "p_value": p})

    predictions = {}
    for name, pred in predicted_codes.items():
        out = np.full(n, "", dtype=classes.dtype if classes.size else str)
        out[tested] = classes[pred[tested]]
        predictions[name] = out
    return DecodingComparison(
        predictions=predictions, tested=tested, labels=classes[codes], classes=classes,
        scores=pd.DataFrame(rows, columns=["method", "analysis", "metric", "seed", "value"]),
        mcnemar=pd.DataFrame(pairs, columns=["method_a", "method_b", "b", "c", "p_value"]), folds=folds,
        inputs={name: dec.feature for name, dec in run.items()},
    )


def plot_decoding(comparison: DecodingComparison, folder: str | Path, stem: str = "decoding") -> list[Path]:
    """Bar chart of each method's accuracy, the no-information rate as a horizontal line, and each
    method's one-sided binomial p-value against it above its bar; saved as PNG and PDF.

    Returns
    -------
    list[Path]
        The files written (``folder/stem.png``, ``folder/stem.pdf``).
    """
    from ..plots import _pyplot, _save

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plt = _pyplot()
    names = comparison.methods
    acc = [comparison.metric(m, "accuracy") for m in names]
    pvals = [comparison.metric(m, "binomial_p_value") for m in names]
    nir = comparison.metric(names[0], "nir")
    n = int(comparison.metric(names[0], "n_tested"))
    fig, ax = plt.subplots(figsize=(1.6 + 1.0 * len(names), 3.6))
    # grey for a method that reads no features (the majority-class model): a reference, not a decoder
    colours = ["tab:gray" if comparison.inputs.get(m) is None else "tab:blue" for m in names]
    ax.bar(range(len(names)), acc, color=colours)
    # every method is tested on the same segments, so one NIR serves all of them
    ax.axhline(nir, ls="--", color="k", lw=1, label=f"no-information rate ({nir:.3f})")
    for k, (a, p) in enumerate(zip(acc, pvals)):
        ax.text(k, min(a, 1.0) + 0.02, f"p={p:.2g}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("out-of-fold accuracy")
    ax.legend(loc="lower right", fontsize=7)
    ax.set_title(f"Behaviour decoding, {len(comparison.folds)}-fold {comparison.folds.kind} "
                 f"({n} segments); p: one-sided binomial vs NIR", fontsize=8)
    return _save(fig, folder, stem)
