"""Our graphs and embeddings as pynapple objects, to sit beside the rest of a file in pynapple
(spike trains, behaviour, tuning curves) on one time axis.

pynapple is imported only when :func:`to_pynapple` is called.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import InputFileError
from .files import PathLike, open_nwb

log = logging.getLogger(__name__)


def to_pynapple(source: PathLike | Any, connectivity: str | None = None,
                embeddings: str | None = None) -> Mapping[str, Any]:
    """The DynamicConnectivity (and the NodeEmbeddings, when the file holds them) of an NWB file as
    pynapple objects timed at each window's centre.

    Parameters
    ----------
    source
        A path or URL of an NWB file, or an open ``NWBFile``.
    connectivity, embeddings
        Names of the objects when the file holds several of a kind.

    Returns
    -------
    dict
        ``graphs``: ``TsdTensor`` of the stored edge weights; ``correlation``: ``TsdTensor`` of
        the unthresholded correlation (when stored); ``windows``: ``IntervalSet`` of the windows
        (when they do not overlap: pynapple would merge overlapping ones; a window that ends
        where the next starts ends 1 µs early, as pynapple's intervals are closed) and ``window_table``:
        a ``DataFrame`` of every window's start and stop (always); ``node_ids``: the id of the
        Units row (electrode, ROI) each node stands for, in node order, which are the keys of
        pynapple's ``TsGroup`` of the same units; ``embeddings``: ``TsdTensor``
        of the node embeddings (posterior means) and ``window_embeddings``: ``TsdFrame`` of their
        mean over nodes (when the file holds embeddings). Arrays are read into memory.

    Shapes
    ------
    graphs, correlation : (windows, nodes, nodes)
    node_ids : (nodes,)
    embeddings : (windows, nodes, latent)
    window_embeddings : (windows, latent)

    Raises
    ------
    InputFileError
        No DynamicConnectivity, or several without a name.
    """
    from pynwb import NWBFile

    if isinstance(source, NWBFile):
        return _objects(source, connectivity, embeddings)
    with open_nwb(source) as nwbfile:
        return _objects(nwbfile, connectivity, embeddings)


def _objects(nwbfile: Any, connectivity: str | None, embeddings: str | None) -> dict[str, Any]:
    import pandas as pd
    import pynapple as nap

    from ..schema import DynamicConnectivity, NodeEmbeddings
    from .read import find_objects, read_one

    conn = read_one(nwbfile, DynamicConnectivity, connectivity)
    starts = np.asarray(conn.window_start_times[()], dtype=np.float64)
    stops = np.asarray(conn.window_stop_times[()], dtype=np.float64)
    centres = (starts + stops) / 2.0
    out: dict[str, Any] = {"graphs": nap.TsdTensor(t=centres, d=np.asarray(conn.to_dense(), dtype=np.float32)),
                           "window_table": pd.DataFrame({"start": starts, "end": stops}),
                           # the Units (or electrodes, ROIs) ids in node order: a TsGroup's keys
                           "node_ids": np.asarray(conn.node_ids[()], dtype=np.int64)}
    if conn.correlation is not None:
        out["correlation"] = nap.TsdTensor(t=centres, d=np.asarray(conn.correlation[()], dtype=np.float32))
    if len(starts) and np.all(starts[1:] >= stops[:-1]):
        import warnings

        with warnings.catch_warnings():  # abutting windows: pynapple ends each 1 µs early, and says so
            warnings.filterwarnings("ignore", message="Some starts and ends are equal")
            out["windows"] = nap.IntervalSet(start=starts, end=stops)
    elif len(starts):
        log.info("the windows overlap: no IntervalSet of them (pynapple would merge them); see window_table")
    found = [e for e in find_objects(nwbfile, NodeEmbeddings, embeddings)
             if e.connectivity is None or e.connectivity.object_id == conn.object_id]
    if embeddings is not None and not found:
        raise InputFileError(f"no NodeEmbeddings named {embeddings!r} of {conn.name!r}", "embeddings")
    if len(found) > 1:
        raise InputFileError(f"several NodeEmbeddings of {conn.name!r} ({', '.join(e.name for e in found)}); "
                             "pick one by name (`embeddings`)", "embeddings")
    if found:
        mean = np.asarray(found[0].mean[()], dtype=np.float32)
        if mean.shape[0] != len(centres):
            raise InputFileError(f"{found[0].name} has {mean.shape[0]} windows, {conn.name} {len(centres)}")
        out["embeddings"] = nap.TsdTensor(t=centres, d=mean)
        out["window_embeddings"] = nap.TsdFrame(t=centres, d=mean.mean(axis=1))
    return out


__all__ = ["to_pynapple"]
