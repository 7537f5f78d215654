"""Two regions' spiking, binned into segments: what region-to-region translation models (Seq2seq) fit.

A *region* is a set of units chosen by a spec (:func:`select_units`); a *segment* is a stretch of
time binned at ``bin_size``: either aligned to trials (``window`` seconds around an event column of
an intervals table) or continuous (consecutive, non-overlapping stretches of ``segment_duration``).

Binning is streamed: :meth:`RegionPairSegments.batch` bins only the segments asked for, from the
spike times, so a 1 h, 1,000-unit recording at 20 ms never exists as one dense matrix. Light: numpy
and pynwb only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputFileError, require
from .read import interval_column, read_intervals, read_spike_trains
from .spike_trains import SpikeTrains

log = logging.getLogger(__name__)

#: Region spec prefixes (see :func:`select_units`).
SPEC_KINDS = ("location", "group", "ids", "column")


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _region_column(nwbfile, name: str) -> np.ndarray:
    units = nwbfile.units
    if name not in units.colnames:
        raise InputFileError(f"the Units table has no column {name!r}; it has: "
                             f"{', '.join(c for c in units.colnames if c != 'spike_times')}")
    return np.asarray([_text(v) for v in units[name].data[:]], dtype=object)


def select_units(nwbfile, spikes: SpikeTrains, spec: str) -> np.ndarray:
    """Indices of the units a region spec names.

    ``location:NAME`` (the electrodes' location), ``group:NAME`` (the electrode group),
    ``ids:1,2,3`` (Units ids), ``column:COL=VALUE`` (any Units column), or a bare ``NAME``: the
    Units ``region`` column when there is one, else the location. Several names may be joined
    with ``|`` (e.g. ``location:CA1|CA3``).

    Raises
    ------
    InputFileError
        When no unit matches, naming the values that exist.
    """
    require(isinstance(spec, str) and spec.strip() != "", "a region spec must be a non-empty string")
    kind, _, value = spec.partition(":")
    if not value:  # a bare name
        kind, value = ("column", f"region={spec}") if "region" in nwbfile.units.colnames else ("location", spec)
    kind = kind.strip().lower()
    if kind not in SPEC_KINDS:
        raise InputFileError(f"region spec {spec!r}: unknown kind {kind!r}; use location:NAME, group:NAME, ids:1,2 "
                             "or column:COL=VALUE")
    if kind == "ids":
        try:
            wanted = {int(v) for v in value.split(",") if v.strip()}
        except ValueError:
            raise InputFileError(f"region spec {spec!r}: ids must be integers") from None
        index = np.flatnonzero(np.isin(spikes.ids, list(wanted)))
        missing = sorted(wanted - set(spikes.ids[index].tolist()))
        if missing:
            raise InputFileError(f"region spec {spec!r}: no unit with id(s) {missing[:10]}")
        return index
    if kind == "column":
        column, eq, wanted_value = value.partition("=")
        if not eq:
            raise InputFileError(f"region spec {spec!r}: write column:COLUMN=VALUE")
        labels = _region_column(nwbfile, column.strip())
        value = wanted_value
    else:
        labels = np.asarray([_text(v) for v in (spikes.locations if kind == "location" else spikes.groups)])
    names = {v.strip() for v in value.split("|") if v.strip()}
    index = np.flatnonzero(np.isin(labels.astype(str), list(names)))
    if len(index) == 0:
        present = sorted(set(labels.astype(str)))
        raise InputFileError(f"region spec {spec!r}: no units; the {kind} values are: {', '.join(present[:20])}")
    return index


@dataclass
class RegionPairSegments:
    """Source and target units' spikes and the segments they are binned into.

    Parameters
    ----------
    source, target
        Spike trains of the source and target regions.
    starts
        Start time of every segment (s); every segment has ``n_bins`` bins of ``bin_size``.
    labels
        Behavioural label of every segment (None: no behaviour).
    trial_ids
        The trials table row of every segment (trial-aligned segments), else None.

    Shapes
    ------
    starts : (segments,); labels, trial_ids : (segments,)
    """

    source: SpikeTrains
    target: SpikeTrains
    starts: np.ndarray
    n_bins: int
    bin_size: float
    labels: np.ndarray | None = None
    trial_ids: np.ndarray | None = None
    source_name: str = "source"
    target_name: str = "target"
    aligned_to: str = "continuous"

    def __post_init__(self) -> None:
        self.starts = np.asarray(self.starts, dtype=np.float64)
        if self.labels is not None:
            self.labels = np.asarray(self.labels).astype(str)
            if len(self.labels) != len(self.starts):
                raise ValueError("RegionPairSegments: one label per segment")
        self._source_keys = _keys(self.source)
        self._target_keys = _keys(self.target)

    @property
    def n_segments(self) -> int:
        return len(self.starts)

    @property
    def stops(self) -> np.ndarray:
        return self.starts + self.n_bins * self.bin_size

    @property
    def n_source(self) -> int:
        return len(self.source)

    @property
    def n_target(self) -> int:
        return len(self.target)

    def bin_times(self, segment: int) -> np.ndarray:
        """Centre time of every bin of a segment. Shape (n_bins,)."""
        return self.starts[segment] + (np.arange(self.n_bins) + 0.5) * self.bin_size

    @staticmethod
    def _index(segments: Sequence[int] | np.ndarray) -> np.ndarray:
        segments = np.asarray(segments)
        if segments.dtype == bool:  # a mask, not the indices 0 and 1
            return np.flatnonzero(segments)
        return segments.astype(np.int64)

    def batch(self, segments: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Spike counts of these segments, binned now (streamed: nothing else is held).

        Shapes
        ------
        returns : (len(segments), n_bins, n_source) and (len(segments), n_bins, n_target) float32
        """
        segments = self._index(segments)
        return (_bin(self._source_keys, self.n_source, self.starts[segments], self.n_bins, self.bin_size),
                _bin(self._target_keys, self.n_target, self.starts[segments], self.n_bins, self.bin_size))

    def subset(self, segments: Sequence[int] | np.ndarray) -> RegionPairSegments:
        """The given segments (indices or a mask; same spikes, fewer segments)."""
        segments = self._index(segments)
        out = RegionPairSegments.__new__(RegionPairSegments)
        out.__dict__.update(self.__dict__)
        out.starts = self.starts[segments]
        out.labels = None if self.labels is None else self.labels[segments]
        out.trial_ids = None if self.trial_ids is None else np.asarray(self.trial_ids)[segments]
        return out

    def mean_rates(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean count per bin of every unit over these segments (streamed in chunks).

        Shapes
        ------
        returns : (n_source,), (n_target,)
        """
        src, tgt = np.zeros(self.n_source), np.zeros(self.n_target)
        for chunk in np.array_split(np.arange(self.n_segments), max(1, self.n_segments // 256)):
            s, t = self.batch(chunk)
            src += s.sum((0, 1))
            tgt += t.sum((0, 1))
        total = self.n_segments * self.n_bins
        return src / total, tgt / total

    def summary(self) -> str:
        return (f"{self.n_segments} segments of {self.n_bins} x {self.bin_size * 1e3:g} ms bins ({self.aligned_to}); "
                f"{self.source_name}: {self.n_source} units -> {self.target_name}: {self.n_target} units"
                + (f"; labels {dict(zip(*np.unique(self.labels, return_counts=True)))}" if self.labels is not None
                   else ""))


def _keys(trains: SpikeTrains) -> tuple[np.ndarray, np.ndarray]:
    """All spikes as one time-sorted array with their unit index (binning any segment is then two
    binary searches and one bincount, whatever the number of units)."""
    if not len(trains):
        return np.zeros(0), np.zeros(0, dtype=np.int32)
    times = np.concatenate(trains.times) if trains.times else np.zeros(0)
    units = np.concatenate([np.full(len(t), i, dtype=np.int32) for i, t in enumerate(trains.times)])
    order = np.argsort(times, kind="stable")
    return times[order], units[order]


def _bin(keys: tuple[np.ndarray, np.ndarray], n_units: int, starts: np.ndarray, n_bins: int,
         bin_size: float) -> np.ndarray:
    times, units = keys
    out = np.zeros((len(starts), n_bins, n_units), dtype=np.float32)
    lo = np.searchsorted(times, starts, side="left")
    hi = np.searchsorted(times, starts + n_bins * bin_size, side="left")
    for i, (a, b) in enumerate(zip(lo, hi)):
        if b <= a:
            continue
        # against explicit edges, as np.histogram does: a spike on an edge opens the next bin
        edges = starts[i] + np.arange(n_bins + 1) * bin_size
        bins = np.clip(np.searchsorted(edges, times[a:b], side="right") - 1, 0, n_bins - 1)
        out[i] = np.bincount(bins * n_units + units[a:b], minlength=n_bins * n_units).reshape(n_bins, n_units)
    return out


def read_region_pair(
    nwbfile,
    source: str,
    target: str,
    *,
    bin_size: float = 0.02,
    trials: str | None = None,
    event: str = "start_time",
    window: tuple[float, float] = (0.0, 1.0),
    segment_duration: float = 2.0,
    labels: str | None = None,
    exclude_labels: Sequence[str] = (),
    min_segments: int = 10,
) -> RegionPairSegments:
    """Read two regions of a file and plan their segments.

    Parameters
    ----------
    source, target
        Region specs (:func:`select_units`); the two must not share units.
    bin_size
        Bin width (s).
    trials
        An intervals table: one segment per row, ``window`` (start, stop) seconds around its
        ``event`` column. Without it, consecutive continuous segments of ``segment_duration``.
    labels
        ``TABLE:COLUMN``, or a column of ``trials``: the behavioural label of each segment (for
        continuous segments, the label of the interval holding the segment's middle; segments
        outside every interval are dropped).
    exclude_labels
        Label values whose segments are left out (e.g. a no-response code); missing labels (NaN,
        empty) always are.
    min_segments
        Fewer segments than this is an error.

    Raises
    ------
    InputFileError
        Unknown tables or columns, empty or overlapping regions, too few segments.
    """
    require(bin_size > 0, f"bin_size must be positive seconds, got {bin_size}")
    spikes = read_spike_trains(nwbfile)
    src_idx, tgt_idx = select_units(nwbfile, spikes, source), select_units(nwbfile, spikes, target)
    shared = np.intersect1d(src_idx, tgt_idx)
    if len(shared):
        raise InputFileError(f"the source ({source}) and target ({target}) regions share {len(shared)} units; "
                             "a region cannot predict itself")
    tables = read_intervals(nwbfile)
    label_values = None
    trial_ids = None
    if trials is not None:
        if trials not in tables:
            raise InputFileError(f"the file has no intervals table {trials!r}; it has: {', '.join(tables) or 'none'}")
        df = tables[trials]
        start, stop = (float(v) for v in window)
        require(stop > start, f"the window must end after it starts, got {window}")
        n_bins = int(round((stop - start) / bin_size))
        if n_bins < 1 or abs(n_bins * bin_size - (stop - start)) > 1e-6 * max(1.0, stop - start):
            raise InputFileError(f"the window {start:g}..{stop:g} s is not a whole number of {bin_size:g} s bins; "
                                 "adjust the `window` or the `bin_size`", ("window", "bin_size"))
        times = np.asarray(interval_column(df, event, trials), dtype=np.float64)
        starts = times + start
        keep = np.isfinite(starts)
        trial_ids = np.asarray(df.index, dtype=np.int64)
        if labels is not None:
            table, _, column = labels.rpartition(":")
            if table and table != trials:
                raise InputFileError(f"trial-aligned segments take their labels from {trials!r}: give `labels` as a "
                                     "column of it", "labels")
            label_values = np.asarray(interval_column(df, column, trials).map(_text), dtype=object)
        starts, trial_ids = starts[keep], trial_ids[keep]
        label_values = None if label_values is None else label_values[keep]
        aligned = f"{trials}.{event} {start:+g}..{stop:+g} s"
    else:
        require(segment_duration > bin_size, "segment_duration must be longer than one bin")
        n_bins = int(round(segment_duration / bin_size))
        t0 = min(spikes.t_start if spikes.t_start is not None else min(float(t[0]) for t in spikes.times if len(t)),
                 float("inf"))
        t1 = spikes.t_stop if spikes.t_stop is not None else max(float(t[-1]) for t in spikes.times if len(t))
        starts = t0 + n_bins * bin_size * np.arange(int((t1 - t0) // (n_bins * bin_size)))
        aligned = f"continuous {n_bins * bin_size:g} s"
        if labels is not None:
            table, _, column = labels.rpartition(":")
            if table not in tables:
                raise InputFileError(f"labels {labels!r}: the file has no intervals table {table!r}; it has: "
                                     f"{', '.join(tables) or 'none'}")
            df = tables[table]
            values = np.asarray(interval_column(df, column, table).map(_text), dtype=object)
            middle = starts + n_bins * bin_size / 2
            s, e = df["start_time"].to_numpy(float), df["stop_time"].to_numpy(float)
            which = np.array([np.flatnonzero((s <= m) & (m < e))[:1] for m in middle], dtype=object)
            inside = np.array([len(w) > 0 for w in which])
            starts = starts[inside]
            label_values = np.array([values[w[0]] for w in which[inside]], dtype=object)
    if label_values is not None:
        text = np.asarray([str(v).strip() for v in label_values], dtype=object)
        missing = np.isin(np.char.lower(text.astype(str)), ["", "nan", "none"]) | np.isin(
            text.astype(str), [str(v) for v in exclude_labels])
        if missing.any():
            log.info("left out %d segments with a missing or excluded label", missing.sum())
            starts, label_values = starts[~missing], text[~missing]
            trial_ids = None if trial_ids is None else trial_ids[~missing]
    # segments outside the recording would read as silence
    t_lo = min((t[0] for t in spikes.times if len(t)), default=0.0) if spikes.t_start is None else spikes.t_start
    t_hi = max((t[-1] for t in spikes.times if len(t)), default=0.0) if spikes.t_stop is None else spikes.t_stop
    inside = (starts >= t_lo) & (starts + n_bins * bin_size <= t_hi + 1e-9)
    if not inside.all():
        log.warning("left out %d segments outside the recorded span %.3f..%.3f s", (~inside).sum(), t_lo, t_hi)
        starts = starts[inside]
        label_values = None if label_values is None else label_values[inside]
        trial_ids = None if trial_ids is None else trial_ids[inside]
    if len(starts) < min_segments:
        raise InputFileError(f"only {len(starts)} segments ({aligned}); the model needs at least {min_segments}")
    data = RegionPairSegments(spikes.subset(src_idx), spikes.subset(tgt_idx), starts, n_bins, float(bin_size),
                              labels=label_values, trial_ids=trial_ids, source_name=source, target_name=target,
                              aligned_to=aligned)
    log.info("segments: %s", data.summary())
    return data


__all__ = ["SPEC_KINDS", "RegionPairSegments", "read_region_pair", "select_units"]
