"""Calibration of the evaluation protocol on sessions with known truth (see :mod:`nwb_tavrnn.simulate.drift`).

A label that changes nothing while the network drifts slowly must be "decoded" (p <= alpha) in
about alpha of the sessions, and a planted label effect must be found. Cheap features (each
window's raw correlation matrix) stand in for a model's, scored by the very code the evaluation
uses (:func:`~nwb_tavrnn.evaluation.report.score_features`: the same folds, classifier, interval
and label null). Used by the calibration tests and ``benchmarks/evaluation.py calibration``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from .report import EvaluationConfig


def calibration_draw(seed: int, config: EvaluationConfig, **drift) -> tuple[float, float]:
    """One synthetic session (:class:`~nwb_tavrnn.simulate.DriftConfig` fields as ``drift``) through
    the default connectivity windows (120 s every 60 s) and the evaluation's scoring of its raw
    correlation features against the blocks' condition: (accuracy, p-value; NaN when untestable)."""
    from ..connectivity import ConnectivityParams, compute_dynamic_connectivity
    from ..simulate import DriftConfig, simulate_drift
    from .features import correlation_features
    from .report import score_features, table_labels

    session = simulate_drift(DriftConfig(**drift), seed=seed)
    graphs = compute_dynamic_connectivity(session.spikes, ConnectivityParams.preset("default"), warn_if_empty=False)
    blocks = pd.DataFrame({"start_time": session.block_start, "stop_time": session.block_stop,
                           "condition": session.condition})
    labels = table_labels(blocks, "condition", graphs.window_start_times, graphs.window_stop_times,
                          "blocks:condition", config.min_purity)
    scores, _ = score_features(correlation_features(graphs.correlation), labels, graphs.window_start_times,
                               graphs.window_stop_times, config)
    value = scores.set_index(["analysis", "metric"])["value"]
    return float(value[("classification", "accuracy")]), float(value.get(("label_permutation", "p_value"), np.nan))


def rejection_rate(seeds: Iterable[int], config: EvaluationConfig, alpha: float = 0.05,
                   **drift) -> tuple[float, float]:
    """Share of sessions with p <= alpha, and their mean accuracy."""
    results = np.array([calibration_draw(s, config, **drift) for s in seeds])
    return float(np.mean(results[:, 1] <= alpha)), float(results[:, 0].mean())


def monte_carlo_error(rate: float, draws: int) -> float:
    """Standard error of a rejection rate ``rate`` estimated from ``draws`` sessions."""
    return math.sqrt(rate * (1 - rate) / draws)


__all__ = ["calibration_draw", "monte_carlo_error", "rejection_rate"]
