"""Intervals tables as time ranges: ``TABLE``, ``TABLE:COLUMN`` and ``TABLE:COLUMN=VALUE`` specs,
one window per row or per run of a label, and runs of a sampled label.

Light (numpy and pandas): what the connectivity step's windows and the segment reader share.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputFileError
from .read import interval_column, interval_times


def parse_table_spec(spec: str) -> tuple[str, str | None, str | None]:
    """``TABLE``, ``TABLE:COLUMN`` or ``TABLE:COLUMN=VALUE`` → (table, column, value)."""
    table, _, rest = spec.partition(":")
    column, _, value = rest.partition("=")
    return table, column or None, value or None


def intervals_table(intervals: dict[str, pd.DataFrame], name: str) -> pd.DataFrame:
    """The intervals table ``name`` (of :func:`~nwb_tavrnn.io.read.read_intervals`), checked and in
    time order; refused in one line when absent."""
    if name not in intervals:
        known = ", ".join(sorted(intervals)) or "none"
        raise InputFileError(f"no intervals table named {name!r}; the file has: {known}")
    interval_times(intervals[name], name)  # NaN times or rows ending before they start: refused
    return intervals[name].sort_values("start_time")


def label_run_windows(df: pd.DataFrame, table: str, column: str | None) -> tuple[np.ndarray, np.ndarray, list | None]:
    """One window per row, or (with ``column``) per run of consecutive rows with the same value,
    spanning the run's first start to its last stop."""
    starts = df["start_time"].to_numpy(float)
    stops = df["stop_time"].to_numpy(float)
    if column is None:
        return starts, stops, None
    values = interval_column(df, column, table).to_numpy()
    breaks = np.flatnonzero(values[1:] != values[:-1]) + 1
    first = np.concatenate([[0], breaks])
    last = np.concatenate([breaks, [len(values)]]) - 1
    return starts[first], stops[last], [_plain(values[i]) for i in first]


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def restriction_ranges(df: pd.DataFrame, table: str, column: str | None, value: str | None) -> np.ndarray:
    """Time ranges of the rows of an intervals table (those whose ``column`` equals ``value``).

    Shapes
    ------
    return : (ranges, 2) float64 seconds
    """
    if column is not None:
        values = interval_column(df, column, table).astype(str)
        if value is None:
            raise InputFileError(f"restrict to {table}:{column}=VALUE, e.g. {table}:{column}={values.iloc[0]}")
        df = df[values == value]
        if df.empty:
            raise InputFileError(f"no row of {table!r} has {column} = {value!r}; values: {sorted(set(values))[:10]}")
    return df[["start_time", "stop_time"]].to_numpy(float)


def restriction_spec_ranges(intervals: dict[str, pd.DataFrame], spec: str) -> np.ndarray:
    """Time ranges named by ``TABLE`` or ``TABLE:COLUMN=VALUE`` (e.g. ``epochs:state=run``).

    Shapes
    ------
    return : (ranges, 2) float64 seconds
    """
    table, column, value = parse_table_spec(spec)
    return restriction_ranges(intervals_table(intervals, table), table, column, value)


def label_runs(times, labels, min_duration: float = 0.0):
    """Contiguous runs of a sampled label (e.g. position segment) as (starts, stops, labels).

    A run starts at its first sample and stops at the first sample of the next run (the last run
    stops at the last sample). Runs shorter than ``min_duration`` seconds are dropped.

    Shapes
    ------
    times, labels : (samples,)
    return : three arrays of (runs,)
    """
    t = np.asarray(times, dtype=np.float64).ravel()
    lab = np.asarray(labels).ravel()
    if t.shape != lab.shape:
        raise ValueError("label_runs: times and labels differ in length")
    if t.size == 0:
        return np.zeros(0), np.zeros(0), lab[:0]
    change = np.flatnonzero(lab[1:] != lab[:-1]) + 1
    first = np.concatenate([[0], change])
    starts = t[first]
    stops = np.concatenate([t[change], [t[-1]]])
    keep = (stops - starts) >= max(min_duration, 0.0)
    keep &= stops > starts
    return starts[keep], stops[keep], lab[first][keep]


__all__ = ["intervals_table", "label_run_windows", "label_runs", "parse_table_spec", "restriction_ranges",
           "restriction_spec_ranges"]
