"""Small planted-community graph sequences and a fitted model shared by the model tests."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

N_NODES = 30
N_WINDOWS = 6


def planted_correlation(n_nodes: int = N_NODES, n_windows: int = N_WINDOWS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """|r|-like matrices with two communities (first and second half of the nodes).

    Shapes
    ------
    return : correlation (W, N, N) float32, labels (N,) int
    """
    rng = np.random.default_rng(seed)
    labels = (np.arange(n_nodes) >= n_nodes // 2).astype(int)
    same = labels[:, None] == labels[None, :]
    corr = np.empty((n_windows, n_nodes, n_nodes), dtype=np.float32)
    for t in range(n_windows):
        r = np.where(same, rng.uniform(0.45, 1.0, (n_nodes, n_nodes)), rng.uniform(0.0, 0.4, (n_nodes, n_nodes)))
        r = np.triu(r, 1)
        r = r + r.T
        np.fill_diagonal(r, 1.0)
        corr[t] = r
    return corr, labels


def planted_connectivity(n_nodes: int = N_NODES, n_windows: int = N_WINDOWS, seed: int = 0, sparse: bool = False):
    from nwb_tavrnn.testing import mock_dynamic_connectivity

    corr, labels = planted_correlation(n_nodes, n_windows, seed)
    adjacency = np.where(corr >= 0.6, corr, 0).astype(np.float32)
    kwargs = dict(correlation=corr)
    if sparse:
        idx = np.argwhere(adjacency != 0)
        kwargs.update(edge_index=idx.astype(np.int64), edge_weight=adjacency[tuple(idx.T)], data=None)
    else:
        kwargs.update(data=adjacency)
    conn = mock_dynamic_connectivity(n_windows=n_windows, n_nodes=n_nodes, seed=seed, **kwargs)
    return conn, labels


@pytest.fixture(scope="session")
def planted():
    return planted_connectivity()


@pytest.fixture(scope="session")
def fitted(planted):
    from nwb_tavrnn.models import TAVRNN

    conn, _ = planted
    torch.set_num_threads(2)
    return TAVRNN(epochs=40, seed=0, device="cpu").fit(conn)
