"""Held-out evaluation of NNPoisson against baselines: a split of trials that shares no spike between
train and test, and the scores (bits/spike per region, time-rescaling KS, choice accuracy, RT
distribution) of the model, its neural-only and behaviour-only fits, a per-condition PSTH Poisson
model and a raised-cosine Poisson GLM.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...io.trials import TrialSpikes

log = logging.getLogger(__name__)


@dataclass
class TrialSplit:
    """Trial indices of the training and test sets, and the trials left out of both because their
    window overlaps a test trial's window (they would share spikes with it).

    Shapes
    ------
    train, test, gap : (n,) int64 indices into the trials
    """

    train: np.ndarray
    test: np.ndarray
    gap: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def labels(self, n_trials: int, validation: np.ndarray | None = None) -> np.ndarray:
        """``train`` / ``validation`` / ``test`` / ``excluded`` per trial. Shape (trials,)."""
        out = np.full(n_trials, "excluded", dtype=object)
        out[self.train] = "train"
        if validation is not None:
            out[validation] = "validation"
        out[self.test] = "test"
        return out


def split_trials(data: TrialSpikes, test_fraction: float = 0.2, blocks: int = 10) -> TrialSplit:
    """Contiguous blocks of trials (in onset order) as the test set, spread over the session.

    The trials are cut into ``blocks`` contiguous blocks; ``round(test_fraction · blocks)`` of them,
    evenly spaced, are the test set (so slow drifts over the session are in both sets, and a test
    trial's neighbours are mostly test trials too). Training trials whose window overlaps a test
    trial's window are left out of training (``gap``): no spike is in both sets.
    """
    from ...evaluation.splits import holdout_blocks

    train, test, gap = holdout_blocks(data.onsets, data.onsets + data.window, test_fraction, blocks)
    if len(gap):
        log.info("left %d training trials out: their windows overlap test trials' windows", len(gap))
    return TrialSplit(train=train, test=test, gap=gap)


def validation_block(data: TrialSpikes, fraction: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The early-stopping split of the training trials: the last ``fraction`` of them in time (one
    contiguous block), the rest for training, less the training trials whose window overlaps a
    validation window (they would share spikes with it).

    A random subset would put every validation trial beside training trials of the same stretch
    of the session, so slow drifts (of engagement, of the recording) would look predictable.

    Shapes
    ------
    returns : train (n,), validation (v,), gap (g,) int64 indices into the trials, sorted
    """
    n = data.n_trials
    n_val = int(round(float(fraction) * n))
    order = np.argsort(data.onsets, kind="stable")
    if n_val == 0:
        return np.sort(order), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    val, rest = order[n - n_val:], order[:n - n_val]
    first = data.onsets[val].min()
    overlap = data.onsets[rest] + data.window > first
    if overlap.any():
        log.info("left %d training trials out of the fit: their windows overlap the validation block", overlap.sum())
    return np.sort(rest[~overlap]), np.sort(val), np.sort(rest[overlap])


@dataclass
class Evaluation:
    """Scores of every method on the test trials (a long table) and what the figures need."""

    scores: pd.DataFrame
    models: dict[str, Any]
    ks: dict[str, list]
    test: TrialSpikes


def _rows(method: str, analysis: str, values: dict[str, float]) -> list[dict[str, Any]]:
    return [{"method": method, "analysis": analysis, "metric": k, "seed": -1, "value": float(v)}
            for k, v in values.items()]


def score_methods(models: dict[str, Any], train: TrialSpikes, test: TrialSpikes,
                  on_step: Callable[[str], None] | None = None) -> Evaluation:
    """Score fitted models on the test trials: held-out bits/spike per region (against a
    homogeneous Poisson rate per region fitted on the training trials), the time-rescaling KS test
    per region, and, for models with behaviour, choice accuracy, the mean log-probability of the
    observed outcome and the KS distance of the RT distribution.

    Parameters
    ----------
    models
        Method name → fitted model implementing the IntensityModel protocol (and optionally
        the BehaviourModel one) of :mod:`nwb_tavrnn.evaluation.point_process`.
    """
    from ...evaluation import point_process as pp

    reference = pp.HomogeneousPoisson().fit(train)
    rows: list[dict[str, Any]] = []
    ks: dict[str, list] = {}
    spikes = np.bincount(test.spike_region, minlength=test.n_regions)
    grid = np.linspace(0.0, test.window, 256)
    for name, model in models.items():
        if on_step is not None:
            on_step(f"scoring {name}")
        bps = pp.bits_per_spike(model, test, reference)
        ll = pp.neural_log_likelihood(model, test)
        values = {f"bits_per_spike[{r}]": b for r, b in zip(test.regions, bps)}
        values["bits_per_spike"] = float((ll - pp.neural_log_likelihood(reference, test)).sum()
                                         / (spikes.sum() * np.log(2)))
        values["log_likelihood_nats"] = float(ll.sum())
        rows += _rows(name, "neural_heldout", values)
        ks[name] = pp.time_rescaling_ks(model, test)
        rows += _rows(name, "goodness_of_fit", {
            **{f"ks_statistic[{r}]": res.statistic for r, res in zip(test.regions, ks[name])},
            **{f"ks_p_value[{r}]": res.p_value for r, res in zip(test.regions, ks[name])}})
        if hasattr(model, "choice_probabilities"):
            probs = model.choice_probabilities(test)
            acc = pp.choice_accuracy(probs, test)
            rt = pp.rt_ks(model, test, grid)
            rows += _rows(name, "behaviour_heldout", {"choice_accuracy": acc.accuracy,
                                                      "choice_log_probability": acc.mean_log_probability,
                                                      "rt_ks_statistic": rt.statistic, "rt_ks_p_value": rt.p_value})
    return Evaluation(pd.DataFrame(rows), dict(models), ks, test)


def fit_methods(model: Any, train: TrialSpikes, *, baselines: bool = True, objectives: bool = False,
                callback: Callable[[int, float], None] | None = None,
                on_step: Callable[[str], None] | None = None, **fit_kwargs: Any) -> dict[str, Any]:
    """Fit ``model`` on the training trials, and the comparisons: the PSTH and GLM baselines, and
    (``objectives``) the same model fitted to the neural term only and to behaviour only."""
    from ...evaluation import point_process as pp

    out: dict[str, Any] = {}
    if on_step is not None:
        on_step("fitting nnpoisson")
    out["nnpoisson"] = model.fit(train, callback=callback, **fit_kwargs)
    if objectives:
        for objective in ("neural", "behaviour"):
            if on_step is not None:
                on_step(f"fitting nnpoisson ({objective} only)")
            other = type(model)(**{**model.get_params(), "objective": objective})
            out[f"nnpoisson_{objective}_only"] = other.fit(train)
    if baselines:
        if on_step is not None:
            on_step("fitting baselines")
        out["psth"] = pp.PSTHPoisson().fit(train)
        out["glm"] = pp.RaisedCosineGLM().fit(train)
    return out


__all__ = ["Evaluation", "TrialSplit", "fit_methods", "score_methods", "split_trials", "validation_block"]
