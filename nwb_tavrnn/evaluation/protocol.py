"""The scoring protocol, applied to window features held as arrays: no NWB file needed.

For labelled windows it builds, once, the folds (which never share time between training and
testing), the label null and the bootstrap block; every method's window features are then scored
the same way: cross-validated classification with a block-bootstrap interval, the label null of
that very accuracy, and clustering over several seeds. :func:`evaluate_features` is the public
entry (the evaluation of a file's embeddings, :func:`nwb_tavrnn.evaluation.report.evaluate`, calls
it); :func:`score_features` scores one method.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
import pandas as pd

from ..errors import ParameterError, ParameterWarning
from .label_specs import WindowLabels, as_window_labels
from .labels import labelled
from .metrics import classify, principal_components, summarize
from .result import EvaluationReport
from .settings import EvaluationConfig

log = logging.getLogger(__name__)

#: What every report says about the learned features (they see all windows, never the labels).
TRANSDUCTIVE_NOTE = ("learned window features (the model, VGRNN, VGAE, CEBRA) are fitted without labels on all "
                     "windows, test windows included (transductive); recurrent models (TAVRNN, VGRNN) and CEBRA-Time "
                     "also pass information between neighbouring windows, so a training window's features depend on "
                     "the spikes of nearby test windows (a purge_gap as long as that memory narrows this); only the "
                     "classifier and the feature scaling/PCA are fitted inside each fold")

#: How a method's features are reduced inside each fold (see :func:`pca_for`).
KINDS = ("wide", "embedding", None)

#: A method's window features: an array, or a callable returning one (None: the method is skipped).
Features = Union[np.ndarray, Callable[[], Union[np.ndarray, None]]]


@dataclass
class Protocol:
    """The labelled windows in time order, their folds, the label null and the bootstrap block."""

    idx: np.ndarray
    y: np.ndarray
    folds: Any
    null: Any
    block: int


def score_rows(method: str, analysis: str, values: dict[str, float], seed: int = -1) -> pd.DataFrame:
    """Score rows (method, analysis, metric, seed, value), one per metric of ``values``."""
    return pd.DataFrame([{"method": method, "analysis": analysis, "metric": k, "seed": seed, "value": float(v)}
                         for k, v in values.items()])


def pca_for(cfg: EvaluationConfig, kind: str | None) -> int | None:
    """Components kept inside folds: always for wide features, for embeddings only when flattened,
    never for ``kind`` None (features already low-dimensional, e.g. CEBRA's)."""
    if kind is None:
        return None
    return cfg.pca if kind == "wide" or cfg.feature_mode == "flatten" else None


def score_method(x: np.ndarray, method: str, proto: Protocol, cfg: EvaluationConfig,
                 pca: int | None) -> list[pd.DataFrame]:
    """Classification (with its bootstrap interval), the label null of that same accuracy, and clustering.

    Shapes
    ------
    x : (labelled windows, features), in the protocol's order
    """
    from .metrics import block_bootstrap_interval, cluster, fold_features, permutation_test

    prepared = fold_features(x, proto.folds, pca)
    result = classify(x, proto.y, None, cfg.classifier, pca, cfg.seed, prepared=prepared)
    low, high = block_bootstrap_interval(result.correct, proto.block, cfg.n_boot, seed=cfg.seed)
    out = [score_rows(method, "classification", {**result.scores, "accuracy_ci_low": low, "accuracy_ci_high": high,
                                                  "n_windows": len(proto.y)})]
    if proto.null is not None:
        perm = permutation_test(x, proto.y, None, proto.null, cfg.classifier, pca, cfg.seed, prepared=prepared)
        values = {"accuracy": perm.observed, "null_accuracy_mean": float(np.mean(perm.null)),
                  "null_accuracy_95": float(np.quantile(perm.null, 0.95)), "n_permutations": len(perm.null),
                  "exact": float(perm.exact), "testable": float(perm.testable)}
        if perm.testable:
            values["p_value"] = perm.p_value
        out.append(score_rows(method, "label_permutation", values))
    reduced = x if not pca or x.shape[1] <= pca else _pca(x, pca)
    seeds = range(cfg.seed, cfg.seed + cfg.seeds)
    clustering = cluster(reduced, proto.y, seeds)
    clustering.insert(0, "analysis", "clustering")
    clustering.insert(0, "method", method)
    out.append(clustering[["method", "analysis", "metric", "seed", "value"]])
    return out


def _pca(x: np.ndarray, k: int) -> np.ndarray:
    from sklearn.preprocessing import StandardScaler

    k = min(k, x.shape[0] - 1, x.shape[1])
    return principal_components(k, *x.shape).fit_transform(StandardScaler().fit_transform(x))


def build_protocol(wl: WindowLabels, starts: np.ndarray, stops: np.ndarray, cfg: EvaluationConfig) -> Protocol:
    """Labelled windows in time order, folds that never share time between training and testing,
    and the label null (with whether it allows a test).

    Shapes
    ------
    starts, stops : (windows,) seconds
    """
    from .nulls import label_null
    from .splits import label_blocks, make_folds, window_overlap

    idx, y = labelled(wl.labels)
    order = np.argsort(starts[idx], kind="stable")
    idx, y = idx[order], y[order]
    blocks = _design_blocks(wl, idx, y, cfg.min_purity)
    if blocks is not None:
        keep = blocks >= 0
        idx, y, blocks = idx[keep], y[keep], blocks[keep]
        labelled(list(y))  # raises unless two classes of two windows each remain after the drop
    else:
        blocks = label_blocks(y)
    overlap = window_overlap(starts[idx], stops[idx])
    if cfg.split == "stratified" and overlap > 0:
        log.warning("shuffled stratified folds on windows that overlap by %.3g s: test windows share spikes with "
                    "training windows and scores are inflated; use split='blocked'", overlap)
    folds = make_folds(starts[idx], stops[idx], y, cfg.split, cfg.n_splits, cfg.purge_gap, cfg.seed, blocks=blocks)
    _warn_unseen_classes(folds, y)
    null = (label_null(y, cfg.null, cfg.n_permutations, cfg.seed, cfg.alpha, blocks=blocks)
            if cfg.n_permutations else None)
    n_blocks = len(np.unique(blocks))
    block = int(np.clip(round(len(y) / n_blocks), 1, max(1, len(y) // 4)))  # about one label block
    if null is not None and not null.testable:
        log.warning("label test not possible: %s", null.reason)
    return Protocol(idx, y, folds, null, block)


def _warn_unseen_classes(folds: Any, y: np.ndarray) -> None:
    """Warn when a fold tests a class its training windows never show: those test windows cannot
    be predicted right whatever the features (blocked folds over long label blocks do this)."""
    unseen: dict[str, int] = {}
    folds_hit = 0
    for train, test in folds:
        missing = set(np.unique(y[test])) - set(np.unique(y[train]))
        folds_hit += bool(missing)
        for c in missing:
            unseen[str(c)] = unseen.get(str(c), 0) + int(np.sum(y[test] == c))
    if unseen:
        lost = sum(unseen.values())
        classes = ", ".join(f"'{c}' ({n} window{'s' if n > 1 else ''})" for c, n in sorted(unseen.items()))
        warnings.warn(ParameterWarning(
            f"{folds_hit} of {len(folds)} folds test a class their training windows never show: {classes}; "
            f"those windows cannot be predicted right, so no method's accuracy can exceed {1 - lost / len(y):.2f}. "
            "Fewer folds (`n_splits`), or a label whose classes each recur in several blocks, let every fold "
            "train on every class", ("n_splits",)), stacklevel=2)


def _design_blocks(wl: WindowLabels, idx: np.ndarray, y: np.ndarray, min_purity: float) -> np.ndarray | None:
    """The rows of the labels' intervals table as the blocks a label null permutes, or None when
    the runs of equal labels must serve instead.

    Rows are the design's blocks only when they are at least as long as the windows (a median of
    2 or more labelled windows per row): one row per trial or per short stay would make every
    window its own block, which is the i.i.d. null again. Windows straddling two rows (the row
    covers less than ``min_purity`` of them) get -1: whether they are labelled would otherwise
    depend on the labels the rows happen to carry.
    """
    if wl.blocks is None:
        return None
    rows = np.asarray(wl.blocks)[idx]
    if np.median(np.unique(rows, return_counts=True)[1]) < 2:
        log.info("labels: the rows of %s are shorter than the windows; label blocks are runs of equal labels",
                 wl.spec)
        return None
    straddling = np.asarray(wl.block_share)[idx] < min_purity
    if straddling.any():
        log.info("labels: %d window(s) straddling two rows of %s left out (their label would depend on both)",
                 int(straddling.sum()), wl.spec)
    return np.where(straddling, -1, rows)


def describe_protocol(proto: Protocol, cfg: EvaluationConfig) -> dict[str, str]:
    """How the scores were obtained, in words: folds, classifier, label null and test, interval,
    and the transductive note."""
    null = proto.null
    return {
        "split": proto.folds.describe(),
        "classifier": {"ridge": "ridge classifier (alpha 1, balanced class weights) on standardised features",
                       "logistic": "L2 logistic regression (balanced class weights) on standardised features"
                       }[cfg.classifier]
        + (f", PCA to {cfg.pca} components inside each fold for wide features" if cfg.pca else ""),
        "label_null": null.describe() if null is not None else "not run (n_permutations = 0)",
        "label_test": ("not run" if null is None else "valid" if null.testable else f"not testable: {null.reason}"),
        "interval": (f"95 % circular block bootstrap over windows (blocks of {proto.block}) of the "
                     "out-of-fold correctness; covers the sampling of windows, not refitting"),
        "transductive": TRANSDUCTIVE_NOTE,
    }


def _window_rows(x: Any, n_windows: int, method: str) -> np.ndarray:
    """``x`` as (windows, features), its dtype kept (the scores of float32 features are those of float32)."""
    x = np.asarray(x)
    if x.ndim == 0 or len(x) != n_windows:
        raise ParameterError(f"features of {method!r}: expected one row per window ({n_windows}), got shape "
                             f"{x.shape}", "features")
    return x.reshape(n_windows, -1)


def evaluate_features(features: Mapping[str, Features] | Sequence[tuple[str, Features]],
                      labels: WindowLabels | Sequence, starts: np.ndarray, stops: np.ndarray,
                      config: EvaluationConfig | None = None, *, kinds: Mapping[str, str | None] | None = None,
                      shuffled: Mapping[str, Sequence[np.ndarray] | Callable[[], Sequence[np.ndarray]]] | None = None,
                      on_scored: Callable[[str], None] | None = None) -> EvaluationReport:
    """Score window features the caller holds against window labels, with the evaluation's
    protocol: the same labelled windows, folds, classifier, bootstrap interval, label null and
    clustering for every method.

    Parameters
    ----------
    features
        Method name → its window features (a sequence of pairs scores a repeated name again). A
        callable is called once, after the labels and folds have been checked, so expensive
        features are not computed for labels that cannot be scored; it may return None to skip
        the method.
    labels
        One label per window (None = unlabelled), or :class:`WindowLabels` (e.g. from
        :func:`~nwb_tavrnn.evaluation.label_specs.table_labels`, whose interval rows become the
        blocks the label null permutes).
    config
        The protocol's parameters (``split``, ``n_splits``, ``purge_gap``, ``classifier``,
        ``null``, ``n_permutations``, ``alpha``, ``seeds``, ``pca``, ``min_purity``, ``n_boot``,
        ``seed``; ``feature_mode`` only decides the PCA of ``embedding`` features).
    kinds
        Method name → how its features are reduced inside each fold: ``wide`` (the default: PCA to
        ``config.pca`` components, as for correlations or rates), ``embedding`` (PCA only with
        ``feature_mode="flatten"``) or None (no PCA).
    shuffled
        Method name → its features on time-shuffled data, one array per shuffle (or a callable
        returning them): classified with the same folds, reported as ``time_shuffle`` rows.
    on_scored
        Called with what was done (``"NAME scored"``) after each method.

    Shapes
    ------
    features : each (windows, ...) for every window, unlabelled ones included; flattened per window
    starts, stops : (windows,) seconds

    Returns
    -------
    EvaluationReport
        Its ``scores`` (method, analysis, metric, seed, value), ``summary`` and ``protocol``
        description; ``alignment`` is NaN (no node groups here).

    Raises
    ------
    InputFileError
        Labels that cannot be scored (fewer than two classes of two windows, too few blocks for
        the folds).
    ParameterError
        No method, a method's features without one row per window, or an unknown kind.
    """
    cfg = config or EvaluationConfig()
    starts, stops = np.asarray(starts, float), np.asarray(stops, float)
    methods = list(features.items()) if isinstance(features, Mapping) else list(features)
    kinds = dict(kinds or {})
    if not methods:
        raise ParameterError("features: give the window features of at least one method", "features")
    unknown = {k: v for k, v in kinds.items() if v not in KINDS}
    if unknown:
        raise ParameterError(f"kinds must be wide, embedding or None, got {unknown}", "kinds")
    wl = as_window_labels(labels, len(starts))
    proto = build_protocol(wl, starts, stops, cfg)
    log.info("%d of %d windows labelled: %s", len(proto.idx), len(starts),
             {str(c): int(n) for c, n in zip(*np.unique(proto.y, return_counts=True))})
    log.info("evaluation: %s", proto.folds.describe())
    done = on_scored or (lambda what: None)
    frames: list[pd.DataFrame] = []
    for name, x in methods:
        x = x() if callable(x) else x
        scored = x is not None
        if scored:
            # Only the labelled windows' rows are kept while scoring, and none once scored: a method's
            # features (|r| of every pair of nodes, say) can be the largest arrays of the evaluation.
            rows, x = _window_rows(x, len(starts), name)[proto.idx], None
            frames += score_method(rows, name, proto, cfg, pca_for(cfg, kinds.get(name, "wide")))
            rows = None
        done(f"{name} {'scored' if scored else 'skipped'}")
    for name, sets in (shuffled or {}).items():
        sets = sets() if callable(sets) else sets
        for rep, x in enumerate(sets):
            rows = _window_rows(x, len(starts), name)[proto.idx]
            result = classify(rows, proto.y, proto.folds, cfg.classifier, pca_for(cfg, kinds.get(name, "wide")),
                              cfg.seed)
            frames.append(score_rows(name, "time_shuffle", result.scores, seed=rep))
        done("time_shuffle scored")
    scores = pd.concat(frames, ignore_index=True)
    return EvaluationReport(scores, summarize(scores), wl, np.full(len(starts), np.nan), cfg,
                            extras={"window_index": proto.idx, "window_classes": proto.y, "starts": starts,
                                    "stops": stops},
                            protocol=describe_protocol(proto, cfg))


def score_features(x: np.ndarray, labels: WindowLabels, starts: np.ndarray, stops: np.ndarray,
                   config: EvaluationConfig | None = None, method: str = "features",
                   kind: str = "wide") -> tuple[pd.DataFrame, dict[str, str]]:
    """Score any window features exactly as the evaluation scores a method: the same labelled
    windows, folds, classifier, interval and label null (for baselines of your own, and for
    checking the protocol's calibration on cheap features). One method of :func:`evaluate_features`.

    Parameters
    ----------
    kind
        ``wide`` (PCA inside folds, as for correlation or rate features) or ``embedding``
        (PCA only with ``feature_mode="flatten"``).

    Shapes
    ------
    x : (windows, features), every window (unlabelled ones are left out here)
    starts, stops : (windows,) seconds

    Returns
    -------
    The score rows (method, analysis, metric, seed, value) and the protocol's description.
    """
    starts = np.asarray(starts, float)
    report = evaluate_features({method: np.asarray(x, float).reshape(len(starts), -1)}, labels, starts, stops, config,
                               kinds={method: kind})
    return report.scores, report.protocol


__all__ = ["KINDS", "TRANSDUCTIVE_NOTE", "Protocol", "build_protocol", "describe_protocol", "evaluate_features",
           "pca_for", "score_features", "score_method", "score_rows"]
