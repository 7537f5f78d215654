"""Window-level feature matrices: from embeddings, and the baselines computed on the same windows.

Every function returns one row per window, so any of them can be scored with the same labels.
"""

from __future__ import annotations

import numpy as np

from ..io.spike_trains import SpikeTrains


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
    """Baseline: every node's firing rate in each window (Hz).

    Shapes
    ------
    starts, stops : (windows,)
    return : (windows, nodes)
    """
    starts, stops = np.asarray(starts, float), np.asarray(stops, float)
    out = np.empty((len(starts), len(trains)))
    for j, t in enumerate(trains.times):
        out[:, j] = np.searchsorted(t, stops) - np.searchsorted(t, starts)
    return out / (stops - starts)[:, None]


def circular_shift(trains: SpikeTrains, seed: int = 0) -> SpikeTrains:
    """Time-shuffled control: each node's train rotated by its own random offset within the recording.

    Keeps every node's rate and spike-train autocorrelation; destroys zero-lag coordination
    between nodes and any alignment of the network with behaviour. Run the whole pipeline on the
    result to get the time-shuffle null.
    """
    rng = np.random.default_rng(seed)
    span = trains.duration
    if span <= 0:
        raise ValueError("circular_shift needs a recording of positive duration")
    shifted = []
    for t in trains.times:
        rel = (t - trains.t_start + rng.uniform(0, span)) % span
        shifted.append(np.sort(rel) + trains.t_start)
    return SpikeTrains(shifted, trains.ids, trains.groups, trains.locations, trains.t_start, trains.t_stop,
                       trains.node_table)
