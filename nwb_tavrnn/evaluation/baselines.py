"""Learned baselines on the same windows: a static graph autoencoder per window, and VGRNN.

The static baseline is torch-geometric's VGAE (variational graph autoencoder, GCN encoder),
trained independently on each window's graph, so it sees no temporal context; VGRNN is TAVRNN
without temporal attention, trained with the same hyperparameters as the model being evaluated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def vgae_embeddings(adjacency: np.ndarray, features: np.ndarray | None = None, latent: int = 8, hidden: int = 32,
                    epochs: int = 100, lr: float = 1e-2, seed: int = 0) -> np.ndarray:
    """Node embeddings (posterior means) of a VGAE fitted to each window on its own.

    Shapes
    ------
    adjacency : (windows, nodes, nodes), non-zero = edge
    features : (windows, nodes, x_dim) or None (identity features)
    return : (windows, nodes, latent) float32
    """
    import torch
    from torch_geometric.nn import GCNConv

    from ..models._torch import deterministic

    class Encoder(torch.nn.Module):
        def __init__(self, x_dim: int) -> None:
            super().__init__()
            self.conv = GCNConv(x_dim, hidden, cached=True)
            self.mu = GCNConv(hidden, latent, cached=True)
            self.logstd = GCNConv(hidden, latent, cached=True)

        def forward(self, x, edge_index):
            h = torch.relu(self.conv(x, edge_index))
            return self.mu(h, edge_index), self.logstd(h, edge_index)

    n_windows, n_nodes = adjacency.shape[:2]
    out = np.zeros((n_windows, n_nodes, latent), dtype=np.float32)
    with deterministic():  # also flushes denormals, which otherwise slow training ~8x on CPU
        for t in range(n_windows):
            out[t] = _fit_window(Encoder, adjacency[t], None if features is None else features[t], n_nodes, epochs, lr,
                                 seed + t)
    return out


def _fit_window(encoder, adjacency: np.ndarray, features: np.ndarray | None, n_nodes: int, epochs: int, lr: float,
                seed: int) -> np.ndarray:
    """Fit one VGAE to one window's graph and return its node means. Shapes: (nodes, latent)."""
    import random

    import torch
    from torch_geometric.nn import VGAE

    torch.manual_seed(seed)
    # PyG's negative_sampling draws from Python's own generator (random.sample): seeded here, or
    # the baseline differs between two runs of the same file; the caller's state is put back.
    caller_state = random.getstate()
    random.seed(seed)
    try:
        a = np.asarray(adjacency) != 0
        np.fill_diagonal(a, False)
        src, dst = np.nonzero(a)
        edge_index = torch.as_tensor(np.stack([src, dst]), dtype=torch.long)
        x = torch.eye(n_nodes) if features is None else torch.as_tensor(np.abs(features), dtype=torch.float32)
        model = VGAE(encoder(x.shape[1]))
        if edge_index.shape[1] == 0:  # an empty graph: nothing to learn, every node embeds at 0
            return np.zeros((n_nodes, model.encoder.mu.out_channels), dtype=np.float32)
        optimiser = torch.optim.Adam(model.parameters(), lr=lr)
        for _ in range(epochs):
            optimiser.zero_grad()
            z = model.encode(x, edge_index)
            loss = model.recon_loss(z, edge_index) + model.kl_loss() / n_nodes
            loss.backward()
            optimiser.step()
        model.eval()
        with torch.no_grad():
            return model.encoder(x, edge_index)[0].numpy()
    finally:
        random.setstate(caller_state)


@dataclass
class GraphArrays:
    """Graphs and their unthresholded |r| rows as plain arrays: what a model is trained on, in a
    form worker processes can receive (the model reads it like a DynamicConnectivity).

    Shapes
    ------
    adjacency, correlation : (windows, nodes, nodes) float32; correlation None when the file had none
    """

    adjacency: np.ndarray
    correlation: np.ndarray | None

    @classmethod
    def of(cls, connectivity: Any) -> GraphArrays:
        """The arrays of a DynamicConnectivity (read once, e.g. before handing them to workers), its
        correlation as the edges weigh it (|r| under every preset)."""
        from ..connectivity import weighted_correlation

        return cls(np.asarray(connectivity.to_dense(), dtype=np.float32), weighted_correlation(connectivity))


def in_worker(function: Callable, kwargs: dict, threads: int | None = 1, log_level: int | None = None) -> Any:
    """Call ``function(**kwargs)`` with torch limited to ``threads`` (every evaluation training runs
    on one thread, in a worker process or not, so results do not depend on the number of cores),
    logging at ``log_level`` to stderr when this is a fresh worker process. Returns the result and
    the seconds it took."""
    import logging
    import time

    from ..models._torch import torch_threads

    if log_level is not None and not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("nwb_tavrnn").setLevel(log_level)
    started = time.perf_counter()
    with torch_threads(threads):
        return function(**kwargs), time.perf_counter() - started


def refit_embeddings(connectivity: Any, model_name: str, hyperparameters: dict, epochs: int | None = None,
                     **overrides: Any) -> np.ndarray:
    """Train a fresh model with the hyperparameters of a fit (its provenance) on ``connectivity`` and
    return the node embeddings the model step would write (posterior means).

    ``connectivity`` goes through exactly the path the model step uses (a DynamicConnectivity read
    from a file, or its :class:`GraphArrays`): the same |r| feature rows, the same history-node
    row, the same training settings and seed.

    Shapes
    ------
    return : (windows, nodes, latent)
    """
    from ..models import get_model

    args = {k: v for k, v in hyperparameters.items() if k != "fitted"}
    args.update(overrides)
    if epochs is not None:
        args["epochs"] = epochs
    model = get_model(model_name)(**args).fit(connectivity)
    return model.transform(connectivity).mean


def ablation_embeddings(connectivity: Any, hyperparameters: dict, epochs: int | None = None) -> np.ndarray:
    """Embeddings of VGRNN (the same model without temporal attention) fitted to ``connectivity``
    (a DynamicConnectivity or :class:`GraphArrays`).

    Shapes
    ------
    return : (windows, nodes, latent)
    """
    return refit_embeddings(connectivity, "tavrnn", hyperparameters, epochs, attention=None)


def null_embeddings(trains: Any, params: Any, windows: tuple[np.ndarray, np.ndarray], model_name: str,
                    hyperparameters: dict, *, epochs: int | None = None, seed: int = 0,
                    boundaries: np.ndarray | None = None, with_correlation: bool = True,
                    shuffle: bool = True) -> np.ndarray:
    """One time-shuffle refit: shuffle the spike trains, recompute the graphs of the same windows
    with the same parameters, and refit the model as the model step did.

    ``shuffle=False`` runs the identical pipeline on the real spike trains (it must reproduce the
    real embeddings).

    Shapes
    ------
    windows : (starts, stops), each (windows,) seconds
    return : (windows, nodes, latent)
    """
    from ..connectivity import compute_dynamic_connectivity, weighted_correlation
    from .features import circular_shift

    data = circular_shift(trains, seed=seed, boundaries=boundaries) if shuffle else trains
    # Shuffled data may well give empty graphs: that is the point, not a problem to warn about.
    result = compute_dynamic_connectivity(data, params, windows=windows, warn_if_empty=False)
    # without a stored correlation the real fit took its features from the graph: so does the refit
    graphs = GraphArrays(result.adjacency, weighted_correlation(result) if with_correlation else None)
    return refit_embeddings(graphs, model_name, hyperparameters, epochs)
