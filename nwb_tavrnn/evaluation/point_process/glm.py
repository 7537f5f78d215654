"""A raised-cosine Poisson GLM baseline of trial-aligned spiking, per region or per unit.

:class:`RaisedCosineGLM` implements the region and unit protocols (not behaviour); see
:mod:`.baselines` for ``per``. Its region fit without an
observation mask is nemos' ``PopulationGLM``; the fits that need an exposure per row (a unit
observed in some trials only, or a region whose observed units change between trials) and the
per-unit fit use :func:`fit_poisson_glm`, a Newton solver of the same penalised objective with
offsets, which nemos (0.2) does not take.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ...io.trials import TrialSpikes
from .baselines import Per, _check_per, _Columns, _observed_exposure

log = logging.getLogger(__name__)

#: Largest (stimuli × columns × grid) array of rates computed at once for Λ.
_MAX_ELEMENTS = 8_000_000


def fit_poisson_glm(x: np.ndarray, y: np.ndarray, exposure: np.ndarray, n_rows: np.ndarray, strength: float, *,
                    max_iter: int = 100, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray, bool]:
    """Ridge Poisson GLMs of several columns on one design, with an exposure per row and column.

    Each column c minimises (1/n_c) Σ_r [e_rc exp(x_r·w_c + b_c) − y_rc (x_r·w_c + b_c)]
    + ½ strength ‖w_c‖² (the intercept b_c not penalised): nemos' Poisson loss (the mean over rows
    of the negative log-likelihood) and Ridge penalty, with y_rc Poisson of mean e_rc exp(x_r·w_c +
    b_c). Rows that stand for several identical rows carry their summed counts and exposures, and
    ``n_rows`` counts the rows they stand for. Newton's method with backtracking, all columns at
    once (the problem is convex).

    Parameters
    ----------
    x
        The design (no intercept column).
    y, exposure
        Counts and exposures (≥ 0; 0: a row that does not count for the column).
    n_rows
        Rows each column's loss is the mean over.
    strength
        Ridge strength.
    max_iter, tol
        Newton steps at most; stop when every column's Newton decrement² / 2 is below ``tol``.

    Returns
    -------
    coef, intercept, converged

    Shapes
    ------
    x : (rows, features)
    y, exposure : (rows, columns)
    n_rows : (columns,)
    returns : (columns, features), (columns,), bool
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    e = np.asarray(exposure, dtype=np.float64)
    n = np.asarray(n_rows, dtype=np.float64)
    n_cols, p = y.shape[1], x.shape[1] + 1
    xt = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    penalty = np.full(p, float(strength))
    penalty[-1] = 0.0
    theta = np.zeros((n_cols, p))
    theta[:, -1] = np.log(y.sum(axis=0) / e.sum(axis=0))
    # Σ_r y_rc x_r: the counts enter the loss and gradient only through it. (columns × rows) @ (rows ×
    # p), not its transpose: OpenBLAS took 30 times longer for (p × rows) @ (rows × columns)
    xty = y.T @ xt
    # the outer products x_r x_rᵀ, flattened, for every column's Hessian in one product; kept when
    # small, else rebuilt in blocks of rows at each step (bounded memory)
    block = max(1, 4_000_000 // (p * p))
    outer = _outer(xt) if len(xt) * p * p <= 16_000_000 else None

    def mean_rate(th: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """e_rc exp(x_r·θ_c) of the columns ``cols``, in place of one (rows × columns) array."""
        mu = xt @ th.T
        with np.errstate(over="ignore"):
            np.exp(mu, out=mu)
        mu *= e[:, cols]
        return mu

    def loss(th: np.ndarray, cols: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            value = (mean_rate(th, cols).sum(axis=0) - np.einsum("cp,cp->c", xty[cols], th)) / n[cols] \
                + 0.5 * (penalty * th ** 2).sum(axis=1)
        return np.where(np.isfinite(value), value, np.inf)

    every = np.arange(n_cols)
    current = loss(theta, every)
    converged = False
    for _ in range(max_iter):
        mu = mean_rate(theta, every)  # (rows, columns)
        grad = (mu.T @ xt - xty) / n[:, None] + penalty * theta
        if outer is not None:  # (p² × rows) @ (rows × columns): here the fast order is this one
            hess = outer.T @ mu
        else:
            hess = np.zeros((p * p, n_cols))
            for start in range(0, len(xt), block):
                hess += _outer(xt[start:start + block]).T @ mu[start:start + block]
        hess = hess.T.reshape(n_cols, p, p) / n[:, None, None] + np.diag(penalty)
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        decrement = np.einsum("cp,cp->c", grad, step)
        # converged columns stay put: near the optimum the loss changes below its rounding, and a
        # line search there would only halve its step to nothing
        active = np.flatnonzero(decrement / 2 >= tol)
        if len(active) == 0:
            converged = True
            break
        t = np.ones(len(active))
        base, slope = current[active], decrement[active]
        for _ in range(40):  # backtracking (Armijo) per column
            trial = loss(theta[active] - t[:, None] * step[active], active)
            bad = trial > base - 1e-4 * t * slope + 1e-12 * np.abs(base)
            if not bad.any():
                break
            t = np.where(bad, t / 2, t)
        theta[active] -= t[:, None] * step[active]
        current[active] = loss(theta[active], active)
    return theta[:, :-1], theta[:, -1], converged


def _outer(rows: np.ndarray) -> np.ndarray:
    """x_r x_rᵀ of each row, flattened. Shapes: (rows, p) -> (rows, p²)."""
    return (rows[:, :, None] * rows[:, None, :]).reshape(len(rows), -1)


class RaisedCosineGLM(_Columns):
    """A Poisson GLM of each region's pooled (or each unit's) spike counts on a raised-cosine basis of time.

    Design (per trial and time bin of the training trials): the ``n_basis`` raised cosines
    B(t) over the window [0, W] (nemos ``RaisedCosineLinearEval``), then their products with each
    standardised stimulus feature, B(t)·s_f. The count of all of a region's units in a bin is
    Poisson with mean exp(x·w + b); the per-neuron rate is that over bin width × units, which the
    intercept absorbs: log λ_k(t | s) = B(t)·(w_0 + Σ_f s_f w_f) + b − log(bin width · n_k). With
    ``per="unit"`` each unit has its own weights (its count per bin, over the trials it was
    observed in), all fitted on one design.

    The intensity is evaluated at exact spike times through the basis (continuous in t), and Λ
    by the trapezoid rule on ``n_grid`` points over the window, linearly interpolated. The stimulus
    enters log-linearly: a rate that depends on |s| (or otherwise non-monotonically) is beyond it.

    A column (region or unit) without training spikes is not fitted: its rate is floored at 0.001
    spikes per window, constant, with a warning.

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
        nemos solver of the region fit without an observation mask. BFGS converged in about half
        the time of LBFGS here (151 against 336 steps, 1.8 s against 4.1 s for 300 trials × 100
        bins × 3 regions); nemos' default (GradientDescent) did not converge within its defaults.
        The other fits use :func:`fit_poisson_glm` (Newton, the same objective).
    per
        ``region`` or ``unit`` (see :mod:`.baselines`).

    Attributes
    ----------
    coef_, intercept_
        Fitted weights per region (or unit): time basis first, then its product with each feature.

    Shapes
    ------
    coef_ : (regions or units, 1 + features, n_basis)
    intercept_ : (regions or units,)
    """

    def __init__(self, n_basis: int = 8, bin_width: float = 0.01, regularizer_strength: float = 1e-4,
                 n_grid: int = 1001, solver_name: str = "BFGS", *, per: Per = "region") -> None:
        self.n_basis = n_basis
        self.bin_width = bin_width
        self.regularizer_strength = regularizer_strength
        self.n_grid = n_grid
        self.solver_name = solver_name
        self.per = _check_per(per)

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

    @staticmethod
    def _design(b: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Rows (trial, bin): the basis, then its product with each feature.

        Shapes: (bins, B), (n, F) -> (n·bins, B(1+F)).
        """
        n_bins = len(b)
        blocks = [np.tile(b, (len(s), 1))]
        blocks += [np.repeat(s[:, f], n_bins)[:, None] * blocks[0] for f in range(s.shape[1])]
        return np.concatenate(blocks, axis=1)

    def fit(self, data: TrialSpikes) -> RaisedCosineGLM:
        try:
            import nemos as nmo  # brings jax: only when a GLM is fitted
        except ImportError:
            from ...errors import UsageError

            raise UsageError("the Poisson GLM baseline needs nemos: pip install 'nwb-tavrnn[nnpoisson]' "
                             "(or leave the baselines out: `baselines` false)", "baselines") from None

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
        spike_bin = np.clip(np.floor(data.spike_time / width).astype(np.int64), 0, n_bins - 1)
        n_columns = data.n_regions if self.per == "region" else data.n_units
        column = self._columns(data)
        if self.per == "region" and data.observed is None:
            x = self._design(b, s).astype(np.float32)  # (trials * bins, n_basis * (1 + F))
            flat = (data.spike_trial * n_bins + spike_bin) * n_columns + column
            y = np.bincount(flat, minlength=data.n_trials * n_bins * n_columns).reshape(-1, n_columns)
            # the regions' GLMs share the design and not a parameter: one PopulationGLM fits them all at
            # once, in one compilation and one solver run (a GLM per region took three times as long)
            glm = nmo.glm.PopulationGLM(observation_model="Poisson", regularizer="Ridge",
                                        regularizer_strength=self.regularizer_strength, solver_name=self.solver_name)
            glm.fit(x, y.astype(np.float32))
            coef = np.asarray(glm.coef_, dtype=np.float64).T
            self.intercept_ = np.asarray(glm.intercept_, dtype=np.float64).ravel()
            self.offset_ = self.intercept_ - np.log(width * np.maximum(data.neurons, 1))
            rows = x.shape[0]
        else:
            coef, rows = self._fit_exposure(data, b, s, spike_bin, column, n_columns, width)
        self.coef_ = coef.reshape(n_columns, 1 + n_feat, self.n_basis)
        self._store_units(data)
        self.grid_ = np.linspace(0.0, w, self.n_grid)
        self._grid_basis = self._basis(self.grid_)
        log.info("raised-cosine GLM: %d %s, %d rows × %d columns, fitted in %.1f s", n_columns,
                 "regions" if self.per == "region" else "units", rows, self.n_basis * (1 + n_feat),
                 time.perf_counter() - start)
        return self

    def _fit_exposure(self, data: TrialSpikes, b: np.ndarray, s: np.ndarray, spike_bin: np.ndarray,
                      column: np.ndarray, n_columns: int, width: float) -> tuple[np.ndarray, int]:
        """Fit with an exposure per (trial, column): trials with the same stimulus summed into one row per bin.

        Sets ``intercept_`` and ``offset_``; returns the coefficients (columns, B(1+F)) and the rows fitted.
        """
        n_bins = len(b)
        unique, which = np.unique(s, axis=0, return_inverse=True)
        which = which.ravel()
        n_unique = len(unique)
        x = self._design(b, unique)  # (unique · bins, P)
        flat = (which[data.spike_trial] * n_bins + spike_bin) * n_columns + column
        y = np.bincount(flat, minlength=n_unique * n_bins * n_columns).reshape(-1, n_columns).astype(np.float64)
        observed = _observed_exposure(data, self.per)  # (trials, columns): units observed
        per_unique = np.zeros((n_unique, n_columns))
        np.add.at(per_unique, which, observed)
        exposure = np.repeat(per_unique, n_bins, axis=0)  # every bin of a trial has the same exposure
        n_rows = (observed > 0).sum(axis=0) * n_bins
        fit = (y.sum(axis=0) > 0) & (n_rows > 0)
        self._warn_floored(data, ~fit)
        coef = np.zeros((n_columns, x.shape[1]))
        # unfitted columns: a constant 0.001 spikes per window (count mean per bin of one unit)
        self.intercept_ = np.full(n_columns, np.log(1e-3 / data.window * width))
        if fit.any():
            c, b0, ok = fit_poisson_glm(x, y[:, fit], exposure[:, fit], n_rows[fit], self.regularizer_strength)
            if not ok:
                log.warning("raised-cosine GLM: Newton did not converge within its steps")
            coef[fit], self.intercept_[fit] = c, b0
        # the exposure counts units: exp(x·w + b) is one unit's mean count per bin
        self.offset_ = self.intercept_ - np.log(width)
        return coef, x.shape[0]

    def _weights(self, features: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
        """Effective basis weights of each stimulus: w_0 + Σ_f s_f w_f. Shapes: (n, F) -> (n, columns, n_basis)."""
        coef = self.coef_ if columns is None else self.coef_[columns]
        return coef[None, :, 0, :] + np.einsum("nf,rfb->nrb", features, coef[:, 1:, :])

    def _log_rate(self, data: TrialSpikes, column: np.ndarray) -> np.ndarray:
        weights = self._weights(self._features(data.stimulus))  # (trials, columns, n_basis)
        eff = weights[data.spike_trial, column]  # (spikes, n_basis)
        return np.einsum("sb,sb->s", self._basis(data.spike_time), eff) + self.offset_[column]

    def _curves(self, stimulus: np.ndarray, grid: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
        return self._rate_on(self._features(stimulus), self._basis(grid), columns)

    def _rate_on(self, features: np.ndarray, basis: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
        offset = self.offset_ if columns is None else self.offset_[columns]
        log_rate = np.einsum("nrb,mb->nrm", self._weights(features, columns), basis) + offset[None, :, None]
        return np.exp(log_rate)

    def _cumulative(self, data: TrialSpikes, times: np.ndarray) -> np.ndarray:
        """Λ by the trapezoid rule on the fine grid, interpolated linearly (extrapolated past W).

        Shapes: times (trials, m) -> (trials, m, columns).
        """
        unique, which = np.unique(data.stimulus, axis=0, return_inverse=True)
        which = which.ravel()
        step = self.grid_[1] - self.grid_[0]
        t = np.clip(np.asarray(times, dtype=np.float64), 0.0, None)
        pos = t / step
        i = np.clip(np.floor(pos).astype(np.int64), 0, self.n_grid - 2)
        frac = (pos - i)[..., None]
        n_columns = self.coef_.shape[0]
        k = np.arange(n_columns)[None, None, :]
        out = np.empty(t.shape + (n_columns,))
        chunk = max(1, _MAX_ELEMENTS // (n_columns * self.n_grid))  # stimuli whose rate curves are held at once
        for start in range(0, len(unique), chunk):
            rate = self._rate_on(self._features(unique[start:start + chunk]), self._grid_basis)  # (u, columns, grid)
            cum = np.concatenate([np.zeros(rate.shape[:2] + (1,)),
                                  np.cumsum(0.5 * step * (rate[..., 1:] + rate[..., :-1]), axis=-1)], axis=-1)
            rows = np.flatnonzero((which >= start) & (which < start + chunk))
            c = (which[rows] - start)[:, None, None]
            ii = i[rows][..., None]
            lo, hi = cum[c, k, ii], cum[c, k, ii + 1]
            out[rows] = lo + frac[rows] * (hi - lo)
        return out


__all__ = ["RaisedCosineGLM", "fit_poisson_glm"]
