"""Window labels from a label spec: which behaviour each window of a recording belongs to.

A spec names where labels come from in an NWB file (an intervals table's column, a behavioural
series, or the spans of several tables; see :func:`window_labels`); :func:`check_window_labels`
also refuses labels that cannot be scored, saying why. The label arithmetic (overlaps, classes
from values) is :mod:`nwb_tavrnn.evaluation.labels`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputFileError
from .labels import (
    classes_from_values,
    labelled,
    labels_from_array,
    labels_from_intervals,
    labels_from_table_spans,
    values_from_intervals,
    values_from_series,
)


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
                    f"window per interval or per run of labels: `windows_from` {table}{':' + column if column else ''};"
                    " or with a shorter `window`; or label whole task periods (spans:TABLE1,TABLE2)")
        raise InputFileError(f"labels {spec!r}: {err}{hint}", ("windows_from", "window") if hint else None) from None
    return wl


def as_window_labels(labels: WindowLabels | Sequence, n_windows: int) -> WindowLabels:
    """``labels`` as :class:`WindowLabels`: as given, or one label per window (None = unlabelled)
    from the caller."""
    if isinstance(labels, WindowLabels):
        return labels
    return WindowLabels(labels_from_array(labels, n_windows), None, "given by the caller")


__all__ = ["WindowLabels", "as_window_labels", "check_window_labels", "table_labels", "window_labels"]
