"""Read what the pipeline needs from any NWB 2.x file: spike trains, electrodes, intervals, behaviour.

The readers take an open :class:`~pynwb.NWBFile` (see :func:`nwb_tavrnn.io.open_nwb`), so they work
the same on local files and streamed ones, and copy into memory only what they return.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd
from pynwb import NWBFile, TimeSeries
from pynwb.ecephys import ElectricalSeries
from pynwb.epoch import TimeIntervals

from ..errors import InputFileError
from .spike_trains import SpikeTrains

log = logging.getLogger(__name__)

T = TypeVar("T")


def _label(nwbfile: NWBFile) -> str:
    return getattr(nwbfile, "identifier", None) or "the file"


def read_spike_trains(nwbfile: NWBFile) -> SpikeTrains:
    """Read every unit of the Units table with its id, electrode group and location.

    Groups come from the ``electrode_group`` column, else from the unit's first electrode's group;
    locations from that group's (or electrode's) ``location``.

    Raises
    ------
    InputFileError
        If the file has no Units table or it is empty.
    """
    units = nwbfile.units
    if units is None:
        raise InputFileError(
            f"{_label(nwbfile)} has no Units table; sort its raw recording first (`nwb-tavrnn sort`) "
            "or use a file with spike-sorted units"
        )
    n = len(units)
    if n == 0:
        raise InputFileError(f"{_label(nwbfile)}: the Units table is empty")
    if "spike_times" not in units.colnames:
        raise InputFileError(f"{_label(nwbfile)}: the Units table has no spike_times column")
    # One read of the flat spike-times vector and its index, not one HDF5 read per unit.
    times = ragged_rows(units, "spike_times")
    ids = np.asarray(units.id.data[:], dtype=np.int64)
    _check_finite_spikes(nwbfile, times, ids)
    groups, locations = unit_groups_and_locations(units, n)
    t_start, t_stop = _observed_span(units, times)
    return SpikeTrains(times=times, ids=ids, groups=groups, locations=locations, t_start=t_start,
                       t_stop=t_stop, node_table="units")


def _check_finite_spikes(nwbfile: NWBFile, times: list[np.ndarray], ids: np.ndarray) -> None:
    """Refuse NaN or infinite spike times: binned, they would poison every window's correlations
    (or ask for an infinite number of bins), so the file is corrupt rather than usable."""
    for unit_id, t in zip(ids, times):
        bad = ~np.isfinite(t)
        if bad.any():
            raise InputFileError(
                f"{_label(nwbfile)}: unit {int(unit_id)} has {int(bad.sum())} NaN or infinite spike time(s) in the "
                "Units table's spike_times; the file is corrupt: remove or fix those spikes"
            )


def unit_groups_and_locations(units, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's electrode group name and brain location (its group's, or its first electrode's
    ``location``); ``""`` where the file says nothing.

    Shapes
    ------
    return : (n,) object, (n,) object
    """
    groups = np.full(n, "", dtype=object)
    locations = np.full(n, "", dtype=object)
    if "electrode_group" in units.colnames:
        for i, group in enumerate(units["electrode_group"][:]):
            groups[i] = group.name
            locations[i] = group.location or ""
    elif "electrodes" in units.colnames:
        table = units["electrodes"].table if hasattr(units["electrodes"], "table") else units["electrodes"].target.table
        group_col = table["group"].data[:] if "group" in table.colnames else None
        loc_col = table["location"].data[:] if "location" in table.colnames else None
        for i, rows in enumerate(ragged_rows(units, "electrodes")):
            if len(rows):
                row = int(rows[0])
                if group_col is not None:
                    groups[i] = group_col[row].name
                if loc_col is not None:
                    locations[i] = _text(loc_col[row])
    return groups, locations


def ragged_rows(table, name: str) -> list[np.ndarray]:
    """Values of column ``name`` per row, whether the column is ragged (indexed) or one per row.

    Reads the whole column in one go rather than row by row (one HDF5 read, not thousands).
    Columns of times (:data:`NUMERIC_COLUMNS`) come back as float64.

    Raises
    ------
    InputFileError
        A column of times holds something other than numbers (e.g. text), or its index is not
        a valid cut of the column.
    """
    column = table[name]
    if hasattr(column, "target"):  # a VectorIndex over a ragged column
        flat = _numeric(table, name, np.asarray(column.target.data[:]))
        ends = np.asarray(column.data[:], dtype=np.int64)
        if ends.size and (np.any(np.diff(ends) < 0) or ends[0] < 0 or ends[-1] > len(flat)):
            raise InputFileError(f"the {table.name} table's {name}_index does not cut {name} ({len(flat)} values) "
                                 "into rows; the file is corrupt")
        starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
        return [flat[s:e] for s, e in zip(starts, ends)]
    return [np.asarray([v]) for v in _numeric(table, name, np.asarray(column.data[:]))]


#: Columns whose values are times in seconds: anything but numbers there is a corrupt file.
NUMERIC_COLUMNS = ("spike_times", "obs_intervals")


def _numeric(table, name: str, values: np.ndarray) -> np.ndarray:
    if name not in NUMERIC_COLUMNS:
        return values
    if values.dtype.kind not in "iuf":
        raise InputFileError(f"the {table.name} table's {name} column holds {_kind(values)}, not numbers (seconds); "
                             "the file is corrupt")
    return values.astype(np.float64, copy=False)


def _kind(values: np.ndarray) -> str:
    return "text" if values.dtype.kind in "OSU" else f"values of type {values.dtype}"


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _observed_span(units, times: list[np.ndarray]) -> tuple[float | None, float | None]:
    """Observation span from ``obs_intervals`` when present, else from the spikes."""
    if "obs_intervals" in units.colnames:
        spans = [np.asarray(r, dtype=np.float64).reshape(-1, 2) for r in ragged_rows(units, "obs_intervals")]
        flat = np.concatenate(spans) if spans else np.zeros((0, 2))
        if flat.size:
            return float(flat[:, 0].min()), float(flat[:, 1].max())
    return None, None


def read_electrodes(nwbfile: NWBFile) -> pd.DataFrame:
    """Return the electrodes table (group as its name) or an empty frame if there is none."""
    if nwbfile.electrodes is None:
        return pd.DataFrame()
    df = nwbfile.electrodes.to_dataframe()
    if "group" in df.columns:
        df["group"] = [g.name for g in df["group"]]
    return df


def _find(nwbfile: NWBFile, kind: type[T]) -> list[T]:
    return [obj for obj in nwbfile.objects.values() if isinstance(obj, kind)]


def read_intervals(nwbfile: NWBFile) -> dict[str, pd.DataFrame]:
    """Every TimeIntervals table in the file (epochs, trials, invalid_times, custom ones, and any in
    processing modules), as data frames keyed by table name."""
    out: dict[str, pd.DataFrame] = {}
    for table in sorted(_find(nwbfile, TimeIntervals), key=lambda t: t.name):
        key = table.name if table.name not in out else f"{table.parent.name}/{table.name}"
        df = table.to_dataframe(index=True)
        for column in ("start_time", "stop_time"):
            # Text where times belong fails every later use (windows, labels, copying the table
            # into a derived file) with a conversion error; say which table is broken instead.
            if column in df and len(df) and not pd.api.types.is_numeric_dtype(df[column]):
                raise InputFileError(f"intervals table {key!r}: {column} holds "
                                     f"{_kind(np.asarray(df[column]))}, not numbers (seconds); the file is corrupt")
        out[key] = df
    return out


def interval_times(df: pd.DataFrame, table: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The start and stop times of an intervals table read with :func:`read_intervals`, checked.

    Raises
    ------
    InputFileError
        A time is NaN or infinite, or a row stops before it starts (such a row would silently
        cover no time at all, and the windows or labels built from the table would be wrong).

    Shapes
    ------
    return : two (rows,) float64 arrays, seconds
    """
    where = f"intervals table {table!r}" if table else "the intervals table"
    starts = df["start_time"].to_numpy(np.float64)
    stops = df["stop_time"].to_numpy(np.float64)
    bad = ~(np.isfinite(starts) & np.isfinite(stops))
    if bad.any():
        raise InputFileError(f"{where}: row {int(np.flatnonzero(bad)[0])} has a NaN or infinite start or stop time "
                             f"({int(bad.sum())} row(s) in all); fix the table")
    reversed_ = stops < starts
    if reversed_.any():
        i = int(np.flatnonzero(reversed_)[0])
        raise InputFileError(f"{where}: row {i} stops ({stops[i]:g} s) before it starts ({starts[i]:g} s) "
                             f"({int(reversed_.sum())} row(s) in all); fix the table")
    return starts, stops


def interval_column(df: pd.DataFrame, column: str, table: str | None = None) -> pd.Series:
    """One column of an intervals table read with :func:`read_intervals`; list-valued columns (such
    as epochs' ``tags``) are joined into one string per row so they can serve as labels.

    Raises
    ------
    InputFileError
        If the table has no such column, naming the ones it has.
    """
    if column not in df.columns:
        where = f"intervals table {table!r}" if table else "the intervals table"
        raise InputFileError(f"{where} has no column {column!r}; it has: {', '.join(df.columns)}")
    values = df[column]
    if values.map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any():
        values = values.map(lambda v: ",".join(map(str, v)))
    return values


@dataclass
class BehaviorSeries:
    """A behavioural time series read into memory.

    Shapes
    ------
    timestamps : (samples,) float64, seconds
    data : (samples, ...) as stored
    """

    name: str
    path: str
    timestamps: np.ndarray
    data: np.ndarray
    unit: str
    description: str


def read_behavior(nwbfile: NWBFile) -> dict[str, BehaviorSeries]:
    """Read every non-electrophysiology TimeSeries from the 'behavior' module and acquisition.

    Keys are the series' paths in the file (e.g. ``processing/behavior/Position/position``) so
    identically named series inside different containers stay apart.
    """
    out: dict[str, BehaviorSeries] = {}
    candidates = []
    if "behavior" in nwbfile.processing:
        candidates += [o for o in _find(nwbfile, TimeSeries) if is_inside(o, nwbfile.processing["behavior"])]
    candidates += [o for o in nwbfile.acquisition.values() if isinstance(o, TimeSeries)]
    for series in candidates:
        if isinstance(series, ElectricalSeries):
            continue
        data = np.asarray(series.data[()])
        if series.timestamps is not None:
            stamps = np.asarray(series.timestamps[()], dtype=np.float64)
        else:
            stamps = series.starting_time + np.arange(len(data)) / series.rate
        path = _path(series)
        out[path] = BehaviorSeries(series.name, path, stamps, data, series.unit, series.description)
    return out


def read_behavior_series(nwbfile: NWBFile, name: str) -> BehaviorSeries:
    """The one behavioural series whose path or name is ``name``.

    Raises
    ------
    InputFileError
        If none matches (naming the series the file has) or several share the name (naming their
        paths, any of which selects one).
    """
    series = read_behavior(nwbfile)
    found = [s for path, s in series.items() if name in (path, s.name)]
    if not found:
        raise InputFileError(f"no behavioural series {name!r}; the file has: {', '.join(series) or 'none'}")
    if len(found) > 1:
        raise InputFileError(f"{len(found)} behavioural series are named {name!r}; give one path: "
                             f"{', '.join(s.path for s in found)}")
    return found[0]


def is_inside(obj, ancestor) -> bool:
    """Whether ``ancestor`` is ``obj`` or one of its parents."""
    while obj is not None:
        if obj is ancestor:
            return True
        obj = obj.parent
    return False


def _path(obj) -> str:
    parts = []
    while obj is not None and obj.parent is not None:
        parts.append(obj.name)
        obj = obj.parent
    return "/".join(reversed(parts))


def find_objects(nwbfile: NWBFile, kind: type[T], name: str | None = None) -> list[T]:
    """All objects of one of our types (e.g. DynamicConnectivity) in the file, optionally by name.

    Raises
    ------
    InputFileError
        If ``name`` is given and no such object exists.
    """
    found = sorted(_find(nwbfile, kind), key=lambda o: o.name)
    if name is not None:
        found = [o for o in found if o.name == name]
        if not found:
            raise InputFileError(f"{_label(nwbfile)} has no {kind.__name__} named {name!r}")
    return found


def read_one(nwbfile: NWBFile, kind: type[T], name: str | None = None) -> T:
    """The single object of ``kind`` in the file (or the one called ``name``).

    Raises
    ------
    InputFileError
        If there is none, or several and no name was given.
    """
    found = find_objects(nwbfile, kind, name)
    if not found:
        raise InputFileError(f"{_label(nwbfile)} has no {kind.__name__}; run the step that makes it first")
    if len(found) > 1:
        names = ", ".join(o.name for o in found)
        raise InputFileError(f"{_label(nwbfile)} has several {kind.__name__} objects ({names}); pick one by name")
    check_finite_results(found[0])
    return found[0]


#: Float datasets of our types that a step reads as its input, by type name.
_RESULT_ARRAYS = {"DynamicConnectivity": ("data", "edge_weight", "correlation"),
                  "NodeEmbeddings": ("mean", "log_variance", "sample")}

#: Values read at once when checking a dataset, so the check runs in bounded memory.
_CHECK_BLOCK_VALUES = 4 * 1024 * 1024


def check_finite_results(obj) -> None:
    """Refuse graphs or embeddings holding NaN or infinity before a step computes on them.

    Our writers never store such values (the containers refuse them in memory), so they mean a
    damaged or foreign file; computing on them would end in an obscure numerical error deep in
    a library, or write NaN into a result. Read in blocks of windows, in bounded memory.

    Raises
    ------
    InputFileError
        Naming the object, the dataset and the first window that holds a non-finite value.
    """
    for field_name in _RESULT_ARRAYS.get(type(obj).__name__, ()):
        data = getattr(obj, field_name, None)
        if data is None or not hasattr(data, "shape") or not len(data.shape) or data.shape[0] == 0:
            continue
        if np.dtype(getattr(data, "dtype", np.float64)).kind != "f":
            continue
        per_row = int(np.prod(data.shape[1:], dtype=np.int64)) or 1
        step = max(1, _CHECK_BLOCK_VALUES // per_row)
        for start in range(0, data.shape[0], step):
            block = np.asarray(data[start:start + step])
            if not np.isfinite(block).all():
                first = start + int(np.flatnonzero(~np.isfinite(block.reshape(len(block), -1)).all(axis=1))[0])
                raise InputFileError(
                    f"{type(obj).__name__} {obj.name!r}: {field_name} holds NaN or infinite values (first in row "
                    f"{first}); the file is damaged: recompute it with the step that made it"
                )
