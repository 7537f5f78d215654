"""Baseline point-process models of trial-aligned regional spiking (and of behaviour).

Each implements :class:`~.protocols.IntensityModel` and :class:`~.protocols.UnitIntensityModel`
(the first two also :class:`~.protocols.BehaviourModel`), and has ``fit(data) -> self``:

* :class:`HomogeneousPoisson`: one constant per-neuron rate per region (the bits/spike reference),
  or per unit; also a stimulus-blind behaviour baseline (pooled choice frequencies and RT
  distribution);
* :class:`PSTHPoisson`: the peri-stimulus time histogram of each region (or unit) and stimulus
  condition, and the empirical choice frequencies and RT distribution of each condition;
* :class:`~.glm.RaisedCosineGLM` (in :mod:`.glm`): a Poisson GLM per region (or unit) on a
  raised-cosine basis of time in the window and its products with the stimulus features.

``per="region"`` (the default) fits one intensity per region, shared by its units (its unit
methods give each unit its region's). ``per="unit"`` fits one per unit (its region methods give
the mean over the region's units: the per-neuron intensity of their superposition); such a model
scores only trials of the units it was fitted on. Exposure is counted in observed units only
(``TrialSpikes.observed``). The behaviour methods do not depend on ``per``.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np

from ...io.trials import TrialSpikes, unit_averaging
from .protocols import _groups

log = logging.getLogger(__name__)

Per = Literal["region", "unit"]


# -- shared pieces ----------------------------------------------------------------------------------
class _ConditionIndex:
    """Exact-match lookup of stimulus rows among the training conditions; unseen rows get ``pooled``."""

    def __init__(self, unique: np.ndarray) -> None:
        # tuples of floats: -0.0 and 0.0 are the same key, as they are the same stimulus
        self._keys = {tuple(row): i for i, row in enumerate(np.asarray(unique, dtype=np.float64))}
        self.pooled = len(self._keys)

    def __call__(self, stimulus: np.ndarray) -> np.ndarray:
        """Condition index of each row; ``pooled`` (= number of conditions) when not seen in training."""
        rows = np.asarray(stimulus, dtype=np.float64).reshape(len(stimulus), -1)
        index = np.array([self._keys.get(tuple(r), self.pooled) for r in rows], dtype=np.int64)
        unseen = int((index == self.pooled).sum())
        if unseen:
            log.debug("%d stimuli unseen in training: the pooled estimate is used for them", unseen)
        return index


def _fitted(model, data: TrialSpikes) -> None:
    if not hasattr(model, "regions_"):
        raise RuntimeError(f"{type(model).__name__} is not fitted: call fit(training trials) first")
    if list(model.regions_) != list(data.regions):
        raise ValueError(f"{type(model).__name__} was fitted on regions {model.regions_} but the data have "
                         f"{list(data.regions)}")
    if getattr(model, "per", "region") == "unit":
        # a per-unit model's columns are the training units: other units would silently get their rates
        data.check_units(model.unit_ids_, model.unit_region_, f"{type(model).__name__}(per='unit')")


def _check_per(per: str) -> str:
    if per not in ("region", "unit"):
        raise ValueError(f"per must be 'region' or 'unit', got {per!r}")
    return per


class _Columns:
    """The protocols of a baseline whose rates live in one column per region or per unit.

    A subclass fits its rates in columns (``per="region"``: regions; ``per="unit"``: units),
    calls :meth:`_store_units` in ``fit``, and implements ``_log_rate(data, column of each spike)``
    (spikes,), ``_cumulative(data, times)`` (trials, m, columns) and ``_curves(stimulus, grid,
    columns=None)`` (C, columns or the given ones, m). The region and unit methods follow: a region
    column serves each of its units, and a region's intensity from unit columns is the mean over
    its units.
    """

    #: Largest (units × spikes) block of unit intensities evaluated at once for a region's mean.
    _max_elements = 8_000_000

    per: str

    def _store_units(self, data: TrialSpikes) -> None:
        self.regions_ = list(data.regions)
        self.unit_region_ = data.unit_region.copy()
        self.unit_ids_ = np.asarray(data.unit_ids).copy()
        self._averaging = unit_averaging(self.unit_region_, data.n_regions)

    def _n_columns(self, data: TrialSpikes) -> int:
        """Columns of the rates: regions or units."""
        return data.n_regions if self.per == "region" else data.n_units

    def _columns(self, data: TrialSpikes) -> np.ndarray:
        """The column of each spike. Shape (spikes,)."""
        return data.spike_region if self.per == "region" else data.spike_unit

    def _warn_floored(self, data: TrialSpikes, floored: np.ndarray) -> None:
        if floored.any():
            names = np.asarray(data.regions if self.per == "region" else data.unit_ids)[floored]
            log.warning("%s: %d %s without training spikes (%s): rate floored", type(self).__name__,
                        int(floored.sum()), "regions" if self.per == "region" else "units", names[:10].tolist())

    # region protocol
    def region_log_intensity(self, data: TrialSpikes) -> np.ndarray:
        """Shapes: returns (spikes,)."""
        _fitted(self, data)
        if self.per == "region":
            return self._log_rate(data, data.spike_region)
        # the mean of the region's units' λ_i at each spike: per region and stimulus, only its units evaluated
        out = np.empty(len(data.spike_time))
        unique, which = np.unique(data.stimulus, axis=0, return_inverse=True)
        key = data.spike_region * len(unique) + which.ravel()[data.spike_trial]
        for value, spikes in _groups(key):
            k, c = divmod(value, len(unique))
            units = np.flatnonzero(self.unit_region_ == k)
            chunk = max(1, self._max_elements // max(len(units), 1))
            for start in range(0, len(spikes), chunk):
                sel = spikes[start:start + chunk]
                lam = self._curves(unique[c:c + 1], data.spike_time[sel], units)[0]  # (units of k, m)
                with np.errstate(divide="ignore"):
                    out[sel] = np.log(lam.mean(axis=0))
        return out

    def region_cumulative(self, data: TrialSpikes, times: np.ndarray) -> np.ndarray:
        """Shapes: times (trials, m) -> (trials, m, regions)."""
        _fitted(self, data)
        cum = self._cumulative(data, times)
        return cum if self.per == "region" else cum @ self._averaging

    def intensity_curves(self, stimulus: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """Shapes: stimulus (C, features), grid (m,) -> (C, regions, m)."""
        curves = self._curves(stimulus, grid)
        return curves if self.per == "region" else np.einsum("cum,uk->ckm", curves, self._averaging)

    # unit protocol
    def unit_log_intensity(self, data: TrialSpikes) -> np.ndarray:
        """Shapes: returns (spikes,)."""
        _fitted(self, data)
        return self._log_rate(data, self._columns(data))

    def unit_cumulative(self, data: TrialSpikes, times: np.ndarray) -> np.ndarray:
        """Shapes: times (trials, m) -> (trials, m, units)."""
        _fitted(self, data)
        cum = self._cumulative(data, times)
        return cum[..., data.unit_region] if self.per == "region" else cum

    def unit_intensity_curves(self, stimulus: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """Shapes: stimulus (C, features), grid (m,) -> (C, units, m) (the training units)."""
        curves = self._curves(stimulus, grid)
        return curves[:, self.unit_region_, :] if self.per == "region" else curves


def _observed_exposure(data: TrialSpikes, per: str) -> np.ndarray:
    """Observed units of each column in each trial: of each region (``per="region"``), or 0/1 per unit.

    Shapes
    ------
    returns : (trials, regions or units) float64
    """
    return data.observed_neurons() if per == "region" else data.observation().astype(np.float64)


class _EmpiricalBehaviour:
    """Choice frequencies (with Dirichlet smoothing ``alpha``) and the RT distribution given a
    response, per condition and pooled (the last row, used for unseen conditions)."""

    def __init__(self, data: TrialSpikes, condition: np.ndarray, n_conditions: int, alpha: float) -> None:
        self.actions = list(data.actions)
        outcome = np.where(data.choice >= 0, data.choice, data.n_actions)
        n_out = data.n_actions + 1
        counts = np.zeros((n_conditions + 1, n_out))
        if n_conditions:
            np.add.at(counts, (condition, outcome), 1.0)
        counts[-1] = np.bincount(outcome, minlength=n_out)
        # smoothing: an outcome not seen in training still gets a finite log-probability on new trials
        self.probabilities = (counts + alpha) / (counts.sum(axis=1, keepdims=True) + alpha * n_out)
        responded = (data.choice >= 0) & np.isfinite(data.rt)
        pooled = np.sort(data.rt[responded])
        self.rts = [np.sort(data.rt[responded & (condition == c)]) for c in range(n_conditions)] + [pooled]
        # a condition without any response borrows the pooled RT distribution (its weight, 1 − P(none), stays its own)
        self.rts = [r if len(r) else pooled for r in self.rts]

    def choice_probabilities(self, data: TrialSpikes, index: np.ndarray) -> np.ndarray:
        if list(data.actions) != self.actions:
            raise ValueError(f"fitted on actions {self.actions} but the data have {list(data.actions)}")
        return self.probabilities[index].copy()

    def rt_cdf(self, index: np.ndarray, grid: np.ndarray) -> np.ndarray:
        grid = np.asarray(grid, dtype=np.float64)
        table = np.zeros((len(self.rts), len(grid)))
        for c, rts in enumerate(self.rts):
            if len(rts):
                table[c] = np.searchsorted(rts, grid, side="right") / len(rts)
        return (1.0 - self.probabilities[:, -1])[:, None][index] * table[index]


class _BehaviourOfConditions:
    """The behaviour protocol of a baseline whose ``fit`` keeps an :class:`_EmpiricalBehaviour` as
    ``_behaviour``: a subclass says which of its conditions each trial is in (``_trial_conditions``)."""

    _behaviour: _EmpiricalBehaviour

    def _trial_conditions(self, data: TrialSpikes) -> np.ndarray:
        raise NotImplementedError

    def choice_probabilities(self, data: TrialSpikes) -> np.ndarray:
        """Shapes: returns (trials, actions + 1)."""
        _fitted(self, data)
        return self._behaviour.choice_probabilities(data, self._trial_conditions(data))

    def rt_cdf(self, data: TrialSpikes, grid: np.ndarray) -> np.ndarray:
        """Shapes: grid (m,) -> (trials, m)."""
        _fitted(self, data)
        return self._behaviour.rt_cdf(self._trial_conditions(data), grid)


# -- homogeneous ------------------------------------------------------------------------------------
class HomogeneousPoisson(_BehaviourOfConditions, _Columns):
    """One constant per-neuron rate per region (or per unit), over all training trials and the window.

    The reference of :func:`~.metrics.bits_per_spike` (``per="unit"``: of
    :func:`~.units.unit_bits_per_spike`). The rate is the spikes over the observed exposure (units
    observed × trials × W); one without training spikes is floored at 0.001 spikes per window.
    As a behaviour model it ignores the stimulus: the pooled choice frequencies and RT
    distribution of the training trials.

    Parameters
    ----------
    alpha
        Dirichlet smoothing of the choice frequencies (pseudo-trials per outcome).
    per
        ``region`` (a rate per region, shared by its units) or ``unit`` (a rate per unit).

    Attributes
    ----------
    rate_
        Per-neuron rate of each region, or rate of each unit (Hz).

    Shapes
    ------
    rate_ : (regions,) or (units,)
    """

    def __init__(self, alpha: float = 0.5, *, per: Per = "region") -> None:
        self.alpha = alpha
        self.per = _check_per(per)

    def fit(self, data: TrialSpikes) -> HomogeneousPoisson:
        n_columns = self._n_columns(data)
        spikes = np.bincount(self._columns(data), minlength=n_columns).astype(np.float64)
        exposure = np.maximum(_observed_exposure(data, self.per).sum(axis=0), 1) * data.window
        self.rate_ = spikes / exposure
        floored = self.rate_ == 0
        self._warn_floored(data, floored)
        if self.per == "region":
            self.rate_ = np.maximum(self.rate_, 1e-3 / data.window)
        else:  # only the silent units: a rate of one spike in many trials is an estimate, not noise
            self.rate_ = np.where(floored, 1e-3 / data.window, self.rate_)
        self._store_units(data)
        self.window_ = data.window
        self._behaviour = _EmpiricalBehaviour(data, np.zeros(data.n_trials, dtype=np.int64), 0, self.alpha)
        if self.per == "region":
            log.info("homogeneous Poisson: %s Hz per neuron", dict(zip(self.regions_, np.round(self.rate_, 3))))
        else:
            log.info("homogeneous Poisson per unit: %d units, median %.3g Hz", data.n_units,
                     float(np.median(self.rate_)) if data.n_units else np.nan)
        return self

    def _log_rate(self, data: TrialSpikes, column: np.ndarray) -> np.ndarray:
        return np.log(self.rate_)[column]

    def _cumulative(self, data: TrialSpikes, times: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(times, dtype=np.float64), 0.0, None)[..., None] * self.rate_

    def _curves(self, stimulus: np.ndarray, grid: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
        n = len(np.asarray(stimulus))
        rate = self.rate_ if columns is None else self.rate_[columns]
        return np.broadcast_to(rate[None, :, None], (n, len(rate), len(grid))).copy()

    def _trial_conditions(self, data: TrialSpikes) -> np.ndarray:
        """Every trial in the one pooled condition: the stimulus is ignored. Shape (trials,)."""
        return np.zeros(data.n_trials, dtype=np.int64)


# -- PSTH -------------------------------------------------------------------------------------------
class PSTHPoisson(_BehaviourOfConditions, _Columns):
    """Piecewise-constant per-neuron rate of each region (or unit) and stimulus condition (the PSTH).

    Fitted on the training trials: the spikes of a region's units (or of a unit) in each time bin
    of the window, over the trials of each distinct stimulus, divided by the observed units ×
    trials × bin width. A stimulus not seen in training gets the PSTH pooled over all conditions
    (as does a condition in which a unit was never observed). ``floor`` spikes per neuron per
    window, spread over the window, are added to every rate so that an empty bin does not give
    log 0 on new data (a unit without training spikes keeps only the floor).

    As a behaviour model: the smoothed choice frequencies of each condition, and its empirical RT
    distribution given a response (the pooled one for a condition without responses), weighted by
    its 1 − P(none): P(respond by t) = (1 − P(none)) · #(RT ≤ t) / #responses.

    Parameters
    ----------
    bin_width
        Bin width (s); default window / 20. The last bin is shorter if it does not divide W.
    floor
        Spikes per neuron per window added to every rate (spread uniformly).
    alpha
        Dirichlet smoothing of the choice frequencies (pseudo-trials per outcome).
    per
        ``region`` (a PSTH per region, shared by its units) or ``unit`` (a PSTH per unit).

    Attributes
    ----------
    rate_
        Per-neuron rates (Hz), each training condition then the pooled PSTH.
    edges_
        Bin edges (s).

    Shapes
    ------
    rate_ : (conditions + 1, regions or units, bins)
    edges_ : (bins + 1,)
    """

    def __init__(self, bin_width: float | None = None, floor: float = 1e-3, alpha: float = 0.5, *,
                 per: Per = "region") -> None:
        self.bin_width = bin_width
        self.floor = floor
        self.alpha = alpha
        self.per = _check_per(per)

    def fit(self, data: TrialSpikes) -> PSTHPoisson:
        w = data.window
        width = self.bin_width if self.bin_width is not None else w / 20
        if not width > 0:
            raise ValueError(f"bin_width must be positive, got {width}")
        n_bins = max(1, int(np.ceil(w / width - 1e-9)))
        self.width_ = width
        self.edges_ = np.minimum(np.arange(n_bins + 1) * width, w)
        unique, condition = data.conditions()
        n_cond = len(unique)
        n_columns = self._n_columns(data)
        self._index = _ConditionIndex(unique)
        spike_bin = self._bin(data.spike_time)
        flat = (condition[data.spike_trial] * n_columns + self._columns(data)) * n_bins + spike_bin
        counts = np.bincount(flat, minlength=n_cond * n_columns * n_bins).reshape(n_cond, n_columns, n_bins)
        counts = np.concatenate([counts, counts.sum(axis=0, keepdims=True)]).astype(np.float64)
        # observed units × trials of each condition (then pooled), per column
        observed = _observed_exposure(data, self.per)
        units_trials = np.zeros((n_cond + 1, n_columns))
        np.add.at(units_trials, condition, observed)
        units_trials[-1] = observed.sum(axis=0)
        widths = np.diff(self.edges_)
        exposure = units_trials[:, :, None] * widths[None, None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            raw = counts / exposure
        # a column never observed in a condition borrows its pooled PSTH; never observed at all: 0 (+ floor)
        raw = np.where(units_trials[:, :, None] > 0, raw, raw[-1:])
        raw = np.where(np.isfinite(raw), raw, 0.0)
        self._warn_floored(data, counts[-1].sum(axis=1) == 0)
        self.rate_ = raw + self.floor / w
        self.cum_ = np.concatenate([np.zeros((n_cond + 1, n_columns, 1)),
                                    np.cumsum(self.rate_ * widths, axis=2)], axis=2)
        self._store_units(data)
        self.conditions_ = unique
        self._behaviour = _EmpiricalBehaviour(data, condition, n_cond, self.alpha)
        log.info("PSTH: %d conditions × %d %s × %d bins of %.3g s", n_cond, n_columns,
                 "regions" if self.per == "region" else "units", n_bins, width)
        return self

    def _bin(self, t: np.ndarray) -> np.ndarray:
        return np.clip(np.floor(np.asarray(t) / self.width_).astype(np.int64), 0, len(self.edges_) - 2)

    def _log_rate(self, data: TrialSpikes, column: np.ndarray) -> np.ndarray:
        index = self._index(data.stimulus)
        return np.log(self.rate_[index[data.spike_trial], column, self._bin(data.spike_time)])

    def _cumulative(self, data: TrialSpikes, times: np.ndarray) -> np.ndarray:
        """Exact integral of the piecewise-constant rate (the last bin's rate continues past W).

        Shapes: times (trials, m) -> (trials, m, columns).
        """
        t = np.clip(np.asarray(times, dtype=np.float64), 0.0, None)
        index = self._index(data.stimulus)[:, None, None]
        b = self._bin(t)[..., None]
        k = np.arange(self.rate_.shape[1])[None, None, :]
        return self.cum_[index, k, b] + self.rate_[index, k, b] * (t[..., None] - self.edges_[b])

    def _curves(self, stimulus: np.ndarray, grid: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
        rate = self.rate_[self._index(stimulus)]
        if columns is not None:
            rate = rate[:, columns]
        return rate[:, :, self._bin(grid)]

    def _trial_conditions(self, data: TrialSpikes) -> np.ndarray:
        """Each trial's training condition (the pooled one when unseen). Shape (trials,)."""
        return self._index(data.stimulus)


def __getattr__(name: str):
    # RaisedCosineGLM moved to .glm (which imports this module); still importable from here
    if name == "RaisedCosineGLM":
        from .glm import RaisedCosineGLM

        return RaisedCosineGLM
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["HomogeneousPoisson", "PSTHPoisson", "RaisedCosineGLM"]
