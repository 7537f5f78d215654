"""Goodness of fit of point-process models of trial-aligned regional spiking, and of behaviour.

Every model of "stimulus → per-neuron intensity of each region" (NNPoisson and the baselines of
:mod:`.baselines`) implements :class:`IntensityModel`, or, per unit, :class:`UnitIntensityModel`;
models that also predict the choice and the reaction time implement :class:`BehaviourModel` (the
protocols live in :mod:`.protocols` and are re-exported here). The scores here only use those
methods, so any model is scored by the same code; a unit-level model is scored per region through
:func:`~.protocols.region_view` (the mean of its units' intensities):

* :func:`neural_log_likelihood` and :func:`bits_per_spike`: the exact continuous-time Poisson
  log-likelihood of each region, and the gain over a reference model per spike (per-unit versions
  in :mod:`.units`);
* :func:`time_rescaling_ks`: the time-rescaling goodness-of-fit test (Brown et al. 2002), per
  region, per unit, or per region with each unit's own Λ;
* :func:`choice_accuracy`, :func:`rt_ks` (and :func:`rt_mixture_cdf`): behaviour (intervals and
  paired tests between models in :mod:`.behaviour`).

Units count only in the trials where they were observed (``TrialSpikes.observed``): a unit is
charged for its expected spikes there, and nowhere else.

Pure numpy/scipy: no torch, no jax.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import stats

from ...io.trials import TrialSpikes
from .protocols import BehaviourModel, IntensityModel, UnitIntensityModel, region_view

log = logging.getLogger(__name__)

#: Half-width of the 95 % Kolmogorov–Smirnov band is KS_95 / sqrt(n) (large-n limit).
KS_95 = 1.36


# -- results ----------------------------------------------------------------------------------------
@dataclass
class RescalingKS:
    """Time-rescaling KS test of one region, or of one unit.

    Attributes
    ----------
    region
        The region's name (for a unit: its region's).
    statistic, p_value
        Kolmogorov–Smirnov distance of the rescaled values from Uniform(0, 1), and its p-value.
    n
        Rescaled values tested (intervals).
    u
        The rescaled values, sorted (the KS plot's empirical quantiles).
    unit
        The unit's id as text for a per-unit test (``per="unit"``), else None.

    Shapes
    ------
    u : (n,) float64
    """

    region: str
    statistic: float
    p_value: float
    n: int
    u: np.ndarray = field(repr=False)
    unit: str | None = None
    """The unit's id as text, for a per-unit test; None for a region's."""

    @property
    def name(self) -> str:
        """The unit's id for a per-unit test, else the region's name."""
        return self.unit if self.unit is not None else self.region

    @property
    def band(self) -> float:
        """Half-width of the 95 % band of the KS plot, 1.36 / sqrt(n)."""
        return KS_95 / np.sqrt(max(self.n, 1))


@dataclass
class ChoiceScore:
    """How well choice probabilities predict the observed outcomes.

    Attributes
    ----------
    accuracy
        Share of trials whose most probable outcome (an action, or no response) was observed.
    mean_log_probability
        Mean natural log of the probability given to the observed outcome (−inf if some observed
        outcome had probability 0).
    n_trials
        Trials scored.
    """

    accuracy: float
    mean_log_probability: float
    n_trials: int


@dataclass
class KSResult:
    """A one-sample Kolmogorov–Smirnov test: statistic, p-value and sample size."""

    statistic: float
    p_value: float
    n: int


# -- neural scores ----------------------------------------------------------------------------------
def _check_regions(model, data: TrialSpikes) -> None:
    """Refuse data whose regions differ from those the model was fitted on (a silent mix-up otherwise)."""
    regions = getattr(model, "regions_", None)
    if regions is not None and list(regions) != list(data.regions):
        raise ValueError(f"the model was fitted on regions {list(regions)} but the data have {list(data.regions)}")


def _as_region_model(model, data: TrialSpikes) -> IntensityModel:
    """The model, or the region view of a unit-only model over the data's units."""
    return region_view(model, data.unit_region, data.n_regions)


def neural_log_likelihood(model: IntensityModel | UnitIntensityModel, data: TrialSpikes) -> np.ndarray:
    """Exact continuous-time Poisson log-likelihood of each region's spikes, in nats.

    LL_k = Σ_{spikes of region k} log λ_k(t | s) − Σ_trials n_{j,k} (Λ_k(W) − Λ_k(0)), with n_{j,k}
    the units of region k observed in trial j (``data.observed_neurons()``) and W the window.

    Parameters
    ----------
    model
        Any :class:`IntensityModel`, or a :class:`UnitIntensityModel` (scored through its region
        view: λ_k the mean of its units' intensities).
    data
        The trials to score.

    Returns
    -------
    np.ndarray
        Log-likelihood per region (−inf when the model gives intensity 0 at a spike).

    Raises
    ------
    ValueError
        Outputs of the wrong shape, or NaN.

    Shapes
    ------
    returns : (regions,) float64
    """
    _check_regions(model, data)
    model = _as_region_model(model, data)
    n_regions = data.n_regions
    log_lam = np.asarray(model.region_log_intensity(data), dtype=np.float64)
    if log_lam.shape != data.spike_time.shape:
        raise ValueError(f"region_log_intensity returned shape {log_lam.shape}, expected {data.spike_time.shape}")
    if np.isnan(log_lam).any():
        raise ValueError("region_log_intensity returned NaN")
    spike_term = np.bincount(data.spike_region, weights=log_lam, minlength=n_regions)
    cum = np.asarray(model.region_cumulative(data, np.full((data.n_trials, 1), data.window)), dtype=np.float64)
    if cum.shape != (data.n_trials, 1, n_regions):
        raise ValueError(f"region_cumulative returned shape {cum.shape}, expected {(data.n_trials, 1, n_regions)}")
    if np.isnan(cum).any():
        raise ValueError("region_cumulative returned NaN")
    observed = data.observed_neurons()
    # a trial where none of a region's units was observed charges nothing (even if the model's Λ is inf)
    with np.errstate(invalid="ignore"):
        charged = np.where(observed > 0, observed * cum[:, 0, :], 0.0)
    return spike_term - charged.sum(axis=0)


def bits_per_spike(model: IntensityModel | UnitIntensityModel, data: TrialSpikes,
                   reference: IntensityModel | UnitIntensityModel) -> np.ndarray:
    """Log-likelihood gain of ``model`` over ``reference`` per spike, in bits, for each region.

    (LL_model − LL_reference) / (spikes_k · ln 2). The reference is normally a
    :class:`~.baselines.HomogeneousPoisson` fitted on the training trials, so 0 means "no better
    than a constant rate" and negative means worse.

    Shapes
    ------
    returns : (regions,) float64 (NaN for a region without spikes)
    """
    gain = neural_log_likelihood(model, data) - neural_log_likelihood(reference, data)
    spikes = np.bincount(data.spike_region, minlength=data.n_regions).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(spikes > 0, gain / (spikes * np.log(2.0)), np.nan)


def time_rescaling_ks(model: IntensityModel | UnitIntensityModel, data: TrialSpikes, *,
                      per: Literal["region", "unit", "unit_pooled"] = "region",
                      censored: Literal["randomise", "drop"] = "randomise", seed: int = 0,
                      max_elements: int = 8_000_000) -> list[RescalingKS]:
    """Time-rescaling goodness-of-fit test of each region, or of each unit (Brown et al. 2002).

    For each unit and trial with spikes t_1 < … < t_n in ``[0, W)``, z_i = Λ(t_i) − Λ(t_{i−1})
    (t_0 = 0) are independent Exp(1) under the model, so u_i = 1 − exp(−z_i) are Uniform(0, 1);
    the u are tested against the uniform law (KS), pooled as ``per`` says:

    * ``"region"`` (default): Λ is the unit's region's per-neuron Λ_k (``region_cumulative``; a
      unit-level model through its region view, the mean of its units' Λ_i), the u of all units
      and trials of a region pooled: one test per region;
    * ``"unit"``: Λ is the unit's own Λ_i (``unit_cumulative``; a region-level model gives each
      unit its region's), one test per unit, in the order of ``data.unit_ids``;
    * ``"unit_pooled"``: each unit's own Λ_i, the u of a region's units pooled: one test per
      region, which a model whose units of a region differ passes and its region average does not.
      For a region-level model it is the ``"region"`` test.

    The window cuts the last interval: only the intervals that end inside it are complete, and
    they are biased short (the pooled survival is e^{−z}(1 − z/Λ(W)), not e^{−z}: a KS distance of
    about 0.37/Λ(W), which rejects the true model once there are tens of thousands of intervals).
    With ``censored="randomise"`` (the default) each unit and trial also contributes its censored
    final interval z_c = Λ(W) − Λ(t_n), completed at random as u = 1 − e^{−z_c} V with V uniform:
    by the memorylessness of the rescaled process this is distributed as the crossing interval,
    and the pooled values are then exactly uniform in expectation. ``censored="drop"`` is the
    textbook version (complete intervals only), deterministic. Only the (trial, unit) pairs where
    the unit was observed (``data.observation()``) have a censored interval.

    Parameters
    ----------
    model
        Any :class:`IntensityModel` or :class:`UnitIntensityModel`.
    data
        The trials to test.
    per
        ``region``, ``unit`` or ``unit_pooled`` (see above).
    censored
        ``randomise`` or ``drop`` (see above).
    seed
        Seed of the random completion of the censored intervals (the same draws whatever ``per``).
    max_elements
        Largest (trials × m × columns) array asked of the cumulative intensity at once (columns:
        regions, or units with the unit Λ); the trials are taken in chunks beyond it.

    Returns
    -------
    list of RescalingKS
        One per region, in the order of ``data.regions``; with ``per="unit"``, one per unit, in the
        order of the units, named by ``unit`` (the unit id as text; ``region`` its region).

    Shapes
    ------
    returns[k].u : (n_k,) sorted
    """
    if per not in ("region", "unit", "unit_pooled"):
        raise ValueError(f"per must be 'region', 'unit' or 'unit_pooled', got {per!r}")
    if censored not in ("randomise", "drop"):
        raise ValueError(f"censored must be 'randomise' or 'drop', got {censored!r}")
    _check_regions(model, data)
    region_level = not isinstance(model, UnitIntensityModel) or (
        getattr(model, "per", None) == "region" and isinstance(model, IntensityModel))
    if per == "region" or region_level:
        # a region-level model's Λ_i is its region's: the region Λ serves every unit (units × cheaper;
        # a baseline fitted per="region" says so through its ``per``)
        cumulative, column, what = _as_region_model(model, data).region_cumulative, data.unit_region, "region"
    else:
        cumulative, column, what = model.unit_cumulative, np.arange(data.n_units), "unit"
    u, u_unit = _rescaled_values(cumulative, column, what, data, censored, seed, max_elements)
    if per == "unit":
        return [_ks_result(u[u_unit == i], data.regions[k], str(uid))
                for i, (k, uid) in enumerate(zip(data.unit_region, data.unit_ids))]
    u_region = data.unit_region[u_unit]
    return [_ks_result(u[u_region == k], name) for k, name in enumerate(data.regions)]


def pool_units_by_region(per_unit: list[RescalingKS], data: TrialSpikes) -> list[RescalingKS]:
    """The ``per="unit_pooled"`` tests from the ``per="unit"`` ones (the same values, pooled per
    region), without evaluating the model again.

    Shapes
    ------
    per_unit : one per unit, in the order of ``data.unit_ids`` -> one per region
    """
    return [_ks_result(np.concatenate([res.u for res, r in zip(per_unit, data.unit_region) if r == k]
                                      or [np.zeros(0)]), name) for k, name in enumerate(data.regions)]


def _ks_result(values: np.ndarray, region: str, unit: str | None = None) -> RescalingKS:
    values = np.sort(values)
    if len(values) == 0:
        return RescalingKS(region, np.nan, np.nan, 0, values, unit)
    test = stats.kstest(values, "uniform")
    log.debug("time rescaling %s: KS %.4f, p %.3g, %d values", unit if unit is not None else region,
              test.statistic, test.pvalue, len(values))
    return RescalingKS(region, float(test.statistic), float(test.pvalue), len(values), values, unit)


def _rescaled_values(cumulative, column: np.ndarray, what: str, data: TrialSpikes, censored: str, seed: int,
                     max_elements: int) -> tuple[np.ndarray, np.ndarray]:
    """The rescaled values u of every interval, and the unit of each.

    ``cumulative(part, times)`` returns Λ at ``times`` in one column per region or unit; unit i's
    is column ``column[i]``.

    Shapes
    ------
    column : (units,)
    returns : (values,) float64, (values,) int64
    """
    n_trials, n_units = data.n_trials, data.n_units
    n_columns = n_units if what == "unit" else data.n_regions
    order = np.lexsort((data.spike_time, data.spike_unit, data.spike_trial))
    trial, unit, t = data.spike_trial[order], data.spike_unit[order], data.spike_time[order]
    col = column[unit]
    # each trial's spikes (all units) side by side in one padded row, and W last: one call per chunk
    per_trial = np.bincount(trial, minlength=n_trials)
    first = np.concatenate([[0], np.cumsum(per_trial)[:-1]])
    position = np.arange(len(t)) - first[trial]
    width = int(per_trial.max(initial=0)) + 1
    times = np.zeros((n_trials, width))  # padding at t = 0 is never read
    times[trial, position] = t
    times[:, -1] = data.window
    cum_at_spike = np.empty(len(t))
    cum_at_end = np.empty((n_trials, n_columns))
    chunk = max(1, max_elements // (width * max(n_columns, 1)))
    for start in range(0, n_trials, chunk):
        rows = np.arange(start, min(start + chunk, n_trials))
        part = data if len(rows) == n_trials else data.subset(rows)
        cum = np.asarray(cumulative(part, times[rows]), dtype=np.float64)
        if cum.shape != (len(rows), width, n_columns):
            raise ValueError(f"{what}_cumulative returned shape {cum.shape}, expected {(len(rows), width, n_columns)}")
        sel = (trial >= rows[0]) & (trial <= rows[-1])
        cum_at_spike[sel] = cum[trial[sel] - rows[0], position[sel], col[sel]]
        cum_at_end[rows] = cum[:, -1, :]
    # the previous spike of the same unit in the same trial (sorted by trial, unit, time), or t_0 = 0
    new_train = np.ones(len(t), dtype=bool)
    new_train[1:] = (trial[1:] != trial[:-1]) | (unit[1:] != unit[:-1])
    previous = np.where(new_train, 0.0, np.roll(cum_at_spike, 1))
    z = cum_at_spike - previous
    if (z < -1e-9 * np.maximum(np.abs(cum_at_spike), 1.0)).any():
        log.warning("time rescaling: the model's cumulative intensity decreases between %d spike pairs",
                    int((z < 0).sum()))
    u = -np.expm1(-z)
    u_unit = unit
    if censored == "randomise":
        # Λ of each unit's last spike in each trial (0 without spikes), then the censored interval to W
        last = np.zeros((n_trials, n_units))
        is_last = np.ones(len(t), dtype=bool)
        is_last[:-1] = new_train[1:]
        last[trial[is_last], unit[is_last]] = cum_at_spike[is_last]
        z_c = cum_at_end[:, column] - last  # (trials, units)
        # drawn for every pair, observed or not: the same draws as without a mask
        v = np.random.default_rng(seed).uniform(size=z_c.shape)
        observed = data.observation()
        censored_u = -np.expm1(-z_c[observed]) + np.exp(-z_c[observed]) * v[observed]
        u = np.concatenate([u, censored_u])
        u_unit = np.concatenate([unit, np.nonzero(observed)[1]])
    return u, u_unit


# -- behaviour --------------------------------------------------------------------------------------
def _observed_column(data: TrialSpikes) -> np.ndarray:
    """Each trial's outcome as a column of the choice probabilities: the action, or the last (none)."""
    return np.where(data.choice >= 0, data.choice, data.n_actions)


def choice_accuracy(probabilities: np.ndarray, data: TrialSpikes) -> ChoiceScore:
    """Accuracy of the most probable outcome, and the mean log-probability of the observed one.

    Parameters
    ----------
    probabilities
        A :meth:`BehaviourModel.choice_probabilities` output for ``data``: one column per action
        and a last one for "no response within W" (which matches choice −1).
    data
        The trials, with their observed choices.

    Shapes
    ------
    probabilities : (trials, actions + 1)
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.shape != (data.n_trials, data.n_actions + 1):
        raise ValueError(f"choice probabilities of shape {p.shape}, expected {(data.n_trials, data.n_actions + 1)} "
                         "(a column per action, then no response)")
    observed = _observed_column(data)
    rows = np.arange(data.n_trials)
    with np.errstate(divide="ignore"):
        logp = np.log(p[rows, observed])
    return ChoiceScore(float(np.mean(np.argmax(p, axis=1) == observed)), float(np.mean(logp)), data.n_trials)


def rt_mixture_cdf(model: BehaviourModel, data: TrialSpikes, grid: np.ndarray) -> np.ndarray:
    """The model's RT distribution given a response within W, pooled over the responded trials.

    F(t) = mean over responded trials j of rt_cdf_j(t) / rt_cdf_j(W): what the empirical CDF of
    the observed RTs estimates under the model.

    Shapes
    ------
    grid : (m,) s after onset
    returns : (m,) float64
    """
    grid = np.asarray(grid, dtype=np.float64)
    sub = data.subset(np.flatnonzero((data.choice >= 0) & np.isfinite(data.rt)))
    if sub.n_trials == 0:
        raise ValueError("no trial has a response: no RT distribution to compare")
    values = np.asarray(model.rt_cdf(sub, np.append(grid, data.window)), dtype=np.float64)
    return (values[:, :-1] / _response_probability(values[:, -1])[:, None]).mean(axis=0)


def _response_probability(total: np.ndarray) -> np.ndarray:
    if (total <= 0).any():
        log.warning("the model gives %d responded trials no chance of a response within W", int((total <= 0).sum()))
    return np.maximum(total, 1e-300)


def rt_ks(model: BehaviourModel, data: TrialSpikes, grid: np.ndarray, *,
          method: Literal["mixture", "pit"] = "mixture") -> KSResult:
    """KS test of the observed reaction times against the model's, given a response within W.

    ``mixture``: the RTs of the responded trials against the mixture over those trials of
    rt_cdf(t) / rt_cdf(W) (:func:`rt_mixture_cdf`), interpolated linearly on ``grid`` (0 and W
    added), with :func:`scipy.stats.kstest`. As the trials' laws differ, this is conservative.
    ``pit``: each RT through its own trial's conditional CDF, F_j(rt_j) / F_j(W), which is
    Uniform(0, 1) under the model; KS against the uniform law (exact, and more powerful).

    Parameters
    ----------
    model
        A :class:`BehaviourModel`.
    data
        The trials; only those with a response are used.
    grid
        Times (s after onset) where ``rt_cdf`` is evaluated; fine enough for linear interpolation.

    Shapes
    ------
    grid : (m,)
    """
    if method not in ("mixture", "pit"):
        raise ValueError(f"method must be 'mixture' or 'pit', got {method!r}")
    w = data.window
    grid = np.asarray(grid, dtype=np.float64)
    grid = np.unique(np.concatenate([[0.0], grid[(grid >= 0) & (grid <= w)], [w]]))
    responded = np.flatnonzero((data.choice >= 0) & np.isfinite(data.rt))
    if len(responded) == 0:  # nothing to compare (e.g. a test block without responses): no score, not an error
        log.warning("no test trial has a response within the window: no RT distribution to compare")
        return KSResult(statistic=float("nan"), p_value=float("nan"), n=0)
    sub = data.subset(responded)
    values = np.asarray(model.rt_cdf(sub, grid), dtype=np.float64)
    if values.shape != (sub.n_trials, len(grid)):
        raise ValueError(f"rt_cdf returned shape {values.shape}, expected {(sub.n_trials, len(grid))}")
    conditional = np.clip(values / _response_probability(values[:, -1])[:, None], 0.0, 1.0)
    # a CDF: non-decreasing (np.interp and kstest assume it; guards against rounding in a model's output)
    conditional = np.maximum.accumulate(conditional, axis=1)
    if method == "mixture":
        mixture = conditional.mean(axis=0)
        test = stats.kstest(sub.rt, lambda x: np.interp(x, grid, mixture, left=0.0, right=1.0))
    else:
        i = np.clip(np.searchsorted(grid, sub.rt, side="right") - 1, 0, len(grid) - 2)
        frac = np.clip((sub.rt - grid[i]) / (grid[i + 1] - grid[i]), 0.0, 1.0)
        rows = np.arange(sub.n_trials)
        pit = conditional[rows, i] + frac * (conditional[rows, i + 1] - conditional[rows, i])
        test = stats.kstest(pit, "uniform")
    return KSResult(float(test.statistic), float(test.pvalue), sub.n_trials)


__all__ = ["KS_95", "BehaviourModel", "ChoiceScore", "IntensityModel", "KSResult", "RescalingKS", "UnitIntensityModel",
           "bits_per_spike", "choice_accuracy", "neural_log_likelihood", "pool_units_by_region", "rt_ks",
           "rt_mixture_cdf", "time_rescaling_ks"]
