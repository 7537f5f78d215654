"""Binning spike trains on a fixed grid, one time range at a time.

All binning in this subpackage uses one grid per recording: bin ``k`` covers
``[origin + k * bin_size, origin + (k + 1) * bin_size)``. Asking for a range of bins returns only
those bins, so memory is bounded by the range requested, not by the recording length.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["BIN_TOLERANCE", "bin_index", "bin_spike_trains", "bin_range", "n_bins_between"]

#: A spike closer than this fraction of a bin to the next bin edge is counted in the next bin.
#: Float rounding of ``(t - origin) / bin_size`` would otherwise put spikes lying exactly on an
#: edge (e.g. 0.15 s with 0.05 s bins) into the bin before; Elephant's BinnedSpikeTrain uses the
#: same rule and tolerance, so both bin identically.
BIN_TOLERANCE = 1e-8


def bin_index(times: np.ndarray, origin: float, bin_size: float) -> np.ndarray:
    """Grid index of each time, ``floor((t - origin) / bin_size)`` up to :data:`BIN_TOLERANCE`.

    Shapes
    ------
    times : (n,) float64, seconds
    return : (n,) int64
    """
    x = (np.asarray(times, dtype=np.float64) - origin) / bin_size
    return np.floor(x + BIN_TOLERANCE).astype(np.int64)


def n_bins_between(t_start: float, t_stop: float, bin_size: float) -> int:
    """Number of whole bins of ``bin_size`` in ``[t_start, t_stop)`` (a partial last bin is dropped)."""
    if bin_size <= 0:
        raise ValueError(f"bin_size must be positive, got {bin_size}")
    return max(0, int(np.floor((t_stop - t_start) / bin_size + BIN_TOLERANCE)))


def bin_range(
    times: Sequence[np.ndarray],
    origin: float,
    bin_size: float,
    first_bin: int,
    n_bins: int,
    binary: bool = True,
    dtype: np.dtype | type = np.float32,
) -> np.ndarray:
    """Bin spike trains into grid bins ``first_bin .. first_bin + n_bins - 1``.

    Only the spikes inside the requested bins are touched (two ``searchsorted`` per node), then one
    ``bincount`` over the concatenated bin indices fills the whole matrix.

    Parameters
    ----------
    times
        One sorted array of spike times (seconds) per node.
    origin
        Time of the left edge of grid bin 0, in seconds.
    bin_size
        Bin width in seconds.
    first_bin, n_bins
        The range of grid bins to return.
    binary
        If True a bin holds 1 when the node spiked in it at least once, else the spike count.
    dtype
        Output dtype. Counts are exact in float32 up to 2**24.

    Returns
    -------
    numpy.ndarray
        The binned matrix, node by bin.

    Shapes
    ------
    times : nodes x (spikes_i,)
    return : (nodes, n_bins)
    """
    n_nodes = len(times)
    n_bins = int(n_bins)
    if n_bins <= 0 or n_nodes == 0:
        return np.zeros((n_nodes, max(n_bins, 0)), dtype=dtype)
    # Select with a margin of one bin on each side, then keep by bin index, so that the selection
    # and the floor() rule can never disagree about a spike lying on the range's edges.
    lo_t = origin + (first_bin - 1) * bin_size
    hi_t = origin + (first_bin + n_bins + 1) * bin_size
    pieces, counts = [], np.empty(n_nodes, dtype=np.int64)
    for i, t in enumerate(times):
        a, b = np.searchsorted(t, (lo_t, hi_t))
        pieces.append(t[a:b])
        counts[i] = b - a
    if counts.sum() == 0:
        return np.zeros((n_nodes, n_bins), dtype=dtype)
    idx = bin_index(np.concatenate(pieces), origin, bin_size) - first_bin
    node = np.repeat(np.arange(n_nodes, dtype=np.int64), counts)
    keep = (idx >= 0) & (idx < n_bins)
    flat = node[keep] * n_bins + idx[keep]
    if binary:
        out = np.zeros(n_nodes * n_bins, dtype=dtype)
        out[flat] = 1
    else:
        out = np.bincount(flat, minlength=n_nodes * n_bins).astype(dtype, copy=False)
    return out.reshape(n_nodes, n_bins)


def bin_spike_trains(
    trains,
    t0: float,
    t1: float,
    bin_size: float,
    binary: bool = True,
    origin: float | None = None,
    dtype: np.dtype | type = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Bin spike trains over the time range ``[t0, t1)``.

    Parameters
    ----------
    trains
        A :class:`~nwb_tavrnn.io.spike_trains.SpikeTrains` or a sequence of sorted spike-time arrays.
    t0, t1
        The time range in seconds. With ``origin`` given, it is widened to whole grid bins.
    bin_size
        Bin width in seconds (the paper uses 0.05).
    binary
        1/0 per bin (the paper) or spike counts.
    origin
        Left edge of the grid's bin 0; default ``t0``. Give the recording start to get bins that
        line up across successive calls (chunked processing).
    dtype
        Output dtype.

    Returns
    -------
    binned : numpy.ndarray
        Node-by-bin matrix.
    edges : numpy.ndarray
        Bin edges in seconds.

    Shapes
    ------
    binned : (nodes, bins)
    edges : (bins + 1,) float64
    """
    times = trains.times if hasattr(trains, "times") else list(trains)
    if t1 <= t0:
        raise ValueError(f"bin_spike_trains: t1 {t1} must be after t0 {t0}")
    if origin is None:
        origin = float(t0)
        first, n = 0, n_bins_between(t0, t1, bin_size)
    else:
        first = int(bin_index(np.array([t0]), origin, bin_size)[0])
        last = int(np.ceil((t1 - origin) / bin_size - BIN_TOLERANCE))
        n = max(0, last - first)
    binned = bin_range(times, origin, bin_size, first, n, binary=binary, dtype=dtype)
    edges = origin + (first + np.arange(n + 1)) * bin_size
    return binned, edges
