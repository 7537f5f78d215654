"""The connectivity step: spike trains → a sequence of weighted graphs, with its parameters.

Typical use::

    params = ConnectivityParams.preset("dishbrain")
    result = compute_dynamic_connectivity(trains, params)           # all windows in memory
    for chunk in iter_dynamic_connectivity(trains, params):         # or stream them to a writer
        dataset[chunk.index] = chunk.adjacency

A writer that needs the number of windows up front calls :func:`plan_windows` first (it is what
the two functions above use).
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ParameterError, ParameterWarning, require
from ..io.spike_trains import is_traces
from ..params import Check, at_least, between, check, param, positive
from .correlation import iter_window_correlations
from .thresholds import THRESHOLD_MODES, apply_threshold, mp_edges, weighted_adjacency
from .windows import Windows, explicit_windows, sliding_windows

__all__ = [
    "PRESETS",
    "ConnectivityChunk",
    "ConnectivityParams",
    "ConnectivityResult",
    "SparseGraphWarning",
    "compute_dynamic_connectivity",
    "edge_density",
    "iter_dynamic_connectivity",
    "plan_windows",
]

logger = logging.getLogger(__name__)

#: Mean off-diagonal edge density below which a graph sequence counts as (almost) empty.
EMPTY_DENSITY = 1e-3


#: The parameters each threshold mode reads; given for another mode they would change nothing.
MODE_FIELDS: dict[str, tuple[str, ...]] = {
    "threshold": ("fixed",), "top_k": ("top_k",), "density": ("density",),
    "mp_null": ("mp",), "n_surrogates": ("mp",), "mp_band": ("mp",), "mp_sides": ("mp",), "mp_edge_tol": ("mp",),
}


class SparseGraphWarning(ParameterWarning):
    """The thresholded graphs have (almost) no edges off the diagonal; ``parameter`` names the
    settings the message suggests (the command line shows their flags)."""


@dataclass
class ConnectivityParams:
    """Parameters of the dynamic connectivity step.

    Parameters
    ----------
    bin_size
        Bin width in seconds.
    binary
        1/0 bins (the paper) or spike counts.
    window, step
        Sliding-window length and step in seconds (rounded to whole bins). Ignored when explicit
        windows are passed.
    absolute
        Weight edges by ``|r|`` (the paper) or by signed r. Edge selection always ranks by ``|r|``,
        and the stored unthresholded ``correlation`` is always signed r, so no sign is lost. The
        raw-correlation baseline reads it as the edges weigh it (:func:`weighted_correlation`);
        TAVRNN's correlation features are ``|r|`` rows either way.
    threshold_mode
        ``"fixed"``, ``"top_k"``, ``"density"``, ``"mp"`` or ``"none"`` (see :mod:`.thresholds`).
    threshold
        ``fixed``: keep ``|r| >= threshold``.
    top_k
        ``top_k``: partners kept per node.
    density
        ``density``: fraction of node pairs kept per window.
    mp_null
        ``mp``: ``"shuffle"`` (time-shuffled surrogates, the paper) or ``"analytic"`` (fast bound).
    n_surrogates
        ``mp`` shuffle: surrogates per window (the paper: 1000).
    mp_band
        ``mp``: width of the null band (0.95).
    mp_sides
        ``mp``: keep components outside the band on ``"both"`` sides or only ``"upper"``.
    mp_edge_tol
        ``mp``: |rebuilt r| above which a pair is an edge; ``None`` = the null level of one |r|.
    seed
        Seed of the surrogates (each window gets its own stream, so chunking does not matter).
    preset_name
        Name of the preset these came from, if any (provenance only).
    """

    bin_size: float = param(0.05, help="bin width in seconds", check=positive(), group="binning and windows")
    binary: bool = param(False, help="1/0 bins (--counts: spike-count bins)", group="binning and windows",
                         check=Check(lambda v: isinstance(v, (bool, np.bool_)), "must be true or false"))
    window: float = param(120.0, help="window length in seconds", check=positive(), group="binning and windows")
    step: float = param(60.0, help="step between window starts in seconds", check=positive(),
                        group="binning and windows")
    absolute: bool = param(True, flag="--signed", negate=True, help="weight edges by signed r instead of |r| (the stored correlation is always signed)", group="edges",
                           check=Check(lambda v: isinstance(v, (bool, np.bool_)), "must be true or false"))
    threshold_mode: str = param("density", choices=THRESHOLD_MODES, group="edges",
                                help="how edges are kept: |r| >= threshold, top_k partners, a fixed density, the "
                                     "Marchenko-Pastur null (mp), or every pair (none)")
    threshold: float = param(0.6, help="fixed: keep |r| >= this", group="edges",
                             check=Check(lambda v: 0 <= v <= 1, "is a |r| level in [0, 1]"))
    top_k: int = param(5, help="top_k: partners kept per node", check=at_least(1), group="edges")
    density: float = param(0.1, help="density: fraction of pairs kept per window", group="edges",
                           check=Check(lambda v: 0 < v <= 1, "must be in (0, 1]"))
    mp_null: str = param("shuffle", choices=("shuffle", "analytic"), group="edges",
                         help="mp: time-shuffled surrogates (the paper) or the analytic bound (fast)")
    n_surrogates: int = param(1000, help="mp shuffle: surrogates per window", check=at_least(1), group="edges")
    mp_band: float = param(0.95, help="mp: width of the null band", check=between(0, 1), flag=None)
    mp_sides: str = param("both", choices=("both", "upper"), flag=None,
                          help="mp: keep components outside the band on both sides or only the upper")
    mp_edge_tol: float | None = param(None, flag=None, check=between(0, 1, closed=True),
                                      help="mp: |rebuilt r| above which a pair is an edge (default: the null level "
                                           "of one |r|)")
    seed: int = param(0, help="seed of the surrogates", check=at_least(0), group="edges")
    preset_name: str | None = None

    def __post_init__(self) -> None:
        check(self)
        require(self.window >= self.bin_size and self.step >= self.bin_size,
                f"window ({self.window}) and step ({self.step}) must be at least one bin ({self.bin_size} s)",
                ("window", "step"))

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> ConnectivityParams:
        """Parameters of a named preset (see :data:`PRESETS`), with some fields overridden."""
        if name not in PRESETS:
            raise ParameterError(f"unknown connectivity preset {name!r}; known: {sorted(PRESETS)}")
        params = cls(**{**PRESETS[name], "preset_name": name, **overrides})
        # Which fields the caller chose (not a field: kept out of the stored parameters; a copy
        # made with dataclasses.replace loses it): a preset's own bin may be lengthened to one
        # imaging frame, a chosen one never (connectivity.step.frame_bins).
        object.__setattr__(params, "given", frozenset(overrides))
        for key in overrides:  # a setting of another threshold mode would be silently ignored
            modes = MODE_FIELDS.get(key)
            if modes and params.threshold_mode not in modes:
                raise ParameterError(
                    f"{key} applies to threshold mode {' or '.join(modes)} only, and these settings use "
                    f"{params.threshold_mode!r}; set threshold_mode too", (key, "threshold_mode"))
        return params

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of all fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ConnectivityParams:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ParameterError(f"ConnectivityParams: unknown parameters {sorted(unknown)}")
        return cls(**values)

    @property
    def threshold_value(self) -> float | None:
        """The one number that describes the threshold (for the NWB ``threshold`` attribute)."""
        return {"fixed": self.threshold, "top_k": float(self.top_k), "density": self.density,
                "mp": self.mp_band}.get(self.threshold_mode)


#: Named parameter sets. ``dishbrain`` is the paper's exact recipe; ``default`` gives informative
#: graphs on in-vivo units (whose |r| is mostly < 0.3, so a fixed 0.6 would leave them empty);
#: ``hippocampus`` follows the paper's rat analysis (25 ms bins, MP denoising; pass one window per
#: run of the position label); ``ophys`` suits calcium imaging at 10-30 Hz: 100 ms bins (1-3
#: frames, averaged), 60 s windows (600-1,800 frames: r of traces is stable there, while calcium
#: transients last about a second) every 30 s, and the strongest 10 % of pairs.
PRESETS: dict[str, dict[str, Any]] = {
    "dishbrain": dict(bin_size=0.05, binary=True, window=120.0, step=60.0, absolute=True,
                      threshold_mode="fixed", threshold=0.6),
    "default": dict(bin_size=0.05, binary=False, window=120.0, step=60.0, absolute=True,
                    threshold_mode="density", density=0.1),
    "hippocampus": dict(bin_size=0.025, binary=False, window=120.0, step=60.0, absolute=True,
                        threshold_mode="mp", mp_null="shuffle", n_surrogates=1000, mp_band=0.95),
    "ophys": dict(bin_size=0.1, binary=False, window=60.0, step=30.0, absolute=True,
                  threshold_mode="density", density=0.1),
}


@dataclass
class ConnectivityChunk:
    """Graphs of consecutive windows ``index`` (what the streaming API yields).

    Shapes
    ------
    adjacency, correlation : (chunk, nodes, nodes) float32
    inactive_mask : (chunk, nodes) bool
    window_start_times, window_stop_times : (chunk,) float64
    """

    index: slice
    adjacency: np.ndarray
    correlation: np.ndarray
    inactive_mask: np.ndarray
    window_start_times: np.ndarray
    window_stop_times: np.ndarray


@dataclass
class ConnectivityResult:
    """A sequence of graphs with the parameters and node identities that produced it.

    Attributes
    ----------
    adjacency
        Weighted adjacency: the correlation on kept edges, 0 elsewhere, 1 on the diagonal.
    correlation
        Unthresholded signed correlation r, 0 for inactive nodes (the edge weights are ``|r|`` or
        signed as ``params.absolute``; :func:`weighted_correlation` gives the correlation as weighted).
    inactive_mask
        Nodes silent or constant in a window.

    Shapes
    ------
    adjacency, correlation : (windows, nodes, nodes) float32
    inactive_mask : (windows, nodes) bool
    window_start_times, window_stop_times : (windows,) float64, seconds
    node_ids, node_groups, node_locations : (nodes,)
    """

    adjacency: np.ndarray
    correlation: np.ndarray
    inactive_mask: np.ndarray
    window_start_times: np.ndarray
    window_stop_times: np.ndarray
    node_ids: np.ndarray
    node_groups: np.ndarray
    node_locations: np.ndarray
    params: ConnectivityParams
    node_table: str = "units"
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def num_windows(self) -> int:
        return int(self.adjacency.shape[0])

    @property
    def num_nodes(self) -> int:
        return int(self.adjacency.shape[1])

    def edge_density(self) -> np.ndarray:
        """Fraction of off-diagonal node pairs that are edges, per window. Shape (windows,)."""
        return edge_density(self.adjacency)


def weighted_correlation(source: Any, absolute: bool | None = None) -> np.ndarray | None:
    """The unthresholded correlation as the edges weigh it: ``|r|`` where the parameters say
    ``absolute`` (every preset), signed r otherwise. This is what the raw-correlation baseline
    reads; the stored ``correlation`` itself is signed.

    Parameters
    ----------
    source
        A :class:`ConnectivityResult`, a :class:`~nwb_tavrnn.schema.DynamicConnectivity` (files
        written before the correlation was stored signed held ``|r|`` already under ``absolute``;
        taking ``|r|`` again changes nothing), or an array of correlation matrices.
    absolute
        Override the source's ``absolute`` parameter (required for an array).

    Returns
    -------
    numpy.ndarray or None
        A new float32 array; None when the source stored no correlation.

    Shapes
    ------
    source (array), return : (windows, nodes, nodes)
    """
    if isinstance(source, np.ndarray):
        corr = source
        if absolute is None:
            raise ValueError("`absolute` is needed to weigh a bare correlation array")
    else:
        corr = source.correlation
        if corr is None:
            return None
        if absolute is None:
            params = getattr(source, "params", None)
            absolute = bool(params.absolute if params is not None
                            else source.parameters_dict.get("absolute", True))
    out = np.array(corr[()], dtype=np.float32)
    if absolute:
        np.abs(out, out=out)
    return out


def edge_strength(adj: np.ndarray) -> np.ndarray:
    """Mean |weight| of the off-diagonal edges kept in each window (NaN for a window without any).

    Shapes: (W, N, N) -> (W,)."""
    a = np.abs(np.asarray(adj, dtype=np.float64)).copy()
    idx = np.arange(a.shape[-1])
    a[:, idx, idx] = 0
    count = np.count_nonzero(a, axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, a.sum(axis=(1, 2)) / np.maximum(count, 1), np.nan)


def edge_turnover(adj: np.ndarray) -> np.ndarray:
    """Jaccard similarity of each window's off-diagonal edge set with the previous window's (NaN for
    the first, or when neither has edges): 1 = the same graph, 0 = no edge in common.

    Shapes: (W, N, N) -> (W,)."""
    e = np.asarray(adj) != 0
    idx = np.arange(e.shape[-1])
    e[:, idx, idx] = False
    out = np.full(e.shape[0], np.nan)
    for t in range(1, e.shape[0]):
        union = np.count_nonzero(e[t] | e[t - 1])
        if union:
            out[t] = np.count_nonzero(e[t] & e[t - 1]) / union
    return out


def edge_density(adj: np.ndarray) -> np.ndarray:
    """Fraction of off-diagonal node pairs that are edges, per window. Shapes: (W, N, N) -> (W,)."""
    n = adj.shape[-1]
    if n < 2:
        return np.zeros(adj.shape[0])
    off = np.count_nonzero(adj, axis=(1, 2)) - np.count_nonzero(np.diagonal(adj, axis1=1, axis2=2), axis=1)
    return off / (n * (n - 1))


def plan_windows(trains, params: ConnectivityParams,
                 windows: Windows | tuple[Sequence[float], Sequence[float]] | None = None) -> Windows:
    """The windows the step will compute, on the grid anchored at ``trains.t_start``.

    Parameters
    ----------
    trains
        :class:`~nwb_tavrnn.io.spike_trains.SpikeTrains`.
    windows
        ``None`` for sliding windows over the recording (``params.window``/``params.step``), a
        ``(starts, stops)`` pair of arrays in seconds (snapped to the bin grid), or a
        :class:`~.windows.Windows` whose ``bin_size`` equals ``params.bin_size``.
    """
    if windows is None:
        return sliding_windows(trains.t_start, trains.t_stop, params.bin_size, params.window, params.step)
    if isinstance(windows, Windows):
        if not np.isclose(windows.bin_size, params.bin_size):
            raise ValueError(f"windows use bin_size {windows.bin_size}, params {params.bin_size}")
        return windows
    starts, stops = windows
    return explicit_windows(starts, stops, params.bin_size, origin=float(trains.t_start))


class _SparsityMonitor:
    """Collects, chunk by chunk, what the empty-graph warning needs (a few numbers per window)."""

    def __init__(self) -> None:
        self.densities: list[np.ndarray] = []
        self.p99: list[np.ndarray] = []

    def update(self, adj: np.ndarray, corr: np.ndarray, inactive: np.ndarray) -> None:
        dens = edge_density(adj)
        self.densities.append(dens)
        if dens.mean() >= EMPTY_DENSITY:
            return  # the |r| range is only needed to explain empty graphs
        n = corr.shape[-1]
        iu, ju = np.triu_indices(n, k=1)
        if iu.size > 20000:  # a percentile for a warning message: an even subsample of pairs is enough
            stride = int(np.ceil(iu.size / 20000))
            iu, ju = iu[::stride], ju[::stride]
        # A handful of windows per chunk describe the |r| range well enough for a warning, and
        # percentiles over every window would cost a third of the step on small graphs.
        pick = np.unique(np.linspace(0, corr.shape[0] - 1, min(corr.shape[0], 4)).astype(int))
        corr, inactive = corr[pick], inactive[pick]
        vals = np.abs(corr[:, iu, ju]).astype(np.float64)
        vals[inactive[:, iu] | inactive[:, ju]] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # windows with no active pair give NaN
            self.p99.append(np.nanpercentile(vals, 99, axis=1) if vals.shape[1] else np.full(len(vals), np.nan))

    def check(self, params: ConnectivityParams) -> None:
        if not self.densities:
            return
        dens = float(np.mean(np.concatenate(self.densities)))
        if dens >= EMPTY_DENSITY:
            return
        p99 = np.concatenate(self.p99) if self.p99 else np.zeros(0)
        p99 = p99[np.isfinite(p99)]
        if p99.size == 0:
            msg = "no window has two active nodes; check the spike trains and the window times"
        else:
            med = float(np.median(p99))
            msg = (f"the 99th percentile of off-diagonal |r| per window is {med:.3g} (median over "
                   f"windows; range {p99.min():.3g}-{p99.max():.3g}). Try `threshold_mode` density with `density` 0.1, "
                   f"`threshold_mode` fixed with `threshold` {max(med, 1e-3):.2g}, or the default `preset`")
        # One warning (the command line prints it once, as one line; Python callers can catch it).
        warnings.warn(SparseGraphWarning(
            f"connectivity graphs are (almost) empty: mean off-diagonal edge density {dens:.2g} with "
            f"threshold_mode={params.threshold_mode!r}; {msg}", ("threshold_mode", "density", "threshold", "preset")),
            stacklevel=3)


def check_params_for_nodes(params: ConnectivityParams, nodes) -> None:
    """Refuse parameters that cannot work on these nodes: for ROI traces, a bin shorter than an
    imaging frame (it would need frames that do not exist) or binary bins of continuous values.

    Raises
    ------
    ParameterError
    """
    if not is_traces(nodes):
        return
    require(params.bin_size * nodes.rate >= 1.0 - 1e-6,
            f"bin_size {params.bin_size:g} s is shorter than one imaging frame ({1 / nodes.rate:.10g} s at "
            f"{nodes.rate:g} Hz); use a `bin_size` of {1 / nodes.rate:.10g} (one frame) or longer", "bin_size")
    require(not params.binary or nodes.binary,
            "binary bins are for spike trains and events; ROI traces are averaged per bin (`binary` false, or "
            "`signal` 'events' for 0/1 event bins)", ("binary", "signal"))


def iter_dynamic_connectivity(trains, params: ConnectivityParams | None = None,
                              windows: Windows | tuple[Sequence[float], Sequence[float]] | None = None,
                              chunk_windows: int | None = None, progress: bool = False,
                              warn_if_empty: bool = True) -> Iterator[ConnectivityChunk]:
    """Yield graphs chunk by chunk; peak memory depends on the chunk, not the recording length.

    Parameters
    ----------
    trains
        :class:`~nwb_tavrnn.io.spike_trains.SpikeTrains`.
    params
        Step parameters; default ``ConnectivityParams.preset("default")``.
    windows
        See :func:`plan_windows`.
    chunk_windows
        Windows per chunk; default from a 64 MiB working-memory budget (at least 4).
    progress
        Show a tqdm progress bar.
    warn_if_empty
        Warn (:class:`SparseGraphWarning`) after the last chunk if the graphs have almost no edges.

    Yields
    ------
    ConnectivityChunk
        Consecutive windows in order; ``chunk.index`` is their slice of the full sequence.
    """
    params = ConnectivityParams.preset("default") if params is None else params
    win = plan_windows(trains, params, windows)
    monitor = _SparsityMonitor()
    starts, stops = win.start_times, win.stop_times
    check_params_for_nodes(params, trains)
    nodes = trains if is_traces(trains) else trains.times
    for chunk in iter_window_correlations(nodes, win, binary=params.binary,
                                          chunk_windows=chunk_windows, progress=progress):
        r, inactive = chunk.correlation, chunk.inactive
        if params.threshold_mode == "mp":
            edges = np.zeros(r.shape, dtype=bool)
            for i in range(r.shape[0]):
                rng = np.random.default_rng([int(params.seed), chunk.index.start + i])
                edges[i], _ = mp_edges(r[i], ~inactive[i], chunk.window_data(i), null=params.mp_null,
                                       n_surrogates=params.n_surrogates, band=params.mp_band,
                                       sides=params.mp_sides, edge_tol=params.mp_edge_tol, rng=rng)
        else:
            edges = apply_threshold(r, inactive, params.threshold_mode, threshold=params.threshold,
                                    k=params.top_k, density=params.density)
        adj = weighted_adjacency(r, edges, params.absolute)
        corr = r.astype(np.float32)  # signed, whatever the weights: the sign is kept for collaborators
        if warn_if_empty:
            monitor.update(adj, corr, inactive)
        yield ConnectivityChunk(chunk.index, adj, corr, inactive.copy(), starts[chunk.index], stops[chunk.index])
        # Release this chunk before the next is computed, so at most one chunk is alive here.
        del chunk, r, inactive, edges, adj, corr
    if warn_if_empty:
        monitor.check(params)


def compute_dynamic_connectivity(trains, params: ConnectivityParams | None = None,
                                 windows: Windows | tuple[Sequence[float], Sequence[float]] | None = None,
                                 chunk_windows: int | None = None, progress: bool = False,
                                 warn_if_empty: bool = True) -> ConnectivityResult:
    """Compute every window's graph and return them together with parameters and node identities.

    Parameters are as in :func:`iter_dynamic_connectivity`. The full result holds two
    (windows, nodes, nodes) float32 arrays; stream with :func:`iter_dynamic_connectivity` when that
    does not fit.

    Returns
    -------
    ConnectivityResult
    """
    params = ConnectivityParams.preset("default") if params is None else params
    win = plan_windows(trains, params, windows)
    w, n = len(win), len(trains)
    adjacency = np.zeros((w, n, n), dtype=np.float32)
    correlation = np.zeros((w, n, n), dtype=np.float32)
    inactive = np.zeros((w, n), dtype=bool)
    for chunk in iter_dynamic_connectivity(trains, params, win, chunk_windows, progress, warn_if_empty):
        adjacency[chunk.index] = chunk.adjacency
        correlation[chunk.index] = chunk.correlation
        inactive[chunk.index] = chunk.inactive_mask
    if w == 0:
        logger.warning("no window fits in [%s, %s) with window %s s", trains.t_start, trains.t_stop, params.window)
    return ConnectivityResult(
        adjacency=adjacency, correlation=correlation, inactive_mask=inactive,
        window_start_times=win.start_times, window_stop_times=win.stop_times,
        node_ids=trains.ids.copy(), node_groups=trains.groups.copy(), node_locations=trains.locations.copy(),
        params=params, node_table=getattr(trains, "node_table", "units"),
    )
