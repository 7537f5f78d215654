"""Analysis windows on the bin grid: sliding, explicit (e.g. one per label run), restricted to ranges.

A :class:`Windows` holds each window both in grid bins (what the computation uses) and in seconds
(what is reported). Window edges are snapped to the nearest bin edge of the grid, so every window
is a whole number of bins and windows that share bins share their binned data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..io.intervals import label_runs  # noqa: F401 - part of this module's API
from .binning import BIN_TOLERANCE

__all__ = ["Windows", "explicit_windows", "label_runs", "sliding_windows", "sliding_windows_in_ranges"]


@dataclass(frozen=True)
class Windows:
    """Time windows on a bin grid.

    Parameters
    ----------
    start_bins, stop_bins
        Grid index of each window's first bin and one past its last bin.
    origin
        Time in seconds of the left edge of grid bin 0.
    bin_size
        Bin width in seconds.

    Shapes
    ------
    start_bins, stop_bins : (windows,) int64
    start_times, stop_times : (windows,) float64, seconds
    """

    start_bins: np.ndarray
    stop_bins: np.ndarray
    origin: float
    bin_size: float

    def __post_init__(self) -> None:
        start = np.asarray(self.start_bins, dtype=np.int64).ravel()
        stop = np.asarray(self.stop_bins, dtype=np.int64).ravel()
        if start.shape != stop.shape:
            raise ValueError(f"Windows: {start.size} starts but {stop.size} stops")
        if np.any(stop <= start):
            bad = int(np.flatnonzero(stop <= start)[0])
            raise ValueError(
                f"Windows: window {bad} is shorter than one bin of {self.bin_size} s after snapping to the grid"
            )
        object.__setattr__(self, "start_bins", start)
        object.__setattr__(self, "stop_bins", stop)

    def __len__(self) -> int:
        return int(self.start_bins.size)

    @property
    def start_times(self) -> np.ndarray:
        return self.origin + self.start_bins * self.bin_size

    @property
    def stop_times(self) -> np.ndarray:
        return self.origin + self.stop_bins * self.bin_size

    @property
    def n_bins(self) -> np.ndarray:
        """Number of bins of each window. Shape (windows,)."""
        return self.stop_bins - self.start_bins

    def take(self, index) -> Windows:
        """The windows at ``index`` (integers, a slice or a boolean mask)."""
        return Windows(self.start_bins[index], self.stop_bins[index], self.origin, self.bin_size)

    def within(self, range_starts, range_stops) -> np.ndarray:
        """Which windows lie entirely inside one of the given time ranges (seconds).

        Shapes
        ------
        range_starts, range_stops : (ranges,) float64
        return : (windows,) bool
        """
        lo = np.atleast_1d(np.asarray(range_starts, dtype=np.float64))
        hi = np.atleast_1d(np.asarray(range_stops, dtype=np.float64))
        eps = BIN_TOLERANCE * self.bin_size
        s, e = self.start_times[:, None], self.stop_times[:, None]
        return np.any((s >= lo[None] - eps) & (e <= hi[None] + eps), axis=1)

    def restrict(self, range_starts, range_stops) -> Windows:
        """Keep the windows lying entirely inside one of the given time ranges (seconds)."""
        return self.take(self.within(range_starts, range_stops))


def _to_bins(seconds: float | np.ndarray, bin_size: float, what: str) -> np.ndarray:
    n = np.rint(np.asarray(seconds, dtype=np.float64) / bin_size).astype(np.int64)
    if np.any(n < 1):
        raise ValueError(f"{what} must be at least one bin of {bin_size} s, got {seconds}")
    return n


def _paired_times(starts, stops, mismatch: str) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop times (s) as float64 arrays, checked to pair up one to one.

    Raises
    ------
    ValueError
        ``mismatch``, formatted with the counts ``{starts}`` and ``{stops}``, if the shapes differ.

    Shapes
    ------
    starts, stops : (n,) or scalars; return : two (n,) float64
    """
    lo = np.atleast_1d(np.asarray(starts, dtype=np.float64))
    hi = np.atleast_1d(np.asarray(stops, dtype=np.float64))
    if lo.shape != hi.shape:
        raise ValueError(mismatch.format(starts=lo.size, stops=hi.size))
    return lo, hi


def sliding_windows(t_start: float, t_stop: float, bin_size: float, window: float = 120.0,
                    step: float = 60.0, origin: float | None = None) -> Windows:
    """Windows of ``window`` seconds every ``step`` seconds that fit inside ``[t_start, t_stop)``.

    ``window`` and ``step`` are rounded to whole bins. With the paper's settings (50 ms bins,
    120 s windows, 60 s step) a 20-min session gives 19 windows and a 10-min one 9.

    Parameters
    ----------
    t_start, t_stop
        Range to cover, seconds.
    bin_size, window, step
        Seconds.
    origin
        Grid origin; default ``t_start``.

    Shapes
    ------
    return : Windows of (windows,)
    """
    origin = float(t_start) if origin is None else float(origin)
    wb = int(_to_bins(window, bin_size, "window"))
    sb = int(_to_bins(step, bin_size, "step"))
    first = int(np.ceil((t_start - origin) / bin_size - BIN_TOLERANCE))
    last = int(np.floor((t_stop - origin) / bin_size + BIN_TOLERANCE))  # one past the last usable bin
    n = (last - first - wb) // sb + 1 if last - first >= wb else 0
    starts = first + sb * np.arange(max(n, 0), dtype=np.int64)
    return Windows(starts, starts + wb, origin, float(bin_size))


def sliding_windows_in_ranges(range_starts, range_stops, bin_size: float, window: float = 120.0,
                              step: float = 60.0, origin: float = 0.0) -> Windows:
    """Sliding windows restarted inside each time range (e.g. each game or rest epoch).

    Windows never cross a range's edges. All ranges share one grid anchored at ``origin``.

    Shapes
    ------
    range_starts, range_stops : (ranges,) float64, seconds
    """
    lo, hi = _paired_times(range_starts, range_stops,
                           "sliding_windows_in_ranges: range starts and stops differ in length")
    parts = [sliding_windows(a, b, bin_size, window, step, origin=origin) for a, b in zip(lo, hi)]
    start = np.concatenate([p.start_bins for p in parts]) if parts else np.zeros(0, np.int64)
    stop = np.concatenate([p.stop_bins for p in parts]) if parts else np.zeros(0, np.int64)
    return Windows(start, stop, float(origin), float(bin_size))


def explicit_windows(starts, stops, bin_size: float, origin: float = 0.0) -> Windows:
    """Windows from explicit start/stop times (seconds), snapped to the nearest bin edge.

    Use this for one window per trial, or per run of a label (see :func:`label_runs`). Pass the
    recording's ``t_start`` as ``origin`` so the grid is the one sliding windows would use.

    Raises
    ------
    ValueError
        If a window is shorter than one bin after snapping.

    Shapes
    ------
    starts, stops : (windows,) float64, seconds
    """
    s, e = _paired_times(starts, stops, "explicit_windows: {starts} starts but {stops} stops")
    if not (np.isfinite(s).all() and np.isfinite(e).all()):
        raise ValueError("explicit_windows: window times must be finite")
    sb = np.rint((s - origin) / bin_size).astype(np.int64)
    eb = np.rint((e - origin) / bin_size).astype(np.int64)
    return Windows(sb, eb, float(origin), float(bin_size))
