"""nwbinspector checks for the ``ndx-dynamic-graphs`` types.

Importing this module registers the checks with nwbinspector; :mod:`nwb_tavrnn.validation` does
so before it inspects a file. nwbinspector is an optional dependency (the ``validate`` extra).
"""

from __future__ import annotations

import numpy as np
from nwbinspector import Importance, InspectorMessage, register_check

from .containers import DynamicConnectivity, NodeEmbeddings, TemporalAttention

#: How many windows a check loads at once, so checking a large file stays in bounded memory.
_WINDOW_CHUNK = 8
_SYMMETRY_TOLERANCE = 1e-5


@register_check(importance=Importance.CRITICAL, neurodata_type=DynamicConnectivity)
def check_connectivity_node_count(obj: DynamicConnectivity):
    """The node axes of the weights, labels and table region all have one entry per node id."""
    n = len(obj.node_ids)
    problems = []
    if obj.data is not None and tuple(obj.data.shape[1:]) != (n, n):
        problems.append(f"data is {tuple(obj.data.shape)} but there are {n} node_ids")
    if obj.correlation is not None and tuple(obj.correlation.shape[1:]) != (n, n):
        problems.append(f"correlation is {tuple(obj.correlation.shape)} but there are {n} node_ids")
    for field in ("node_groups", "node_locations", "node_region"):
        value = getattr(obj, field)
        if value is not None and len(value) != n:
            problems.append(f"{field} has {len(value)} entries but there are {n} node_ids")
    if problems:
        return InspectorMessage(message="; ".join(problems))
    return None


@register_check(importance=Importance.CRITICAL, neurodata_type=DynamicConnectivity)
def check_undirected_connectivity_is_symmetric(obj: DynamicConnectivity):
    """An undirected graph's weights equal their transpose in every window."""
    if obj.directed:
        return None
    if obj.data is not None:
        for start in range(0, obj.data.shape[0], _WINDOW_CHUNK):
            block = np.asarray(obj.data[start : start + _WINDOW_CHUNK])
            diff = np.abs(block - block.transpose(0, 2, 1)).max(axis=(1, 2)) if block.size else np.zeros(0)
            bad = np.flatnonzero(diff > _SYMMETRY_TOLERANCE)
            if bad.size:
                return InspectorMessage(
                    message=f"undirected graph is not symmetric in window {start + int(bad[0])} "
                    f"(largest |w_ij - w_ji| = {diff[bad[0]]:.3g})"
                )
        return None
    index = np.asarray(obj.edge_index[()])
    weight = np.asarray(obj.edge_weight[()])
    forward = {tuple(row): w for row, w in zip(index.tolist(), weight.tolist())}
    for (t, i, j), w in forward.items():
        back = forward.get((t, j, i))
        if back is None or abs(back - w) > _SYMMETRY_TOLERANCE:
            return InspectorMessage(message=f"undirected sparse graph lacks the reverse of edge ({t}, {i}, {j})")
    return None


def _session_end(obj) -> float | None:
    """Last time anything was observed in the file that holds ``obj`` (spikes, intervals)."""
    nwbfile = obj.get_ancestor("NWBFile")
    if nwbfile is None:
        return None
    ends = []
    if nwbfile.units is not None and "spike_times" in nwbfile.units.colnames and len(nwbfile.units):
        times = nwbfile.units["spike_times"].target.data
        if len(times):
            ends.append(float(np.max(times[()])))
    for table in (nwbfile.epochs, nwbfile.trials, *nwbfile.intervals.values()):
        if table is not None and len(table):
            ends.append(float(np.max(table["stop_time"].data[()])))
    return max(ends) if ends else None


@register_check(importance=Importance.BEST_PRACTICE_VIOLATION, neurodata_type=DynamicConnectivity)
def check_connectivity_windows_inside_session(obj: DynamicConnectivity):
    """Windows start at or after the session start, stop after they start, and end near the data."""
    start = np.asarray(obj.window_start_times[()])
    stop = np.asarray(obj.window_stop_times[()])
    if start.size and start.min() < 0:
        return InspectorMessage(message=f"a window starts before the session start ({start.min():.3f} s)")
    if np.any(stop <= start):
        return InspectorMessage(message="a window stops before it starts")
    end = _session_end(obj)
    # One window beyond the last spike is tolerated: the last spike need not fall at the very end.
    slack = float(np.max(stop - start)) if stop.size else 0.0
    if end is not None and stop.size and stop.max() > end + slack:
        return InspectorMessage(
            message=f"windows extend to {stop.max():.3f} s, beyond the last observation in the file ({end:.3f} s)"
        )
    return None


@register_check(importance=Importance.CRITICAL, neurodata_type=NodeEmbeddings)
def check_embeddings_match_connectivity(obj: NodeEmbeddings):
    """Embeddings have one row per window and node of the graphs they link to."""
    conn = obj.connectivity
    if conn is None:
        return None
    if tuple(obj.mean.shape[:2]) != (len(conn.window_start_times), len(conn.node_ids)):
        return InspectorMessage(
            message=f"mean is {tuple(obj.mean.shape)} but its connectivity has "
            f"{len(conn.window_start_times)} windows x {len(conn.node_ids)} nodes"
        )
    return None


@register_check(importance=Importance.CRITICAL, neurodata_type=TemporalAttention)
def check_attention_rows_sum_to_one(obj: TemporalAttention):
    """Each query window's attention weights are non-negative and sum to 1."""
    data = np.asarray(obj.data[()], dtype=np.float64)
    if data.size and (data.min() < 0 or not np.allclose(data.sum(axis=1), 1.0, atol=1e-4)):
        return InspectorMessage(message="attention rows must be non-negative and sum to 1")
    return None


def _nonfinite_message(obj):
    """One message if a float result dataset of ``obj`` holds NaN or infinity (read in blocks)."""
    from ..errors import InputFileError
    from ..io.read import check_finite_results

    try:
        check_finite_results(obj)
    except InputFileError as err:
        return InspectorMessage(message=str(err))
    return None


@register_check(importance=Importance.CRITICAL, neurodata_type=DynamicConnectivity)
def check_connectivity_values_are_finite(obj: DynamicConnectivity):
    """Edge weights and correlations hold no NaN or infinity (our writers never store them)."""
    return _nonfinite_message(obj)


@register_check(importance=Importance.CRITICAL, neurodata_type=NodeEmbeddings)
def check_embeddings_are_finite(obj: NodeEmbeddings):
    """Embedding means, log-variances and samples hold no NaN or infinity."""
    return _nonfinite_message(obj)
