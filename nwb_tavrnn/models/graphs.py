"""Turn a DynamicConnectivity (or plain arrays) into the sparse tensors the graph models consume.

Each window becomes a :class:`SparseGraph`: the normalised adjacency ``Â`` of the real nodes plus
one *history node* (index ``N``) joined to every node and to itself, held as a CSR matrix.
Normalisation is done once here, not at every GCN call as the reference code does, because the
graphs do not change during training. Two normalisations:

* ``"gcn"``: torch-geometric's ``gcn_norm``: ``D^-1/2 (A + I_missing) D^-1/2``, missing self-loops
  added, in-degrees, messages flowing source → target.
* ``"reference"``: the notebook's own GCNConv: ``D^-1/2 A D^-1/2`` on the adjacency exactly as given
  (no self-loops added), ``D`` the row sums, ``out_i = Σ_j Â_ij x_j``. The two agree on symmetric
  graphs whose diagonal is set, which is what the connectivity step writes.

Node features are either the unthresholded ``|r|`` rows of each window with the history node's
column and row of ones (``"correlation"``, the DishBrain recipe, ``x_dim = N + 1``), one-hot identity
(``"identity"``, ``x_dim = N + 1``) or an array the caller gives. Both built-in choices tie a fitted
model to the number of nodes it was trained on.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

log = logging.getLogger(__name__)

FEATURE_KINDS = ("correlation", "identity")
GCN_NORMS = ("gcn", "reference")

#: Up to this many nodes (history node included) a window's normalised adjacency is kept dense: a
#: dense product is 2-3x faster than the CSR one there, whatever the density (measured on one CPU
#: thread, 32 features: 26 nodes 6 vs 20 us, 128 nodes 17-25 vs 27-45 us; CSR wins from 256 on).
DENSE_PROPAGATION_MAX_NODES = 128


class _SpMM(torch.autograd.Function):
    """``Â @ X`` with a hand-written backward ``Âᵀ @ dY``.

    torch's own backward for a CSR product transposes the sparse matrix at every call; the
    transpose is known in advance (and is the same object when the normalised matrix is symmetric,
    values included), so passing it in keeps the backward a plain CSR product, which is also
    deterministic on CPU.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, matrix: Tensor, transpose: Tensor) -> Tensor:  # type: ignore[override]
        ctx.transpose = transpose
        return matrix @ x

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:  # type: ignore[override]
        return ctx.transpose @ grad, None, None


@dataclass
class SparseGraph:
    """One window's normalised adjacency, history node included.

    Shapes
    ------
    matrix, transpose : (N + 1, N + 1) float32, sparse CSR (dense up to
        ``DENSE_PROPAGATION_MAX_NODES``); ``out[i] = Σ_j matrix[i, j] x[j]``
    pos_index : (E,) int64, flat indices ``i * n_nodes + j`` of the reconstruction targets: the
        edges among the real nodes (``n_nodes = N``; the diagonal where the adjacency has it) or,
        when the history node is in the loss, among all ``n_nodes = N + 1`` nodes
    pos_crow : (N + 1,) int64, pos_col : (E,) int64, the same edges as CSR (sorted ``pos_index``);
        pos_symmetric tells whether the edge set is symmetric
    """

    matrix: Tensor
    transpose: Tensor
    pos_index: Tensor
    n_nodes: int
    pos_crow: Tensor | None = None
    pos_col: Tensor | None = None
    pos_symmetric: bool = False

    def __post_init__(self) -> None:
        # The edges in CSR form, kept beside the flat index: the loss's backward needs them every epoch.
        if self.pos_crow is None:
            n = self.n_nodes
            self.pos_index = torch.sort(self.pos_index).values
            row, self.pos_col = self.pos_index // n, self.pos_index % n
            self.pos_crow = torch.searchsorted(row, torch.arange(n + 1, device=row.device))
            self.pos_symmetric = bool(torch.equal(torch.sort(self.pos_col * n + row).values, self.pos_index))

    def propagate(self, x: Tensor) -> Tensor:
        """Aggregate neighbour features: ``Â @ x``.

        Shapes
        ------
        x : (N + 1, d)
        return : (N + 1, d)
        """
        return _SpMM.apply(x, self.matrix, self.transpose)

    @property
    def num_edges(self) -> int:
        return int(self.pos_index.numel())

    def to(self, device: torch.device) -> SparseGraph:
        matrix = self.matrix.to(device)
        transpose = matrix if self.transpose is self.matrix else self.transpose.to(device)
        return SparseGraph(matrix, transpose, self.pos_index.to(device), self.n_nodes,
                           self.pos_crow.to(device), self.pos_col.to(device), self.pos_symmetric)


@dataclass
class GraphSequence:
    """The windows of one recording, ready for a model.

    Shapes
    ------
    features : (W, N + 1, x_dim) float32, or None for identity features (then ``x_dim = N + 1``)

    ``history_in_loss``: the graphs' targets include the history node (the reference's loss).
    """

    graphs: list[SparseGraph]
    features: Tensor | None
    n_nodes: int
    x_dim: int
    feature_kind: str
    fingerprint: str = field(default="")
    history_in_loss: bool = False
    # caches, rebuilt on demand (not constructor arguments: a copy with other graphs must not inherit them)
    _targets: Tensor | None = field(default=None, init=False, repr=False, compare=False)
    _dense: Tensor | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def num_windows(self) -> int:
        return len(self.graphs)

    def dense_matrices(self) -> Tensor | None:
        """Every window's normalised adjacency stacked, when all are dense (small graphs), else None.

        Shapes
        ------
        return : (W, N + 1, N + 1)
        """
        if self._dense is None and self.graphs and not any(g.matrix.is_sparse_csr for g in self.graphs):
            self._dense = torch.stack([g.matrix for g in self.graphs])
        return self._dense

    def dense_targets(self) -> Tensor:
        """Every window's reconstruction targets as one boolean array (built once, then kept).

        Shapes
        ------
        return : (W, n, n) bool, ``n`` the graphs' ``n_nodes`` (N, or N + 1 with the history node)
        """
        if self._targets is None:
            n = self.graphs[0].n_nodes
            flat = torch.zeros(len(self.graphs), n * n, dtype=torch.bool, device=self.graphs[0].pos_index.device)
            for t, g in enumerate(self.graphs):
                flat[t, g.pos_index] = True
            self._targets = flat.view(-1, n, n)
        return self._targets

    def to(self, device: torch.device) -> GraphSequence:
        return GraphSequence(
            [g.to(device) for g in self.graphs], None if self.features is None else self.features.to(device),
            self.n_nodes, self.x_dim, self.feature_kind, self.fingerprint, self.history_in_loss,
        )


def _csr(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n: int) -> Tensor:
    index = torch.from_numpy(np.stack([rows, cols]).astype(np.int64))
    coo = torch.sparse_coo_tensor(index, torch.from_numpy(values.astype(np.float32)), (n, n),
                                  check_invariants=False).coalesce()
    with warnings.catch_warnings():  # "sparse CSR support is in beta": known, and we rely on the stable subset
        warnings.simplefilter("ignore", UserWarning)
        return coo.to_sparse_csr()


def normalised_graph(
    src: np.ndarray, dst: np.ndarray, weight: np.ndarray | None, n_nodes: int, directed: bool | None = None,
    norm: str = "gcn", history_in_targets: bool = False,
) -> SparseGraph:
    """Build one window's :class:`SparseGraph` from its edge list among the real nodes.

    The history node is joined to every node and to itself with weight 1.

    Parameters
    ----------
    src, dst
        Edge endpoints (row and column of the adjacency), real nodes only.
    weight
        Edge weights, or None for an unweighted graph (the reference ignores weights).
    directed
        Unused (kept for callers): whether the propagation can reuse its matrix as its own
        transpose is decided from the normalised values.
    norm
        ``"gcn"`` (torch-geometric's ``gcn_norm``: missing self-loops added with weight 1, in-degrees,
        ``Â[t, s] = w(s→t) / sqrt(deg(s) deg(t))``) or ``"reference"`` (the notebook's GCNConv: no
        self-loops added, row-sum degrees, ``Â[i, j] = w_ij / sqrt(deg(i) deg(j))``).
    history_in_targets
        Reconstruct the history node's edges too (the reference): the targets are then the
        (N + 1)-node adjacency.
    """
    if norm not in GCN_NORMS:
        raise ValueError(f"norm must be one of {GCN_NORMS}, got {norm!r}")
    n = n_nodes
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    w = np.ones(len(src), dtype=np.float64) if weight is None else np.abs(np.asarray(weight, dtype=np.float64))
    nodes = np.arange(n, dtype=np.int64)
    hist = np.full(n, n, dtype=np.int64)
    if norm == "gcn":
        has_loop = np.zeros(n, dtype=bool)
        has_loop[src[src == dst]] = True
        missing = np.flatnonzero(~has_loop)
    else:
        missing = np.zeros(0, dtype=np.int64)
    rows = np.concatenate([src, missing, nodes, hist, [n]])
    cols = np.concatenate([dst, missing, hist, nodes, [n]])
    vals = np.concatenate([w, np.ones(len(missing) + 2 * n + 1)])
    # gcn: messages flow source (row) -> target (column), degrees count a target's incoming edges;
    # reference: node i sums its row, degrees are row sums.
    target, source = (cols, rows) if norm == "gcn" else (rows, cols)
    deg = np.bincount(target, weights=vals, minlength=n + 1)
    with np.errstate(divide="ignore"):
        inv_sqrt = np.where(deg > 0, deg ** -0.5, 0.0)
    values = inv_sqrt[rows] * vals * inv_sqrt[cols]
    dense_check = sp.coo_matrix((values, (target, source)), shape=(n + 1, n + 1)).tocsr()
    symmetric = abs(dense_check - dense_check.T).max() == 0 if dense_check.nnz else True
    if n + 1 <= DENSE_PROPAGATION_MAX_NODES:
        matrix = torch.from_numpy(dense_check.toarray().astype(np.float32))
        transpose = matrix if symmetric else matrix.t().contiguous()
    else:
        matrix = _csr(target, source, values, n + 1)
        transpose = matrix if symmetric else _csr(source, target, values, n + 1)
    if history_in_targets:
        m = n + 1
        pos_index = torch.from_numpy(np.unique(np.concatenate([src * m + dst, nodes * m + n, n * m + nodes, [n * m + n]])))
        return SparseGraph(matrix, transpose, pos_index, m)
    return SparseGraph(matrix, transpose, torch.from_numpy(np.unique(src * n + dst)), n)


def _history_row(features: np.ndarray) -> np.ndarray:
    """Feature row of the history node for features a caller supplies: the node mean."""
    return features.mean(axis=0, keepdims=True).astype(np.float32)


def _window_edges(conn: Any, t: int, dense: np.ndarray | None, sparse_rows: dict | None):
    if dense is not None:
        a = np.nan_to_num(np.asarray(dense[t], dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        src, dst = np.nonzero(a)
        return src, dst, a[src, dst]
    idx, w = sparse_rows.get(t, (np.zeros((0, 3), np.int64), np.zeros(0, np.float32)))
    return idx[:, 1], idx[:, 2], w


def prepare_sequence(
    connectivity: Any,
    features: str | np.ndarray = "correlation",
    edge_weights: bool = False,
    n_nodes: int | None = None,
    *,
    correlation: np.ndarray | None = None,
    gcn_norm: str = "gcn",
    history_in_loss: bool = False,
) -> GraphSequence:
    """Build a :class:`GraphSequence` from a DynamicConnectivity or a dense adjacency array.

    Parameters
    ----------
    connectivity
        A :class:`~nwb_tavrnn.schema.DynamicConnectivity` (dense or sparse form, in memory or read
        from a file), anything with ``adjacency`` and ``correlation`` arrays (a
        :class:`~nwb_tavrnn.connectivity.ConnectivityResult`), or an array of adjacency matrices. Non-zero entries are edges.
    features
        ``"correlation"``: the ``|r|`` rows of each window (the connectivity's unthresholded
        ``correlation``; for arrays, or when it is absent, the adjacency's own ``|weights|``), with
        the history node's column and row set to 1 as the reference does (``x_dim = N + 1``);
        ``"identity"``: one-hot node identity; or an array of features per window.
    edge_weights
        Weight GCN messages by ``|weight|`` (an option; the reference uses binary graphs).
    n_nodes
        Expected number of nodes (a fitted model's); a mismatch raises ``ValueError``.
    correlation
        The unthresholded correlation for ``"correlation"`` features, overriding the connectivity's.
    gcn_norm, history_in_loss
        See :func:`normalised_graph` (``norm``, ``history_in_targets``).

    Shapes
    ------
    connectivity (array) : (W, N, N)
    features (array) : (W, N, x_dim)
    correlation : (W, N, N)
    """
    from ..schema import DynamicConnectivity

    given_correlation = correlation
    dense: np.ndarray | None = None
    sparse_rows: dict | None = None
    correlation = None
    if isinstance(connectivity, DynamicConnectivity):
        n_windows, n = connectivity.num_windows, connectivity.num_nodes
        correlation = connectivity.correlation
        if connectivity.is_sparse:
            idx = np.asarray(connectivity.edge_index[()], dtype=np.int64)
            w = np.asarray(connectivity.edge_weight[()], dtype=np.float32)
            order = np.argsort(idx[:, 0], kind="stable")
            idx, w = idx[order], w[order]
            bounds = np.searchsorted(idx[:, 0], np.arange(n_windows + 1))
            sparse_rows = {t: (idx[bounds[t]:bounds[t + 1]], w[bounds[t]:bounds[t + 1]]) for t in range(n_windows)}
        else:
            dense = np.asarray(connectivity.data[()], dtype=np.float32)
    elif hasattr(connectivity, "adjacency") and hasattr(connectivity, "correlation"):
        # graphs held in memory (a ConnectivityResult, the evaluation's GraphArrays): the same graphs
        # and |r| rows a file would hold
        dense = np.asarray(connectivity.adjacency, dtype=np.float32)
        correlation = connectivity.correlation
        n_windows, n = dense.shape[0], dense.shape[1]
    else:
        dense = np.asarray(connectivity, dtype=np.float32)
        if dense.ndim != 3 or dense.shape[1] != dense.shape[2]:
            raise ValueError(f"adjacency must have shape (windows, nodes, nodes), got {dense.shape}")
        n_windows, n = dense.shape[0], dense.shape[1]
    if n_windows < 1:
        raise ValueError("the connectivity has no windows")
    if given_correlation is not None:
        correlation = np.asarray(given_correlation, dtype=np.float32)
        if correlation.shape != (n_windows, n, n):
            raise ValueError(f"correlation must have shape ({n_windows}, {n}, {n}), got {correlation.shape}")
    if n_nodes is not None and n != n_nodes:
        raise ValueError(
            f"the model was fitted on {n_nodes} nodes but this connectivity has {n}; with 'correlation' or "
            "'identity' features the input layer's size is the number of nodes, so refit on these nodes"
        )

    if isinstance(features, str):
        if features not in FEATURE_KINDS:
            raise ValueError(f"features must be one of {FEATURE_KINDS} or an array, got {features!r}")
        kind = features
    else:
        kind = "array"
        feat_arr = np.asarray(features, dtype=np.float32)
        if feat_arr.ndim != 3 or feat_arr.shape[:2] != (n_windows, n):
            raise ValueError(f"features must have shape ({n_windows}, {n}, x_dim), got {feat_arr.shape}")
    if kind == "correlation" and correlation is None and not isinstance(connectivity, np.ndarray):
        log.warning("the connectivity has no unthresholded correlation; using the thresholded |edge weights| rows "
                    "as features (the reference used the unthresholded |r|: recompute the graphs with "
                    "store_correlation on)")

    graphs = []
    feats = None if kind == "identity" else np.empty((n_windows, n + 1, n + 1 if kind == "correlation" else
                                                       feat_arr.shape[2]), dtype=np.float32)
    digest = hashlib.sha1(f"{n_windows}:{n}:{kind}:{edge_weights}:{gcn_norm}:{history_in_loss}".encode())
    for t in range(n_windows):
        src, dst, w = _window_edges(connectivity, t, dense, sparse_rows)
        graphs.append(normalised_graph(src, dst, w if edge_weights else None, n, norm=gcn_norm,
                                       history_in_targets=history_in_loss))
        digest.update(graphs[-1].pos_index.numpy().tobytes())
        if kind == "correlation":
            if correlation is not None:
                rows = np.abs(np.nan_to_num(np.asarray(correlation[t], dtype=np.float32)))
            elif dense is not None:
                rows = np.abs(np.nan_to_num(dense[t]))
            else:
                rows = np.zeros((n, n), dtype=np.float32)
                rows[src, dst] = np.abs(w)
            feats[t, :n, :n] = rows
            feats[t, n, :] = 1.0  # the history node is 'connected' to every node and to itself
            feats[t, :, n] = 1.0
        elif kind == "array":
            feats[t, :n] = feat_arr[t]
            feats[t, n:] = _history_row(feat_arr[t])
    if feats is not None:
        digest.update(np.ascontiguousarray(feats).tobytes())
    x_dim = n + 1 if kind == "identity" else feats.shape[2]
    return GraphSequence(graphs, None if feats is None else torch.from_numpy(feats), n, x_dim, kind,
                         digest.hexdigest(), history_in_loss)
