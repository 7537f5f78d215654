"""ROI activity traces as graph nodes: the imaging counterpart of :class:`~nwb_tavrnn.io.spike_trains.SpikeTrains`.

A :class:`RoiTraces` holds a reference to the (frames, rois) data of one RoiResponseSeries (an
open HDF5 dataset, or an array), which ROIs are nodes, their identities, and the frame times. It
never reads the whole series: the connectivity step asks for a range of grid bins at a time
(:meth:`RoiTraces.bin_range`, the same call spike trains answer), so memory is flat in the
recording length.

Time grid
---------
Frame ``j`` is sampled at ``t_j`` (``starting_time + j / rate``, or the series' timestamps). Grid
bin ``k`` covers ``[origin + k b, origin + (k + 1) b)`` as for spikes, and holds the mean of the
frames sampled in it (the maximum for events: a bin is 1 when any of its frames is an event). A
bin shorter than a frame is refused. A bin without any frame (a gap in irregular timestamps) is
filled by linear interpolation between its neighbours (events: 0), and the reader counts such gaps
up front. The observed span is ``[t_0, t_last + one frame)``: a frame stands for the interval up to
the next one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..connectivity.binning import BIN_TOLERANCE, bin_index
from ..errors import InputFileError, ParameterError
from .signals import SIGNALS, baseline_margin, maximin_baseline, noise_level

__all__ = ["RoiTraces"]


@dataclass
class RoiTraces:
    """ROI traces of one imaging plane, as graph nodes.

    Parameters
    ----------
    data
        The series' data, frames first, every ROI of the series (sliced lazily).
    columns
        Which columns of ``data`` are nodes, in node order.
    ids
        PlaneSegmentation id of each node.
    rate, starting_time
        Regular sampling; or ``timestamps`` (then ``rate`` is the median rate, for filter lengths).
    timestamps
        Frame times in seconds, when the series has them.
    groups, locations
        Label of each node's group (a PlaneSegmentation ``group``/``region`` column, else the
        imaging plane's name) and its location (the imaging plane's).
    positions
        Each node's centroid in pixels of the imaging plane, (row, column), or None.
    signal
        ``raw`` (the series as stored), ``dff`` (ΔF/F on the maximin baseline) or ``events``
        (baseline-subtracted trace above ``event_threshold`` noise levels); see :mod:`.signals`.
    event_threshold, baseline_window, baseline_sigma
        Settings of :mod:`.signals` (noise levels; seconds; frames).
    t_start, t_stop
        Observed span (default: first frame to one frame after the last).
    node_table
        ``"ophys:<path of the series>"``: results link to the rows of the series' PlaneSegmentation.
    series_name
        The series' path inside its processing module, e.g. ``ophys/Fluorescence/RoiResponseSeries``.
    noise
        Noise level of each node (computed on first use for events).
    processed
        ``data`` already holds the signal (a materialised copy): it is used as it is.
    scale
        The series' ``conversion`` and ``offset``: values are ``stored * conversion + offset``.
    neuropil, neuropil_factor
        The plane's neuropil series (same shape as ``data``) and the factor k of the usual
        correction F − k·Fneu (suite2p's default k is 0.7); 0 leaves the trace as it is.

    Shapes
    ------
    data : (frames, series_rois)
    columns, ids, groups, locations : (nodes,)
    positions : (nodes, 2) float64 or None
    timestamps : (frames,) float64 or None
    """

    data: Any
    columns: np.ndarray
    ids: np.ndarray
    rate: float
    starting_time: float = 0.0
    timestamps: np.ndarray | None = None
    groups: np.ndarray = field(default=None)
    locations: np.ndarray = field(default=None)
    positions: np.ndarray | None = None
    signal: str = "raw"
    event_threshold: float = 2.5
    baseline_window: float = 60.0
    baseline_sigma: float = 10.0
    t_start: float | None = None
    t_stop: float | None = None

    #: What the nodes are (:func:`nwb_tavrnn.io.spike_trains.is_traces`).
    kind: ClassVar[str] = "traces"
    node_table: str = "ophys"
    series_name: str = ""
    noise: np.ndarray | None = None
    processed: bool = False
    scale: tuple[float, float] = (1.0, 0.0)
    neuropil: Any = None
    neuropil_factor: float = 0.0

    def __post_init__(self) -> None:
        n = len(self.columns)
        self.columns = np.asarray(self.columns, dtype=np.int64).ravel()
        self.ids = np.asarray(self.ids, dtype=np.int64).ravel()
        if len(self.ids) != n:
            raise ValueError(f"RoiTraces: {n} columns but {len(self.ids)} ids")
        for name in ("groups", "locations"):
            value = getattr(self, name)
            value = np.full(n, "", dtype=object) if value is None else np.asarray(value, dtype=object).ravel()
            setattr(self, name, value)
        if self.signal not in SIGNALS:
            raise ParameterError(f"signal must be one of {', '.join(SIGNALS)}, got {self.signal!r}")
        if not self.rate > 0:
            raise ParameterError(f"frame rate must be positive, got {self.rate}")
        if self.event_threshold <= 0 or self.baseline_window <= 0 or self.baseline_sigma < 0:
            raise ParameterError("event_threshold and baseline_window must be positive, baseline_sigma >= 0; got "
                                 f"{self.event_threshold}, {self.baseline_window}, {self.baseline_sigma}")
        first, after_last = self.frame_span
        if self.neuropil_factor and self.neuropil is None:
            raise ParameterError("a neuropil factor needs the plane's neuropil series")
        if self.neuropil is not None and tuple(self.neuropil.shape) != tuple(self.data.shape):
            raise InputFileError(f"{self.series_name}: the neuropil series is {tuple(self.neuropil.shape)}, the "
                                 f"traces {tuple(self.data.shape)}")
        self._where = {name: (getattr(getattr(d, "file", None), "filename", None), getattr(d, "name", None))
                       for name, d in (("data", self.data), ("neuropil", self.neuropil))}  # to open again
        self.t_start = first if self.t_start is None else float(self.t_start)
        self.t_stop = after_last if self.t_stop is None else float(self.t_stop)

    # -- identity ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.columns)

    @property
    def n_frames(self) -> int:
        return int(self.data.shape[0])

    @property
    def frame_span(self) -> tuple[float, float]:
        """First frame time and one frame after the last, seconds."""
        if self.timestamps is not None:
            return float(self.timestamps[0]), float(self.timestamps[-1] + 1.0 / self.rate)
        return float(self.starting_time), float(self.starting_time + self.n_frames / self.rate)

    @property
    def duration(self) -> float:
        return float(self.t_stop - self.t_start)

    @property
    def binary(self) -> bool:
        """Whether the values are 0/1 events (binned by the maximum, not the mean)."""
        return self.signal == "events"

    def settings(self) -> dict[str, Any]:
        """What a result must record to rebuild these nodes' values (JSON-able)."""
        out = {"nodes": "rois", "series": self.series_name, "signal": self.signal, "frame_rate": float(self.rate),
               "irregular_timestamps": self.timestamps is not None}
        if self.neuropil_factor:
            out["neuropil_factor"] = float(self.neuropil_factor)
        if self.signal != "raw":
            out.update(baseline="maximin", baseline_window=float(self.baseline_window),
                       baseline_sigma_frames=float(self.baseline_sigma))
        if self.signal == "events":
            out["event_threshold"] = float(self.event_threshold)
        return out

    def subset(self, index: Sequence[int] | np.ndarray) -> RoiTraces:
        """The nodes at positions ``index`` (an integer or boolean array)."""
        index = np.arange(len(self))[np.asarray(index)]
        return dataclasses.replace(
            self, columns=self.columns[index], ids=self.ids[index], groups=self.groups[index],
            locations=self.locations[index], positions=None if self.positions is None else self.positions[index],
            noise=None if self.noise is None else self.noise[index])

    def select(self, groups: Sequence[str] | None = None, locations: Sequence[str] | None = None,
               ids: Sequence[int] | None = None) -> RoiTraces:
        """Keep nodes whose group, location and id are among those given (``None`` keeps all).

        Raises
        ------
        ValueError
            If no node is left, naming the labels that exist.
        """
        from ..io.spike_trains import selection

        return self.subset(np.flatnonzero(selection(self, groups, locations, ids, what="ROI")))

    def restrict(self, t_start: float, t_stop: float) -> RoiTraces:
        """The same nodes observed over ``[t_start, t_stop)`` only."""
        if t_stop <= t_start:
            raise ValueError(f"restrict: t_stop {t_stop} must be after t_start {t_start}")
        first, after_last = self.frame_span
        return dataclasses.replace(self, t_start=max(float(t_start), first), t_stop=min(float(t_stop), after_last))

    # -- values --------------------------------------------------------------------------------
    def frame_times(self, a: int, b: int) -> np.ndarray:
        """Times of frames ``a .. b-1``. Shape (b - a,) float64."""
        if self.timestamps is not None:
            return np.asarray(self.timestamps[a:b], dtype=np.float64)
        return self.starting_time + np.arange(a, b, dtype=np.float64) / self.rate

    def frame_at(self, t: float) -> int:
        """Index of the first frame sampled at or after ``t`` (up to the bin tolerance)."""
        if self.timestamps is not None:
            return int(np.searchsorted(self.timestamps, t - BIN_TOLERANCE / self.rate, side="left"))
        return int(np.clip(np.ceil((t - self.starting_time) * self.rate - BIN_TOLERANCE), 0, self.n_frames))

    def _read(self, a: int, b: int) -> np.ndarray:
        """Frames ``a .. b-1`` of the series, all its ROIs, as stored.

        Consecutive chunks of overlapping windows ask for overlapping frame ranges: the last range
        read is kept, and only the frames beyond it are read again (one chunk's frames in memory).
        """
        last = getattr(self, "_last", None)
        if last is not None and last[0] <= a < last[1] <= b:
            head = last[2][a - last[0]:]
            block = np.concatenate([head, self._slice(last[1], b)]) if b > last[1] else head
        else:
            block = self._slice(a, b)
        self._last = (a, b, block)
        return block

    def _slice(self, a: int, b: int) -> np.ndarray:
        """Frames ``a .. b-1`` of the series (neuropil-corrected when asked), all its ROIs."""
        x = np.asarray(self._open("data")[a:b])
        if self.neuropil_factor:
            x = x - np.asarray(self._open("neuropil")[a:b], dtype=x.dtype) * x.dtype.type(self.neuropil_factor)
        return x

    def _open(self, name: str):
        """``data`` or ``neuropil``; an HDF5 dataset whose file was closed meanwhile is opened again.

        Writers that add results to a copy of the source read the traces after the reader's
        handle is closed (append and in-place modes); the source file is still there, unchanged.
        """
        data = getattr(self, name)
        if getattr(data, "id", None) is not None and not data.id.valid:
            import h5py

            filename, path = self._where.get(name, (None, None))
            if not isinstance(filename, str) or not path:
                raise InputFileError(f"{self.series_name}: the file holding the traces was closed")
            data = h5py.File(filename, "r")[path]
            setattr(self, name, data)
        return data

    def _stored(self, a: int, b: int, dtype=np.float64) -> np.ndarray:
        """Frames ``a .. b-1`` of the nodes' columns as stored (as ``dtype``), refusing non-finite values."""
        block = self._read(a, b).astype(dtype, copy=False)
        if self.scale != (1.0, 0.0):
            block = block * dtype(self.scale[0]) + dtype(self.scale[1])
        if block.ndim != 2:
            raise InputFileError(f"{self.series_name}: expected (frames, rois) data, got shape {block.shape}")
        x = block[:, self.columns] if len(self.columns) != block.shape[1] or np.any(
            self.columns != np.arange(block.shape[1])) else block
        bad = ~np.isfinite(x)
        if bad.any():
            frame, node = np.argwhere(bad)[0]
            raise InputFileError(f"{self.series_name}: ROI {self.ids[node]} has a NaN or infinite value at frame "
                                 f"{a + frame}; drop the ROI (select the others) or repair the series")
        return x

    def values(self, a: int, b: int, dtype=np.float64) -> np.ndarray:
        """The signal of frames ``a .. b-1`` (raw, ΔF/F or 0/1 events), frames first.

        ``dtype`` applies to values read as stored; ΔF/F and events are computed in float64.

        Shapes
        ------
        return : (b - a, nodes)
        """
        a, b = max(0, int(a)), min(self.n_frames, int(b))
        if self.signal == "raw" or self.processed:
            return self._stored(a, b, dtype)
        m = baseline_margin(self.baseline_window, self.baseline_sigma, self.rate)
        lo, hi = max(0, a - m), min(self.n_frames, b + m)
        x = self._stored(lo, hi)
        base = maximin_baseline(x, self.rate, self.baseline_window, self.baseline_sigma)[a - lo:b - lo]
        x = x[a - lo:b - lo]
        if self.signal == "dff":
            if np.any(base <= 0):
                node = int(np.flatnonzero((base <= 0).any(axis=0))[0])
                raise InputFileError(
                    f"{self.series_name}: ΔF/F needs a positive baseline, and ROI {self.ids[node]}'s falls to "
                    f"{base[:, node].min():.3g} (a neuropil-subtracted or deconvolved series?); use signal "
                    "'raw' or 'events', or a series of raw fluorescence")
            return (x - base) / base
        return ((x - base) > self.event_threshold * self._noise()[None, :]).astype(np.float64)

    def _noise(self) -> np.ndarray:
        if self.noise is None:
            block = max(3, int(round(60.0 * self.rate)))
            self.noise = noise_level(self._stored, self.n_frames, block)
        return self.noise

    def bin_range(self, origin: float, bin_size: float, first_bin: int, n_bins: int,
                  dtype: np.dtype | type = np.float32) -> np.ndarray:
        """The signal averaged into grid bins ``first_bin .. first_bin + n_bins - 1``.

        Only the frames of those bins are read. See the module docstring for the rules.

        Shapes
        ------
        return : (nodes, n_bins)
        """
        n_bins = int(n_bins)
        if n_bins <= 0 or len(self) == 0:
            return np.zeros((len(self), max(n_bins, 0)), dtype=dtype)
        if bin_size * self.rate < 1.0 - 1e-6:
            raise ParameterError(f"bin_size {bin_size:g} s is shorter than one imaging frame ({1 / self.rate:.4g} s "
                                 f"at {self.rate:g} Hz); use a bin of at least one frame")
        # Read a margin of a bin's frames (and two) each side: the bins just outside the range are
        # then complete, and anchor the interpolation of empty bins at the range's edges exactly as
        # a read of the whole recording would, so results do not depend on how ranges are chunked.
        margin = int(np.ceil(bin_size * self.rate)) + 2
        lo_t = origin + first_bin * bin_size
        a = max(0, self.frame_at(lo_t) - margin)
        b = min(self.n_frames, self.frame_at(lo_t + n_bins * bin_size) + margin)
        idx = bin_index(self.frame_times(a, b), origin, bin_size) - first_bin
        inside = (idx >= 0) & (idx < n_bins)
        first = int(np.argmax(inside)) if inside.any() else 0
        if inside.sum() == n_bins and np.array_equal(idx[first:first + n_bins], np.arange(n_bins)):
            # One frame per bin: no averaging. The transpose of frames-first data is a column-major
            # view that BLAS takes as it is: the (often large) block is neither converted twice nor
            # copied into row-major order.
            return self.values(a + first, a + first + n_bins, dtype).astype(dtype, copy=False).T
        out = np.zeros((n_bins, len(self)), dtype=np.float64)
        if idx.size == 0:
            return np.ascontiguousarray(out.T, dtype=dtype)
        x = self.values(a, b)
        starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
        bins = idx[starts]
        if self.binary:
            per_bin = np.maximum.reduceat(x, starts, axis=0)
        else:
            per_bin = np.add.reduceat(x, starts, axis=0) / np.diff(np.r_[starts, idx.size])[:, None]
        here = (bins >= 0) & (bins < n_bins)
        out[bins[here]] = per_bin[here]
        missing = np.setdiff1d(np.arange(n_bins), bins[here])
        if missing.size and not self.binary:  # events: a bin without a frame saw no event
            complete = np.ones(bins.size, dtype=bool)  # the outermost runs may lack frames not read
            complete[0] &= a == 0
            complete[-1] &= b == self.n_frames
            anchors, values = bins[complete], per_bin[complete]
            if anchors.size:
                right = np.searchsorted(anchors, missing)
                left = np.clip(right - 1, 0, anchors.size - 1)
                right = np.clip(right, 0, anchors.size - 1)
                span = anchors[right] - anchors[left]
                w = np.where(span > 0, (missing - anchors[left]) / np.maximum(span, 1), 0.0)[:, None]
                out[missing] = (1 - w) * values[left] + w * values[right]
        return np.ascontiguousarray(out.T, dtype=dtype)

    def materialise(self) -> RoiTraces:
        """A copy holding its signal (raw, ΔF/F or events, as computed) in memory, frames × nodes.

        Used by controls that rearrange the signal in time (time shuffles): the shuffle must act
        on the values the graphs were computed on. float32, as traces are stored: 4 bytes per frame
        and node (about 430 MB for 1,000 ROIs × 1 h at 30 Hz).
        """
        a, b = self.frame_at(self.t_start), self.frame_at(self.t_stop)
        x = np.zeros((self.n_frames, len(self)), dtype=np.float32)
        x[a:b] = self.values(a, b)
        return self.holding(x)

    def holding(self, signal: np.ndarray) -> RoiTraces:
        """The same nodes and frames, with ``signal`` (frames × nodes, already computed) as their values.

        Shapes
        ------
        signal : (frames, nodes)
        """
        return dataclasses.replace(self, data=signal, columns=np.arange(signal.shape[1]), processed=True,
                                   scale=(1.0, 0.0), neuropil=None, neuropil_factor=0.0)
