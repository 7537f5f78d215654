"""The NNPoisson estimator: fit on trials (stimulus, regional spikes, choice and RT), predict
choices, reaction times and intensities, score held-out trials, write the results to NWB.

Two presets (``docs/nnpoisson.md`` explains each difference):

* ``NNPoisson.preset("faithful")``: the reference's network sizes (10), its RT layer on the last
  stimulus feature, the per-trial time warp ``u = (W / T_end) t``, the compensator ``Λ(T)``, its
  normalisers and 0.01 behaviour weight with the behaviour term on all trials at every step, raw
  (unstandardised) stimulus features, Adam at 1e-4, no validation split. The loss is the reference's
  exactly (a golden test holds it to an independent re-implementation); the step schedule is not:
  the reference steps one region at a time, here a step takes the sum over regions of the same
  per-region losses, which is the same objective.
* ``NNPoisson.preset("corrected")`` (the defaults): no warp, ``Λ(W) − Λ(0)``, a competing-risks
  likelihood for choice and RT censored at W on the same mini-batch as the spikes, weight 1,
  standardised stimulus features, per-region count scales, no RT layer, early stopping on a
  validation split of the training trials (the best epoch's weights are kept).

``objective``: ``"joint"`` (both terms), ``"neural"`` (the behaviour heads read the neural layer
without shaping it: does the neural code fitted alone carry the behaviour?) or ``"behaviour"``
(the neural layer a free latent fitted to behaviour only).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...errors import ParameterError, require
from ...io.trials import TrialSpikes
from .._torch import deterministic, resolve_device, seed_everything, torch_threads
from ..base import Estimator
from ..registry import register_model
from ..training import EpochCallback, TrainingConfig, train
from .likelihood import (
    LossSettings,
    TrialTensors,
    corrected_nll,
    end_times,
    evaluate,
    reference_losses,
    reference_step_loss,
    warp_factors,
)
from .network import NNPoissonNet

log = logging.getLogger(__name__)

PRESETS: dict[str, dict[str, Any]] = {
    "faithful": dict(stimulus_sizes=(10, 10), time_size=10, neural_size=10, behaviour_size=10, rt_layer=True,
                     warp="reference", compensator="end", behaviour_likelihood="reference", behaviour_weight=0.01,
                     standardize=False, count_scale=False, lr=1e-4, epochs=2000, validation_fraction=0.0,
                     patience=None, clip_grad_norm=None),
    "corrected": dict(),
}

OBJECTIVES = ("joint", "neural", "behaviour")

#: Points of the time grid used for choice probabilities and RT distributions.
GRID_POINTS = 256


@dataclass
class TrialPredictions:
    """Per-trial predictions, aligned to the trials they were computed for.

    Shapes
    ------
    choice_probability : (trials, actions + 1), last column "no response within W"
    predicted_choice : (trials,) int64 (-1: none); rt_median : (trials,) s (NaN if P(response) < 0.5)
    log_likelihood_neural, log_likelihood_behaviour : (trials,) nats
    """

    trial_ids: np.ndarray
    actions: list[str]
    choice_probability: np.ndarray
    predicted_choice: np.ndarray
    rt_median: np.ndarray
    log_likelihood_neural: np.ndarray
    log_likelihood_behaviour: np.ndarray


@register_model("nnpoisson")
class NNPoisson(Estimator):
    """Neural-network Poisson model of stimulus → regional spiking → choice and reaction time.

    Parameters
    ----------
    stimulus_sizes, time_size, neural_size, behaviour_size
        Network widths (:class:`~nwb_tavrnn.models.nnpoisson.network.NNPoissonNet`).
    rt_layer
        The reference's unconstrained layer on the last stimulus feature.
    warp
        ``"none"`` or ``"reference"`` (``u = (W / T_end) t``, T_end the trial's own RT).
    compensator
        ``"difference"`` (Λ(T) − Λ(0), the exact likelihood) or ``"end"`` (Λ(T), the reference).
    behaviour_likelihood
        ``"competing_risks"`` or ``"reference"`` (its normalisers, behaviour on all trials).
    neural_weight, behaviour_weight
        Weights of the two terms (the reference: 1 and 0.01).
    objective
        ``"joint"``, ``"neural"`` or ``"behaviour"`` (see the module docstring).
    standardize
        Centre and scale the stimulus features on the training trials.
    count_scale
        Multiply each region's output by its mean spike count per neuron and window.
    epochs, lr, n_batches, validation_fraction, patience, min_delta, clip_grad_norm
        Training: Adam on ``n_batches`` random mini-batches of trials per epoch; early stopping on
        the validation trials (a random ``validation_fraction`` of the training trials) after
        ``patience`` epochs without relative improvement ``min_delta``.
    seed, device, threads
        Seed of initialisation and batch order; ``auto``/``cpu``/``cuda``; torch CPU threads
        (None: torch's default).
    """

    def __init__(
        self,
        stimulus_sizes: tuple[int, int] = (32, 32),
        time_size: int = 32,
        neural_size: int = 32,
        behaviour_size: int = 16,
        rt_layer: bool = False,
        warp: str = "none",
        compensator: str = "difference",
        behaviour_likelihood: str = "competing_risks",
        neural_weight: float = 1.0,
        behaviour_weight: float = 1.0,
        objective: str = "joint",
        standardize: bool = True,
        count_scale: bool = True,
        epochs: int = 400,
        lr: float = 1e-2,
        n_batches: int = 10,
        validation_fraction: float = 0.1,
        patience: int | None = 40,
        min_delta: float = 1e-4,
        clip_grad_norm: float | None = 10.0,
        seed: int | None = 0,
        device: str = "auto",
        threads: int | None = None,
    ) -> None:
        self.stimulus_sizes = stimulus_sizes
        self.time_size = time_size
        self.neural_size = neural_size
        self.behaviour_size = behaviour_size
        self.rt_layer = rt_layer
        self.warp = warp
        self.compensator = compensator
        self.behaviour_likelihood = behaviour_likelihood
        self.neural_weight = neural_weight
        self.behaviour_weight = behaviour_weight
        self.objective = objective
        self.standardize = standardize
        self.count_scale = count_scale
        self.epochs = epochs
        self.lr = lr
        self.n_batches = n_batches
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.min_delta = min_delta
        self.clip_grad_norm = clip_grad_norm
        self.seed = seed
        self.device = device
        self.threads = threads

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> NNPoisson:
        """``"faithful"`` (the reference's computation) or ``"corrected"``; keywords override."""
        if name not in PRESETS:
            raise ParameterError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    # -- validation ---------------------------------------------------------------------------
    def _validate(self) -> None:
        for name, allowed in (("warp", ("none", "reference")), ("compensator", ("difference", "end")),
                              ("behaviour_likelihood", ("competing_risks", "reference")),
                              ("objective", OBJECTIVES)):
            require(getattr(self, name) in allowed, f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        require(len(tuple(self.stimulus_sizes)) == 2 and min(int(v) for v in self.stimulus_sizes) >= 1,
                f"stimulus_sizes must be two widths >= 1, got {self.stimulus_sizes}")
        for name in ("time_size", "neural_size", "behaviour_size", "epochs", "n_batches"):
            require(int(getattr(self, name)) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        require(0.0 <= float(self.validation_fraction) < 0.5,
                f"validation_fraction must be in [0, 0.5), got {self.validation_fraction}")
        require(self.patience is None or int(self.patience) >= 1, f"patience must be >= 1 or None, got {self.patience}")
        require(float(self.lr) > 0, f"lr must be positive, got {self.lr}")
        require(float(self.neural_weight) >= 0 and float(self.behaviour_weight) >= 0, "loss weights must be >= 0")
        require(self.clip_grad_norm is None or float(self.clip_grad_norm) > 0, "clip_grad_norm must be positive or None")
        require(self.seed is None or int(self.seed) >= 0, f"seed must be >= 0, got {self.seed}")
        require(self.threads is None or int(self.threads) >= 1, f"threads must be >= 1, got {self.threads}")
        if self.behaviour_likelihood == "reference":
            require(self.warp == "reference" and self.compensator == "end" and self.objective == "joint",
                    "behaviour_likelihood='reference' is the reference's whole loss: it needs warp='reference', "
                    "compensator='end' and objective='joint' (use NNPoisson.preset('faithful'))")
        resolve_device(self.device)

    @property
    def settings(self) -> LossSettings:
        nw, bw = float(self.neural_weight), float(self.behaviour_weight)
        if self.objective == "behaviour":
            nw = 0.0
        return LossSettings(warp=self.warp, compensator=self.compensator, behaviour=self.behaviour_likelihood,
                            neural_weight=nw, behaviour_weight=bw, detach_behaviour=self.objective == "neural")

    # -- the module -----------------------------------------------------------------------------
    def _fitted_meta(self) -> dict[str, Any]:
        return dict(self.meta_)

    def _build_module(self, meta: dict[str, Any]) -> NNPoissonNet:
        return NNPoissonNet(int(meta["n_features"]), len(meta["regions"]), len(meta["actions"]),
                            stimulus_sizes=tuple(int(v) for v in self.stimulus_sizes), time_size=int(self.time_size),
                            neural_size=int(self.neural_size), behaviour_size=int(self.behaviour_size),
                            rt_layer=bool(self.rt_layer), region_scale=meta.get("region_scale"))

    def _encode(self, data: TrialSpikes) -> np.ndarray:
        meta = self.meta_
        if list(data.stimulus_names) != list(meta["stimulus_names"]):
            raise ValueError(f"the trials' stimulus features {data.stimulus_names} differ from the fitted "
                             f"{meta['stimulus_names']}")
        return (data.stimulus - np.asarray(meta["stimulus_mean"])) / np.asarray(meta["stimulus_std"])

    def _check_compatible(self, data: TrialSpikes) -> None:
        meta = self.meta_
        if list(data.regions) != list(meta["regions"]):
            raise ValueError(f"the trials' regions {data.regions} differ from the fitted {meta['regions']}")
        if list(data.actions) != list(meta["actions"]):
            raise ValueError(f"the trials' actions {data.actions} differ from the fitted {meta['actions']}")
        if abs(float(data.window) - float(meta["window"])) > 1e-12:
            raise ValueError(f"the trials' window {data.window:g} s differs from the fitted {meta['window']:g} s")

    def _tensors(self, data: TrialSpikes, device: torch.device | None = None) -> TrialTensors:
        self._check_compatible(data)
        device = device or next(self.module_.parameters()).device
        return TrialTensors.from_trials(data, self._encode(data), device)

    # -- fit ----------------------------------------------------------------------------------
    def fit(
        self,
        data: TrialSpikes,
        *,
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_every: int = 25,
        resume: bool = False,
        callback: EpochCallback | None = None,
    ) -> NNPoisson:
        """Train on trials (:func:`~nwb_tavrnn.io.trials.read_trial_spikes`).

        Parameters
        ----------
        checkpoint_dir, checkpoint_every, resume
            Write ``checkpoint_dir/checkpoint.pt`` every ``checkpoint_every`` epochs; with
            ``resume`` continue from it exactly.
        callback
            ``callback(epoch, loss)`` after every epoch.
        """
        self._validate()
        require(int(checkpoint_every) >= 1, f"checkpoint_every must be >= 1 epoch, got {checkpoint_every}")
        require(data.n_trials >= 2, f"NNPoisson needs at least 2 trials, got {data.n_trials}")
        if not np.isfinite(data.stimulus).all():
            raise ValueError("the stimulus features hold NaN or infinite values; fill them or leave those trials out")
        device = resolve_device(self.device)
        self.seed_ = int(self.seed) if self.seed is not None else secrets.randbelow(2**31)
        rng = np.random.default_rng(self.seed_)
        n_val = int(round(float(self.validation_fraction) * data.n_trials))
        order = rng.permutation(data.n_trials)
        val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
        train_data = data.subset(train_idx)
        silent = [r for r, n in zip(data.regions, train_data.spike_counts().sum(0)) if n == 0]
        if silent:
            raise ValueError(f"region(s) {', '.join(silent)} have no spike in the training trials: their intensity "
                             "cannot be fitted; leave them out (--keep-regions)")
        mean = train_data.stimulus.mean(0) if self.standardize else np.zeros(data.stimulus.shape[1])
        std = train_data.stimulus.std(0) if self.standardize else np.ones(data.stimulus.shape[1])
        std = np.where(std > 0, std, 1.0)
        counts = train_data.spike_counts().mean(0) / np.maximum(data.neurons, 1)
        scale = np.maximum(counts, 1e-3) if self.count_scale else np.ones(data.n_regions)
        self.meta_ = {
            "n_features": int(data.stimulus.shape[1]), "stimulus_names": list(data.stimulus_names),
            "stimulus_mean": mean.tolist(), "stimulus_std": std.tolist(), "regions": list(data.regions),
            "actions": list(data.actions), "window": float(data.window), "neurons": data.neurons.tolist(),
            "region_scale": [float(v) for v in scale], "n_trials_fit": int(len(train_idx)),
            "validation_trial_ids": data.trial_ids[val_idx].tolist(),
        }
        settings = self.settings
        params = {k: v for k, v in self.get_params().items() if k not in ("epochs", "device", "threads")}
        params["seed"] = self.seed_
        digest = hashlib.sha1(json.dumps([data.regions, data.actions, data.stimulus_names, data.window]).encode())
        for array in (data.spike_time, data.spike_trial, data.spike_unit, data.unit_region, data.rt, data.choice,
                      data.stimulus):
            digest.update(np.ascontiguousarray(array).tobytes())
        fingerprint = digest.hexdigest()
        identity = {"model": self.model_name, "params": json.dumps(params, sort_keys=True, default=list),
                    "data": fingerprint}
        config = TrainingConfig(epochs=int(self.epochs), lr=float(self.lr), clip_grad_norm=self.clip_grad_norm,
                                patience=None if self.patience is None else int(self.patience),
                                min_delta=float(self.min_delta), checkpoint_dir=checkpoint_dir,
                                checkpoint_every=int(checkpoint_every), resume=resume)
        log.info("fitting nnpoisson (%s likelihood, %s objective) on %d trials (%d for validation) on %s",
                 settings.behaviour, self.objective, len(train_idx), len(val_idx), device)
        seed_everything(self.seed_)
        with deterministic(), torch_threads(self.threads):
            module = self._build_module(self.meta_).to(device)
            self.module_ = module
            tensors = TrialTensors.from_trials(data, self._encode(data), device)
            train_t = torch.as_tensor(train_idx, device=device)
            val_t = torch.as_tensor(val_idx, device=device)
            generator = torch.Generator(device="cpu").manual_seed(self.seed_)
            n_batches = min(int(self.n_batches), len(train_idx))

            def batches() -> list[torch.Tensor]:
                perm = torch.randperm(len(train_idx), generator=generator).to(device)
                return list(torch.tensor_split(train_t[perm], n_batches))

            def loss_fn(batch: torch.Tensor) -> torch.Tensor:
                if settings.faithful:  # the behaviour term on all *training* trials, never the validation ones
                    return reference_step_loss(module, tensors, batch, behaviour_trials=train_t)
                return corrected_nll(module, tensors, batch, settings)["loss"]

            validation_fn = None
            if len(val_idx):
                def validation_fn() -> list[float]:
                    # the two terms watched apart: a behaviour still improving is not lost in the
                    # much larger neural term
                    if settings.faithful:
                        return [float(reference_step_loss(module, tensors, val_t, behaviour_trials=val_t))]
                    out = corrected_nll(module, tensors, val_t, settings)
                    n = len(val_idx)
                    return [settings.neural_weight * float(out["neural"].sum()) / n,
                            settings.behaviour_weight * float(out["behaviour"]) / n]
            state = train(module, loss_fn, generator, config, identity, callback, batches=batches,
                          validation_fn=validation_fn)
        self.module_ = module.eval()
        self.loss_curve_ = list(state.losses)
        self.validation_curve_ = list(state.validation)
        self.n_epochs_ = state.epoch
        self.stopped_early_ = state.stopped_early
        return self

    # -- likelihoods ------------------------------------------------------------------------------
    def _eval(self, data: TrialSpikes):
        self._check_fitted()
        device = next(self.module_.parameters()).device
        return self._tensors(data, device), device

    def loss(self, data: TrialSpikes) -> dict[str, float]:
        """The training objective on these trials, its parts, with the fitted weights.

        For the faithful preset: ``"neural"`` (regions,) and ``"behaviour"`` as the reference
        computes them on all these trials, ``"loss"`` the sum over regions of its step losses.
        """
        tensors, device = self._eval(data)
        trials = torch.arange(data.n_trials, device=device)
        with torch.no_grad(), deterministic(), torch_threads(self.threads):
            if self.settings.faithful:
                parts = reference_losses(self.module_, tensors, trials)
                return {"loss": float(reference_step_loss(self.module_, tensors, trials)),
                        "neural": parts["neural"].cpu().numpy(), "behaviour": float(parts["behaviour"])}
            out = corrected_nll(self.module_, tensors, trials, self.settings)
        return {"loss": float(out["loss"]), "neural": out["neural"].cpu().numpy(), "behaviour": float(out["behaviour"])}

    def _points(self, tensors: TrialTensors, trial: torch.Tensor, t: torch.Tensor, *, rate: bool,
                actions: bool) -> dict[str, torch.Tensor]:
        """Intensities at points of these trials, as the model predicts them from the stimulus alone.

        The faithful preset's warp needs each trial's own RT (its future); scoring with it would let
        the held-out RT into the neural likelihood. Predictions and scores therefore use the warp of
        a trial without a response within W (``T_end = W``), for every trial.
        """
        terms = self.module_.stimulus_terms(tensors.stimulus)
        n = tensors.n_trials
        nan = torch.full((n,), float("nan"), device=tensors.rt.device)
        kappa, mult = warp_factors(self.settings, nan, torch.full((n,), -1, device=nan.device), tensors.window)
        return evaluate(self.module_, terms, trial, t, kappa, mult, rate=rate, actions=actions)

    def region_log_intensity(self, data: TrialSpikes) -> np.ndarray:
        """log λ of each spike's region at the spike (per neuron, nats).

        Shapes
        ------
        returns : (spikes,) in the order of ``data.spike_time``
        """
        tensors, device = self._eval(data)
        with torch.no_grad(), deterministic(), torch_threads(self.threads):
            trial = torch.as_tensor(data.spike_trial, device=device)
            t = torch.as_tensor(data.spike_time, dtype=torch.float32, device=device)
            out = self._points(tensors, trial, t, rate=True, actions=False)["lambda"]
            region = torch.as_tensor(data.spike_region, device=device)
            lam = out.gather(1, region[:, None])[:, 0].double()
        return torch.log(lam.clamp(min=1e-30)).cpu().numpy()

    def region_cumulative(self, data: TrialSpikes, times: np.ndarray) -> np.ndarray:
        """Per-neuron Λ_k(t) − Λ_k(0) of every region at the given times of each trial.

        Shapes
        ------
        times : (trials, m) -> (trials, m, regions)
        """
        tensors, device = self._eval(data)
        times = np.asarray(times, dtype=np.float64)
        n, m = times.shape
        with torch.no_grad(), deterministic(), torch_threads(self.threads):
            trial = torch.arange(n, device=device).repeat_interleave(m + 1)
            grid = np.concatenate([np.zeros((n, 1)), times], axis=1).ravel()
            big = self._points(tensors, trial, torch.as_tensor(grid, dtype=torch.float32, device=device),
                               rate=False, actions=False)["Lambda"].double().reshape(n, m + 1, -1)
        return (big[:, 1:] - big[:, :1]).cpu().numpy()

    def intensity_curves(self, stimulus: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """λ_k(t | s) per neuron (Hz) of every region on a grid, for raw stimulus rows (no warp:
        for the faithful preset, as on a trial without a response in the window).

        Shapes
        ------
        stimulus : (conditions, features); grid : (m,) -> (conditions, regions, m)
        """
        self._check_fitted()
        meta = self.meta_
        device = next(self.module_.parameters()).device
        s = (np.asarray(stimulus, dtype=np.float64) - np.asarray(meta["stimulus_mean"])) / np.asarray(meta["stimulus_std"])
        grid = np.asarray(grid, dtype=np.float64)
        c, m = s.shape[0], grid.shape[0]
        W = float(meta["window"])
        with torch.no_grad(), deterministic(), torch_threads(self.threads):
            terms = self.module_.stimulus_terms(torch.as_tensor(s, dtype=torch.float32, device=device))
            nan = torch.full((c,), float("nan"), device=device)
            kappa, mult = warp_factors(self.settings, nan, torch.full((c,), -1, device=device), W)
            trial = torch.arange(c, device=device).repeat_interleave(m)
            t = torch.as_tensor(np.tile(grid, c), dtype=torch.float32, device=device)
            lam = evaluate(self.module_, terms, trial, t, kappa, mult, rate=True)["lambda"]
        return lam.double().reshape(c, m, -1).permute(0, 2, 1).cpu().numpy()

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
            nan = torch.full((n,), float("nan"), device=device)
            kappa, mult = warp_factors(self.settings, nan, torch.full((n,), -1, device=device), tensors.window)
            trial = torch.arange(n, device=device).repeat_interleave(m + 1)
            t = torch.as_tensor(np.tile(np.concatenate([[0.0], grid]), n), dtype=torch.float32, device=device)
            out = evaluate(self.module_, terms, trial, t, kappa, mult, rate=True, actions=True)
            big = out["A_Lambda"].double().reshape(n, m + 1, -1)
            lam = out["A_lambda"].double().reshape(n, m + 1, -1)
        return (big[:, 1:] - big[:, :1]).cpu().numpy(), lam[:, 1:].cpu().numpy()

    def _grid(self) -> np.ndarray:
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

    def predict(self, data: TrialSpikes) -> TrialPredictions:
        """Choice probabilities, the predicted choice, the median RT and each trial's
        log-likelihood (neural: the spikes in the window; behaviour: its response or none)."""
        probs = self.choice_probabilities(data)
        grid = self._grid()
        cdf = self.rt_cdf(data, grid)
        median = np.full(data.n_trials, np.nan)
        for j in range(data.n_trials):
            if cdf[j, -1] >= 0.5:
                median[j] = float(np.interp(0.5, cdf[j], grid))
        tensors, device = self._eval(data)
        with torch.no_grad(), deterministic(), torch_threads(self.threads):
            settings = self.settings
            if settings.faithful:  # the exact likelihood of the fitted functions
                settings = LossSettings(warp="reference", compensator="difference", behaviour="competing_risks")
            # predictive: no trial's own RT in its warp (see _points)
            out = corrected_nll(self.module_, tensors, torch.arange(data.n_trials, device=device), settings,
                                per_trial=True, predictive=True)
        predicted = np.argmax(probs, axis=1)
        predicted = np.where(predicted == probs.shape[1] - 1, -1, predicted)
        return TrialPredictions(trial_ids=data.trial_ids.copy(), actions=list(data.actions), choice_probability=probs,
                                predicted_choice=predicted.astype(np.int64), rt_median=median,
                                log_likelihood_neural=-out["neural"].double().sum(1).cpu().numpy(),
                                log_likelihood_behaviour=-out["behaviour"].double().cpu().numpy())

    def score(self, data: TrialSpikes) -> float:
        """Mean log-likelihood per trial (nats; neural + behaviour): higher is better."""
        pred = self.predict(data)
        return float(np.mean(pred.log_likelihood_neural + pred.log_likelihood_behaviour))

    # -- NWB --------------------------------------------------------------------------------------
    def to_nwb(self, data: TrialSpikes, predictions: TrialPredictions | None = None, *, split: np.ndarray | None = None,
               trials_table: Any | None = None, grid_points: int = 200, name_prefix: str = "") -> tuple:
        """NWB containers of this fit: (ModelProvenance, intensities table, trial predictions table).

        Parameters
        ----------
        data
            The trials the predictions are for (their distinct stimuli are the intensity table's
            conditions).
        split
            Each trial's split (train / validation / test), stored beside its predictions.
        trials_table
            The file's trials table, to link each prediction to its row.
        """
        from ...schema import ModelProvenance
        from .nwb import intensity_table, predictions_table

        self._check_fitted()
        predictions = predictions if predictions is not None else self.predict(data)
        fields = self._provenance_fields()
        if getattr(self, "validation_curve_", None):
            fields["validation_loss"] = np.asarray(self.validation_curve_, dtype=np.float64)
        desc = (f"nnpoisson ({self.behaviour_likelihood} likelihood, warp {self.warp}, {self.objective} objective, "
                f"seed {getattr(self, 'seed_', self.seed)}) on {', '.join(self.meta_['regions'])}")
        provenance = ModelProvenance(
            name=f"{name_prefix}ModelProvenance",
            description=f"training run of {desc}; {len(self.loss_curve_)} epochs; loss per epoch = mean mini-batch "
                        "loss; weights are the torch state_dict (rebuild with NNPoisson.from_provenance)",
            **fields)
        stimuli, _ = data.conditions()
        grid = np.linspace(0.0, float(self.meta_["window"]), int(grid_points))
        curves = self.intensity_curves(stimuli, grid)
        intensities = intensity_table(curves, grid, stimuli, data.condition_labels(), list(self.meta_["regions"]),
                                      name=f"{name_prefix}intensities",
                                      description=f"per-neuron intensity of each region per stimulus condition, {desc}")
        table = predictions_table(predictions, data, split=split, trials_table=trials_table,
                                  name=f"{name_prefix}trial_predictions",
                                  description=f"per-trial predictions of {desc}")
        return provenance, intensities, table

    def _restore(self, meta: dict[str, Any], state_dict: dict[str, torch.Tensor], loss_curve: list[float]) -> None:
        state_dict = dict(state_dict)
        state_dict.setdefault("region_scale", torch.as_tensor(meta.get("region_scale"), dtype=torch.float32))
        super()._restore(meta, state_dict, loss_curve)

    def reference_t_end(self, data: TrialSpikes) -> np.ndarray:
        """The reference's T_end of each trial (its RT within W, else W)."""
        rt = torch.as_tensor(data.rt, dtype=torch.float64)
        return end_times(rt, torch.as_tensor(data.choice), float(data.window)).numpy()


__all__ = ["OBJECTIVES", "PRESETS", "NNPoisson", "TrialPredictions"]
