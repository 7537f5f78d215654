"""Dynamic functional connectivity from spike trains: binning, windows, correlation, thresholds.

Pure numpy/scipy; no NWB writing here (see :mod:`nwb_tavrnn.io` for that). The entry points are
:func:`compute_dynamic_connectivity` (all windows in memory) and :func:`iter_dynamic_connectivity`
(chunks of windows, for streaming to HDF5), both driven by :class:`ConnectivityParams`.
"""

from .binning import bin_range, bin_spike_trains, n_bins_between
from .compute import (
    PRESETS,
    ConnectivityChunk,
    ConnectivityParams,
    ConnectivityResult,
    SparseGraphWarning,
    compute_dynamic_connectivity,
    iter_dynamic_connectivity,
    plan_windows,
    weighted_correlation,
)
from .correlation import CorrelationChunk, correlation_from_sums, iter_window_correlations
from .thresholds import (
    THRESHOLD_MODES,
    apply_threshold,
    density_edges,
    fixed_edges,
    mp_bounds_analytic,
    mp_bounds_shuffle,
    mp_edges,
    top_k_edges,
    weighted_adjacency,
)
from .windows import Windows, explicit_windows, label_runs, sliding_windows, sliding_windows_in_ranges

__all__ = [
    "PRESETS",
    "THRESHOLD_MODES",
    "ConnectivityChunk",
    "ConnectivityParams",
    "ConnectivityResult",
    "CorrelationChunk",
    "SparseGraphWarning",
    "Windows",
    "apply_threshold",
    "bin_range",
    "bin_spike_trains",
    "compute_dynamic_connectivity",
    "correlation_from_sums",
    "density_edges",
    "explicit_windows",
    "fixed_edges",
    "iter_dynamic_connectivity",
    "iter_window_correlations",
    "label_runs",
    "mp_bounds_analytic",
    "mp_bounds_shuffle",
    "mp_edges",
    "n_bins_between",
    "plan_windows",
    "sliding_windows",
    "sliding_windows_in_ranges",
    "top_k_edges",
    "weighted_adjacency",
    "weighted_correlation",
]
