"""Zero-lag Pearson correlation in many windows at once, chunk by chunk.

How a chunk of windows is computed:

1. The chunk's union span of bins is binned once (:func:`~.binning.bin_range`).
2. The span is cut at every window edge into blocks; each block covered by a window gets its Gram
   matrix ``X_b X_bᵀ`` and row sums from one matrix product. Overlapping windows (e.g. 120 s windows
   every 60 s) thus share their products: the cost is that of the bins covered, not of the windows.
3. Each window's ``Σ x xᵀ`` and ``Σ x`` are the sums over its blocks (directly when windows hold
   one or two blocks, else by prefix sums and one subtraction).
4. ``r = (S - s sᵀ/n) / sqrt(var_i var_j)`` for all windows of the chunk at once.

Binned data are small integers, so block products in float32 and sums in float64 are exact; the
only rounding is in step 4 (float64), well below 1e-5. Peak memory depends on the chunk size and
the node count, never on the recording length.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..io.spike_trains import is_traces
from .binning import bin_range
from .windows import Windows

__all__ = [
    "CorrelationChunk",
    "auto_chunk_windows",
    "correlation_from_sums",
    "iter_window_correlations",
    "plan_chunks",
]

logger = logging.getLogger(__name__)

#: Default memory budget of one chunk's working arrays, in bytes.
DEFAULT_CHUNK_BYTES = 64 * 2**20
_F32_EXACT = 2**24  # integers up to this are exact in float32


@dataclass
class CorrelationChunk:
    """Correlations of consecutive windows ``index`` of a window sequence.

    Attributes
    ----------
    index : slice
        Positions of these windows in the full sequence.
    correlation : numpy.ndarray
        Pearson r (signed), 0 for pairs with an inactive node, 1 on the diagonal: float64 for
        spike trains and events, float32 for traces (see :func:`_centred_correlation`).
    inactive : numpy.ndarray
        True where a node is silent or constant in the window (its correlation is undefined).
    binned : numpy.ndarray
        The binned union span of these windows (kept for surrogate-based thresholds).
    span_offsets : numpy.ndarray
        Each window's first and one-past-last column in ``binned``.
    n_bins : numpy.ndarray
        Bins per window.

    Shapes
    ------
    correlation : (chunk, nodes, nodes) float64 (float32 for traces)
    inactive : (chunk, nodes) bool
    binned : (nodes, span_bins) float32
    span_offsets : (chunk, 2) int64
    n_bins : (chunk,) int64
    """

    index: slice
    correlation: np.ndarray
    inactive: np.ndarray
    binned: np.ndarray
    span_offsets: np.ndarray
    n_bins: np.ndarray

    def window_data(self, i: int) -> np.ndarray:
        """Binned data of the ``i``-th window of this chunk. Shape (nodes, n_bins[i])."""
        a, b = self.span_offsets[i]
        return self.binned[:, a:b]


def correlation_from_sums(gram: np.ndarray, sums: np.ndarray, n_bins: np.ndarray,
                          rel_tol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r from ``Σ x xᵀ``, ``Σ x`` and the number of bins, per window.

    Nodes whose variance in a window is zero (silent, or spiking in every bin), and all nodes of a
    window shorter than two bins, are inactive: their row and column are 0, their diagonal 1.

    Parameters
    ----------
    gram, sums, n_bins
        Per-window sums of cross-products, sums, and bin counts. ``gram`` is overwritten.
    rel_tol
        A variance below ``rel_tol * max(Σ x², 1)`` counts as zero (float rounding).

    Returns
    -------
    r, inactive

    Shapes
    ------
    gram : (windows, nodes, nodes) float64
    sums : (windows, nodes) float64
    n_bins : (windows,)
    r : (windows, nodes, nodes) float64
    inactive : (windows, nodes) bool
    """
    n = np.asarray(n_bins, dtype=np.float64).reshape(-1, 1)
    sumsq = np.diagonal(gram, axis1=1, axis2=2).copy()
    mean = sums / np.maximum(n, 1.0)
    # In place: cov = S - s sᵀ / n (a scaled covariance; the scale cancels in r).
    gram -= sums[:, :, None] * mean[:, None, :]
    var = np.diagonal(gram, axis1=1, axis2=2).copy()
    inactive = (var <= rel_tol * np.maximum(sumsq, 1.0)) | (n < 2)
    inv_sd = np.where(inactive, 0.0, 1.0 / np.sqrt(np.where(inactive, 1.0, var)))
    gram *= inv_sd[:, :, None]
    gram *= inv_sd[:, None, :]
    np.clip(gram, -1.0, 1.0, out=gram)
    idx = np.arange(gram.shape[1])
    gram[:, idx, idx] = 1.0
    return gram, inactive


def auto_chunk_windows(n_nodes: int, window_bins: int, budget_bytes: int = DEFAULT_CHUNK_BYTES) -> int:
    """A number of windows per chunk whose working arrays fit ``budget_bytes``.

    Per window: about four (nodes, nodes) float64 arrays (block Grams, r, outputs) and its share of
    the binned span in float32. At least 4 windows, so that overlapping windows share block
    products even with many nodes; smaller chunks also keep the binned span in cache, which is
    faster than one large span.
    """
    per_window = 4 * 8 * n_nodes * n_nodes + 4 * n_nodes * max(int(window_bins), 1)
    return int(max(4, min(4096, budget_bytes // max(per_window, 1))))


def plan_chunks(windows: Windows, chunk_windows: int, max_span_bins: int | None = None) -> list[slice]:
    """Split a window sequence into runs of consecutive windows.

    A run holds at most ``chunk_windows`` windows and, if given, spans at most ``max_span_bins``
    bins (windows far apart in time are not binned together with the gap between them).
    """
    chunks, begin = [], 0
    n = len(windows)
    lo_b, hi_b = windows.start_bins, windows.stop_bins
    while begin < n:
        end, lo, hi = begin + 1, lo_b[begin], hi_b[begin]
        while end < n and end - begin < chunk_windows:
            nlo, nhi = min(lo, lo_b[end]), max(hi, hi_b[end])
            if max_span_bins is not None and nhi - nlo > max_span_bins:
                break
            lo, hi, end = nlo, nhi, end + 1
        chunks.append(slice(begin, end))
        begin = end
    return chunks


def _block_plan(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cut a chunk's span at every window edge: the blocks' edges, each window's first and
    one-past-last block, and which blocks some window covers (window starts minus stops up to
    the block's left edge)."""
    edges = np.unique(np.concatenate([lo, hi]))
    a = np.searchsorted(edges, lo)
    b = np.searchsorted(edges, hi)
    covered = (np.searchsorted(np.sort(lo), edges[:-1], side="right")
               - np.searchsorted(np.sort(hi), edges[:-1], side="right")) > 0
    return edges, a, b, covered


def _chunk_sums(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-window Σ x xᵀ and Σ x over columns [lo, hi) of ``x``, sharing products between windows.

    Shapes: x (nodes, span); lo, hi (windows,) → (windows, nodes, nodes), (windows, nodes) float64.
    """
    n_nodes = x.shape[0]
    edges, a, b, covered = _block_plan(lo, hi)
    n_blocks = edges.size - 1
    block_gram = np.zeros((n_blocks, n_nodes, n_nodes), dtype=np.float64)
    block_sum = np.zeros((n_blocks, n_nodes), dtype=np.float64)
    for k in np.flatnonzero(covered):
        block = x[:, edges[k]:edges[k + 1]]
        block_gram[k] = block @ block.T
        block_sum[k] = block.sum(axis=1, dtype=np.float64)
    if np.mean(b - a) <= 2.0:
        # Few blocks per window (non-overlapping, or 50 % overlap): add them directly.
        gram = np.empty((lo.size, n_nodes, n_nodes), dtype=np.float64)
        sums = np.empty((lo.size, n_nodes), dtype=np.float64)
        for w in range(lo.size):
            if b[w] - a[w] == 2:  # two blocks (50 % overlap): one addition, without a reduction's overhead
                np.add(block_gram[a[w]], block_gram[a[w] + 1], out=gram[w])
                np.add(block_sum[a[w]], block_sum[a[w] + 1], out=sums[w])
            else:
                np.sum(block_gram[a[w]:b[w]], axis=0, out=gram[w])
                np.sum(block_sum[a[w]:b[w]], axis=0, out=sums[w])
        return gram, sums
    # Many blocks per window: prefix sums, then one subtraction per window (exact: integer values).
    cum_gram = np.concatenate([np.zeros((1, n_nodes, n_nodes)), np.cumsum(block_gram, axis=0)])
    cum_sum = np.concatenate([np.zeros((1, n_nodes)), np.cumsum(block_sum, axis=0)])
    return cum_gram[b] - cum_gram[a], cum_sum[b] - cum_sum[a]


def _centred_correlation(x: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                         rel_tol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r of continuous values (traces) per window, from float32 products of centred blocks.

    Each block (the span cut at window edges) is shifted by its per-node mean m_k, and its product
    C_k = c cᵀ of the centred values c is taken in float32: it rounds relative to the block's own
    variance, never to its squared mean, so a large or drifting baseline (raw fluorescence,
    bleaching) costs no precision. A window's centred cross-products then follow exactly from its
    blocks, with d_k = m_k − μ (μ the window's mean) and s_k = Σ c:

        Σ_k [C_k + s_k d_kᵀ + d_k s_kᵀ + n_k d_k d_kᵀ] = Σ_k C_k + P dᵀ + d Pᵀ,  P_k = s_k + n_k d_k / 2,

    a sum of well-conditioned terms (no cancellation), so the whole computation stays in float32:
    half the memory traffic of float64 sums, and one product per block shared by the windows.

    A node whose window variance is at most ``rel_tol`` × its raw Σ x² is inactive (row and
    column 0, diagonal 1), as in :func:`correlation_from_sums`.

    Shapes: x (nodes, span) float32; lo, hi (windows,) → r (windows, nodes, nodes) float32,
    inactive (windows, nodes) bool.
    """
    n_nodes = x.shape[0]
    edges, a, b, covered = _block_plan(lo, hi)
    n_blocks = edges.size - 1
    lengths = np.diff(edges).astype(np.float64)
    grams: dict[int, np.ndarray] = {}
    shift = np.zeros((n_blocks, n_nodes))
    sums = np.zeros((n_blocks, n_nodes))
    squares = np.zeros((n_blocks, n_nodes))  # the raw Σ x² of each block, for the zero-variance test
    for k in np.flatnonzero(covered):
        block = x[:, edges[k]:edges[k + 1]]
        m = block.mean(axis=1, dtype=np.float64).astype(np.float32)
        centred = block - m[:, None]
        grams[k] = centred @ centred.T
        shift[k] = m
        sums[k] = centred.sum(axis=1, dtype=np.float64)
        squares[k] = np.diagonal(grams[k]) + 2 * shift[k] * sums[k] + lengths[k] * shift[k] ** 2
    r = np.empty((lo.size, n_nodes, n_nodes), dtype=np.float32)
    inactive = np.zeros((lo.size, n_nodes), dtype=bool)
    idx = np.arange(n_nodes)
    for w in range(lo.size):
        ks = np.arange(a[w], b[w])
        n = lengths[ks].sum()
        mean = (lengths[ks, None] * shift[ks] + sums[ks]).sum(axis=0) / n
        d = shift[ks] - mean
        p = sums[ks] + 0.5 * lengths[ks, None] * d
        cov = r[w]
        np.copyto(cov, grams[int(ks[0])])
        for k in ks[1:]:
            cov += grams[int(k)]
        update = (d.T @ p).astype(np.float32)
        cov += update
        cov += update.T
        var = np.diagonal(cov).astype(np.float64)
        inactive[w] = (var <= rel_tol * squares[ks].sum(axis=0)) | (n < 2)
        inv_sd = np.where(inactive[w], 0.0, 1.0 / np.sqrt(np.where(inactive[w], 1.0, var))).astype(np.float32)
        cov *= inv_sd[:, None]
        cov *= inv_sd[None, :]
        np.clip(cov, -1.0, 1.0, out=cov)
        cov[idx, idx] = 1.0
    return r, inactive


#: Below this many nodes a block product is too small for threads to pay off: the threads' start
#: and join cost more than the product, and far more when another process holds a core.
SINGLE_THREAD_NODES = 256


def _blas_threads_for(n_nodes: int):
    """One BLAS thread for small products, the library's default otherwise."""
    if n_nodes >= SINGLE_THREAD_NODES:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def iter_window_correlations(
    times: Sequence[np.ndarray],
    windows: Windows,
    binary: bool = True,
    chunk_windows: int | None = None,
    max_span_bins: int | None = None,
    progress: bool = False,
) -> Iterator[CorrelationChunk]:
    """Yield the Pearson correlation of every window, a chunk of consecutive windows at a time.

    Parameters
    ----------
    times
        One sorted spike-time array (seconds) per node, or an object that bins itself
        (``times.bin_range(origin, bin_size, first_bin, n_bins, dtype)`` returning (nodes, n_bins),
        with a ``binary`` attribute), such as :class:`~nwb_tavrnn.ophys.traces.RoiTraces`.
    windows
        The windows (and the bin grid) to use.
    binary
        Binary (the paper) or count bins (spike times only).
    chunk_windows
        Windows per chunk; default from a 64 MiB budget (:func:`auto_chunk_windows`).
    max_span_bins
        Largest union span binned at once; default 4 × chunk_windows × the longest window.
    progress
        Show a tqdm bar over windows.

    Yields
    ------
    CorrelationChunk

    Shapes
    ------
    times : nodes x (spikes_i,)
    """
    n_nodes = len(times)
    continuous = is_traces(times)  # ROI traces bin themselves (see nwb_tavrnn.ophys)
    if len(windows) == 0:
        return
    longest = int(windows.n_bins.max())
    if chunk_windows is None:
        chunk_windows = auto_chunk_windows(n_nodes, longest)
    chunk_windows = max(1, int(chunk_windows))
    if max_span_bins is None:
        max_span_bins = 4 * chunk_windows * longest
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(windows), desc="connectivity", unit="window")
    try:
        for sl in plan_chunks(windows, chunk_windows, max_span_bins):
            lo_abs, hi_abs = windows.start_bins[sl], windows.stop_bins[sl]
            first = int(lo_abs.min())
            span = int(hi_abs.max()) - first
            lo, hi = lo_abs - first, hi_abs - first
            if continuous:
                x = times.bin_range(windows.origin, windows.bin_size, first, span, dtype=np.float32)
            else:
                x = bin_range(times, windows.origin, windows.bin_size, first, span, binary=binary, dtype=np.float32)
            # Traces are not small integers: their float32 products round, and are taken on centred
            # blocks (see _chunk_sums). Counts and events are exact in float32 products while every
            # partial sum is an integer below 2**24.
            n_bins = hi - lo
            if continuous and not times.binary:
                with _blas_threads_for(n_nodes):
                    r, inactive = _centred_correlation(x, lo, hi)
            else:
                peak = float(x.max()) if x.size else 0.0
                with _blas_threads_for(n_nodes):
                    if peak * peak * float((hi - lo).max()) >= _F32_EXACT:
                        logger.debug("counts too large for exact float32 products; using float64")
                        gram, sums = _chunk_sums(x.astype(np.float64), lo, hi)
                    else:
                        gram, sums = _chunk_sums(x, lo, hi)
                r, inactive = correlation_from_sums(gram, sums, n_bins)
                del gram, sums
            yield CorrelationChunk(sl, r, inactive, x, np.stack([lo, hi], axis=1), n_bins)
            # Drop this chunk's arrays before the next is built, or two chunks would be alive at once.
            del x, r, inactive
            if bar is not None:
                bar.update(sl.stop - sl.start)
    finally:
        if bar is not None:
            bar.close()
