"""Embed each window the moment its spikes are in: connectivity and a fitted TAVRNN, run online.

:class:`OnlineEmbedder` takes spikes in batches of any size (in time order across batches), keeps
only the bins the next windows need and the model's recurrent state, and emits one
:class:`WindowResult` per completed window: its times, graph, correlation, node embeddings, attention
row and (with node groups) the subregion-alignment score. Each window is computed with the same
functions as the offline steps (:func:`~nwb_tavrnn.connectivity.correlation.correlation_from_sums`,
:func:`~nwb_tavrnn.connectivity.thresholds.apply_threshold`, the model's own input preparation and
:meth:`~nwb_tavrnn.models.tavrnn.modules.VGRNNNet.step`), so the online output equals the offline
``connectivity`` + ``transform`` of the same windows.

Memory: the bins of one window plus those of the batch being pushed, and the recurrent state. With
``attention="full"`` the attention memory grows by one (nodes x h) state per window, and each
window's step by one more state to attend over (about 166 MB a day at 900 nodes and a 60 s step); a
model fitted with ``attention=w`` bounds both.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..connectivity.binning import bin_index
from ..connectivity.compute import ConnectivityParams
from ..connectivity.correlation import correlation_from_sums
from ..connectivity.thresholds import apply_threshold, weighted_adjacency
from ..errors import require

log = logging.getLogger(__name__)


@dataclass
class WindowResult:
    """One completed window.

    Shapes
    ------
    adjacency, correlation : (nodes, nodes) float32; inactive : (nodes,) bool
    mean, log_variance : (nodes, z_dim) float32; attention : (windows attended,) float32
    """

    index: int
    start: float
    stop: float
    adjacency: np.ndarray
    correlation: np.ndarray
    inactive: np.ndarray
    mean: np.ndarray
    log_variance: np.ndarray
    attention: np.ndarray
    alignment: float | None = None

    @property
    def n_edges(self) -> int:
        a = self.adjacency != 0
        np.fill_diagonal(a, False)
        return int(a.sum())


class _Graphs:
    """One window's graph in the form the model's input preparation reads."""

    def __init__(self, adjacency: np.ndarray, correlation: np.ndarray | None) -> None:
        self.adjacency = adjacency[None]
        self.correlation = None if correlation is None else correlation[None]


class OnlineEmbedder:
    """Spikes in, one embedded window out as soon as it is complete.

    Parameters
    ----------
    model
        A fitted :class:`~nwb_tavrnn.models.TAVRNN` (or VGRNN) with posterior-mean embeddings.
    params
        The connectivity parameters the model's graphs were built with (sliding windows; not the
        ``mp`` threshold mode, whose surrogate null is not computed online).
    node_ids
        The unit (or electrode) id of every node, in the model's node order; pushed spikes of other
        ids are ignored.
    t_start
        Time of the first bin edge (the offline windows' origin: the recording's start).
    groups
        Node groups for the subregion-alignment score (optional).
    correlation_features
        Whether the model's graphs stored their unthresholded correlation (False for graphs made
        with ``--no-correlation``: the model's |r| features then came from the thresholded
        adjacency, and so do these).
    """

    def __init__(self, model: Any, params: ConnectivityParams, node_ids: Sequence[int], t_start: float = 0.0,
                 groups: Sequence[str] | None = None, correlation_features: bool = True) -> None:
        model._check_fitted()
        require(params.threshold_mode != "mp", "the mp threshold's surrogate null is not computed online; use fixed, "
                "top_k, density or none")
        require(getattr(model, "embeddings", "mean") == "mean", "online embeddings are posterior means: fit with "
                "embeddings='mean'")
        self.model, self.params = model, params
        self.node_ids = np.asarray(node_ids, dtype=np.int64)
        require(len(self.node_ids) == int(model.meta_["n_nodes"]),
                f"{len(self.node_ids)} node ids for a model fitted on {model.meta_['n_nodes']} nodes")
        self._order = np.argsort(self.node_ids, kind="stable")
        self._sorted_ids = self.node_ids[self._order]
        self.unknown_spikes = 0
        self._warned = False
        self.origin = float(t_start)
        self.bin_size = float(params.bin_size)
        self.window_bins = int(round(params.window / params.bin_size))
        self.step_bins = int(round(params.step / params.bin_size))
        self.groups = None if groups is None else np.asarray(groups).astype(str)
        self.correlation_features = bool(correlation_features)
        self._bins: dict[int, np.ndarray] = {}  # bin index -> counts of every node (only bins still needed)
        self._next = 0  # index of the next window to emit
        self._latest = -1  # the largest bin a pushed spike fell in
        import torch

        self._torch = torch
        self._device = next(model.module_.parameters()).device
        self._state = model.module_.initial_state(len(self.node_ids), self._device)

    # -- input --------------------------------------------------------------------------------
    def push(self, times: np.ndarray, unit_ids: np.ndarray) -> list[WindowResult]:
        """Add a batch of spikes (times in s, the unit id of each) and return the windows it completed.

        Batches must come in time order (a batch may start inside the previous one's last bin); a
        window is complete once a spike at or after its end has been pushed, or at :meth:`flush`.
        """
        times = np.asarray(times, dtype=np.float64).ravel()
        unit_ids = np.asarray(unit_ids, dtype=np.int64).ravel()
        require(times.shape == unit_ids.shape, "one unit id per spike time")
        if times.size:
            bins = bin_index(times, self.origin, self.bin_size)
            pos = np.clip(np.searchsorted(self._sorted_ids, unit_ids), 0, len(self._sorted_ids) - 1)
            known = self._sorted_ids[pos] == unit_ids
            if not known.all():
                self.unknown_spikes += int((~known).sum())
                if not self._warned:
                    log.warning("spikes of unit ids the model does not know are ignored (e.g. %s)",
                                unit_ids[~known][:5].tolist())
                    self._warned = True
            keep = known & (bins >= self._next * self.step_bins)
            rows, kept_bins = self._order[pos[keep]], bins[keep]
            if kept_bins.size:
                lo = int(kept_bins.min())
                block = np.zeros((int(kept_bins.max()) - lo + 1, len(self.node_ids)), dtype=np.float64)
                np.add.at(block, (kept_bins - lo, rows), 1.0)  # one pass, whatever the batch length
                for offset in np.flatnonzero(block.any(axis=1)):
                    b = lo + int(offset)
                    if b in self._bins:
                        self._bins[b] += block[offset]
                    else:
                        self._bins[b] = block[offset].copy()
            self._latest = max(self._latest, int(bins.max()))
        return list(self._emit(self._latest))

    def flush(self, until: float) -> list[WindowResult]:
        """Declare every spike before ``until`` (s) pushed: emit the windows that end by then."""
        return list(self._emit(int(bin_index(np.array([until]), self.origin, self.bin_size)[0])))

    # -- windows ------------------------------------------------------------------------------
    def _emit(self, latest_bin: int) -> Iterator[WindowResult]:
        while self._next * self.step_bins + self.window_bins <= latest_bin:
            yield self._window(self._next)
            self._next += 1
            first_needed = self._next * self.step_bins
            for b in [b for b in self._bins if b < first_needed]:  # bins no later window reads
                del self._bins[b]

    def _window(self, k: int) -> WindowResult:
        torch = self._torch
        params, n = self.params, len(self.node_ids)
        lo = k * self.step_bins
        x = np.zeros((n, self.window_bins), dtype=np.float64)
        for b, counts in self._bins.items():
            if lo <= b < lo + self.window_bins:
                x[:, b - lo] = counts
        if params.binary:
            x = (x > 0).astype(np.float64)
        r, inactive = correlation_from_sums((x @ x.T)[None], x.sum(axis=1)[None], np.array([self.window_bins]))
        edges = apply_threshold(r, inactive, params.threshold_mode, threshold=params.threshold, k=params.top_k,
                                density=params.density)
        adjacency = weighted_adjacency(r, edges, params.absolute)[0]
        correlation = r[0].astype(np.float32)  # stored signed, as the offline step stores it
        model = self.model
        graphs = _Graphs(adjacency.astype(np.float32), correlation)
        if not self.correlation_features:  # as prepare_sequence does for graphs stored without correlation
            graphs.correlation = None
        seq = model._fitted_sequence(graphs, None).to(self._device)
        from ..models._torch import cpu_threads_for, deterministic

        with torch.no_grad(), deterministic(), cpu_threads_for(n, self._device):
            out = model.module_.step(seq.graphs[0], None if seq.features is None else seq.features[0], self._state)
        mean = out["mean"].cpu().numpy().astype(np.float32)
        log_var = (2.0 * torch.log(out["std"])).cpu().numpy().astype(np.float32)
        alignment = None
        if self.groups is not None and len(set(self.groups)) >= 2:
            from ..evaluation.metrics import subregion_alignment

            alignment = float(subregion_alignment(mean[None, :n], self.groups)[0])
        start = self.origin + lo * self.bin_size
        return WindowResult(k, start, start + self.window_bins * self.bin_size, adjacency.astype(np.float32),
                            correlation, inactive[0].copy(), mean[:n], log_var[:n],
                            out["attention"].cpu().numpy().astype(np.float32), alignment)


__all__ = ["OnlineEmbedder", "WindowResult"]
