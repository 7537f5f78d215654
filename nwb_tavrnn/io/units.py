"""Build a Units table from whole arrays.

``NWBFile.add_unit`` row by row stores Python lists, which take ~50x longer to write for millions of
spikes; building each ragged column as one flat array plus its index is what makes writing a
900-unit, 5-million-spike file take about a second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from hdmf.common import DynamicTable, DynamicTableRegion, VectorData, VectorIndex
from pynwb.misc import Units


def _ragged(name: str, description: str, rows: Sequence, dtype=None, row_shape: tuple = ()) -> list:
    """A flat VectorData of all rows and the VectorIndex that cuts it back into rows."""
    arrays = [np.asarray(r, dtype=dtype).reshape((-1, *row_shape)) for r in rows]
    flat = np.concatenate(arrays) if arrays else np.zeros((0, *row_shape), dtype=dtype)
    data = VectorData(name=name, description=description, data=flat)
    ends = np.cumsum([len(a) for a in arrays]).astype(np.uint64) if arrays else np.zeros(0, np.uint64)
    return [data, VectorIndex(name=f"{name}_index", data=ends, target=data)]


def build_units_table(
    spike_times: Sequence[np.ndarray],
    ids: Sequence[int],
    *,
    description: str = "spike-sorted units",
    resolution: float | None = None,
    obs_intervals: Sequence[np.ndarray] | None = None,
    electrodes: Sequence[Sequence[int]] | None = None,
    electrode_table: DynamicTable | None = None,
    electrode_groups: Sequence | None = None,
    extra_columns: Mapping[str, tuple[str, Sequence]] | None = None,
) -> Units:
    """Return a Units table holding these columns.

    Parameters
    ----------
    spike_times
        Sorted spike times (seconds) of each unit.
    obs_intervals
        Per unit, an array of (start, stop) rows.
    electrodes
        Per unit, its rows of ``electrode_table``.
    electrode_groups
        Per unit, its ElectrodeGroup object.
    extra_columns
        ``name -> (description, one value per unit)``; values must be scalars or strings.

    Shapes
    ------
    spike_times : units x (spikes_u,)
    obs_intervals : units x (intervals_u, 2)
    """
    columns = _ragged("spike_times", "the spike times for each unit in seconds", spike_times, np.float64)
    if obs_intervals is not None:
        columns += _ragged("obs_intervals", "the observation intervals for each unit", obs_intervals,
                           np.float64, (2,))
    if electrodes is not None:
        if electrode_table is None:
            raise ValueError("electrodes need the electrode_table they index")
        rows = [np.asarray(r, dtype=np.int64).ravel() for r in electrodes]
        flat = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        region = DynamicTableRegion(name="electrodes", description="the electrodes that each spike unit came from",
                                    data=flat, table=electrode_table)
        ends = np.cumsum([len(r) for r in rows]).astype(np.uint64)
        columns += [region, VectorIndex(name="electrodes_index", data=ends, target=region)]
    if electrode_groups is not None:
        columns.append(VectorData(name="electrode_group", description="the electrode group that each spike unit came from",
                                  data=list(electrode_groups)))
    for name, (text, values) in (extra_columns or {}).items():
        columns.append(VectorData(name=name, description=text, data=list(values)))
    kwargs = {"resolution": float(resolution)} if resolution is not None and resolution > 0 else {}
    return Units(name="units", description=description, id=[int(i) for i in ids], columns=columns,
                 electrode_table=electrode_table, **kwargs)
