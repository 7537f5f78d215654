"""Track segments from a position series: the labels of the paper's rat analysis.

On a linear track the animal's 2-D position is projected onto the track's long axis (the first
principal axis of the samples), scaled so the track ends (1st and 99th percentiles) are 0 and 1,
and cut into segments of equal length. Every contiguous stay in one segment becomes a row of an
intervals table, so ``nwb-tavrnn connectivity --windows-from position_segments`` computes one graph
per stay and ``--labels position_segments:segment`` labels it.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .intervals import label_runs, restriction_spec_ranges
from ..errors import InputFileError

log = logging.getLogger(__name__)

SEGMENTS_TABLE = "position_segments"


def linearize(position: np.ndarray) -> np.ndarray:
    """Position along the track's long axis, 0 at one end and 1 at the other (NaN stays NaN).

    The sign of the axis is fixed so that 0 is the end nearer the first valid sample, which makes
    the result independent of the SVD's arbitrary sign.

    Shapes
    ------
    position : (samples,) or (samples, dims)
    return : (samples,)
    """
    p = np.asarray(position, dtype=np.float64)
    p = p.reshape(len(p), -1)
    ok = np.isfinite(p).all(axis=1)
    if ok.sum() < 2:
        raise InputFileError("the position series has fewer than 2 finite samples; cannot find the track axis")
    out = np.full(len(p), np.nan)
    centred = p[ok] - p[ok].mean(axis=0)
    if p.shape[1] == 1:
        axis_values = centred[:, 0]
    else:
        # The long axis of the track; a thinned sample is enough and keeps the SVD cheap.
        step = max(1, len(centred) // 20000)
        axis = np.linalg.svd(centred[::step], full_matrices=False)[2][0]
        axis_values = centred @ axis
    lo, hi = np.percentile(axis_values, [1, 99])
    if hi <= lo:
        raise InputFileError("the position does not change; cannot find the track's ends")
    x = np.clip((axis_values - lo) / (hi - lo), 0.0, 1.0)
    if x[0] > 0.5:
        x = 1.0 - x
    out[ok] = x
    return out


def segment_of(linear: np.ndarray, n_segments: int) -> np.ndarray:
    """Segment index (0 .. n_segments-1) of every linearized sample; -1 where it is NaN.

    Shapes
    ------
    linear : (samples,) in [0, 1]
    return : (samples,) int
    """
    if n_segments < 2:
        raise InputFileError(f"cut the track into at least 2 segments, not {n_segments}")
    x = np.asarray(linear, dtype=np.float64)
    seg = np.full(x.shape, -1, dtype=int)
    ok = np.isfinite(x)
    seg[ok] = np.minimum((x[ok] * n_segments).astype(int), n_segments - 1)
    return seg


def segment_name(index: int) -> str:
    """The label of segment ``index``, counted from the track end at 0 ("s1", "s2", ...)."""
    return f"s{int(index) + 1}"


def merge_ranges(ranges) -> np.ndarray:
    """Time ranges sorted, with overlapping or touching ones merged (e.g. one epoch split over rows).

    Shapes
    ------
    ranges : (k, 2) seconds
    return : (m, 2), m <= k
    """
    r = np.asarray(ranges, dtype=np.float64).reshape(-1, 2)
    r = r[np.argsort(r[:, 0], kind="stable")]
    merged: list[list[float]] = []
    for start, stop in r:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    return np.array(merged, dtype=np.float64).reshape(-1, 2)


def position_segment_intervals(timestamps: np.ndarray, position: np.ndarray, n_segments: int = 3, *,
                               min_duration: float = 1.0, ranges=None) -> pd.DataFrame:
    """Contiguous stays in each track segment, as intervals.

    Parameters
    ----------
    n_segments
        Equal-length segments the track is cut into.
    min_duration
        Stays shorter than this (seconds) are dropped: too few bins for a correlation graph.
    ranges
        ``(start, stop)`` pairs in seconds: only samples inside one of them count (e.g. the running
        epochs). Touching ranges are merged; a stay never spans a gap between ranges.

    Returns
    -------
    DataFrame with columns start_time, stop_time, segment ("s1" .. "sK"), mean_position (0..1).

    Shapes
    ------
    timestamps : (samples,)
    position : (samples,) or (samples, dims)
    ranges : (k, 2)
    """
    t = np.asarray(timestamps, dtype=np.float64)
    if len(t) != len(position):
        raise InputFileError(f"position has {len(position)} samples but {len(t)} timestamps")
    order = np.argsort(t, kind="stable")
    t, pos = t[order], np.asarray(position, dtype=np.float64)[order].reshape(len(t), -1)
    home = np.zeros(len(t), dtype=int)  # which range each sample lies in; -1 outside them all
    if ranges is not None:
        ranges = merge_ranges(ranges)
        home = np.searchsorted(ranges[:, 0], t, side="right") - 1
        home[(home < 0) | (t >= ranges[np.clip(home, 0, None), 1])] = -1
        if not (home >= 0).any():
            raise InputFileError("no position sample lies inside the given time ranges")
        pos = np.where(home[:, None] >= 0, pos, np.nan)
    linear = linearize(pos)
    seg = segment_of(linear, n_segments)
    # One code per (range, segment): a stay ends where its range ends even when the next range
    # starts right away or the recording has no samples between them.
    code = np.where((seg >= 0) & (home >= 0), seg + n_segments * home, -1)
    starts, stops, codes = label_runs(t, code)
    rows = codes >= 0  # runs of missing position, or outside the ranges, are not a segment
    starts, stops, codes = starts[rows], stops[rows], codes[rows]
    labels = codes % n_segments
    if ranges is not None:  # a stay ends at its range's end, not at the next sample beyond it
        stops = np.minimum(stops, ranges[codes // n_segments, 1])
    keep = stops - starts >= min_duration
    starts, stops, labels = starts[keep], stops[keep], labels[keep]
    lo, hi = np.searchsorted(t, starts), np.searchsorted(t, stops)
    means = np.array([np.nanmean(linear[a:b]) for a, b in zip(lo, hi)]) if len(lo) else np.zeros(0)
    log.info("%d stays of >= %.2f s in %d segments", len(starts), min_duration, n_segments)
    return pd.DataFrame({"start_time": starts, "stop_time": stops,
                         "segment": [segment_name(s) for s in labels], "mean_position": means})


def add_position_segments(nwbfile, timestamps: np.ndarray, position: np.ndarray, n_segments: int = 3, *,
                          min_duration: float = 1.0, ranges=None, name: str = SEGMENTS_TABLE):
    """Add the stays of :func:`position_segment_intervals` to ``nwbfile`` as a TimeIntervals table.

    Returns the table. Shapes as in :func:`position_segment_intervals`.
    """
    from pynwb.epoch import TimeIntervals

    if name in nwbfile.intervals:
        raise InputFileError(f"the file already has an intervals table {name!r}; choose another name")
    df = position_segment_intervals(timestamps, position, n_segments, min_duration=min_duration, ranges=ranges)
    if df.empty:
        raise InputFileError(f"no stay of >= {min_duration} s in any of {n_segments} track segments")
    table = TimeIntervals(name=name, description=(
        f"Contiguous stays in one of {n_segments} equal-length segments of the track (s1 at the end where the "
        f"recording starts), from the position projected onto the track's long axis; stays under "
        f"{min_duration} s dropped."))
    table.add_column("segment", f"track segment, s1..s{n_segments}")
    table.add_column("mean_position", "mean position along the track in the stay, 0..1 between the ends")
    for row in df.itertuples(index=False):
        table.add_interval(start_time=float(row.start_time), stop_time=float(row.stop_time), segment=row.segment,
                           mean_position=float(row.mean_position))
    nwbfile.add_time_intervals(table)
    return table


def add_segments_to_file(source, destination=None, *, series: str = "position", n_segments: int = 3,
                         min_duration: float = 1.0, restrict_to: str | None = None, name: str = SEGMENTS_TABLE,
                         in_place: bool = False, overwrite: bool = False):
    """Add a track-segments table to a copy of ``source`` (or to it, atomically, with ``in_place``).

    Parameters
    ----------
    series
        The position series: its path or name as ``nwb-tavrnn inspect`` lists behavioural series.
    restrict_to
        ``TABLE`` or ``TABLE:COLUMN=VALUE`` (e.g. ``epochs:state=run``): only samples inside those
        intervals count.

    Returns
    -------
    Path of the written file.
    """
    from .read import read_behavior_series, read_intervals
    from .write import append_results

    def build(nwbfile):
        found = read_behavior_series(nwbfile, series)
        ranges = restriction_spec_ranges(read_intervals(nwbfile), restrict_to) if restrict_to else None
        add_position_segments(nwbfile, found.timestamps, found.data, n_segments, min_duration=min_duration,
                              ranges=ranges, name=name)
        return []  # the table went into the file's intervals, not into the ecephys module

    return append_results(source, build, destination, in_place=in_place, overwrite=overwrite)
