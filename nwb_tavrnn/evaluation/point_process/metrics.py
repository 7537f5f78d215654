"""Goodness of fit of point-process models of trial-aligned regional spiking, and of behaviour.

Every model of "stimulus → per-neuron intensity of each region" (NNPoisson and the baselines of
:mod:`.baselines`) implements :class:`IntensityModel`; models that also predict the choice and the
reaction time implement :class:`BehaviourModel`. The scores here only use those methods, so any
model is scored by the same code:

* :func:`neural_log_likelihood` and :func:`bits_per_spike`: the exact continuous-time Poisson
  log-likelihood, and the gain over a reference model per spike;
* :func:`time_rescaling_ks`: the time-rescaling goodness-of-fit test (Brown et al. 2002);
* :func:`choice_accuracy`, :func:`rt_ks` (and :func:`rt_mixture_cdf`): behaviour.

Pure numpy/scipy: no torch, no jax.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from scipy import stats

from ...io.trials import TrialSpikes

log = logging.getLogger(__name__)

#: Half-width of the 95 % Kolmogorov–Smirnov band is KS_95 / sqrt(n) (large-n limit).
KS_95 = 1.36


@runtime_checkable
class IntensityModel(Protocol):
    """A per-neuron inhomogeneous Poisson intensity of each region, given the trial's stimulus.

    Every neuron of region k fires, in the window ``[0, W)`` after each trial's onset, as an
    inhomogeneous Poisson process of intensity λ_k(t | stimulus) (Hz), independently of the others.
    """

    def region_log_intensity(self, data: TrialSpikes) -> np.ndarray:
        """log λ_k(t_spike | stimulus of the spike's trial), k the spike's region, in log Hz.

        Shapes
        ------
        returns : (spikes,) float64
        """
        ...

    def region_cumulative(self, data: TrialSpikes, times: np.ndarray) -> np.ndarray:
        """Λ_k(t) − Λ_k(0) = ∫_0^t λ_k(u | stimulus of the trial) du, per neuron, at ``times``.

        Shapes
        ------
        times : (trials, m) s after each trial's onset
        returns : (trials, m, regions) float64
        """
        ...

    def intensity_curves(self, stimulus: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """λ_k(t | s) per neuron (Hz) of every region on a time grid, for given stimuli.

        Shapes
        ------
        stimulus : (C, features)
        grid : (m,) s after onset
        returns : (C, regions, m) float64
        """
        ...


@runtime_checkable
class BehaviourModel(Protocol):
    """The choice and reaction time of each trial, given its stimulus (and nothing observed later)."""

    def choice_probabilities(self, data: TrialSpikes) -> np.ndarray:
        """P(action a is the first response within W), and, last column, P(no response within W).

        Shapes
        ------
        returns : (trials, actions + 1) float64, rows summing to 1
        """
        ...

    def rt_cdf(self, data: TrialSpikes, grid: np.ndarray) -> np.ndarray:
        """P(a response by t | the trial's stimulus), unconditional: tends to 1 − P(none) at W.

        Shapes
        ------
        grid : (m,) s after onset
        returns : (trials, m) float64
        """
        ...


# -- results ----------------------------------------------------------------------------------------
@dataclass
class RescalingKS:
    """Time-rescaling KS test of one region.

    Attributes
    ----------
    region
        The region's name.
    statistic, p_value
        Kolmogorov–Smirnov distance of the rescaled values from Uniform(0, 1), and its p-value.
    n
        Rescaled values tested (intervals).
    u
        The rescaled values, sorted (the KS plot's empirical quantiles).

    Shapes
    ------
    u : (n,) float64
    """

    region: str
    statistic: float
    p_value: float
    n: int
    u: np.ndarray = field(repr=False)

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


def neural_log_likelihood(model: IntensityModel, data: TrialSpikes) -> np.ndarray:
    """Exact continuous-time Poisson log-likelihood of each region's spikes, in nats.

    LL_k = Σ_{spikes of region k} log λ_k(t | s) − n_k Σ_trials (Λ_k(W) − Λ_k(0)), with n_k the
    units of region k (all observed in every trial) and W the window.

    Parameters
    ----------
    model
        Any :class:`IntensityModel`.
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
    return spike_term - data.neurons * cum[:, 0, :].sum(axis=0)


def bits_per_spike(model: IntensityModel, data: TrialSpikes, reference: IntensityModel) -> np.ndarray:
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


def time_rescaling_ks(model: IntensityModel, data: TrialSpikes, *,
                      censored: Literal["randomise", "drop"] = "randomise", seed: int = 0,
                      max_elements: int = 8_000_000) -> list[RescalingKS]:
    """Time-rescaling goodness-of-fit test of each region (Brown et al. 2002).

    For each unit and trial with spikes t_1 < … < t_n in ``[0, W)``, z_i = Λ(t_i) − Λ(t_{i−1})
    (t_0 = 0) are independent Exp(1) under the model, so u_i = 1 − exp(−z_i) are Uniform(0, 1);
    the u of all units and trials of a region are tested against the uniform law (KS).

    The window cuts the last interval: only the intervals that end inside it are complete, and
    they are biased short (the pooled survival is e^{−z}(1 − z/Λ(W)), not e^{−z}: a KS distance of
    about 0.37/Λ(W), which rejects the true model once there are tens of thousands of intervals).
    With ``censored="randomise"`` (the default) each unit and trial also contributes its censored
    final interval z_c = Λ(W) − Λ(t_n), completed at random as u = 1 − e^{−z_c} V with V uniform:
    by the memorylessness of the rescaled process this is distributed as the crossing interval,
    and the pooled values are then exactly uniform in expectation. ``censored="drop"`` is the
    textbook version (complete intervals only), deterministic.

    Parameters
    ----------
    model
        Any :class:`IntensityModel`.
    data
        The trials to test.
    censored
        ``randomise`` or ``drop`` (see above).
    seed
        Seed of the random completion of the censored intervals.
    max_elements
        Largest (trials × m × regions) array asked of ``region_cumulative`` at once; the trials
        are taken in chunks beyond it.

    Returns
    -------
    list of RescalingKS
        One per region, in the order of ``data.regions``.

    Shapes
    ------
    returns[k].u : (n_k,) sorted
    """
    if censored not in ("randomise", "drop"):
        raise ValueError(f"censored must be 'randomise' or 'drop', got {censored!r}")
    _check_regions(model, data)
    n_trials, n_regions, n_units = data.n_trials, data.n_regions, len(data.unit_region)
    order = np.lexsort((data.spike_time, data.spike_unit, data.spike_trial))
    trial, unit, t = data.spike_trial[order], data.spike_unit[order], data.spike_time[order]
    region = data.unit_region[unit]
    # each trial's spikes (all units) side by side in one padded row, and W last: one call per chunk
    per_trial = np.bincount(trial, minlength=n_trials)
    first = np.concatenate([[0], np.cumsum(per_trial)[:-1]])
    position = np.arange(len(t)) - first[trial]
    width = int(per_trial.max(initial=0)) + 1
    times = np.zeros((n_trials, width))  # padding at t = 0 is never read
    times[trial, position] = t
    times[:, -1] = data.window
    cum_at_spike = np.empty(len(t))
    cum_at_end = np.empty((n_trials, n_regions))
    chunk = max(1, max_elements // (width * max(n_regions, 1)))
    for start in range(0, n_trials, chunk):
        rows = np.arange(start, min(start + chunk, n_trials))
        part = data if len(rows) == n_trials else data.subset(rows)
        cum = np.asarray(model.region_cumulative(part, times[rows]), dtype=np.float64)
        if cum.shape != (len(rows), width, n_regions):
            raise ValueError(f"region_cumulative returned shape {cum.shape}, expected {(len(rows), width, n_regions)}")
        sel = (trial >= rows[0]) & (trial <= rows[-1])
        cum_at_spike[sel] = cum[trial[sel] - rows[0], position[sel], region[sel]]
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
    u_region = region
    if censored == "randomise":
        # Λ of each unit's last spike in each trial (0 without spikes), then the censored interval to W
        last = np.zeros((n_trials, n_units))
        is_last = np.ones(len(t), dtype=bool)
        is_last[:-1] = new_train[1:]
        last[trial[is_last], unit[is_last]] = cum_at_spike[is_last]
        z_c = cum_at_end[:, data.unit_region] - last  # (trials, units)
        v = np.random.default_rng(seed).uniform(size=z_c.shape)
        u = np.concatenate([u, (-np.expm1(-z_c) + np.exp(-z_c) * v).ravel()])
        u_region = np.concatenate([region, np.tile(data.unit_region, n_trials)])
    results = []
    for k, name in enumerate(data.regions):
        values = np.sort(u[u_region == k])
        if len(values) == 0:
            results.append(RescalingKS(name, np.nan, np.nan, 0, values))
            continue
        test = stats.kstest(values, "uniform")
        results.append(RescalingKS(name, float(test.statistic), float(test.pvalue), len(values), values))
        log.debug("time rescaling %s: KS %.4f, p %.3g, %d values", name, test.statistic, test.pvalue, len(values))
    return results


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


__all__ = ["KS_95", "BehaviourModel", "ChoiceScore", "IntensityModel", "KSResult", "RescalingKS", "bits_per_spike",
           "choice_accuracy", "neural_log_likelihood", "rt_ks", "rt_mixture_cdf", "time_rescaling_ks"]
