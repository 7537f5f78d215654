"""The evaluation step: score a file's embeddings against window labels, beside baselines and nulls.

For the labelled windows of a NodeEmbeddings object it reports, per method (the model, and the
baselines computed on the same windows), cross-validated classification and clustering scores
over several seeds; a label-permutation null and a time-shuffle null (spike trains rotated in time,
then the whole pipeline re-run); and how strongly nodes cluster by their group in each window
(subregion alignment) as behaviour changes. Scores go into the NWB file (EvaluationScores), and
into CSV/JSON and figures in a report folder.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..connectivity.compute import edge_density, edge_strength, edge_turnover
from ..errors import InputFileError, ParameterError
from ..io.files import PathLike, check_report_folder, check_writable, open_nwb
from ..io.spike_trains import is_traces
from . import features as feats
from .labels import (
    classes_from_values,
    labelled,
    labels_from_intervals,
    labels_from_table_spans,
    values_from_intervals,
    values_from_series,
)
from .metrics import classify, correlate, principal_components, subregion_alignment, summarize

log = logging.getLogger(__name__)

BASELINES = ("raw_correlation", "population_rates", "vgae", "vgrnn")
#: Run only when asked for, and only where the user has installed the package.
OPTIONAL_BASELINES = ("cebra",)
TIME_SHUFFLE_MODES = ("within_windows", "whole_recording")
#: Pieces of a within-window shuffle shorter than this many bins keep coordination at their own scale.
MIN_SHUFFLE_BINS = 20


@dataclass
class EvaluationConfig:
    """Parameters of the evaluation step (stored with its results).

    Parameters
    ----------
    split
        Cross-validation folds (:mod:`nwb_tavrnn.evaluation.splits`): ``blocked`` (default,
        contiguous runs of windows in time order), ``label_blocks`` (whole label blocks held out
        together) or ``stratified`` (shuffled; neighbouring windows then sit in training).
    n_splits
        Folds (fewer when there are fewer windows or label blocks).
    purge_gap
        Seconds around each test window inside which training windows are dropped; windows that
        overlap a test window are always dropped.
    classifier
        ``ridge`` (scikit-learn's RidgeClassifier with balanced class weights on standardised
        features; its nulls are computed for every permutation at once) or ``logistic`` (L2
        logistic regression with balanced class weights; slower nulls).
    null
        Label null (:mod:`nwb_tavrnn.evaluation.nulls`): ``block_permutation`` (default; labels
        permuted across label blocks), ``circular_shift`` or ``iid`` (single windows; ignores blocks).
    n_permutations
        Labellings of the null (every distinct one when there are no more than this).
    alpha
        Level at which a label test must be able to reject for a p-value to be reported.
    seeds
        k-means restarts of the clustering scores (classification is deterministic).
    baselines
        Any of ``raw_correlation``, ``population_rates``, ``vgae``, ``vgrnn`` (the default: all four),
        and ``cebra`` (CEBRA-Time on binned spikes, self-supervised; only when asked for, and only
        with the ``cebra`` package installed: skipped with a warning otherwise).
    time_shuffle
        Run the time-shuffle null (shuffle spike trains, recompute graphs, refit the model).
    time_shuffle_repeats
        Independent shuffles; each refits the model with its own training settings.
    time_shuffle_mode
        ``within_windows`` (default): each spike train is rotated separately inside every piece
        between window edges, so every node keeps its spike count in every window (a rate-matched
        null: what survives it is carried by rates, not coordination); ``whole_recording``: one
        rotation over the whole recording (rates are kept per node, not per window).
    n_jobs
        Processes for the evaluation's model trainings (learned baselines and time-shuffle refits;
        None: one per available core). Each training runs on one torch thread either way.
    feature_mode
        Window features from node embeddings: ``node_mean`` (the paper's), ``node_mean_sd``, ``flatten``.
    pca
        Components kept (inside each fold) for high-dimensional features (correlations, rates, flatten).
    min_purity
        A window takes a categorical label only if that label covers at least this share of it.
    baseline_epochs
        Epochs for the learned baselines and the time-shuffle refit (None: the model's own).
    n_boot
        Circular block bootstrap resamples of the accuracy interval.
    alignment_exclude
        Node groups left out of the alignment score.
    figures
        Write figures (PNG and PDF) into the report folder.
    """

    split: str = "blocked"
    n_splits: int = 5
    purge_gap: float = 0.0
    classifier: str = "ridge"
    null: str = "block_permutation"
    n_permutations: int = 200
    alpha: float = 0.05
    seeds: int = 10
    baselines: tuple[str, ...] = BASELINES
    time_shuffle: bool = True
    time_shuffle_repeats: int = 3
    time_shuffle_mode: str = "within_windows"
    n_jobs: int | None = None
    feature_mode: str = "flatten"
    pca: int = 10
    min_purity: float = 0.75
    baseline_epochs: int | None = None
    n_boot: int = 2000
    alignment_exclude: tuple[str, ...] = ()
    figures: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        from .metrics import CLASSIFIERS
        from .nulls import NULLS
        from .splits import SPLITS

        unknown = set(self.baselines) - set(BASELINES) - set(OPTIONAL_BASELINES)
        if unknown:
            raise ParameterError(f"unknown baselines {sorted(unknown)}; known: "
                                 f"{', '.join(BASELINES + OPTIONAL_BASELINES)}")
        for name in ("seeds", "time_shuffle_repeats", "n_permutations"):
            if getattr(self, name) < (0 if name == "n_permutations" else 1):
                raise ParameterError(f"{name} must be >= {0 if name == 'n_permutations' else 1}, "
                                     f"got {getattr(self, name)}")
        for name, value, allowed in (("time_shuffle_mode", self.time_shuffle_mode, TIME_SHUFFLE_MODES),
                                     ("split", self.split, SPLITS), ("null", self.null, NULLS),
                                     ("classifier", self.classifier, CLASSIFIERS)):
            if value not in allowed:
                raise ParameterError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        if self.n_splits < 2:
            raise ParameterError(f"n_splits must be >= 2, got {self.n_splits}")
        if not self.purge_gap >= 0:
            raise ParameterError(f"purge_gap must be >= 0 seconds, got {self.purge_gap}")
        if not 0 < self.alpha < 1:
            raise ParameterError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.n_boot < 1:
            raise ParameterError(f"n_boot must be >= 1, got {self.n_boot}")
        if not 0.5 < self.min_purity <= 1:
            raise ParameterError(f"min_purity (the share of a window one label must cover) must be in (0.5, 1], "
                                 f"got {self.min_purity}")
        if self.baseline_epochs is not None and self.baseline_epochs < 1:
            raise ParameterError(f"baseline_epochs must be >= 1, got {self.baseline_epochs}")
        if self.split == "label_blocks" and self.null != "block_permutation":
            raise ParameterError("split='label_blocks' holds out the observed label blocks; only null='block_permutation' "
                                 "keeps them, so pair it with that null")
        if self.n_jobs is not None and self.n_jobs < 1:
            raise ParameterError(f"n_jobs must be >= 1, got {self.n_jobs}")
        self.baselines = tuple(self.baselines)
        self.alignment_exclude = tuple(self.alignment_exclude)


#: What every report says about the learned features (they see all windows, never the labels).
TRANSDUCTIVE_NOTE = ("learned window features (the model, VGRNN, VGAE, CEBRA) are fitted without labels on all "
                     "windows, test windows included (transductive); recurrent models (TAVRNN, VGRNN) and CEBRA-Time "
                     "also pass information between neighbouring windows, so a training window's features depend on "
                     "the spikes of nearby test windows (a purge_gap as long as that memory narrows this); only the "
                     "classifier and the feature scaling/PCA are fitted inside each fold")


@dataclass
class WindowLabels:
    """Labels of every window (None = unlabelled), the per-window values they came from (if
    numeric), the spec that produced them, and, where the labels came from the rows of an intervals
    table, the row of every window (-1 unlabelled) and the share of the window's labelled time that
    row covers (None: blocks are the runs of equal labels)."""

    labels: list
    values: np.ndarray | None
    spec: str
    blocks: np.ndarray | None = None
    block_share: np.ndarray | None = None


@dataclass
class EvaluationReport:
    """Everything the step computed.

    ``protocol`` says how: the folds, the label null and whether it allowed a test, what the
    intervals cover, and the transductive note.
    """

    scores: pd.DataFrame
    summary: pd.DataFrame
    labels: WindowLabels
    alignment: np.ndarray
    config: EvaluationConfig
    path: Path | None = None
    report_dir: Path | None = None
    figures: list[Path] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    protocol: dict[str, str] = field(default_factory=dict)

    def headline(self) -> pd.DataFrame:
        """Accuracy per method (classification) and per time-shuffle refit set, with its interval and
        the label-null p-value of that very accuracy (NaN where the null allows no valid test).

        Columns: method, analysis, mean, ci_low, ci_high, interval, p_value, n.
        """
        s = self.scores
        rows = []
        for method in pd.unique(s.method):
            mine = s[s.method == method]
            value = _metric(mine, "classification", "accuracy")
            if value is not None:
                rows.append({"method": method, "analysis": "classification", "mean": value,
                             "ci_low": _metric(mine, "classification", "accuracy_ci_low"),
                             "ci_high": _metric(mine, "classification", "accuracy_ci_high"),
                             "interval": self.protocol.get("interval", ""),
                             "p_value": _metric(mine, "label_permutation", "p_value"),
                             "n": int(_metric(mine, "classification", "n_windows") or 0)})
            shuffle = mine[(mine.analysis == "time_shuffle") & (mine.metric == "accuracy")]["value"]
            if len(shuffle):
                rows.append({"method": method, "analysis": "time_shuffle", "mean": float(shuffle.mean()),
                             "ci_low": float(shuffle.min()), "ci_high": float(shuffle.max()),
                             "interval": f"range over {len(shuffle)} refit(s)", "p_value": np.nan,
                             "n": len(shuffle)})
        columns = ["method", "analysis", "mean", "ci_low", "ci_high", "interval", "p_value", "n"]
        out = pd.DataFrame(rows, columns=columns)
        out[["mean", "ci_low", "ci_high", "p_value"]] = out[["mean", "ci_low", "ci_high", "p_value"]].astype(float)
        return out

    def format_headline(self) -> str:
        """The headline as text for the command line: accuracies with their intervals and p-values,
        and one line on how they were obtained (or why no p-value could be given)."""
        lines = [f"accuracy, {self.protocol.get('split', 'cross-validated')}",
                 f"interval: {self.protocol.get('interval', '')}",
                 f"p: label null, {self.protocol.get('label_null', '')}"]
        for row in self.headline().itertuples(index=False):
            if row.analysis == "classification":
                p = (f"p = {row.p_value:.3g}" if np.isfinite(row.p_value) else "p: no valid test"
                     if self.config.n_permutations else "p: not run")
                lines.append(f"  {row.method:<18} {row.analysis:<15} {row.mean:.3f} [{row.ci_low:.3f}, "
                             f"{row.ci_high:.3f}]  {p}")
            else:
                lines.append(f"  {row.method:<18} {row.analysis:<15} {row.mean:.3f} (refits {row.ci_low:.3f}"
                             f"-{row.ci_high:.3f})")
        test = self.protocol.get("label_test", "")
        if test.startswith("not testable"):
            lines.append(f"label test {test}")
        return "\n".join(lines)


def _metric(frame: pd.DataFrame, analysis: str, metric: str) -> float | None:
    v = frame[(frame.analysis == analysis) & (frame.metric == metric)]["value"]
    return float(v.iloc[0]) if len(v) else None


def table_labels(df: pd.DataFrame, column: str, starts: np.ndarray, stops: np.ndarray, spec: str,
                 min_purity: float = 0.75) -> WindowLabels:
    """Labels of every window from a categorical column of an intervals table, with the row each
    label came from (the design blocks a label null permutes).

    Shapes
    ------
    starts, stops : (windows,) seconds
    """
    found, rows, share = labels_from_intervals(df, column, starts, stops, min_purity=min_purity, return_rows=True)
    return WindowLabels(found, None, spec, rows, share)


_RULE = re.compile(r"^(top_bottom|quantile)(?:=(\d+))?$")


def window_labels(nwbfile, spec: str, starts: np.ndarray, stops: np.ndarray, min_purity: float = 0.75) -> WindowLabels:
    """Labels per window from a spec.

    ``TABLE:COLUMN`` (majority label by overlap), ``TABLE:COLUMN:top_bottom=K`` or
    ``TABLE:COLUMN:quantile=Q`` (a numeric column averaged per window, then classes),
    ``behavior:SERIES[:quantile=Q][:column=C|:norm]`` (a behavioural series averaged per window;
    SERIES is its path or name as ``nwb-tavrnn inspect`` lists it; of 2-D data the first column
    unless ``column=C`` or ``norm`` is given), or ``spans:TABLE1,TABLE2[,...]`` (the table whose span,
    first start to last stop, covers most of the window: task periods kept as trial tables).
    """
    from ..io.read import read_behavior_series, read_intervals

    if spec.startswith("spans:"):
        intervals = read_intervals(nwbfile)
        names = [n for n in spec[len("spans:"):].split(",") if n]
        missing = [n for n in names if n not in intervals]
        if len(names) < 2 or missing:
            raise InputFileError(f"labels {spec!r}: give at least two intervals tables; "
                                 f"{'no table ' + ', '.join(map(repr, missing)) + '; ' if missing else ''}"
                                 f"the file has: {', '.join(intervals) or 'none'}")
        found, rows, share = labels_from_table_spans({n: intervals[n] for n in names}, starts, stops,
                                                     min_purity=min_purity, return_rows=True)
        return WindowLabels(found, None, spec, rows, share)
    parts = spec.split(":")
    if len(parts) < 2:
        raise InputFileError(f"labels {spec!r}: expected TABLE:COLUMN[:RULE] or behavior:SERIES[:RULE]")
    match, component = None, 0
    for extra in parts[2:]:
        if parts[0] == "behavior" and (extra == "norm" or extra.startswith("column=")):
            try:
                component = "norm" if extra == "norm" else int(extra[len("column="):])
            except ValueError:
                raise InputFileError(f"labels {spec!r}: column=C needs a column number") from None
            continue
        match = _RULE.match(extra)
        if not match:
            raise InputFileError(f"labels {spec!r}: unknown rule {extra!r}; use top_bottom=K or quantile=Q"
                                 + (" (and column=C or norm for 2-D series)" if parts[0] == "behavior" else ""))
    if parts[0] == "behavior":
        found = read_behavior_series(nwbfile, parts[1])
        values = values_from_series(found.timestamps, found.data, starts, stops, component=component)
    else:
        intervals = read_intervals(nwbfile)
        if parts[0] not in intervals:
            raise InputFileError(f"no intervals table {parts[0]!r}; the file has: {', '.join(intervals) or 'none'}")
        df = intervals[parts[0]]
        if match is None:
            return table_labels(df, parts[1], starts, stops, spec, min_purity)
        values = values_from_intervals(df, parts[1], starts, stops)
    if match is None:
        match = _RULE.match("quantile=2")
    kind, number = match.group(1), int(match.group(2) or (3 if match.group(1) == "top_bottom" else 2))
    if number < (1 if kind == "top_bottom" else 2):
        raise InputFileError(f"labels {spec!r}: {kind}=K needs K >= {1 if kind == 'top_bottom' else 2}")
    labels = (classes_from_values(values, "top_bottom", k=number) if kind == "top_bottom"
              else classes_from_values(values, "quantile", n_classes=number))
    return WindowLabels(labels, values, spec)


def _interval_tables(spec: str) -> list[str]:
    """The intervals tables a ``TABLE:COLUMN`` or ``spans:`` spec reads."""
    if spec.startswith("spans:"):
        return [n for n in spec[len("spans:"):].split(",") if n]
    table = spec.split(":", 1)[0]
    return [] if table == "behavior" else [table]


def check_window_labels(nwbfile, spec: str, starts: np.ndarray, stops: np.ndarray,
                        min_purity: float = 0.75) -> WindowLabels:
    """:func:`window_labels`, refusing labels that cannot be scored, with the reason and a fix.

    Used before any work (``run`` checks against the windows it is about to compute) and by the
    evaluation itself. When the intervals are shorter than the windows, no window is mostly
    covered by one label; the message says so and points to ``--windows-from`` or ``spans:``.

    Raises
    ------
    InputFileError
        Fewer than two classes, or a class with fewer than two windows.
    """
    from ..io.read import read_intervals

    wl = window_labels(nwbfile, spec, starts, stops, min_purity)
    try:
        labelled(wl.labels)
    except InputFileError as err:
        hint = ""
        intervals = read_intervals(nwbfile)
        durations = [np.asarray(intervals[t]["stop_time"], float) - np.asarray(intervals[t]["start_time"], float)
                     for t in _interval_tables(spec) if t in intervals and len(intervals[t])]
        window = float(np.median(np.asarray(stops) - np.asarray(starts))) if len(starts) else float("nan")
        if durations and np.median(np.concatenate(durations)) < min_purity * window:
            table = _interval_tables(spec)[0]
            column = spec.split(":")[1] if not spec.startswith("spans:") and spec.count(":") >= 1 else None
            hint = (f"; the intervals of {table!r} last {np.median(np.concatenate(durations)):.3g} s (median), shorter "
                    f"than the {window:.3g} s windows, so no window is mostly one label: compute the graphs with one "
                    f"window per interval or per run of labels (connectivity or run --windows-from "
                    f"{table}{':' + column if column else ''}), or with shorter windows (--window), or label whole "
                    "task periods (spans:TABLE1,TABLE2)")
        raise InputFileError(f"labels {spec!r}: {err}{hint}") from None
    return wl


@dataclass
class _Protocol:
    """The labelled windows in time order, their folds, the label null and the bootstrap block."""

    idx: np.ndarray
    y: np.ndarray
    folds: Any
    null: Any
    block: int


def _frame(method: str, analysis: str, values: dict[str, float], seed: int = -1) -> pd.DataFrame:
    return pd.DataFrame([{"method": method, "analysis": analysis, "metric": k, "seed": seed, "value": float(v)}
                         for k, v in values.items()])


def _pca_for(cfg: EvaluationConfig, kind: str) -> int | None:
    """Components kept inside folds: always for wide baselines, for embeddings only when flattened."""
    return cfg.pca if kind == "wide" or cfg.feature_mode == "flatten" else None


def _score(x: np.ndarray, method: str, proto: _Protocol, cfg: EvaluationConfig, pca: int | None) -> list[pd.DataFrame]:
    """Classification (with its bootstrap interval), the label null of that same accuracy, and clustering."""
    from .metrics import block_bootstrap_interval, classify, cluster, fold_features, permutation_test

    prepared = fold_features(x, proto.folds, pca)
    result = classify(x, proto.y, None, cfg.classifier, pca, cfg.seed, prepared=prepared)
    low, high = block_bootstrap_interval(result.correct, proto.block, cfg.n_boot, seed=cfg.seed)
    out = [_frame(method, "classification", {**result.scores, "accuracy_ci_low": low, "accuracy_ci_high": high,
                                              "n_windows": len(proto.y)})]
    if proto.null is not None:
        perm = permutation_test(x, proto.y, None, proto.null, cfg.classifier, pca, cfg.seed, prepared=prepared)
        values = {"accuracy": perm.observed, "null_accuracy_mean": float(np.mean(perm.null)),
                  "null_accuracy_95": float(np.quantile(perm.null, 0.95)), "n_permutations": len(perm.null),
                  "exact": float(perm.exact), "testable": float(perm.testable)}
        if perm.testable:
            values["p_value"] = perm.p_value
        out.append(_frame(method, "label_permutation", values))
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


def _protocol(wl: WindowLabels, starts: np.ndarray, stops: np.ndarray, cfg: EvaluationConfig) -> _Protocol:
    """Labelled windows in time order, folds that never share time between training and testing,
    and the label null (with whether it allows a test)."""
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
    null = (label_null(y, cfg.null, cfg.n_permutations, cfg.seed, cfg.alpha, blocks=blocks)
            if cfg.n_permutations else None)
    n_blocks = len(np.unique(blocks))
    block = int(np.clip(round(len(y) / n_blocks), 1, max(1, len(y) // 4)))  # about one label block
    if null is not None and not null.testable:
        log.warning("label test not possible: %s", null.reason)
    return _Protocol(idx, y, folds, null, block)


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


def _describe(proto: _Protocol, cfg: EvaluationConfig) -> dict[str, str]:
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


def score_features(x: np.ndarray, labels: WindowLabels, starts: np.ndarray, stops: np.ndarray,
                   config: EvaluationConfig | None = None, method: str = "features",
                   kind: str = "wide") -> tuple[pd.DataFrame, dict[str, str]]:
    """Score any window features exactly as the evaluation scores a method: the same labelled
    windows, folds, classifier, interval and label null (for baselines of your own, and for
    checking the protocol's calibration on cheap features).

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
    cfg = config or EvaluationConfig()
    starts, stops = np.asarray(starts, float), np.asarray(stops, float)
    proto = _protocol(labels, starts, stops, cfg)
    x = np.asarray(x, float).reshape(len(starts), -1)[proto.idx]
    frames = _score(x, method, proto, cfg, _pca_for(cfg, kind))
    return pd.concat(frames, ignore_index=True), _describe(proto, cfg)


def _time_shuffle_jobs(trains, conn, prov, cfg: EvaluationConfig) -> list[tuple[str, Any, dict]]:
    """The time-shuffle refits as jobs: shuffle every spike train in time (within window pieces or
    over the whole recording), recompute the graphs with the same parameters and windows, and refit
    the model exactly as the model step did (same features, history row, training settings)."""
    from ..connectivity import ConnectivityParams
    from .baselines import null_embeddings

    stored = conn.parameters_dict
    known = set(ConnectivityParams.__dataclass_fields__)
    params = ConnectivityParams.from_dict({k: v for k, v in stored.items() if k in known})
    windows = (np.asarray(conn.window_start_times[:]), np.asarray(conn.window_stop_times[:]))
    boundaries = None
    if cfg.time_shuffle_mode == "within_windows":
        boundaries = np.concatenate(windows)
        pieces = np.diff(feats.shuffle_pieces(trains.t_start, trains.t_stop, boundaries))
        if pieces.size and pieces.min() < MIN_SHUFFLE_BINS * params.bin_size:
            log.warning("the shortest piece between window edges is %.3g s (< %d bins): the within-window "
                        "shuffle keeps coordination at that scale; consider time_shuffle_mode='whole_recording'",
                        pieces.min(), MIN_SHUFFLE_BINS)
    job = {"trains": trains, "params": params, "windows": windows, "model_name": prov.model_name,
           "hyperparameters": prov.hyperparameters_dict, "epochs": cfg.baseline_epochs, "boundaries": boundaries,
           "with_correlation": conn.correlation is not None}
    return [(f"time_shuffle[{rep}]", null_embeddings, {**job, "seed": cfg.seed + 1000 + rep})
            for rep in range(cfg.time_shuffle_repeats)]


def _run_jobs(jobs: list[tuple[str, Any, dict]], n_jobs: int | None, done=lambda name: None) -> dict[str, Any]:
    """Run the model trainings of the evaluation (learned baselines, time-shuffle refits): in
    parallel processes when there are cores for it, else one by one; each on one torch thread
    either way, so the results do not depend on the number of cores. ``done(name)`` is called as
    each finishes (progress)."""
    import multiprocessing
    import os

    from .baselines import in_worker

    if not jobs:
        return {}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = min(len(jobs), n_jobs if n_jobs is not None else cores)
    if multiprocessing.current_process().daemon:  # e.g. a Dask worker process: it may not start children
        workers = 1
    out: dict[str, Any] = {}
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        log.info("evaluation: %d model trainings (%s) in %d processes", len(jobs), ", ".join(j[0] for j in jobs),
                 workers)
        level = logging.getLogger("nwb_tavrnn.models.training").getEffectiveLevel()
        # spawn, not fork: a forked child of a process that already ran torch/OpenMP threads can hang
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        try:
            futures = {pool.submit(in_worker, function, kwargs, 1, level): name for name, function, kwargs in jobs}
            for future in as_completed(futures):
                out[futures[future]], seconds = future.result()
                done(f"{futures[future]} trained in {seconds:.0f} s")
        except BrokenProcessPool:
            # e.g. a script without an ``if __name__ == "__main__":`` guard: spawned workers cannot start
            log.warning("worker processes could not run (a script needs an 'if __name__ == \"__main__\":' guard "
                        "for them); training the remaining evaluation models one by one")
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # an error stops the queue instead of waiting for it
    for name, function, kwargs in jobs:
        if name not in out:
            out[name], seconds = in_worker(function, kwargs, 1)
            done(f"{name} trained in {seconds:.0f} s")
    return out


def evaluate(nwbfile, labels: str | list, *, embeddings: str | None = None, config: EvaluationConfig | None = None,
             progress: bool = False, on_step: Callable[[int, int, str], None] | None = None) -> EvaluationReport:
    """Evaluate the NodeEmbeddings of an open file (see the module docstring).

    Parameters
    ----------
    labels
        A label spec (see :func:`window_labels`) or one label per window (None = unlabelled).
    embeddings
        Name of the NodeEmbeddings when the file holds several.
    progress
        A progress bar on a terminal; log lines (INFO) report every step either way.
    on_step
        ``on_step(done, total, what)`` after each step (an outer progress display's sub-progress).
    """
    from ..io.read import read_one
    from ..schema import NodeEmbeddings

    cfg = config or EvaluationConfig()
    emb = read_one(nwbfile, NodeEmbeddings, embeddings)
    conn, prov = emb.connectivity, emb.model
    if conn is None:
        raise InputFileError(f"{emb.name} is not linked to its DynamicConnectivity; baselines need the graphs")
    starts, stops = np.asarray(emb.window_start_times[:]), np.asarray(emb.window_stop_times[:])
    if isinstance(labels, str):
        wl = check_window_labels(nwbfile, labels, starts, stops, cfg.min_purity)
    else:
        from .labels import labels_from_array

        wl = WindowLabels(labels_from_array(labels, len(starts)), None, "given by the caller")
    proto = _protocol(wl, starts, stops, cfg)
    idx, y = proto.idx, proto.y
    log.info("%d of %d windows labelled: %s", len(idx), len(starts),
             {str(c): int(n) for c, n in zip(*np.unique(y, return_counts=True))})
    log.info("evaluation: %s", proto.folds.describe())
    mean = np.asarray(emb.mean[()])
    model_name = emb.model_name
    frames: list[pd.DataFrame] = []
    extras: dict[str, Any] = {}
    from .baselines import GraphArrays, ablation_embeddings, vgae_embeddings

    graphs = GraphArrays.of(conn)  # read once: the baselines, the VGRNN refit and the figures share it
    adjacency = graphs.adjacency
    correlation = graphs.correlation if graphs.correlation is not None else adjacency
    node_trains: list = []

    def trains():
        """The graphs' nodes (spike trains, or ROI traces in memory), read from the file once, when first needed."""
        if not node_trains:
            from ..connectivity.nodes import read_graph_nodes

            nodes = read_graph_nodes(nwbfile, conn)
            # ROI traces are held in memory here: the shuffled refits run in other processes
            node_trains.append(nodes.materialise() if hasattr(nodes, "materialise") else nodes)
        return node_trains[0]

    # Every model training (learned baselines, time-shuffle refits) runs together, in parallel where cores allow.
    jobs: list[tuple[str, Any, dict]] = []
    if "vgae" in cfg.baselines:
        jobs.append(("vgae", vgae_embeddings, {"adjacency": adjacency, "features": correlation,
                                              "latent": mean.shape[2], "epochs": cfg.baseline_epochs or 100,
                                              "seed": cfg.seed}))
    if "vgrnn" in cfg.baselines:
        if prov is None:
            log.warning("no ModelProvenance linked to %s: skipping the VGRNN baseline", emb.name)
        else:
            jobs.append(("vgrnn", ablation_embeddings, {"connectivity": graphs,
                                                        "hyperparameters": prov.hyperparameters_dict,
                                                        "epochs": cfg.baseline_epochs}))
    shuffle = cfg.time_shuffle and prov is not None
    if shuffle:
        jobs += _time_shuffle_jobs(trains(), conn, prov, cfg)
    total = 1 + len(cfg.baselines) + len(jobs) + int(shuffle)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="evaluate", unit="step")
    done = [0]

    def tick(what: str) -> None:
        done[0] += 1
        log.info("evaluation: %s (%d of %d steps)", what, done[0], total)
        if bar is not None:
            bar.update(1)
        if on_step is not None:
            on_step(done[0], total, what)

    x_model = feats.embedding_features(mean, cfg.feature_mode)[idx]
    frames += _score(x_model, model_name, proto, cfg, _pca_for(cfg, "embedding"))
    tick(f"{model_name} scored")
    trained = _run_jobs(jobs, cfg.n_jobs, tick)
    for name in cfg.baselines:
        if name == "raw_correlation":
            frames += _score(feats.correlation_features(correlation)[idx], name, proto, cfg, _pca_for(cfg, "wide"))
        elif name == "population_rates":
            frames += _score(feats.rate_features(trains(), starts, stops)[idx], name, proto, cfg,
                             _pca_for(cfg, "wide"))
        elif name in trained:  # vgae, vgrnn
            frames += _score(feats.embedding_features(trained[name], cfg.feature_mode)[idx], name, proto, cfg,
                             _pca_for(cfg, "embedding"))
        elif name == "cebra":
            from .cebra_baseline import cebra_available, cebra_window_features

            if is_traces(trains()):
                log.warning("the CEBRA baseline reads spike trains; skipped for ROI traces")
            elif not cebra_available():
                log.warning("the 'cebra' package is not installed: skipping the CEBRA baseline (pip install cebra)")
            else:
                x = cebra_window_features(trains(), starts, stops, output_dimension=mean.shape[2], seed=cfg.seed)
                frames += _score(x[idx], name, proto, cfg, None)
        tick(f"{name} scored")
    if shuffle:
        for rep in range(cfg.time_shuffle_repeats):
            x = feats.embedding_features(trained[f"time_shuffle[{rep}]"], cfg.feature_mode)[idx]
            result = classify(x, y, proto.folds, cfg.classifier, _pca_for(cfg, "embedding"), cfg.seed)
            frames.append(_frame(model_name, "time_shuffle", result.scores, seed=rep))
        tick("time_shuffle scored")
    # Subregion alignment per window, and its relation to behaviour.
    groups = np.asarray(emb.node_groups[:]).astype(str) if emb.node_groups is not None else None
    alignment = np.full(len(starts), np.nan)
    excluded = set(cfg.alignment_exclude)
    kept = [g for g in groups if g not in excluded] if groups is not None else []
    # a silhouette needs more nodes than groups (2 <= groups <= nodes - 1)
    if len(set(kept)) >= 2 and len(kept) > len(set(kept)):
        alignment = subregion_alignment(mean, groups, cfg.alignment_exclude)
        rows = {f"mean_alignment[{c}]": float(np.nanmean(alignment[idx][y == c])) for c in np.unique(y)}
        if wl.values is not None:
            rows.update({f"spearman_{k}": float(v) for k, v in correlate(alignment, wl.values).items()})
        frames.append(_frame(model_name, "alignment", rows))
    if bar is not None:
        bar.close()
    scores = pd.concat(frames, ignore_index=True)
    summary = summarize(scores)
    extras.update(window_index=idx, window_classes=y, starts=starts, stops=stops, mean=mean,
                  groups=groups, attention=_attention_of(nwbfile, emb), adjacency_density=edge_density(adjacency),
                  edge_strength=edge_strength(adjacency), edge_similarity=edge_turnover(adjacency))
    return EvaluationReport(scores, summary, wl, alignment, cfg, extras=extras, protocol=_describe(proto, cfg))


def _attention_of(nwbfile, emb) -> np.ndarray | None:
    from ..io.read import find_objects
    from ..schema import TemporalAttention

    for att in find_objects(nwbfile, TemporalAttention):
        if att.embeddings is emb:
            return np.asarray(att.data[()])
    return None


def write_report(report: EvaluationReport, folder: PathLike) -> list[Path]:
    """Scores as CSV and JSON, and figures, in ``folder``; returns the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "scores.csv", folder / "summary.csv", folder / "summary.json"]
    report.scores.to_csv(written[0], index=False)
    report.summary.to_csv(written[1], index=False)
    payload = {"labels": report.labels.spec, "config": asdict(report.config), "protocol": report.protocol,
               "summary": report.summary.to_dict(orient="records"),
               "window_labels": report.labels.labels, "alignment": [None if not np.isfinite(a) else float(a)
                                                                     for a in report.alignment]}
    written[2].write_text(json.dumps(payload, indent=2, default=_json))
    if report.config.figures:
        from .. import plots

        written += plots.report_figures(report, folder)
    report.report_dir = folder
    report.figures = [p for p in written if p.suffix in (".png", ".pdf")]
    return written


def _json(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(type(obj).__name__)


def evaluate_file(source: PathLike, labels: str | list, output: PathLike | None = None, *, in_place: bool = False,
                  overwrite: bool = False, report_dir: PathLike | None = None, embeddings: str | None = None,
                  config: EvaluationConfig | None = None, progress: bool = False,
                  name: str = "EvaluationScores",
                  on_step: Callable[[int, int, str], None] | None = None) -> EvaluationReport:
    """Evaluate the embeddings of ``source``; write the scores into ``output`` (a copy of the
    source with an EvaluationScores table added), or into the source with ``in_place``, and the
    report (CSV, JSON, figures) into ``report_dir``. With neither, nothing is written."""
    from ..io.write import append_results
    from ..schema import EvaluationScores

    cfg = config or EvaluationConfig()
    if output is not None and not in_place:
        check_writable(output, overwrite)
    if report_dir is not None:
        check_report_folder(report_dir, overwrite, protect=(source, output))  # before the work
    from ..io.read import read_one
    from ..io.write import module_of
    from ..schema import NodeEmbeddings

    with open_nwb(source) as nwbfile:
        report = evaluate(nwbfile, labels, embeddings=embeddings, config=cfg, progress=progress, on_step=on_step)
        module = module_of(read_one(nwbfile, NodeEmbeddings, embeddings))
    if report_dir is not None:
        write_report(report, report_dir)
    if output is not None or in_place:
        table = EvaluationScores.from_frame(
            report.scores, name=name,
            description=("Scores of the embeddings and baselines against window labels (see parameters). "
                         + "; ".join(f"{k}: {v}" for k, v in report.protocol.items())),
            labels=report.labels.spec, parameters={**asdict(cfg), "protocol": report.protocol},
        )
        report.path = append_results(source, [table], None if in_place else output, in_place=in_place,
                                     overwrite=overwrite, module_name=module)
    return report
