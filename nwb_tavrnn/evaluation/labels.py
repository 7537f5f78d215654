"""Window labels: what behaviour each connectivity window belongs to.

Labels come from an intervals table (the label with the largest overlap, or a numeric column
averaged over the window by overlap), from a behavioural time series (averaged per window), or from
an array the user passes. Numeric values are turned into classes by quantile bins or by the paper's
rule (the top-k windows "High", the bottom-k "Low", the rest unlabelled).

Unlabelled windows are ``None`` and are left out of every analysis.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import InputFileError
from ..io.read import interval_column

UNLABELLED = None


def _overlaps(starts: np.ndarray, stops: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Seconds of overlap between every window [a, b) and every interval [starts, stops).

    Shapes
    ------
    return : (windows, intervals)
    """
    lo = np.maximum(a[:, None], starts[None, :])
    hi = np.minimum(b[:, None], stops[None, :])
    return np.clip(hi - lo, 0.0, None)


def labels_from_intervals(
    df: pd.DataFrame, column: str, window_starts: Sequence[float], window_stops: Sequence[float],
    min_coverage: float = 0.5, min_purity: float = 0.0,
) -> list:
    """The label of each window: the value of ``column`` with the most overlap with the window.

    Windows whose labelled intervals cover less than ``min_coverage`` of them are unlabelled, and
    so are windows whose majority label covers less than ``min_purity`` of the labelled time
    (e.g. 0.75 leaves out windows straddling two states evenly).

    Shapes
    ------
    window_starts, window_stops : (windows,) seconds
    return : windows labels (None where unlabelled)
    """
    a, b = np.asarray(window_starts, float), np.asarray(window_stops, float)
    values = interval_column(df, column).to_numpy()
    overlap = _overlaps(df["start_time"].to_numpy(float), df["stop_time"].to_numpy(float), a, b)
    out: list = []
    classes = pd.unique(pd.Series(values).dropna())
    for w in range(len(a)):
        totals = {c: overlap[w, values == c].sum() for c in classes}
        covered = sum(totals.values())
        if not totals or covered < min_coverage * (b[w] - a[w]):
            out.append(UNLABELLED)
            continue
        best = max(totals, key=totals.get)
        out.append(_plain(best) if totals[best] >= min_purity * covered else UNLABELLED)
    return out


def labels_from_table_spans(
    tables: dict[str, pd.DataFrame], window_starts: Sequence[float], window_stops: Sequence[float],
    min_coverage: float = 0.5, min_purity: float = 0.0,
) -> list:
    """The name of the table whose span (first start to last stop) covers most of each window.

    For task periods stored as separate trial tables (e.g. an encoding and a recognition block):
    the gaps between trials belong to the period, which per-row overlap would miss. Coverage and
    purity as in :func:`labels_from_intervals`.

    Shapes
    ------
    window_starts, window_stops : (windows,) seconds
    return : windows labels (None where unlabelled)
    """
    empty = [name for name, df in tables.items() if len(df) == 0]
    if empty:
        raise InputFileError(f"intervals table {empty[0]!r} has no rows; it cannot label a period")
    spans = pd.DataFrame({"start_time": [float(df["start_time"].min()) for df in tables.values()],
                          "stop_time": [float(df["stop_time"].max()) for df in tables.values()],
                          "period": list(tables)})
    ordered = spans.sort_values(["start_time", "stop_time", "period"]).to_numpy()
    for (_, stop, name), (start, _, other) in zip(ordered, ordered[1:]):
        if start < stop:
            raise InputFileError(f"the spans of {name!r} and {other!r} overlap (their trials interleave); "
                                 "label windows by a column of one table instead")
    return labels_from_intervals(spans, "period", window_starts, window_stops, min_coverage, min_purity)


def values_from_intervals(
    df: pd.DataFrame, column: str, window_starts: Sequence[float], window_stops: Sequence[float]
) -> np.ndarray:
    """Mean of a numeric (or boolean) column over the intervals overlapping each window, weighted
    by overlap; NaN for windows no interval overlaps (e.g. the hit rate of each window)."""
    a, b = np.asarray(window_starts, float), np.asarray(window_stops, float)
    values = pd.to_numeric(interval_column(df, column).astype(float), errors="coerce").to_numpy()
    overlap = _overlaps(df["start_time"].to_numpy(float), df["stop_time"].to_numpy(float), a, b)
    overlap[:, ~np.isfinite(values)] = 0.0
    weight = overlap.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (overlap * np.nan_to_num(values)[None, :]).sum(axis=1) / weight
    mean[weight == 0] = np.nan
    return mean


def values_from_series(
    timestamps: np.ndarray, data: np.ndarray, window_starts: Sequence[float], window_stops: Sequence[float]
) -> np.ndarray:
    """Mean of a behavioural time series within each window (first column of 2-D data, or its
    norm with ``data`` of shape (samples, dims) — speed from 2-D position velocity, for example,
    should be computed by the caller). NaN where the window holds no sample.

    Shapes
    ------
    timestamps : (samples,)
    data : (samples,) or (samples, dims)
    return : (windows,)
    """
    t = np.asarray(timestamps, float)
    x = np.asarray(data, float)
    if x.ndim > 1:
        x = np.linalg.norm(x.reshape(len(x), -1), axis=1)
    order = np.argsort(t, kind="stable")
    t, x = t[order], x[order]
    csum = np.concatenate([[0.0], np.cumsum(np.nan_to_num(x))])
    ccount = np.concatenate([[0], np.cumsum(np.isfinite(x))])
    lo = np.searchsorted(t, np.asarray(window_starts, float), side="left")
    hi = np.searchsorted(t, np.asarray(window_stops, float), side="left")
    count = ccount[hi] - ccount[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (csum[hi] - csum[lo]) / count
    mean[count == 0] = np.nan
    return mean


def classes_from_values(values: Sequence[float], rule: str = "quantile", n_classes: int = 2, k: int = 3,
                        names: Sequence[str] | None = None) -> list:
    """Turn per-window numbers into class labels.

    Parameters
    ----------
    rule
        ``"quantile"``: ``n_classes`` bins of equal counts (names default to "q1".."qn", low to
        high); ``"top_bottom"``: the paper's rule, the ``k`` highest windows "High", the ``k``
        lowest "Low", the rest unlabelled (ties broken by window order).
    """
    v = np.asarray(values, float)
    finite = np.isfinite(v)
    out: list = [UNLABELLED] * len(v)
    if rule == "top_bottom":
        if 2 * k > finite.sum():
            raise InputFileError(f"top/bottom {k} needs at least {2 * k} windows with a value; {finite.sum()} have one")
        idx = np.flatnonzero(finite)
        order = idx[np.argsort(v[idx], kind="stable")]
        low, high = (names or ("Low", "High"))[:2]
        for i in order[:k]:
            out[i] = low
        for i in order[-k:]:
            out[i] = high
        return out
    if rule != "quantile":
        raise ValueError(f"rule must be 'quantile' or 'top_bottom', got {rule!r}")
    if n_classes < 2:
        raise ValueError("n_classes must be at least 2")
    names = list(names) if names is not None else [f"q{i + 1}" for i in range(n_classes)]
    ranks = np.argsort(np.argsort(v[finite], kind="stable"), kind="stable")
    bins = (ranks * n_classes) // max(int(finite.sum()), 1)
    for i, b in zip(np.flatnonzero(finite), bins):
        out[i] = names[int(b)]
    return out


def labels_from_array(labels: Sequence, n_windows: int) -> list:
    """User-given labels, checked against the window count."""
    labels = list(labels)
    if len(labels) != n_windows:
        raise InputFileError(f"{len(labels)} labels given for {n_windows} windows")
    return [None if (isinstance(x, float) and np.isnan(x)) else _plain(x) for x in labels]


def labelled(labels: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Indices of labelled windows and their labels as an array.

    Raises
    ------
    InputFileError
        With fewer than two classes, or a class with fewer than two windows.
    """
    idx = np.array([i for i, x in enumerate(labels) if x is not None], dtype=int)
    y = np.array([labels[i] for i in idx], dtype=object)
    classes, counts = np.unique(y.astype(str), return_counts=True) if len(y) else ([], [])
    if len(classes) < 2:
        raise InputFileError(f"the window labels hold {len(classes)} class(es); at least 2 are needed "
                             f"({len(idx)} labelled windows)")
    if min(counts) < 2:
        small = [c for c, n in zip(classes, counts) if n < 2]
        raise InputFileError(f"classes {small} have fewer than 2 windows; use longer recordings or shorter windows")
    return idx, y.astype(str)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
