"""Scores relating window features to window labels, and nodes' embeddings to their groups.

Classification is cross-validated over folds that respect time (:mod:`.splits`), with a
circular block bootstrap interval over windows; the label null (:mod:`.nulls`) reruns the same
cross-validation, same folds and same fitted features, for every permuted labelling; clustering is
scored against the labels with ARI and NMI over k-means restarts.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.cluster import KMeans
from sklearn.metrics import (
    accuracy_score,
    adjusted_rand_score,
    balanced_accuracy_score,
    f1_score,
    normalized_mutual_info_score,
    precision_score,
    recall_score,
    silhouette_score,
)
from sklearn.preprocessing import StandardScaler

from .nulls import LabelNull

log = logging.getLogger(__name__)

CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "precision", "recall", "f1")


def principal_components(k: int, n_samples: int, n_features: int):
    """A PCA step keeping ``k`` components, suited to the data's shape.

    Few windows and many features (correlation matrices: hundreds of thousands of pairs) are the
    usual case here: then the projection is computed from the samples' n x n Gram matrix (a linear
    KernelPCA, the same components as PCA up to sign) instead of an SVD over every feature, which
    is ~6x faster; otherwise an exact PCA.
    """
    from sklearn.decomposition import PCA, KernelPCA

    if n_features > n_samples:
        return KernelPCA(n_components=k, kernel="linear", eigen_solver="dense")
    return PCA(n_components=k, svd_solver="full")


CLASSIFIERS = ("ridge", "logistic")


@dataclass
class FoldFeatures:
    """One fold's features after the label-free steps fitted on its training windows.

    Standardisation and PCA never see the labels, so they are fitted once per fold and shared by
    the observed labels and every labelling of a null.

    Shapes
    ------
    train, test : indices of the fold's windows
    x_train, x_test : (len(train), k), (len(test), k)
    """

    train: np.ndarray
    test: np.ndarray
    x_train: np.ndarray
    x_test: np.ndarray


def fold_features(x: np.ndarray, folds: Iterable, pca: int | None = None) -> list[FoldFeatures]:
    """Standardise (and reduce to ``pca`` components) inside each fold, fitted on its training windows.

    Shapes
    ------
    x : (windows, features)
    """
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(x, float).reshape(len(x), -1)
    out = []
    for train, test in folds:
        scaler = StandardScaler().fit(x[train])
        xtr, xte = scaler.transform(x[train]), scaler.transform(x[test])
        k = min(pca, len(train) - 1, x.shape[1]) if pca else None
        if k and k >= 1 and x.shape[1] > k:
            reducer = principal_components(k, *xtr.shape).fit(xtr)
            xtr, xte = reducer.transform(xtr), reducer.transform(xte)
        out.append(FoldFeatures(np.asarray(train), np.asarray(test), xtr, xte))
    return out


def _balanced_ridge(x_train: np.ndarray, x_test: np.ndarray, target: np.ndarray, n_classes: int,
                    alpha: float) -> np.ndarray:
    """Decision values of scikit-learn's ``RidgeClassifier(alpha, class_weight="balanced")`` for
    many labellings of the same training windows at once.

    Targets are +1 for the class and -1 otherwise (one column per class); each training window is
    weighted n / (classes present * its class's count), so the fit has no prior towards the
    training fold's majority class. Without that weighting, blocked folds make every labelling
    whose class balance differs between folds score *below* chance (the training majority is the
    test minority), and a label null of such labellings is too easy to beat.

    Shapes
    ------
    x_train : (n, d); x_test : (m, d); target : (labellings, n) int
    return : (labellings, m, classes)
    """
    n, d = x_train.shape
    onehot = np.where(target[..., None] == np.arange(n_classes), 1.0, -1.0)  # (P, n, K)
    counts = (target[..., None] == np.arange(n_classes)).sum(axis=1)  # (P, K)
    present = (counts > 0).sum(axis=1, keepdims=True)  # (P, 1)
    weight = n / (present * np.take_along_axis(counts, target, axis=1))  # (P, n)
    total = weight.sum(axis=1, keepdims=True)
    x_mean = weight @ x_train / total  # (P, d)
    y_mean = (weight[:, None, :] @ onehot)[:, 0, :] / total  # (P, K)
    xc = x_train[None] - x_mean[:, None, :]  # (P, n, d)
    yc = onehot - y_mean[:, None, :]
    xwt = (xc * weight[..., None]).transpose(0, 2, 1)  # (P, d, n); batched BLAS products, not einsum loops
    gram = xwt @ xc + alpha * np.eye(d)
    coef = np.linalg.solve(gram, xwt @ yc)  # (P, d, K)
    decision = (x_test[None] - x_mean[:, None, :]) @ coef + y_mean[:, None, :]
    decision[np.broadcast_to((counts == 0)[:, None, :], decision.shape)] = -np.inf  # never a class not trained on
    return decision


def balanced_sample_weight(target: np.ndarray) -> np.ndarray:
    """Weights n / (classes present · count of the sample's class): every class weighs the same in a
    fit (scikit-learn's ``class_weight="balanced"``), for estimators that take ``sample_weight``.

    Shapes
    ------
    target : (n,) int -> (n,)
    """
    target = np.asarray(target)
    _, inverse, counts = np.unique(target, return_inverse=True, return_counts=True)
    return len(target) / (len(counts) * counts[inverse])


#: A classifier of :func:`predict_labels`: a name of :data:`CLASSIFIERS`, or a factory ``seed ->`` an
#: unfitted scikit-learn classifier whose ``fit`` takes ``sample_weight`` (fitted class-balanced).
ClassifierSpec = Union[str, Callable[[int], Any]]


def _fit_balanced(factory: Callable[[int], Any], x: np.ndarray, target: np.ndarray, seed: int) -> tuple[Any, int]:
    """A factory's estimator fitted with balanced sample weights; and 1 if it warned of non-convergence
    (common for small MLPs; summarised by the caller instead of one warning per fit)."""
    from sklearn.exceptions import ConvergenceWarning

    model = factory(seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(x, target, sample_weight=balanced_sample_weight(target))
    unconverged = 0
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            unconverged = 1
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return model, unconverged


def predict_labels(prepared: Sequence[FoldFeatures], codes: np.ndarray, n_classes: int,
                   classifier: ClassifierSpec = "ridge", alpha: float = 1.0, seed: int = 0) -> np.ndarray:
    """Out-of-fold predicted class codes for one or many labellings of the same windows.

    ``ridge`` is scikit-learn's ``RidgeClassifier(class_weight="balanced")`` (targets +1 for the
    class, -1 otherwise, one column per class, the largest decision wins; see
    :func:`_balanced_ridge`), solved for every labelling at once. ``logistic`` fits a
    class-balanced L2 logistic regression per fold and labelling. A callable is a factory
    ``seed -> estimator`` (random forest, MLP, ...), fitted per fold and labelling with balanced
    sample weights. This one function serves the window evaluation and the behaviour decoding, for
    the observed labels and for every labelling of a null.

    Shapes
    ------
    codes : (labellings, windows) int in [0, n_classes)
    return : (labellings, windows) int; -1 for windows in no test fold
    """
    codes = np.atleast_2d(np.asarray(codes, int))
    pred = np.full(codes.shape, -1, dtype=int)
    if not (callable(classifier) or classifier in CLASSIFIERS):
        raise ValueError(f"classifier must be one of {', '.join(CLASSIFIERS)} or a factory, got {classifier!r}")
    unconverged = 0
    for fold in prepared:
        target = codes[:, fold.train]
        if classifier == "ridge":
            for chunk in range(0, len(target), 256):  # bounded memory: (chunk, d, d) systems
                part = target[chunk:chunk + 256]
                decision = _balanced_ridge(fold.x_train, fold.x_test, part, n_classes, alpha)
                pred[chunk:chunk + len(part), fold.test] = decision.argmax(axis=2)
            continue
        for p, t in enumerate(target):
            present = np.unique(t)
            if present.size == 1:  # a fold whose training windows hold one class predicts it
                pred[p, fold.test] = present[0]
                continue
            if classifier == "logistic":
                from sklearn.linear_model import LogisticRegression

                model = LogisticRegression(max_iter=2000, random_state=seed, class_weight="balanced")
                model.fit(fold.x_train, t)
            else:
                model, failed = _fit_balanced(classifier, fold.x_train, t, seed)
                unconverged += failed
            pred[p, fold.test] = model.predict(fold.x_test)
    if unconverged:
        log.info("%d of %d fits warned of non-convergence", unconverged, len(prepared) * len(codes))
    return pred


def _scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {
        "accuracy": accuracy_score(y, pred),
        "balanced_accuracy": balanced_accuracy_score(y, pred),
        "precision": precision_score(y, pred, average="macro", zero_division=0),
        "recall": recall_score(y, pred, average="macro", zero_division=0),
        "f1": f1_score(y, pred, average="macro", zero_division=0),
    }


@dataclass
class Classification:
    """Out-of-fold predictions of every window, their scores, and which windows were right.

    Shapes
    ------
    labels, predicted, correct : (windows,)
    """

    labels: np.ndarray
    predicted: np.ndarray
    scores: dict[str, float]

    @property
    def correct(self) -> np.ndarray:
        return self.labels == self.predicted


def _encode(y: Sequence) -> tuple[np.ndarray, np.ndarray]:
    classes, codes = np.unique(np.asarray(y).astype(str), return_inverse=True)
    return classes, codes


def classify(x: np.ndarray, y: Sequence, folds: Iterable, classifier: str = "ridge", pca: int | None = None,
             seed: int = 0, prepared: Sequence[FoldFeatures] | None = None) -> Classification:
    """Cross-validated classification of windows: pooled out-of-fold predictions, scored (macro averages).

    Shapes
    ------
    x : (windows, features)
    y : (windows,)
    """
    classes, codes = _encode(y)
    prepared = prepared if prepared is not None else fold_features(x, folds, pca)
    pred = predict_labels(prepared, codes[None, :], len(classes), classifier, seed=seed)[0]
    tested = pred >= 0
    if not tested.all():
        raise ValueError("every window must be in one test fold")
    predicted = classes[pred]
    return Classification(classes[codes], predicted, _scores(classes[codes], predicted))


def block_bootstrap_indices(n: int, block: int, n_boot: int = 2000, seed: int = 0) -> np.ndarray:
    """Resampled indices of the circular block bootstrap: runs of ``block`` consecutive items (in
    time order) drawn with replacement until ``n`` items are drawn.

    Circular blocks make every item equally likely to be drawn (plain moving blocks under-draw the
    first and last items, which can leave the observed statistic outside its own interval).

    Shapes
    ------
    return : (n_boot, n) int
    """
    block = int(min(max(block, 1), n))
    rng = np.random.default_rng(seed)
    per = -(-n // block)
    starts = rng.integers(0, n, size=(n_boot, per))
    return ((starts[..., None] + np.arange(block)) % n).reshape(n_boot, -1)[:, :n]


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (np.nan, np.nan)
    tail = (1 - confidence) / 2
    return float(np.quantile(values, tail)), float(np.quantile(values, 1 - tail))


def block_bootstrap_interval(values: Sequence[float], block: int, n_boot: int = 2000, confidence: float = 0.95,
                             seed: int = 0) -> tuple[float, float]:
    """Percentile interval of a mean by the circular block bootstrap.

    Resamples runs of ``block`` consecutive values (windows in time order), so that neighbouring
    windows' errors, which come together, stay together. The interval covers the sampling of
    windows; it does not cover refitting the model or the choice of folds.

    Shapes
    ------
    values : (windows,) in time order, e.g. 1 where a window was classified correctly
    """
    v = np.asarray(values, float)
    if v.size == 0:
        return (np.nan, np.nan)
    return _percentiles(v[block_bootstrap_indices(v.size, block, n_boot, seed)].mean(axis=1), confidence)


def balanced_accuracies(truth: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Balanced accuracy (mean recall of the classes present) of every row of resampled items.

    Shapes
    ------
    truth, right : (resamples, items) -> (resamples,)
    """
    truth, right = np.atleast_2d(truth), np.atleast_2d(np.asarray(right, float))
    recalls = []
    for k in np.unique(truth):
        members = truth == k
        count = members.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            recalls.append(np.where(count > 0, (right * members).sum(axis=1) / count, np.nan))
    return np.nanmean(np.stack(recalls), axis=0)


def balanced_accuracy_interval(truth: Sequence, right: Sequence[bool], block: int,
                               right_other: Sequence[bool] | None = None, n_boot: int = 2000,
                               confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Circular block-bootstrap percentile interval of a balanced accuracy, or of the difference of
    two methods' balanced accuracies on the same items (``right_other``, paired: one resample
    serves both). Each resample's balanced accuracy is recomputed from its own class mix.

    Shapes
    ------
    truth, right, right_other : (items,) in time order
    """
    truth = np.asarray(truth)
    if truth.size == 0:
        return (np.nan, np.nan)
    idx = block_bootstrap_indices(truth.size, block, n_boot, seed)
    values = balanced_accuracies(truth[idx], np.asarray(right)[idx])
    if right_other is not None:
        values = values - balanced_accuracies(truth[idx], np.asarray(right_other)[idx])
    return _percentiles(values, confidence)


def cluster(x: np.ndarray, y: Sequence, seeds: Sequence[int] = range(10), n_clusters: int | None = None) -> pd.DataFrame:
    """k-means with as many clusters as classes; ARI and NMI against the labels, silhouette of the
    clustering in feature space. Columns seed, metric, value."""
    y = np.asarray(y).astype(str)
    x = np.asarray(x, float).reshape(len(y), -1)
    k = n_clusters or len(np.unique(y))
    z = StandardScaler().fit_transform(x)
    rows = []
    for seed in seeds:
        pred = KMeans(n_clusters=k, n_init=10, random_state=int(seed)).fit_predict(z)
        sil = silhouette_score(z, pred) if 1 < len(np.unique(pred)) < len(y) else np.nan
        for metric, value in (("ari", adjusted_rand_score(y, pred)), ("nmi", normalized_mutual_info_score(y, pred)),
                              ("silhouette", sil)):
            rows.append({"seed": int(seed), "metric": metric, "value": float(value)})
    return pd.DataFrame(rows)


def summarize(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation, range and count of the values per metric (and per any other
    grouping columns present, such as method and analysis). No interval is made up here: where one
    exists it is a row of its own (e.g. ``accuracy_ci_low``)."""
    keys = [c for c in scores.columns if c not in ("seed", "value")]
    rows = []
    for key, group in scores.groupby(keys, sort=False):
        v = group["value"].to_numpy(float)
        v = v[np.isfinite(v)]
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        row.update(mean=float(v.mean()) if v.size else np.nan, sd=float(v.std(ddof=1)) if v.size > 1 else 0.0,
                   min=float(v.min()) if v.size else np.nan, max=float(v.max()) if v.size else np.nan,
                   n=int(v.size))
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass
class PermutationResult:
    """Observed statistic, the null statistics of the permuted labellings, the p-value, and whether
    the null allows a valid test at all (``p_value`` is NaN when not).

    ``stopped_early``: the labellings were drawn one at a time and drawing stopped after
    ``stop_after`` of them reached the observed statistic (Besag & Clifford's sequential p-value,
    h / drawn); ``null`` then holds only the statistics drawn.
    """

    observed: float
    null: np.ndarray
    p_value: float
    testable: bool
    reason: str
    exact: bool
    stopped_early: bool = False


def _statistic(truth: np.ndarray, guess: np.ndarray, n_classes: int, statistic: str) -> float:
    if statistic == "accuracy":
        return float(np.mean(truth == guess))
    if statistic == "balanced_accuracy":  # the mean recall of the classes present (scikit-learn's definition)
        return float(balanced_accuracies(truth, truth == guess)[0])
    return _scores(truth, guess)[statistic]


def _workers(n_jobs: int | None) -> int:
    import os

    cores = os.cpu_count() or 1
    return cores if n_jobs in (None, -1) else max(1, min(int(n_jobs), cores))


def permutation_test(x: np.ndarray | None, y: Sequence, folds: Iterable | None, null: LabelNull,
                     classifier: ClassifierSpec = "ridge", pca: int | None = None, seed: int = 0,
                     statistic: str = "accuracy", prepared: Sequence[FoldFeatures] | None = None,
                     stop_after: int | None = None, observed: float | None = None,
                     skip_untestable: bool = False, n_jobs: int | None = 1) -> PermutationResult:
    """Label null: the same cross-validation (same folds, same fitted features) for every labelling
    of ``null``; the observed statistic is the one :func:`classify` reports for ``y``.

    Parameters
    ----------
    stop_after
        For classifiers fitted one labelling at a time (not ``ridge``) and a null of random draws:
        stop drawing once this many null statistics reach the observed one, with the sequential
        p-value h / drawn (Besag & Clifford 1991, valid like the fixed-size one). A decoder with no
        information then costs about ``2 · stop_after`` refits instead of every labelling; one
        that decodes still costs them all. None draws every labelling.
    observed
        The observed statistic when the caller has it already (saves refitting the observed labels).
    skip_untestable
        Draw nothing when the null cannot give a valid p-value (``null.testable`` False).
    n_jobs
        Threads refitting labellings of a classifier fitted one labelling at a time (-1 or None:
        every core); the result does not depend on it.

    Shapes
    ------
    x : (windows, features)
    y : (windows,) in the order ``null`` was built on
    """
    prepared = prepared if prepared is not None else fold_features(x, folds, pca)
    if observed is None:
        observed = classify(x, y, None, classifier, pca, seed, prepared=prepared).scores[statistic]
    classes, codes = _encode(y)
    lookup = {c: i for i, c in enumerate(classes)}
    perm_codes = np.vectorize(lookup.__getitem__, otypes=[int])(null.labels) if null.labels.size else \
        np.empty((0, len(codes)), int)
    if skip_untestable and not null.testable:
        perm_codes = perm_codes[:0]
    sequential = bool(stop_after) and classifier != "ridge" and not null.exact and null.testable
    # the batched ridge solves every labelling at once; other classifiers refit one labelling per
    # worker, in batches of ``workers`` labellings taken in draw order
    workers = 1 if classifier == "ridge" else _workers(n_jobs)
    batch = len(perm_codes) if classifier == "ridge" else workers

    def one(part: np.ndarray) -> list[float]:
        pred = predict_labels(prepared, part, len(classes), classifier, seed=seed)
        return [_statistic(truth, guess, len(classes), statistic) for truth, guess in zip(part, pred)]

    values: list[float] = []
    stopped = False
    pool = None
    if workers > 1:
        from concurrent.futures import ThreadPoolExecutor

        from threadpoolctl import threadpool_limits

        # threads: the forests' and MLPs' fits release the GIL; one BLAS thread each, no oversubscription
        pool = ThreadPoolExecutor(workers)
        limits = threadpool_limits(limits=1)
    try:
        for first in range(0, len(perm_codes), max(batch, 1)):
            part = perm_codes[first:first + batch]
            if pool is None:
                values += one(part)
            else:
                values += [v for chunk in pool.map(one, [part[i:i + 1] for i in range(len(part))]) for v in chunk]
            if sequential:
                hits = np.cumsum(np.asarray(values) >= observed - 1e-12)
                if hits[-1] >= stop_after:  # Besag & Clifford: stop at the draw of the h-th exceedance
                    values = values[:int(np.argmax(hits >= stop_after)) + 1]
                    stopped = len(values) < len(perm_codes)
                    break
    finally:
        if pool is not None:
            pool.shutdown()
            limits.restore_original_limits()
    null_values = np.asarray(values, float)
    if not (null.testable and len(null_values)):
        p = np.nan
    elif stopped:
        p = float(stop_after) / len(null_values)
    else:
        p = null.p_value(observed, null_values)
    return PermutationResult(float(observed), null_values, float(p), null.testable, null.reason, null.exact, stopped)


def subregion_alignment(embeddings: np.ndarray, groups: Sequence[str], exclude: Sequence[str] = ()) -> np.ndarray:
    """How strongly nodes cluster by their group in embedding space, per window.

    The silhouette of the node embeddings with the groups as cluster labels (cosine distance):
    1 when each group is a tight cluster far from the others, ~0 when groups are mixed.

    Shapes
    ------
    embeddings : (windows, nodes, latent)
    groups : (nodes,)
    return : (windows,)
    """
    groups = np.asarray(groups).astype(str)
    keep = ~np.isin(groups, list(exclude))
    if len(np.unique(groups[keep])) < 2:
        raise ValueError("alignment needs nodes of at least 2 groups")
    out = np.empty(embeddings.shape[0])
    for w, emb in enumerate(np.asarray(embeddings, float)):
        e = emb[keep]
        out[w] = silhouette_score(e, groups[keep], metric="cosine") if np.ptp(e) > 0 else 0.0
    return out


def correlate(alignment: Sequence[float], behaviour: Sequence[float]) -> dict[str, float]:
    """Spearman correlation between a per-window alignment and a per-window behavioural value."""
    a, b = np.asarray(alignment, float), np.asarray(behaviour, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return {"rho": np.nan, "p_value": np.nan, "n": int(ok.sum())}
    res = stats.spearmanr(a[ok], b[ok])
    return {"rho": float(res.statistic), "p_value": float(res.pvalue), "n": int(ok.sum())}
