"""Scores relating window features to window labels, and nodes' embeddings to their groups.

Classification is repeated over seeds of a stratified k-fold split and summarised with a
confidence interval across seeds; clustering is scored against the labels with ARI and NMI; the
permutation null shuffles labels and repeats the whole cross-validation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    adjusted_rand_score,
    f1_score,
    normalized_mutual_info_score,
    precision_score,
    recall_score,
    silhouette_score,
)
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

log = logging.getLogger(__name__)

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1")


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


def _classifier(seed: int, pca: int | None = None, shape: tuple[int, int] = (0, 0)):
    """Standardise, optionally reduce with PCA (fitted inside each fold, so no test data leaks into
    it), then an L2 logistic regression. ``shape`` is the (samples, features) of the training data."""
    steps = [StandardScaler()]
    if pca:
        steps.append(principal_components(pca, *shape))
    return make_pipeline(*steps, LogisticRegression(max_iter=2000, random_state=seed))


def _n_splits(y: np.ndarray, n_splits: int) -> int:
    smallest = int(np.unique(y, return_counts=True)[1].min())
    if smallest < 2:
        raise ValueError("every class needs at least 2 windows for cross-validation")
    return max(2, min(n_splits, smallest))


def cross_validated_scores(x: np.ndarray, y: np.ndarray, seed: int, n_splits: int = 5,
                           pca: int | None = None) -> dict[str, float]:
    """Pooled out-of-fold predictions of a logistic regression, scored (macro averages).

    Shapes
    ------
    x : (samples, features)
    y : (samples,)
    """
    x = np.asarray(x, float).reshape(len(y), -1)
    folds = StratifiedKFold(n_splits=_n_splits(y, n_splits), shuffle=True, random_state=seed)
    pred = np.empty(len(y), dtype=y.dtype)
    for train, test in folds.split(x, y):
        k = min(pca, len(train) - 1, x.shape[1]) if pca else None
        model = _classifier(seed, k, (len(train), x.shape[1])).fit(x[train], y[train])
        pred[test] = model.predict(x[test])
    return {
        "accuracy": accuracy_score(y, pred),
        "precision": precision_score(y, pred, average="macro", zero_division=0),
        "recall": recall_score(y, pred, average="macro", zero_division=0),
        "f1": f1_score(y, pred, average="macro", zero_division=0),
    }


def classify(x: np.ndarray, y: Sequence, seeds: Sequence[int] = range(10), n_splits: int = 5,
             pca: int | None = None) -> pd.DataFrame:
    """Cross-validated classification scores for every seed.

    Returns
    -------
    DataFrame with columns seed, metric, value.
    """
    y = np.asarray(y).astype(str)
    rows = []
    for seed in seeds:
        for metric, value in cross_validated_scores(x, y, int(seed), n_splits, pca).items():
            rows.append({"seed": int(seed), "metric": metric, "value": float(value)})
    return pd.DataFrame(rows)


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


def summarize(scores: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Mean, standard deviation and a t confidence interval across seeds, per metric (and per any
    other grouping columns present, such as method)."""
    keys = [c for c in scores.columns if c not in ("seed", "value")]
    rows = []
    for key, group in scores.groupby(keys, sort=False):
        v = group["value"].to_numpy(float)
        v = v[np.isfinite(v)]
        mean = float(v.mean()) if v.size else np.nan
        sd = float(v.std(ddof=1)) if v.size > 1 else 0.0
        half = float(stats.t.ppf(0.5 + confidence / 2, v.size - 1) * sd / np.sqrt(v.size)) if v.size > 1 else 0.0
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        row.update(mean=mean, sd=sd, ci_low=mean - half, ci_high=mean + half, n=int(v.size))
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass
class PermutationResult:
    """Observed mean accuracy, the null distribution from shuffled labels, and the p-value."""

    observed: float
    null: np.ndarray
    p_value: float


def permutation_test(x: np.ndarray, y: Sequence, n_permutations: int = 200, seed: int = 0,
                     n_splits: int = 5, statistic: str = "accuracy", groups: Sequence | None = None,
                     pca: int | None = None) -> PermutationResult:
    """Label-permutation null: shuffle the labels, redo the cross-validation, repeat.

    p = (1 + #{null >= observed}) / (1 + n_permutations). With ``groups``, labels are shuffled
    only within each group (e.g. within a session).
    """
    y = np.asarray(y).astype(str)
    rng = np.random.default_rng(seed)
    observed = cross_validated_scores(x, y, seed, n_splits, pca)[statistic]
    null = np.empty(n_permutations)
    for i in range(n_permutations):
        perm = _shuffle(y, rng, groups)
        null[i] = cross_validated_scores(x, perm, seed + 1 + i, n_splits, pca)[statistic]
    p = (1 + np.sum(null >= observed - 1e-12)) / (1 + n_permutations)
    return PermutationResult(float(observed), null, float(p))


def _shuffle(y: np.ndarray, rng: np.random.Generator, groups: Sequence | None) -> np.ndarray:
    if groups is None:
        return rng.permutation(y)
    out = y.copy()
    groups = np.asarray(groups)
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        out[idx] = rng.permutation(y[idx])
    return out


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
