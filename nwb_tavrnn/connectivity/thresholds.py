"""From correlation matrices to weighted undirected graphs.

Every mode selects edges by ``|r|`` among off-diagonal pairs of active nodes and returns a weighted
adjacency: the correlation value (``|r|`` or signed r, whichever the caller computed) on kept edges,
0 elsewhere, and 1 on the whole diagonal (the paper keeps self-loops). Results are symmetric.

Modes
-----
``fixed``    keep ``|r| >= threshold`` (the paper: 0.6).
``top_k``    keep each node's ``k`` strongest partners; an edge kept by either end is kept.
``density``  keep the strongest ``density`` fraction of all ``nodes*(nodes-1)/2`` pairs per window.
``mp``       Marchenko–Pastur denoising (see :func:`mp_edges`).
``none``     keep every nonzero pair (a complete weighted graph).
"""

from __future__ import annotations

import logging

import numpy as np

__all__ = ["THRESHOLD_MODES", "apply_threshold", "density_edges", "fixed_edges", "mp_bounds_analytic",
           "mp_bounds_shuffle", "mp_edges", "top_k_edges", "weighted_adjacency"]

logger = logging.getLogger(__name__)

THRESHOLD_MODES = ("fixed", "top_k", "density", "mp", "none")


def _candidates(r: np.ndarray, inactive: np.ndarray) -> np.ndarray:
    """|r| with the diagonal and inactive nodes set to 0, so they are never selected.

    Shapes: r (w, n, n); inactive (w, n); return (w, n, n) float64.
    """
    a = np.abs(r).astype(np.float64, copy=True)
    idx = np.arange(a.shape[-1])
    a[:, idx, idx] = 0.0
    a[inactive[:, :, None] | inactive[:, None, :]] = 0.0
    return a


def weighted_adjacency(r: np.ndarray, edges: np.ndarray, absolute: bool = False) -> np.ndarray:
    """The correlation on kept edges (``|r|`` with ``absolute``), 0 elsewhere, 1 on the diagonal,
    as float32; ``r`` itself is left as it is (signed, for the stored correlation).

    Shapes
    ------
    r, edges : (windows, nodes, nodes)
    return : (windows, nodes, nodes) float32
    """
    adj = np.where(edges, r, 0.0)
    if absolute:
        np.abs(adj, out=adj)
    adj = adj.astype(np.float32)
    idx = np.arange(adj.shape[-1])
    adj[:, idx, idx] = 1.0
    return adj


def fixed_edges(r: np.ndarray, inactive: np.ndarray, threshold: float = 0.6) -> np.ndarray:
    """Edges where ``|r| >= threshold``. Shapes: r (w, n, n), inactive (w, n) → (w, n, n) bool."""
    a = _candidates(r, inactive)
    return (a >= threshold) & (a > 0)


def top_k_edges(r: np.ndarray, inactive: np.ndarray, k: int = 5) -> np.ndarray:
    """Each active node's ``k`` strongest nonzero partners, symmetrised by union.

    Shapes: r (w, n, n), inactive (w, n) → (w, n, n) bool.
    """
    a = _candidates(r, inactive)
    n = a.shape[-1]
    k = int(min(max(k, 0), n - 1))
    if k == 0:
        return np.zeros(a.shape, dtype=bool)
    top = np.argpartition(-a, k - 1, axis=-1)[..., :k]
    keep = np.zeros(a.shape, dtype=bool)
    np.put_along_axis(keep, top, True, axis=-1)
    keep &= a > 0
    return keep | np.swapaxes(keep, -1, -2)


def density_edges(r: np.ndarray, inactive: np.ndarray, density: float = 0.1) -> np.ndarray:
    """The strongest ``density`` fraction of the ``n(n-1)/2`` node pairs of each window.

    Fewer edges are kept when a window has fewer nonzero pairs than that.
    Shapes: r (w, n, n), inactive (w, n) → (w, n, n) bool.
    """
    a = _candidates(r, inactive)
    w, n, _ = a.shape
    iu, ju = np.triu_indices(n, k=1)
    pairs = a[:, iu, ju]
    n_keep = int(round(float(density) * pairs.shape[1]))
    keep = np.zeros(a.shape, dtype=bool)
    if n_keep <= 0 or pairs.shape[1] == 0:
        return keep
    n_keep = min(n_keep, pairs.shape[1])
    top = np.argpartition(-pairs, n_keep - 1, axis=1)[:, :n_keep]
    sel = np.zeros(pairs.shape, dtype=bool)
    np.put_along_axis(sel, top, True, axis=1)
    sel &= pairs > 0
    keep[:, iu, ju] = sel
    return keep | np.swapaxes(keep, -1, -2)


def mp_bounds_analytic(n_nodes: int, n_bins: int) -> tuple[float, float]:
    """Marchenko–Pastur support ``(1 ± sqrt(n_nodes / n_bins))**2`` of a null correlation matrix."""
    q = n_nodes / max(n_bins, 1)
    return (1.0 - np.sqrt(q)) ** 2, (1.0 + np.sqrt(q)) ** 2


def _row_zscore(x: np.ndarray) -> np.ndarray:
    """Rows centred and scaled so that ``z zᵀ`` is their correlation. Shapes (..., n, t)."""
    z = x - x.mean(axis=-1, keepdims=True)
    norm = np.sqrt((z * z).sum(axis=-1, keepdims=True))
    return z / np.where(norm > 0, norm, 1.0)


def mp_bounds_shuffle(x: np.ndarray, n_surrogates: int = 1000, band: float = 0.95,
                      rng: np.random.Generator | None = None,
                      batch: int = 32) -> tuple[float, float, float]:
    """Null eigenvalue band and null |r| level from time-shuffled surrogates.

    Each surrogate permutes every node's bins independently (keeping its rate, destroying
    co-activity). The band is ``[q_lo(min eig), q_hi(max eig)]`` over surrogates with
    ``q_lo, q_hi = (1 -+ band) / 2``: the finite-size counterpart of the MP support edges.
    The returned null |r| level is the ``band`` quantile over surrogates of their largest
    off-diagonal |r| (a family-wise level: under the null, no pair of the window exceeds it with
    probability ``band``).

    Parameters
    ----------
    x
        Binned data of the window, active nodes only.

    Returns
    -------
    lower, upper, r_null

    Shapes
    ------
    x : (nodes, bins)
    """
    rng = np.random.default_rng() if rng is None else rng
    n, t = x.shape
    lo_eigs, hi_eigs, r_q = [], [], []
    iu = np.triu_indices(n, k=1)
    x = np.asarray(x, dtype=np.float64)
    for start in range(0, n_surrogates, batch):
        m = min(batch, n_surrogates - start)
        surr = rng.permuted(np.broadcast_to(x, (m, n, t)), axis=-1)
        z = _row_zscore(surr)
        c = z @ np.swapaxes(z, -1, -2)
        ev = np.linalg.eigvalsh(c)
        lo_eigs.append(ev[:, 0])
        hi_eigs.append(ev[:, -1])
        r_q.append(np.abs(c[:, iu[0], iu[1]]).max(axis=1) if iu[0].size else np.zeros(m))
    q = (1.0 - band) / 2.0
    return (float(np.quantile(np.concatenate(lo_eigs), q)), float(np.quantile(np.concatenate(hi_eigs), 1 - q)),
            float(np.quantile(np.concatenate(r_q), band)))


def mp_edges(r: np.ndarray, active: np.ndarray, x: np.ndarray | None = None, null: str = "shuffle",
             n_surrogates: int = 1000, band: float = 0.95, sides: str = "both", edge_tol: float | None = None,
             rng: np.random.Generator | None = None) -> tuple[np.ndarray, dict]:
    """Edges of one window after Marchenko–Pastur denoising.

    The correlation matrix of the active nodes is eigendecomposed; components whose eigenvalue lies
    outside the null band are kept (``sides="both"``, as in the paper, or only above it with
    ``"upper"``) and the matrix is rebuilt from them. An edge is a pair whose rebuilt value is
    nonzero, "nonzero" meaning above ``edge_tol``, since a rebuilt matrix has no exact zeros. By
    default ``edge_tol`` is the family-wise null level of |r| in the window: the ``band`` quantile of
    the largest off-diagonal surrogate |r| (shuffle), or the Bonferroni-corrected normal bound
    ``z_(1 - (1 - band) / (2 * pairs)) / sqrt(bins)`` (analytic). A looser per-pair level would let
    the leakage of signal components into pairs across assemblies through as edges.

    Parameters
    ----------
    r
        The window's correlation matrix (signed).
    active
        Which nodes are active in the window.
    x
        The window's binned data (needed for ``null="shuffle"``).
    null
        ``"shuffle"`` (surrogates) or ``"analytic"`` (``(1 ± sqrt(N/T))**2``).

    Returns
    -------
    edges, info
        Boolean edges, and a dict with the band, the tolerance and the number of kept components.

    Shapes
    ------
    r : (nodes, nodes); active : (nodes,); x : (nodes, bins); edges : (nodes, nodes) bool
    """
    from scipy.stats import norm

    n = r.shape[0]
    edges = np.zeros((n, n), dtype=bool)
    idx = np.flatnonzero(active)
    info = {"lower": np.nan, "upper": np.nan, "edge_tol": np.nan, "n_components": 0}
    if idx.size < 2:
        return edges, info
    sub = np.asarray(r, dtype=np.float64)[np.ix_(idx, idx)]
    if null == "analytic":
        if x is None:
            raise ValueError("mp_edges: the analytic null needs the number of bins (pass x)")
        t = x.shape[1]
        lower, upper = mp_bounds_analytic(idx.size, t)
        n_pairs = idx.size * (idx.size - 1) / 2
        r_null = float(norm.isf((1.0 - band) / (2.0 * n_pairs)) / np.sqrt(max(t, 1)))
    elif null == "shuffle":
        if x is None:
            raise ValueError("mp_edges: the shuffle null needs the window's binned data")
        lower, upper, r_null = mp_bounds_shuffle(x[idx], n_surrogates, band, rng)
    else:
        raise ValueError(f"mp null must be 'shuffle' or 'analytic', got {null!r}")
    ev, vec = np.linalg.eigh(sub)
    keep = ev > upper
    if sides == "both":
        keep |= ev < lower
    elif sides != "upper":
        raise ValueError(f"mp sides must be 'both' or 'upper', got {sides!r}")
    tol = r_null if edge_tol is None else float(edge_tol)
    info.update(lower=float(lower), upper=float(upper), edge_tol=tol, n_components=int(keep.sum()))
    if not keep.any():
        return edges, info
    rebuilt = (vec[:, keep] * ev[keep]) @ vec[:, keep].T
    sub_edges = np.abs(rebuilt) > tol
    np.fill_diagonal(sub_edges, False)
    edges[np.ix_(idx, idx)] = sub_edges
    return edges, info


def apply_threshold(r: np.ndarray, inactive: np.ndarray, mode: str, *, threshold: float = 0.6, k: int = 5,
                    density: float = 0.1) -> np.ndarray:
    """Boolean edges of a stack of windows for the modes that need only r (all but ``mp``).

    Shapes
    ------
    r : (windows, nodes, nodes); inactive : (windows, nodes); return : (windows, nodes, nodes) bool
    """
    if mode == "fixed":
        return fixed_edges(r, inactive, threshold)
    if mode == "top_k":
        return top_k_edges(r, inactive, k)
    if mode == "density":
        return density_edges(r, inactive, density)
    if mode == "none":
        return _candidates(r, inactive) > 0
    if mode == "mp":
        raise ValueError("apply_threshold: mode 'mp' needs the binned data; use mp_edges per window")
    raise ValueError(f"unknown threshold mode {mode!r}; choose one of {THRESHOLD_MODES}")
