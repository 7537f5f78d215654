"""Baseline point-process models of trial-aligned regional spiking (and of behaviour).

Each implements :class:`~.metrics.IntensityModel` and has ``fit(data) -> self``:

* :class:`HomogeneousPoisson`: one constant per-neuron rate per region (the bits/spike reference);
  also a stimulus-blind behaviour baseline (pooled choice frequencies and RT distribution);
* :class:`PSTHPoisson`: the peri-stimulus time histogram of each region and stimulus condition,
  and the empirical choice frequencies and RT distribution of each condition;
* :class:`RaisedCosineGLM`: a Poisson GLM per region on a raised-cosine basis of time in the window
  and its products with the stimulus features (fitted with nemos; smooth in t, and it generalises
  to unseen stimuli).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ...io.trials import TrialSpikes

log = logging.getLogger(__name__)


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


# -- homogeneous ------------------------------------------------------------------------------------
class HomogeneousPoisson:
    """One constant per-neuron rate per region, over all training trials and the whole window.

    The reference of :func:`~.metrics.bits_per_spike`. As a behaviour model it ignores the
    stimulus: the pooled choice frequencies and RT distribution of the training trials.

    Parameters
    ----------
    alpha
        Dirichlet smoothing of the choice frequencies (pseudo-trials per outcome).

    Attributes
    ----------
    rate_
        Per-neuron rate of each region (Hz). Shape (regions,).
    """

    def __init__(self, alpha: float = 0.5) -> None:
        self.alpha = alpha

    def fit(self, data: TrialSpikes) -> HomogeneousPoisson:
        spikes = np.bincount(data.spike_region, minlength=data.n_regions).astype(np.float64)
        exposure = np.maximum(data.neurons, 1) * data.n_trials * data.window
        self.rate_ = spikes / exposure
        if (self.rate_ == 0).any():
            log.warning("regions without training spikes (%s): rate floored", np.array(data.regions)[self.rate_ == 0])
            self.rate_ = np.maximum(self.rate_, 1e-3 / data.window)
        self.regions_ = list(data.regions)
        self.window_ = data.window
        self._behaviour = _EmpiricalBehaviour(data, np.zeros(data.n_trials, dtype=np.int64), 0, self.alpha)
        log.info("homogeneous Poisson: %s Hz per neuron", dict(zip(self.regions_, np.round(self.rate_, 3))))
        return self

    def region_log_intensity(self, data: TrialSpikes) -> np.ndarray:
        """Shapes: returns (spikes,)."""
        _fitted(self, data)
        return np.log(self.rate_)[data.spike_region]

    def region_cumulative(self, data: TrialSpikes, times: np.ndarray) -> np.ndarray:
        """Shapes: times (trials, m) -> (trials, m, regions)."""
        _fitted(self, data)
        return np.clip(np.asarray(times, dtype=np.float64), 0.0, None)[..., None] * self.rate_

    def intensity_curves(self, stimulus: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """Shapes: stimulus (C, features), grid (m,) -> (C, regions, m)."""
        n = len(np.asarray(stimulus))
        return np.broadcast_to(self.rate_[None, :, None], (n, len(self.rate_), len(grid))).copy()

    def choice_probabilities(self, data: TrialSpikes) -> np.ndarray:
        """Shapes: returns (trials, actions + 1)."""
        _fitted(self, data)
        return self._behaviour.choice_probabilities(data, np.zeros(data.n_trials, dtype=np.int64))

    def rt_cdf(self, data: TrialSpikes, grid: np.ndarray) -> np.ndarray:
        """Shapes: grid (m,) -> (trials, m)."""
        _fitted(self, data)
        return self._behaviour.rt_cdf(np.zeros(data.n_trials, dtype=np.int64), grid)


# -- PSTH -------------------------------------------------------------------------------------------
class PSTHPoisson:
    """Piecewise-constant per-neuron rate of each region and stimulus condition (the PSTH).

    Fitted on the training trials: the spikes of a region's units in each time bin of the window,
    over the trials of each distinct stimulus, divided by units × trials × bin width. A stimulus
    not seen in training gets the PSTH pooled over all conditions. ``floor`` spikes per neuron per
    window, spread over the window, are added to every rate so that an empty bin does not give
    log 0 on new data.

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

    Attributes
    ----------
    rate_
        Per-neuron rates (Hz), each training condition then the pooled PSTH.
    edges_
        Bin edges (s).

    Shapes
    ------
    rate_ : (conditions + 1, regions, bins)
    edges_ : (bins + 1,)
    """

    def __init__(self, bin_width: float | None = None, floor: float = 1e-3, alpha: float = 0.5) -> None:
        self.bin_width = bin_width
        self.floor = floor
        self.alpha = alpha

    def fit(self, data: TrialSpikes) -> PSTHPoisson:
        w = data.window
        width = self.bin_width if self.bin_width is not None else w / 20
        if not width > 0:
            raise ValueError(f"bin_width must be positive, got {width}")
        n_bins = max(1, int(np.ceil(w / width - 1e-9)))
        self.width_ = width
        self.edges_ = np.minimum(np.arange(n_bins + 1) * width, w)
        unique, condition = data.conditions()
        n_cond, n_regions = len(unique), data.n_regions
        self._index = _ConditionIndex(unique)
        spike_bin = self._bin(data.spike_time)
        flat = (condition[data.spike_trial] * n_regions + data.spike_region) * n_bins + spike_bin
        counts = np.bincount(flat, minlength=n_cond * n_regions * n_bins).reshape(n_cond, n_regions, n_bins)
        counts = np.concatenate([counts, counts.sum(axis=0, keepdims=True)]).astype(np.float64)
        trials = np.append(np.bincount(condition, minlength=n_cond), data.n_trials).astype(np.float64)
        widths = np.diff(self.edges_)
        exposure = trials[:, None, None] * np.maximum(data.neurons, 1)[None, :, None] * widths[None, None, :]
        self.rate_ = counts / exposure + self.floor / w
        self.cum_ = np.concatenate([np.zeros((n_cond + 1, n_regions, 1)),
                                    np.cumsum(self.rate_ * widths, axis=2)], axis=2)
        self.regions_ = list(data.regions)
        self.conditions_ = unique
        self._behaviour = _EmpiricalBehaviour(data, condition, n_cond, self.alpha)
        log.info("PSTH: %d conditions × %d regions × %d bins of %.3g s", n_cond, n_regions, n_bins, width)
        return self

    def _bin(self, t: np.ndarray) -> np.ndarray:
        return np.clip(np.floor(np.asarray(t) / self.width_).astype(np.int64), 0, len(self.edges_) - 2)

    def region_log_intensity(self, data: TrialSpikes) -> np.ndarray:
        """Shapes: returns (spikes,)."""
        _fitted(self, data)
        index = self._index(data.stimulus)
        return np.log(self.rate_[index[data.spike_trial], data.spike_region, self._bin(data.spike_time)])

    def region_cumulative(self, data: TrialSpikes, times: np.ndarray) -> np.ndarray:
        """Exact integral of the piecewise-constant rate (the last bin's rate continues past W).

        Shapes: times (trials, m) -> (trials, m, regions).
        """
        _fitted(self, data)
        t = np.clip(np.asarray(times, dtype=np.float64), 0.0, None)
        index = self._index(data.stimulus)[:, None, None]
        b = self._bin(t)[..., None]
        k = np.arange(len(self.regions_))[None, None, :]
        return self.cum_[index, k, b] + self.rate_[index, k, b] * (t[..., None] - self.edges_[b])

    def intensity_curves(self, stimulus: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """Shapes: stimulus (C, features), grid (m,) -> (C, regions, m)."""
        return self.rate_[self._index(stimulus)][:, :, self._bin(grid)]

    def choice_probabilities(self, data: TrialSpikes) -> np.ndarray:
        """Shapes: returns (trials, actions + 1)."""
        _fitted(self, data)
        return self._behaviour.choice_probabilities(data, self._index(data.stimulus))

    def rt_cdf(self, data: TrialSpikes, grid: np.ndarray) -> np.ndarray:
        """Shapes: grid (m,) -> (trials, m)."""
        _fitted(self, data)
        return self._behaviour.rt_cdf(self._index(data.stimulus), grid)


# -- raised-cosine GLM ------------------------------------------------------------------------------
class RaisedCosineGLM:
    """A Poisson GLM of each region's pooled spike counts on a raised-cosine basis of time.

    Design (per trial and time bin of the training trials): the ``n_basis`` raised cosines
    B(t) over the window [0, W] (nemos ``RaisedCosineLinearEval``), then their products with each
    standardised stimulus feature, B(t)·s_f. The count of all of a region's units in a bin is
    Poisson with mean exp(x·w + b); the per-neuron rate is that over bin width × units, which the
    intercept absorbs: log λ_k(t | s) = B(t)·(w_0 + Σ_f s_f w_f) + b − log(bin width · n_k).

    The intensity is evaluated at exact spike times through the basis (continuous in t), and Λ
    by the trapezoid rule on ``n_grid`` points over the window, linearly interpolated. The stimulus
    enters log-linearly: a rate that depends on |s| (or otherwise non-monotonically) is beyond it.

    Parameters
    ----------
    n_basis
        Raised-cosine functions over the window.
    bin_width
        Bin width of the fit (s); rounded so that it divides the window.
    regularizer_strength
        Ridge strength (nemos' loss is the mean negative log-likelihood per bin).
    n_grid
        Points of the trapezoid grid of Λ.
    solver_name
        nemos solver. BFGS converged in about half the time of LBFGS here (151 against 336
        steps, 1.8 s against 4.1 s for 300 trials × 100 bins × 3 regions); nemos' default
        (GradientDescent) did not converge within its defaults.

    Attributes
    ----------
    coef_, intercept_
        Fitted weights per region: time basis first, then its product with each feature.

    Shapes
    ------
    coef_ : (regions, 1 + features, n_basis)
    intercept_ : (regions,)
    """

    def __init__(self, n_basis: int = 8, bin_width: float = 0.01, regularizer_strength: float = 1e-4,
                 n_grid: int = 1001, solver_name: str = "BFGS") -> None:
        self.n_basis = n_basis
        self.bin_width = bin_width
        self.regularizer_strength = regularizer_strength
        self.n_grid = n_grid
        self.solver_name = solver_name

    def _basis(self, t: np.ndarray) -> np.ndarray:
        """The raised cosines at ``t`` (continuous). Shapes: (n,) -> (n, n_basis)."""
        # the Eval basis is NaN outside its bounds: evaluate at the window's edge past it
        t = np.clip(np.asarray(t, dtype=np.float64).ravel(), 0.0, self.window_)
        # jax compiles the evaluation once per input length (~0.5 s each): pad to a power of two so
        # that a handful of lengths serve every call
        size = max(64, 1 << int(np.ceil(np.log2(max(len(t), 1)))))
        padded = np.zeros(size)
        padded[:len(t)] = t
        return np.asarray(self.basis_.compute_features(padded), dtype=np.float64)[:len(t)]

    def _features(self, stimulus: np.ndarray) -> np.ndarray:
        s = np.asarray(stimulus, dtype=np.float64).reshape(len(stimulus), -1)[:, self.keep_]
        return (s - self.mean_) / self.scale_

    def fit(self, data: TrialSpikes) -> RaisedCosineGLM:
        try:
            import nemos as nmo  # brings jax: only when a GLM is fitted
        except ImportError:
            from ...errors import UsageError

            raise UsageError("the Poisson GLM baseline needs nemos: pip install 'nwb-tavrnn[nnpoisson]' "
                             "(or leave the baselines out: --no-baselines)") from None

        start = time.perf_counter()
        w = data.window
        n_bins = max(1, round(w / self.bin_width))
        width = w / n_bins
        self.window_ = w
        self.basis_ = nmo.basis.RaisedCosineLinearEval(self.n_basis, bounds=(0.0, w))
        centres = (np.arange(n_bins) + 0.5) * width
        b = self._basis(centres)  # (bins, n_basis)
        # a constant feature only duplicates the time basis: left out (and it cannot be standardised)
        scale = data.stimulus.std(axis=0)
        self.keep_ = scale > 0
        self.mean_ = data.stimulus[:, self.keep_].mean(axis=0)
        self.scale_ = scale[self.keep_]
        s = self._features(data.stimulus)  # (trials, F)
        n_feat = s.shape[1]
        blocks = [np.tile(b, (data.n_trials, 1))]
        blocks += [np.repeat(s[:, f], n_bins)[:, None] * blocks[0] for f in range(n_feat)]
        x = np.concatenate(blocks, axis=1).astype(np.float32)  # (trials * bins, n_basis * (1 + F))
        spike_bin = np.clip(np.floor(data.spike_time / width).astype(np.int64), 0, n_bins - 1)
        n_regions = data.n_regions
        flat = (data.spike_trial * n_bins + spike_bin) * n_regions + data.spike_region
        y = np.bincount(flat, minlength=data.n_trials * n_bins * n_regions).reshape(-1, n_regions)
        # the regions' GLMs share the design and not a parameter: one PopulationGLM fits them all at
        # once, in one compilation and one solver run (a GLM per region took three times as long)
        glm = nmo.glm.PopulationGLM(observation_model="Poisson", regularizer="Ridge",
                                    regularizer_strength=self.regularizer_strength, solver_name=self.solver_name)
        glm.fit(x, y.astype(np.float32))
        self.coef_ = np.asarray(glm.coef_, dtype=np.float64).T.reshape(n_regions, 1 + n_feat, self.n_basis)
        self.intercept_ = np.asarray(glm.intercept_, dtype=np.float64).ravel()
        self.offset_ = self.intercept_ - np.log(width * np.maximum(data.neurons, 1))
        self.regions_ = list(data.regions)
        self.grid_ = np.linspace(0.0, w, self.n_grid)
        self._grid_basis = self._basis(self.grid_)
        log.info("raised-cosine GLM: %d regions, %d rows × %d columns, fitted in %.1f s", n_regions, x.shape[0],
                 x.shape[1], time.perf_counter() - start)
        return self

    def _weights(self, features: np.ndarray) -> np.ndarray:
        """Effective basis weights of each stimulus: w_0 + Σ_f s_f w_f. Shapes: (n, F) -> (n, regions, n_basis)."""
        return self.coef_[None, :, 0, :] + np.einsum("nf,rfb->nrb", features, self.coef_[:, 1:, :])

    def region_log_intensity(self, data: TrialSpikes) -> np.ndarray:
        """Shapes: returns (spikes,)."""
        _fitted(self, data)
        weights = self._weights(self._features(data.stimulus))  # (trials, regions, n_basis)
        region = data.spike_region
        eff = weights[data.spike_trial, region]  # (spikes, n_basis)
        return np.einsum("sb,sb->s", self._basis(data.spike_time), eff) + self.offset_[region]

    def intensity_curves(self, stimulus: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """Shapes: stimulus (C, features), grid (m,) -> (C, regions, m)."""
        return self._curves(self._features(stimulus), self._basis(grid))

    def _curves(self, features: np.ndarray, basis: np.ndarray) -> np.ndarray:
        log_rate = np.einsum("nrb,mb->nrm", self._weights(features), basis) + self.offset_[None, :, None]
        return np.exp(log_rate)

    def region_cumulative(self, data: TrialSpikes, times: np.ndarray) -> np.ndarray:
        """Λ by the trapezoid rule on the fine grid, interpolated linearly (extrapolated past W).

        Shapes: times (trials, m) -> (trials, m, regions).
        """
        _fitted(self, data)
        unique, which = np.unique(data.stimulus, axis=0, return_inverse=True)
        rate = self._curves(self._features(unique), self._grid_basis)  # (U, regions, grid)
        step = self.grid_[1] - self.grid_[0]
        cum = np.concatenate([np.zeros(rate.shape[:2] + (1,)),
                              np.cumsum(0.5 * step * (rate[..., 1:] + rate[..., :-1]), axis=-1)], axis=-1)
        t = np.clip(np.asarray(times, dtype=np.float64), 0.0, None)
        pos = t / step
        i = np.clip(np.floor(pos).astype(np.int64), 0, self.n_grid - 2)
        frac = (pos - i)[..., None]
        c = which.ravel()[:, None, None]
        k = np.arange(len(self.regions_))[None, None, :]
        lo, hi = cum[c, k, i[..., None]], cum[c, k, i[..., None] + 1]
        return lo + frac * (hi - lo)


__all__ = ["HomogeneousPoisson", "PSTHPoisson", "RaisedCosineGLM"]
