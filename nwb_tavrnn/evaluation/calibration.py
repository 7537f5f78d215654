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
    from ..connectivity import ConnectivityParams, compute_dynamic_connectivity, weighted_correlation
    from ..simulate import DriftConfig, simulate_drift
    from .features import correlation_features
    from .report import score_features, table_labels

    session = simulate_drift(DriftConfig(**drift), seed=seed)
    graphs = compute_dynamic_connectivity(session.spikes, ConnectivityParams.preset("default"), warn_if_empty=False)
    blocks = pd.DataFrame({"start_time": session.block_start, "stop_time": session.block_stop,
                           "condition": session.condition})
    labels = table_labels(blocks, "condition", graphs.window_start_times, graphs.window_stop_times,
                          "blocks:condition", config.min_purity)
    scores, _ = score_features(correlation_features(weighted_correlation(graphs)), labels, graphs.window_start_times,
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





def autocorrelated_null_session(seed: int, n: int = 200, mean_run: float = 15.0, n_features: int = 10,
                                noise: float = 1.0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A behaviour-decoding session where nothing decodes: labels in runs (alternating classes,
    geometric lengths of mean ``mean_run`` segments) and two feature sets that drift (independent
    random walks plus noise), unrelated to the labels and to each other.

    Shapes
    ------
    -> labels (n,), features {"a": (n, n_features), "b": (n, n_features)}
    """
    rng = np.random.default_rng(seed)
    labels, k = [], int(rng.integers(2))
    while len(labels) < n:
        labels += ["ab"[k % 2]] * int(rng.geometric(1.0 / mean_run))
        k += 1

    def drift() -> np.ndarray:
        walk = np.cumsum(rng.normal(size=(n, n_features)), axis=0) / np.sqrt(n)
        return walk / walk.std(axis=0) + noise * rng.normal(size=(n, n_features))

    return np.array(labels[:n]), {"a": drift(), "b": drift()}


def decoding_null_draw(seed: int, n_permutations: int = 99, methods: dict | None = None, null: str = "circular_shift",
                       **session) -> dict[str, float]:
    """One :func:`autocorrelated_null_session` through :func:`~nwb_tavrnn.evaluation.decoding.compare_decoders`
    (blocked 5-fold, the default label null): the p-values of decoder ``a`` (label null and the
    binomial test) and of the difference of ``a`` and ``b`` (sign flip and McNemar)."""
    from .decoding import compare_decoders

    y, features = autocorrelated_null_session(seed, **session)
    starts = np.arange(len(y), dtype=float)
    methods = methods or {"a": ("a", "ridge"), "b": ("b", "ridge")}
    c = compare_decoders(features, y, starts, starts + 1.0, seed=seed, methods=methods, n_permutations=n_permutations, null=null,
                         n_boot=20)
    pair = c.difference("a", "b")
    return {"decoder": c.metric("a", "p_value"), "decoder_binomial": c.metric("a", "binomial_p_value_iid"),
            "difference": float(pair["p_value"]), "difference_mcnemar": float(pair["mcnemar_p_value_iid"]),
            "balanced_accuracy": c.metric("a", "balanced_accuracy")}


__all__ = ["autocorrelated_null_session", "calibration_draw", "decoding_null_draw", "monte_carlo_error", "rejection_rate"]
