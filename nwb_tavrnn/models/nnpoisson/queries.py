"""What a fitted NNPoisson predicts from the stimulus alone: intensities (per unit, per region,
per component) at spikes, their integrals, curves per condition, and the behaviour's competing
risks (choice probabilities, RT distribution). A mixin of :class:`~.estimator.NNPoisson`.

Every query uses the warp of a trial without a response within W (``T_end = W``): the faithful
preset's warp needs the trial's own RT, which a prediction may not see.
"""

from __future__ import annotations

import numpy as np
import torch

from ...io.trials import TrialSpikes, unit_averaging
from .._torch import deterministic, torch_threads
from .likelihood import TrialTensors, evaluate, warp_factors

#: Points of the time grid used for choice probabilities and RT distributions.
GRID_POINTS = 256


class IntensityQueries:
    """Intensities and behaviour of a fitted NNPoisson (see the module docstring)."""

    def _eval(self, data: TrialSpikes):
        self._check_fitted()
        device = next(self.module_.parameters()).device
        return self._tensors(data, device), device

    def _predictive_warp(self, n: int, device: torch.device, window: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Warp factors of ``n`` trials as if none responded within W (no trial's own RT)."""
        nan = torch.full((n,), float("nan"), device=device)
        return warp_factors(self.settings, nan, torch.full((n,), -1, device=device), window)

    def _points(self, tensors: TrialTensors, trial: torch.Tensor, t: torch.Tensor, *, rate: bool,
                actions: bool) -> dict[str, torch.Tensor]:
        """Intensities at points of these trials, as the model predicts them from the stimulus alone.

        The faithful preset's warp needs each trial's own RT (its future); scoring with it would let
        the held-out RT into the neural likelihood. Predictions and scores therefore use the warp of
        a trial without a response within W (``T_end = W``), for every trial.
        """
        terms = self.module_.stimulus_terms(tensors.stimulus)
        n = tensors.n_trials
        kappa, mult = self._predictive_warp(n, tensors.rt.device, tensors.window)
        return evaluate(self.module_, terms, trial, t, kappa, mult, rate=rate, actions=actions)

    def _readout(self, per: str, unit_region: np.ndarray | None = None) -> torch.Tensor:
        """The matrix from components to units (``per="unit"``: M with Λ_units = Λ̃ Mᵀ) or to
        regions (``"region"``: the per-neuron mean over each region's units, A = onehotᵀ M / n_k).

        Shapes
        ------
        unit_region : (units,) -> (units or regions, C)
        """
        device = next(self.module_.parameters()).device
        units = np.asarray(self.meta_.get("unit_region") if unit_region is None else unit_region, dtype=np.int64)
        with torch.no_grad():
            m = self.module_.readout_matrix(torch.as_tensor(units, device=device)).double()
            if per == "unit":
                return m
            average = unit_averaging(units, len(self.meta_["regions"]))  # (units, regions)
            return torch.as_tensor(average.T, device=device) @ m

    def _log_at_spikes(self, data: TrialSpikes, per: str) -> np.ndarray:
        """log λ of each spike's unit or region at the spike. Shapes: returns (spikes,)."""
        tensors, device = self._eval(data)
        with torch.no_grad(), deterministic(), torch_threads(self.threads):
            trial = torch.as_tensor(data.spike_trial, device=device)
            t = torch.as_tensor(data.spike_time, dtype=torch.float32, device=device)
            lam = self._points(tensors, trial, t, rate=True, actions=False)["lambda"].double()
            column = torch.as_tensor(data.spike_unit if per == "unit" else data.spike_region, device=device)
            out = (lam * self._readout(per, data.unit_region)[column]).sum(1)
        return torch.log(out.clamp(min=1e-30)).cpu().numpy()

    def unit_log_intensity(self, data: TrialSpikes) -> np.ndarray:
        """log λ_i of each spike's unit at the spike (nats).

        Shapes
        ------
        returns : (spikes,) in the order of ``data.spike_time``
        """
        return self._log_at_spikes(data, "unit")

    def region_log_intensity(self, data: TrialSpikes) -> np.ndarray:
        """log of the per-neuron intensity of each spike's region at the spike (the mean over the
        region's units of λ_i; the shared intensity of the pooled read-out), nats.

        Shapes
        ------
        returns : (spikes,) in the order of ``data.spike_time``
        """
        return self._log_at_spikes(data, "region")

    def _cumulative(self, data: TrialSpikes, times: np.ndarray, per: str) -> np.ndarray:
        """Λ(t) − Λ(0) of every unit or region at the given times of each trial.

        Shapes
        ------
        times : (n, m) -> (n, m, units or regions)
        """
        tensors, device = self._eval(data)
        times = np.asarray(times, dtype=np.float64)
        n, m = times.shape
        with torch.no_grad(), deterministic(), torch_threads(self.threads):
            trial = torch.arange(n, device=device).repeat_interleave(m + 1)
            grid = np.concatenate([np.zeros((n, 1)), times], axis=1).ravel()
            big = self._points(tensors, trial, torch.as_tensor(grid, dtype=torch.float32, device=device),
                               rate=False, actions=False)["Lambda"].double().reshape(n, m + 1, -1)
            return ((big[:, 1:] - big[:, :1]) @ self._readout(per, data.unit_region).T).cpu().numpy()

    def unit_cumulative(self, data: TrialSpikes, times: np.ndarray) -> np.ndarray:
        """Λ_i(t) − Λ_i(0) of every unit at the given times of each trial.

        Shapes
        ------
        times : (trials, m) -> (trials, m, units)
        """
        return self._cumulative(data, times, "unit")

    def region_cumulative(self, data: TrialSpikes, times: np.ndarray) -> np.ndarray:
        """Per-neuron Λ_k(t) − Λ_k(0) of every region (the mean over its units) at the given times.

        Shapes
        ------
        times : (trials, m) -> (trials, m, regions)
        """
        return self._cumulative(data, times, "region")

    def _curves(self, stimulus: np.ndarray, grid: np.ndarray, per: str) -> np.ndarray:
        """λ of every unit or region on a grid for raw stimulus rows (no warp).

        Shapes
        ------
        stimulus : (c, features); grid : (m,) -> (c, units or regions, m)
        """
        self._check_fitted()
        meta = self.meta_
        device = next(self.module_.parameters()).device
        s = ((np.asarray(stimulus, dtype=np.float64) - np.asarray(meta["stimulus_mean"]))
             / np.asarray(meta["stimulus_std"]))
        grid = np.asarray(grid, dtype=np.float64)
        c, m = s.shape[0], grid.shape[0]
        with torch.no_grad(), deterministic(), torch_threads(self.threads):
            terms = self.module_.stimulus_terms(torch.as_tensor(s, dtype=torch.float32, device=device))
            kappa, mult = self._predictive_warp(c, device, float(meta["window"]))
            trial = torch.arange(c, device=device).repeat_interleave(m)
            t = torch.as_tensor(np.tile(grid, c), dtype=torch.float32, device=device)
            lam = evaluate(self.module_, terms, trial, t, kappa, mult, rate=True)["lambda"].double().reshape(c, m, -1)
            return (lam @ self._readout(per).T).permute(0, 2, 1).cpu().numpy()

    def intensity_curves(self, stimulus: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """λ_k(t | s) per neuron (Hz, the mean over the region's units) of every region on a grid,
        for raw stimulus rows (no warp: for the faithful preset, as on a trial without a response
        in the window).

        Shapes
        ------
        stimulus : (conditions, features); grid : (m,) -> (conditions, regions, m)
        """
        return self._curves(stimulus, grid, "region")

    def unit_intensity_curves(self, stimulus: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """λ_i(t | s) (Hz) of every unit the model was fitted on, on a grid, for raw stimulus rows.

        Shapes
        ------
        stimulus : (conditions, features); grid : (m,) -> (conditions, units, m)
        """
        return self._curves(stimulus, grid, "unit")

    # -- behaviour --------------------------------------------------------------------------------
    def _action_grid(self, data: TrialSpikes, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Λ_a(t) − Λ_a(0) and λ_a(t) on a grid for every trial (no warp for the faithful preset:
        predictions cannot use the RT they predict).

        Shapes
        ------
        returns : (trials, m, actions), (trials, m, actions)
        """
        tensors, device = self._eval(data)
        n, m = data.n_trials, len(grid)
        with torch.no_grad(), deterministic(), torch_threads(self.threads):
            terms = self.module_.stimulus_terms(tensors.stimulus)
            kappa, mult = self._predictive_warp(n, device, tensors.window)
            trial = torch.arange(n, device=device).repeat_interleave(m + 1)
            t = torch.as_tensor(np.tile(np.concatenate([[0.0], grid]), n), dtype=torch.float32, device=device)
            out = evaluate(self.module_, terms, trial, t, kappa, mult, rate=True, actions=True)
            big = out["A_Lambda"].double().reshape(n, m + 1, -1)
            lam = out["A_lambda"].double().reshape(n, m + 1, -1)
        return (big[:, 1:] - big[:, :1]).cpu().numpy(), lam[:, 1:].cpu().numpy()

    def _grid(self) -> np.ndarray:
        self._check_fitted()  # the first thing predict and choice_probabilities read
        return np.linspace(0.0, float(self.meta_["window"]), GRID_POINTS)

    def choice_probabilities(self, data: TrialSpikes) -> np.ndarray:
        """P(action a first within W | stimulus) and P(no response), from the competing risks:
        ``P(a) = ∫_0^W λ_a(t) exp(−Σ_b ΔΛ_b(t)) dt``, ``P(none) = exp(−Σ_b ΔΛ_b(W))``.

        Shapes
        ------
        returns : (trials, actions + 1)
        """
        grid = self._grid()
        big, lam = self._action_grid(data, grid)
        survival = np.exp(-big.sum(2))  # (n, m)
        p = np.trapezoid(lam * survival[:, :, None], grid, axis=1)
        none = survival[:, -1]
        out = np.concatenate([p, none[:, None]], axis=1)
        return out / out.sum(1, keepdims=True)  # removes the quadrature's small error

    def rt_cdf(self, data: TrialSpikes, grid: np.ndarray) -> np.ndarray:
        """P(a response by t | stimulus) = 1 − exp(−Σ_a ΔΛ_a(t)).

        Shapes
        ------
        grid : (m,) -> (trials, m)
        """
        big, _ = self._action_grid(data, np.asarray(grid, dtype=np.float64))
        return 1.0 - np.exp(-big.sum(2))

