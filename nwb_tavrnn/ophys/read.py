"""Find and read ROI traces in an NWB file: ``RoiResponseSeries`` of ``Fluorescence`` / ``DfOverF``.

Series are named by their path inside the processing modules, ``MODULE/CONTAINER/SERIES`` (e.g.
``ophys/Fluorescence/RoiResponseSeries``, ``ophys/DfOverF/RoiResponseSeries``); any unambiguous
tail of that path (``Fluorescence/RoiResponseSeries``, ``Deconvolved``) names one too. Without a
name, the raw fluorescence of the file's only imaging plane is read; a file with several planes,
or without a raw series, gets an error that lists what it holds. One graph = one plane: nodes link
to the rows of one PlaneSegmentation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from pynwb import NWBFile

from ..errors import InputFileError
# the NWB lookups live in io (the writer and the file summary need them); re-exported here as part of this API
from ..io.roi_series import (  # noqa: F401
    ACCEPTED_COLUMNS,
    SeriesInfo,
    column_of,
    find_roi_series,
    has_roi_series,
    roi_series_at,
)
from .signals import SIGNALS
from .traces import RoiTraces
from .write import weighted_centre

log = logging.getLogger(__name__)

__all__ = ["SeriesInfo", "find_roi_series", "has_roi_series", "read_roi_traces", "roi_series_at", "ROI_SELECTIONS"]

#: Which ROIs become nodes: those a classifier accepted (suite2p ``iscell``, CaImAn's accepted
#: components, an ``Accepted`` column) when the table says, or every ROI.
ROI_SELECTIONS = ("accepted", "all")
_GROUP_COLUMNS = ("group", "region", "subregion", "brain_area")
_CENTROID_COLUMNS = ("roicentroid", "roi_centroid", "roi_centroids", "centroid", "centroids")


def _choose(found: list[SeriesInfo], name: str | None, label: str) -> SeriesInfo:
    listing = "; ".join(s.describe() for s in found)
    if name is not None:
        name = name.strip("/")
        name = name[len("processing/"):] if name.startswith("processing/") else name
        hits = [s for s in found if s.path == name or s.path.endswith("/" + name)]
        if len(hits) == 1:
            return hits[0]
        if not hits:
            raise InputFileError(f"{label}: no ROI series named {name!r}; the file has: {listing}")
        raise InputFileError(f"{label}: {name!r} names several series ({', '.join(s.path for s in hits)}); "
                             "give the full path")
    raw = [s for s in found if s.path.split("/")[-2:-1] == ["Fluorescence"]
           and s.path.split("/")[-1].startswith("RoiResponseSeries")]
    if len(raw) == 1:
        return raw[0]
    if len(raw) > 1:
        raise InputFileError(f"{label} has {len(raw)} imaging planes; graphs are built one plane at a time: choose "
                             f"a series with `series`, one of: {listing}", "series")
    if len(found) == 1:
        return found[0]
    raise InputFileError(f"{label}: no raw Fluorescence series to default to; choose one with `series`, "
                         f"one of: {listing}", "series")


def _centroids(table, rows: np.ndarray) -> np.ndarray | None:
    """Each row's centroid (row, column) in pixels: a centroid column, else the masks' weighted centre."""
    col = column_of(table, _CENTROID_COLUMNS)
    if col is not None:
        values = np.asarray(table[col].data[:], dtype=np.float64)
        if values.ndim == 2 and values.shape[1] >= 2:
            return values[rows, :2]
    if "image_mask" in table.colnames:
        out = []
        for r in rows:  # one mask at a time: a table of image masks can be large
            m = np.abs(np.asarray(table["image_mask"][int(r)], dtype=np.float64))
            if m.ndim != 2:
                return None
            pixels = np.nonzero(m)
            out.append(weighted_centre(*pixels, m[pixels]))
        return np.array(out).reshape(-1, 2)
    if "pixel_mask" in table.colnames:
        out = []
        for r in rows:
            pm = table["pixel_mask"][int(r)]
            x = np.asarray([p[0] for p in pm], dtype=np.float64)
            y = np.asarray([p[1] for p in pm], dtype=np.float64)
            out.append(weighted_centre(y, x, np.abs(np.asarray([p[2] for p in pm], dtype=np.float64))))
        return np.array(out).reshape(-1, 2)
    return None


def _timing(series, label: str, n_frames: int) -> tuple[float, float, np.ndarray | None]:
    """(rate, starting_time, timestamps or None) of a series, checked."""
    if series.timestamps is not None:
        ts = np.asarray(series.timestamps[:], dtype=np.float64)
        if ts.shape != (n_frames,):
            raise InputFileError(f"{label}: {ts.size} timestamps for {n_frames} frames")
        if not np.isfinite(ts).all():
            raise InputFileError(f"{label}: the timestamps hold NaN or infinite values")
        steps = np.diff(ts)
        if np.any(steps <= 0):
            raise InputFileError(f"{label}: the timestamps are not strictly increasing (frame "
                                 f"{int(np.flatnonzero(steps <= 0)[0]) + 1})")
        # The mean period, and regular only when every frame lies within a hundredth of a frame of
        # that grid: a per-step test against the median would accept a clock whose steps are
        # skewed (e.g. 30 Hz stamped by a 32.768 kHz clock), and the grid would then drift by
        # seconds over an hour.
        period = float((ts[-1] - ts[0]) / (ts.size - 1)) if steps.size else 1.0
        grid = ts[0] + period * np.arange(ts.size)
        if steps.size and np.max(np.abs(ts - grid)) <= 0.01 * period:
            return 1.0 / period, float(ts[0]), None
        period = float(np.median(steps))
        gaps = int(np.count_nonzero(steps > 1.5 * period))
        if gaps:
            log.warning("%s: %d gaps longer than 1.5 frames in the timestamps; bins without a frame are "
                        "interpolated between their neighbours", label, gaps)
        return 1.0 / period, float(ts[0]), ts
    rate = float(series.rate or 0.0)
    if not rate > 0:
        raise InputFileError(f"{label}: the series has neither timestamps nor a positive rate")
    return rate, float(series.starting_time or 0.0), None


def _neuropil_of(info: SeriesInfo, found: list[SeriesInfo], label: str):
    """The neuropil series beside ``info`` (``Neuropil<suffix>`` in the same container)."""
    head, _, name = info.path.rpartition("/")
    suffix = name[len("RoiResponseSeries"):] if name.startswith("RoiResponseSeries") else ""
    match = next((s.series for s in found if s.path == f"{head}/Neuropil{suffix}"), None)
    if match is None:
        raise InputFileError(f"{label}: no neuropil series beside {info.path} (expected {head}/Neuropil{suffix}); "
                             "neuropil correction needs one")
    return match.data


def read_roi_traces(nwbfile: NWBFile, series: str | None = None, *, rois: str = "accepted", signal: str = "raw",
                    event_threshold: float = 2.5, baseline_window: float = 60.0,
                    baseline_sigma: float = 10.0, neuropil: float = 0.0) -> RoiTraces:
    """The ROIs of one RoiResponseSeries as graph nodes (the data stay in the file until binned).

    Parameters
    ----------
    series
        Path (or unambiguous tail) of the series; default the only plane's raw fluorescence.
    rois
        ``accepted`` (the default: ROIs the segmentation's classifier accepted, when the
        PlaneSegmentation has an ``Accepted``/``iscell`` column; all ROIs otherwise) or ``all``.
    signal, event_threshold, baseline_window, baseline_sigma
        See :class:`~.traces.RoiTraces` and :mod:`.signals`.
    neuropil
        k of the neuropil correction F − k·Fneu (0: none; suite2p uses 0.7), with the
        ``Neuropil`` series beside the chosen one.

    Raises
    ------
    InputFileError
        No ROI series, an ambiguous or unknown name, bad timing, fewer than two ROIs kept.
    """
    label = getattr(nwbfile, "identifier", None) or "the file"
    if signal not in SIGNALS:
        raise InputFileError(f"signal must be one of {', '.join(SIGNALS)}, got {signal!r}")
    if rois not in ROI_SELECTIONS:
        raise InputFileError(f"rois must be one of {', '.join(ROI_SELECTIONS)}, got {rois!r}")
    found = find_roi_series(nwbfile)
    if not found:
        raise InputFileError(f"{label} has no ROI traces (no RoiResponseSeries in processing/ophys)")
    info = _choose(found, series, label)
    s = info.series
    where = f"{label}: {info.path}"
    shape = tuple(s.data.shape)
    region = s.rois
    table = region.table
    rows = np.asarray(region.data[:], dtype=np.int64)
    if len(shape) != 2:
        raise InputFileError(f"{where}: expected (frames, rois) data, got shape {shape}; a graph needs at least "
                             "2 ROIs")
    if shape[1] != len(rows):
        hint = " (the data look transposed: NWB stores frames first)" if shape[0] == len(rows) else ""
        raise InputFileError(f"{where}: {shape[1]} data columns but {len(rows)} ROIs in its rois region{hint}")
    rate, start, timestamps = _timing(s, where, shape[0])
    ids_all = np.asarray(table.id.data[:], dtype=np.int64)[rows]
    keep = np.ones(len(rows), dtype=bool)
    acc = column_of(table, ACCEPTED_COLUMNS)
    if rois == "accepted" and acc is not None:
        keep = np.asarray(table[acc].data[:]).astype(bool)[rows]
        log.info("%s: %d of %d ROIs accepted (column %r)", info.path, int(keep.sum()), len(rows), acc)
        if keep.sum() < 2:
            raise InputFileError(f"{where}: {int(keep.sum())} ROI(s) accepted by column {acc!r}; a graph needs at "
                                 "least 2 (rois: all uses every ROI)")
    if len(rows) < 2:
        raise InputFileError(f"{where}: {len(rows)} ROI; a graph needs at least 2")
    plane = getattr(table, "imaging_plane", None)
    gcol = column_of(table, _GROUP_COLUMNS)
    if gcol is not None:
        groups = np.asarray([str(g) for g in table[gcol].data[:]], dtype=object)[rows]
    else:
        groups = np.full(len(rows), getattr(plane, "name", "") or "", dtype=object)
    locations = np.full(len(rows), str(getattr(plane, "location", "") or ""), dtype=object)
    columns = np.flatnonzero(keep)
    positions = _centroids(table, rows[columns])
    if positions is not None and not np.isfinite(positions).all():
        log.info("%s: some ROIs have no centroid (empty masks); node positions are left out", info.path)
        positions = None
    scale = (float(getattr(s, "conversion", 1.0) or 1.0), float(getattr(s, "offset", 0.0) or 0.0))
    return RoiTraces(
        data=s.data, columns=columns, scale=scale, ids=ids_all[columns], rate=rate, starting_time=start,
        timestamps=timestamps, groups=groups[columns], locations=locations[columns], positions=positions,
        signal=signal, event_threshold=event_threshold, baseline_window=baseline_window,
        baseline_sigma=baseline_sigma, node_table=f"ophys:{info.path}", series_name=info.path,
        neuropil=_neuropil_of(info, found, label) if neuropil else None, neuropil_factor=float(neuropil))
