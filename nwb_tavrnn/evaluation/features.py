"""Window-level feature matrices: from embeddings, and the baselines computed on the same windows.

Every function returns one row per window, so any of them can be scored with the same labels.
"""

from __future__ import annotations

import numpy as np

from ..io.spike_trains import SpikeTrains, is_traces


def embedding_features(mean: np.ndarray, mode: str = "node_mean") -> np.ndarray:
    """Window features from node embeddings.

    ``node_mean`` averages nodes (the paper's window-level feature), ``flatten`` keeps every node's
    vector (node identity matters), ``node_mean_sd`` adds the spread across nodes.

    Shapes
    ------
    mean : (windows, nodes, latent)
    return : (windows, latent) | (windows, nodes * latent) | (windows, 2 * latent)
    """
    mean = np.asarray(mean, dtype=np.float64)
    if mode == "node_mean":
        return mean.mean(axis=1)
    if mode == "flatten":
        return mean.reshape(mean.shape[0], -1)
    if mode == "node_mean_sd":
        return np.concatenate([mean.mean(axis=1), mean.std(axis=1)], axis=1)
    raise ValueError(f"mode must be 'node_mean', 'flatten' or 'node_mean_sd', got {mode!r}")


def correlation_features(correlation: np.ndarray) -> np.ndarray:
    """Baseline: the upper triangle of each window's (unthresholded) correlation matrix.

    Shapes
    ------
    correlation : (windows, nodes, nodes)
    return : (windows, nodes * (nodes - 1) / 2)
    """
    n = correlation.shape[1]
    iu = np.triu_indices(n, 1)
    return np.asarray(correlation, dtype=np.float64)[:, iu[0], iu[1]]


def rate_features(trains: SpikeTrains, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Baseline: every node's firing rate in each window (Hz); for ROI traces, its activity: the
    mean ΔF/F (on the maximin baseline) of each window, the event rate per frame for ``events``.

    A raw series is turned into ΔF/F for this: its mean would mostly follow the baseline F0 and its
    bleaching, a trend in time that can "decode" any label confounded with time. Where ΔF/F is
    undefined (a baseline at or below zero, e.g. CaImAn's background-subtracted traces), the
    window's standard deviation of the trace stands for its activity instead.

    Shapes
    ------
    starts, stops : (windows,)
    return : (windows, nodes)
    """
    starts, stops = np.asarray(starts, float), np.asarray(stops, float)
    if is_traces(trains):
        return _trace_activity(trains, starts, stops)
    out = np.empty((len(starts), len(trains)))
    for j, t in enumerate(trains.times):
        out[:, j] = np.searchsorted(t, stops) - np.searchsorted(t, starts)
    return out / (stops - starts)[:, None]


def shuffle_pieces(t_start: float, t_stop: float, boundaries: np.ndarray | None = None) -> np.ndarray:
    """Edges of the pieces :func:`circular_shift` rotates separately: the recording cut at the
    ``boundaries`` that lie strictly inside it.

    Shapes
    ------
    boundaries : (cuts,) seconds
    return : (pieces + 1,) sorted seconds, from t_start to t_stop
    """
    cuts = np.asarray([] if boundaries is None else boundaries, dtype=np.float64).ravel()
    cuts = cuts[(cuts > t_start) & (cuts < t_stop)]
    return np.unique(np.concatenate([[t_start], cuts, [t_stop]]))


def circular_shift(trains: SpikeTrains, seed: int = 0, boundaries: np.ndarray | None = None) -> SpikeTrains:
    """Time-shuffled control: each node's train rotated by its own random offset.

    Without ``boundaries`` the rotation runs over the whole recording: every node keeps its rate
    and spike-train autocorrelation, and loses its zero-lag coordination with the others and any
    alignment with behaviour — but a unit that fires more while running still fires more in some
    other stretch of time, so rate differences between behavioural states are smeared, not kept.

    With ``boundaries`` (times in seconds) the recording is cut at them and each piece is rotated
    on its own (a fresh offset per node and piece). Cutting at every window start and stop keeps
    each node's spike count in every window exactly — a rate-matched null — while still destroying
    coordination finer than the pieces. Run the whole pipeline on the result to get the null.

    Shapes
    ------
    boundaries : (cuts,) seconds; those outside (t_start, t_stop) are ignored
    """
    rng = np.random.default_rng(seed)
    if trains.duration <= 0:
        raise ValueError("circular_shift needs a recording of positive duration")
    edges = shuffle_pieces(trains.t_start, trains.t_stop, boundaries)
    if is_traces(trains):
        return _shift_traces(trains, edges, rng)
    lengths = np.diff(edges)
    shifted = []
    for t in trains.times:
        t = np.asarray(t, dtype=np.float64)
        # Only spikes in [t_start, t_stop) are rotated; any outside (or exactly at t_stop, where a
        # train's end is often its last spike) stay where they are, so no window gains or loses one.
        inside = (t >= trains.t_start) & (t < trains.t_stop)
        piece = np.searchsorted(edges, t[inside], side="right") - 1
        offset = rng.uniform(0, lengths)  # one per piece, so every piece is rotated independently
        rel = (t[inside] - edges[piece] + offset[piece]) % lengths[piece]
        shifted.append(np.sort(np.concatenate([t[~inside], rel + edges[piece]])))
    return SpikeTrains(shifted, trains.ids, trains.groups, trains.locations, trains.t_start, trains.t_stop,
                       trains.node_table)


def _shift_traces(traces, edges: np.ndarray, rng: np.random.Generator):
    """:func:`circular_shift` of ROI traces: in each piece, every node's frames rotated by its own
    random whole number of frames (a frame is the traces' time resolution). Frames outside the
    observed span stay where they are.

    Shapes
    ------
    edges : (pieces + 1,) seconds
    """
    frames = np.asarray([traces.frame_at(t) for t in edges])
    x = np.array(traces.values(0, traces.n_frames), dtype=np.float32)  # a copy: the rotation writes into it
    for a, b in zip(frames[:-1], frames[1:]):
        length = int(b - a)
        if length < 2:
            continue
        offsets = rng.integers(0, length, size=x.shape[1])
        rows = (np.arange(length)[:, None] - offsets[None, :]) % length
        x[a:b] = np.take_along_axis(x[a:b], rows, axis=0)
    return traces.holding(x)


def _trace_activity(traces, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """:func:`rate_features` of ROI traces (see there). Shapes: (windows,) → (windows, nodes)."""
    import dataclasses

    from ..errors import InputFileError

    summary = np.mean
    if traces.signal == "raw":
        try:
            x = dataclasses.replace(traces, signal="dff", processed=False).values(0, traces.n_frames)
        except InputFileError:  # no positive baseline: the spread of the trace
            x, summary = traces.values(0, traces.n_frames), np.std
    else:
        x = traces.values(0, traces.n_frames)
    x = x.astype(np.float32, copy=False)
    out = np.zeros((len(starts), len(traces)))
    for w, (a, b) in enumerate(zip(starts, stops)):
        fa, fb = traces.frame_at(a), traces.frame_at(b)
        if fb > fa:
            out[w] = summary(x[fa:fb], axis=0, dtype=np.float64)
    return out
