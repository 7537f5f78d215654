"""Held-out evaluation of NNPoisson against baselines: a split of trials that shares no spike between
train and test, and the scores (bits/spike per region and per unit, time-rescaling KS, choice
accuracy and log-probability with intervals and paired tests, RT distribution) of the model, its
neural-only (and optionally behaviour-only) fits, per-condition PSTH Poisson models and
raised-cosine Poisson GLMs, per region and per unit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..io.trials import TrialSpikes
from ..models.nnpoisson.splits import TrialSplit

log = logging.getLogger(__name__)


def split_trials(data: TrialSpikes, test_fraction: float = 0.2, blocks: int = 10) -> TrialSplit:
    """Contiguous blocks of trials (in onset order) as the test set, spread over the session.

    The trials are cut into ``blocks`` contiguous blocks; ``round(test_fraction · blocks)`` of them,
    evenly spaced, are the test set (so slow drifts over the session are in both sets, and a test
    trial's neighbours are mostly test trials too). Training trials whose window overlaps a test
    trial's window are left out of training (``gap``): no spike is in both sets.
    """
    from .splits import holdout_blocks

    train, test, gap = holdout_blocks(data.onsets, data.onsets + data.window, test_fraction, blocks)
    if len(gap):
        log.info("left %d training trials out: their windows overlap test trials' windows", len(gap))
    return TrialSplit(train=train, test=test, gap=gap)


@dataclass
class Evaluation:
    """Scores of every method on the test trials (a long table) and what the figures need."""

    scores: pd.DataFrame
    models: dict[str, Any]
    ks: dict[str, list]
    test: TrialSpikes
    unit_ks: dict[str, list] = field(default_factory=dict)


def _rows(method: str, analysis: str, values: dict[str, float]) -> list[dict[str, Any]]:
    return [{"method": method, "analysis": analysis, "metric": k, "seed": -1, "value": float(v)}
            for k, v in values.items()]


#: The behaviour baseline every model's choices are tested against (per-condition frequencies).
BEHAVIOUR_REFERENCE = "psth"

#: Test trials per block of the behaviour's bootstrap intervals and paired tests.
BEHAVIOUR_BLOCK = 10


def _neural_rows(name: str, model: Any, test: TrialSpikes, references: dict[str, Any]) -> tuple[list, dict]:
    """Held-out neural scores of one model: pooled per region (against a homogeneous rate per
    region) and per unit (against a homogeneous rate per unit), and the time-rescaling tests."""
    from . import point_process as pp

    rows: list[dict[str, Any]] = []
    reference, unit_reference = references["region"], references["unit"]
    spikes = np.bincount(test.spike_region, minlength=test.n_regions)
    ll = pp.neural_log_likelihood(model, test)
    values = {f"bits_per_spike[{r}]": b for r, b in zip(test.regions, pp.bits_per_spike(model, test, reference))}
    values["bits_per_spike"] = float((ll - pp.neural_log_likelihood(reference, test)).sum()
                                     / (spikes.sum() * np.log(2)))
    values["log_likelihood_nats"] = float(ll.sum())
    rows += _rows(name, "neural_heldout", values)
    bits = pp.unit_bits(model, test, unit_reference)
    unit_values = {f"bits_per_spike[unit {u}]": b for u, b in zip(test.unit_ids, bits.per_unit)}
    unit_values.update({f"bits_per_spike[{r}]": b for r, b in zip(test.regions, bits.per_region)})
    unit_values["bits_per_spike"] = bits.overall
    unit_values["log_likelihood_nats"] = float(pp.unit_log_likelihood(model, test).sum())
    rows += _rows(name, "neural_heldout_unit", unit_values)
    ks = pp.time_rescaling_ks(model, test)
    rows += _rows(name, "goodness_of_fit", {
        **{f"ks_statistic[{r}]": res.statistic for r, res in zip(test.regions, ks)},
        **{f"ks_p_value[{r}]": res.p_value for r, res in zip(test.regions, ks)}})
    per_unit = pp.time_rescaling_ks(model, test, per="unit")
    pooled = pp.pool_units_by_region(per_unit, test)  # each unit's own Λ, a region's values pooled
    ks_values: dict[str, float] = {f"ks_statistic[{r}]": res.statistic for r, res in zip(test.regions, pooled)}
    ks_values.update({f"ks_p_value[{r}]": res.p_value for r, res in zip(test.regions, pooled)})
    for res, u in zip(per_unit, test.unit_ids):
        ks_values[f"ks_statistic[unit {u}]"] = res.statistic
        ks_values[f"ks_p_value[unit {u}]"] = res.p_value
    rows += _rows(name, "goodness_of_fit_unit", ks_values)
    return rows, {"region": ks, "unit": per_unit}


def score_methods(models: dict[str, Any], train: TrialSpikes, test: TrialSpikes,
                  on_step: Callable[[str], None] | None = None) -> Evaluation:
    """Score fitted models on the test trials.

    Neural, for every model: held-out bits/spike per region with the region's pooled intensity
    (against a homogeneous Poisson rate per region fitted on the training trials) and per unit
    with each unit's own intensity (against a homogeneous rate per unit: ``neural_heldout_unit``,
    per unit, per region and overall); the time-rescaling KS test per region, per unit, and per
    region with each unit's own Λ (``goodness_of_fit_unit``).

    Behaviour, for models with choice probabilities: choice accuracy and the mean log-probability
    of the observed outcome, each with a 95 % circular block-bootstrap interval over the test
    trials in onset order (blocks of :data:`BEHAVIOUR_BLOCK` trials), a paired block sign-flip
    test of the difference from the PSTH's per-condition choice frequencies, the RT KS distance;
    and the per-condition ceiling (``ceiling``: each test trial predicted as its condition's most
    frequent outcome among the test trials, the most any model of the stimulus alone could
    reach, optimistic because it is read off the test trials).

    Parameters
    ----------
    models
        Method name → fitted model implementing the IntensityModel or UnitIntensityModel
        protocol (and optionally the BehaviourModel one) of :mod:`nwb_tavrnn.evaluation.point_process`.
    """
    from . import point_process as pp

    references = {"region": pp.HomogeneousPoisson().fit(train), "unit": pp.HomogeneousPoisson(per="unit").fit(train)}
    rows: list[dict[str, Any]] = []
    ks: dict[str, list] = {}
    unit_ks: dict[str, list] = {}
    grid = np.linspace(0.0, test.window, 256)
    probabilities: dict[str, np.ndarray] = {}
    rt: dict[str, Any] = {}
    for name, model in models.items():
        if on_step is not None:
            on_step(f"scoring {name}")
        model_rows, tests = _neural_rows(name, model, test, references)
        rows += model_rows
        ks[name], unit_ks[name] = tests["region"], tests["unit"]
        if hasattr(model, "choice_probabilities"):
            probabilities[name] = model.choice_probabilities(test)
            rt[name] = pp.rt_ks(model, test, grid)
    if probabilities:
        reference = BEHAVIOUR_REFERENCE if BEHAVIOUR_REFERENCE in probabilities else next(iter(probabilities))
        comparison = pp.compare_behaviour(probabilities, test, reference, block=BEHAVIOUR_BLOCK)
        for m in comparison.methods:
            values = {"choice_accuracy": m.accuracy, "choice_accuracy_low": m.accuracy_interval[0],
                      "choice_accuracy_high": m.accuracy_interval[1], "choice_log_probability": m.log_probability,
                      "choice_log_probability_low": m.log_probability_interval[0],
                      "choice_log_probability_high": m.log_probability_interval[1],
                      "rt_ks_statistic": rt[m.method].statistic, "rt_ks_p_value": rt[m.method].p_value}
            for metric, result in (("choice_accuracy", m.accuracy_test),
                                   ("choice_log_probability", m.log_probability_test)):
                if result is not None:
                    values[f"{metric}_difference_vs_{reference}"] = result.difference
                    values[f"{metric}_p_vs_{reference}"] = result.p_value
            rows += _rows(m.method, "behaviour_heldout", values)
        rows += _rows("ceiling", "behaviour_heldout", {"choice_accuracy": comparison.ceiling})
    return Evaluation(pd.DataFrame(rows), dict(models), ks, test, unit_ks)


def fit_methods(model: Any, train: TrialSpikes, *, baselines: bool = True, objectives: bool = False,
                callback: Callable[[int, float], None] | None = None,
                on_step: Callable[[str], None] | None = None, **fit_kwargs: Any) -> dict[str, Any]:
    """Fit ``model`` on the training trials, and the comparisons.

    Always (when ``model`` fits both terms with the corrected likelihood) the same model fitted to
    the neural term only (``nnpoisson_neural_only``: the behaviour heads read a neural layer that
    behaviour did not shape, so its choices show what the neural code carries); with
    ``baselines`` the PSTH and GLM baselines, per region and per unit; with ``objectives`` also
    the behaviour-only fit.
    """
    from . import point_process as pp

    out: dict[str, Any] = {}
    if on_step is not None:
        on_step("fitting nnpoisson")
    out["nnpoisson"] = model.fit(train, callback=callback, **fit_kwargs)
    others = []
    if model.objective == "joint" and not model.settings.faithful:
        others.append("neural")
    if objectives:
        others += [o for o in ("neural", "behaviour") if o not in others]
    for objective in others:
        if on_step is not None:
            on_step(f"fitting nnpoisson ({objective} only)")
        # the joint fit's J, not a second search: the two differ only in the objective
        params = {**model.get_params(), "objective": objective, "components": model.meta_["components"]}
        out[f"nnpoisson_{objective}_only"] = type(model)(**params).fit(train)
    if baselines:
        if on_step is not None:
            on_step("fitting baselines")
        out["psth"] = pp.PSTHPoisson().fit(train)
        out["psth_unit"] = pp.PSTHPoisson(per="unit").fit(train)
        out["glm"] = pp.RaisedCosineGLM().fit(train)
        out["glm_unit"] = pp.RaisedCosineGLM(per="unit").fit(train)
    return out


__all__ = ["Evaluation", "TrialSplit", "fit_methods", "score_methods", "split_trials"]
