"""Window labels: what behaviour each connectivity window belongs to.

Labels come from an intervals table (the label with the largest overlap, or a numeric column
averaged over the window by overlap), from a behavioural time series (averaged per window), or from
an array the user passes. Numeric values are turned into classes by quantile bins or by the paper's
rule (the top-k windows "High", the bottom-k "Low", the rest unlabelled).

Unlabelled windows are ``None`` and are left out of every analysis.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import InputFileError
from ..io.read import interval_column, interval_times

UNLABELLED = None

log = logging.getLogger(__name__)


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
    min_coverage: float = 0.5, min_purity: float = 0.0, return_rows: bool = False,
) -> list | tuple[list, np.ndarray]:
    """The label of each window: the value of ``column`` with the most overlap with the window.

    Windows whose labelled intervals cover less than ``min_coverage`` of them are unlabelled, and
    so are windows whose majority label covers less than ``min_purity`` of the labelled time
    (e.g. 0.75 leaves out windows straddling two states evenly).

    With ``return_rows`` also the row of ``df`` each window's label came from (the row of that
    label overlapping the window most; -1 where unlabelled), and the share of the window's labelled
    time that row covers: the blocks of a block design, which a label null permutes (rows with
    equal labels stay separate blocks).

    Shapes
    ------
    window_starts, window_stops : (windows,) seconds
    return : windows labels (None where unlabelled) [, rows (windows,) int, row share (windows,)]
    """
    a, b = np.asarray(window_starts, float), np.asarray(window_stops, float)
    values = interval_column(df, column).to_numpy()
    overlap = _overlaps(*interval_times(df), a, b)  # NaN or reversed rows refused, not silently empty
    out: list = []
    rows = np.full(len(a), -1, dtype=int)
    share = np.zeros(len(a))
    classes = pd.unique(pd.Series(values).dropna())
    for w in range(len(a)):
        totals = {c: overlap[w, values == c].sum() for c in classes}
        covered = sum(totals.values())
        if not totals or covered < min_coverage * (b[w] - a[w]):
            out.append(UNLABELLED)
            continue
        best = max(totals, key=totals.get)
        if totals[best] >= min_purity * covered:
            out.append(_plain(best))
            rows[w] = int(np.argmax(np.where(values == best, overlap[w], -1.0)))
            share[w] = overlap[w, rows[w]] / covered
        else:
            out.append(UNLABELLED)
    return (out, rows, share) if return_rows else out


def labels_from_table_spans(
    tables: dict[str, pd.DataFrame], window_starts: Sequence[float], window_stops: Sequence[float],
    min_coverage: float = 0.5, min_purity: float = 0.0, return_rows: bool = False,
) -> list | tuple[list, np.ndarray]:
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
    return labels_from_intervals(spans, "period", window_starts, window_stops, min_coverage, min_purity, return_rows)


def values_from_intervals(
    df: pd.DataFrame, column: str, window_starts: Sequence[float], window_stops: Sequence[float]
) -> np.ndarray:
    """Mean of a numeric (or boolean) column over the intervals overlapping each window, weighted
    by overlap; NaN for windows no interval overlaps (e.g. the hit rate of each window)."""
    a, b = np.asarray(window_starts, float), np.asarray(window_stops, float)
    raw = interval_column(df, column)
    values = pd.to_numeric(raw, errors="coerce").to_numpy(float)
    text = ~np.isfinite(values) & raw.notna().to_numpy()
    if text.any() and not np.isin(raw[text].astype(str).str.lower(), ["nan", "inf", "-inf"]).all():
        example = raw[text].iloc[0]
        raise InputFileError(f"column {column!r} holds values that are not numbers (e.g. {example!r}); a numeric rule "
                             "(top_bottom, quantile) needs numbers: use the column as class labels (TABLE:COLUMN)")
    overlap = _overlaps(*interval_times(df), a, b)
    overlap[:, ~np.isfinite(values)] = 0.0
    weight = overlap.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (overlap * np.nan_to_num(values)[None, :]).sum(axis=1) / weight
    mean[weight == 0] = np.nan
    return mean


def values_from_series(
    timestamps: np.ndarray, data: np.ndarray, window_starts: Sequence[float], window_stops: Sequence[float],
    component: int | str = 0,
) -> np.ndarray:
    """Mean of a behavioural time series within each window; NaN where the window holds no sample.

    For 2-D data, ``component`` picks what is averaged: a column index (default the first column:
    e.g. x of a position) or ``"norm"`` (the Euclidean norm of each sample: distance from the
    origin, or speed from a velocity). Speed from a position must be computed by the caller.

    Shapes
    ------
    timestamps : (samples,)
    data : (samples,) or (samples, dims)
    return : (windows,)
    """
    t = np.asarray(timestamps, float)
    x = np.asarray(data, float)
    if x.ndim == 1 and component not in (0, "norm"):
        raise InputFileError(f"the series is 1-D; column={component} does not apply")
    if x.ndim > 1:
        x = x.reshape(len(x), -1)
        if component == "norm":
            x = np.linalg.norm(x, axis=1)
        else:
            if not isinstance(component, (int, np.integer)) or not 0 <= component < x.shape[1]:
                raise InputFileError(f"the series has {x.shape[1]} columns; choose column=0..{x.shape[1] - 1} "
                                     f"or norm, not {component!r}")
            x = x[:, int(component)]
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
    """Turn per-window numbers into class labels. Equal values always get the same class (never
    split by window order, which would make classes follow time).

    Parameters
    ----------
    rule
        ``"quantile"``: ``n_classes`` bins cut at the quantiles of the values (names default to
        "q1".."qn", low to high; a value equal to a cut goes to the lower bin, so many equal values
        make bins of unequal size); ``"top_bottom"``: the paper's rule, the ``k`` highest windows
        "High", the ``k`` lowest "Low", the rest unlabelled; windows tied with the k-th value are all
        included (a class may then hold more than ``k``).
    """
    v = np.asarray(values, float)
    finite = np.isfinite(v)
    out: list = [UNLABELLED] * len(v)
    if rule == "top_bottom":
        if 2 * k > finite.sum():
            raise InputFileError(f"top/bottom {k} needs at least {2 * k} windows with a value; {finite.sum()} have one")
        ranked = np.sort(v[finite])
        low_cut, high_cut = ranked[k - 1], ranked[-k]
        low_mask, high_mask = finite & (v <= low_cut), finite & (v >= high_cut)
        if (low_mask & high_mask).any():
            raise InputFileError(f"top/bottom {k}: the {k} highest and {k} lowest windows share the value {low_cut:g}; "
                                 "use a smaller k or the quantile rule")
        if low_mask.sum() > k or high_mask.sum() > k:
            log.warning("top/bottom %d: ties at the cut; %d Low and %d High windows", k, low_mask.sum(),
                        high_mask.sum())
        low, high = (names or ("Low", "High"))[:2]
        for i in np.flatnonzero(low_mask):
            out[i] = low
        for i in np.flatnonzero(high_mask):
            out[i] = high
        return out
    if rule != "quantile":
        raise ValueError(f"rule must be 'quantile' or 'top_bottom', got {rule!r}")
    if n_classes < 2:
        raise ValueError("n_classes must be at least 2")
    names = list(names) if names is not None else [f"q{i + 1}" for i in range(n_classes)]
    if not finite.any():
        return out
    cuts = np.quantile(v[finite], np.arange(1, n_classes) / n_classes)
    bins = np.searchsorted(cuts, v[finite], side="left")
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
        small = [str(c) for c, n in zip(classes, counts) if n < 2]
        raise InputFileError(f"classes {small} have fewer than 2 windows; use longer recordings or shorter windows")
    return idx, y.astype(str)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
