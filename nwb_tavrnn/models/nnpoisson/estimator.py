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
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...errors import DataError, ParameterError, require
from ...io.trials import TrialSpikes
from .._torch import deterministic, resolve_device, torch_threads
from ..base import Estimator
from ..registry import register_model
from ..training import EpochCallback, Objective, TrainingConfig, TrainingState
from .splits import validation_block
from .likelihood import (
    LossSettings,
    TrialTensors,
    corrected_nll,
    end_times,
    reference_losses,
    reference_step_loss,
)
from .network import NNPoissonNet
from .queries import IntensityQueries

log = logging.getLogger(__name__)

PRESETS: dict[str, dict[str, Any]] = {
    "faithful": dict(stimulus_sizes=(10, 10), time_size=10, neural_size=10, behaviour_size=10, rt_layer=True,
                     warp="reference", compensator="end", behaviour_likelihood="reference", behaviour_weight=0.01,
                     standardize=False, count_scale=False, lr=1e-4, epochs=2000, validation_fraction=0.0,
                     patience=None, clip_grad_norm=None, readout="region", components=1),
    "corrected": dict(),
}

OBJECTIVES = ("joint", "neural", "behaviour")
READOUTS = ("unit", "region")

#: Largest J tried by ``components="auto"``.
AUTO_COMPONENTS = 4



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
class NNPoisson(IntensityQueries, Estimator):
    """Neural-network Poisson model of stimulus → regional spiking → choice and reaction time.

    Parameters
    ----------
    stimulus_sizes, time_size, neural_size, behaviour_size
        Network widths (:class:`~nwb_tavrnn.models.nnpoisson.network.NNPoissonNet`).
    rt_layer
        The reference's unconstrained layer on the last stimulus feature.
    readout
        ``"unit"`` (each unit's intensity a non-negative mix of its region's components, with its
        own gain) or ``"region"`` (one per-neuron intensity shared by a region's units: the
        reference's pooled model, the faithful preset's).
    components
        J, the components per region of the ``"unit"`` read-out (1 for ``"region"``); ``"auto"``
        chooses J in 1 … 4 by the likelihood of the validation block.
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
        the validation trials (the last ``validation_fraction`` of the training trials in time, a
        contiguous block; training trials whose window overlaps it are left out) after
        ``patience`` epochs without relative improvement ``min_delta``.
    seed, device, threads
        Seed of initialisation and batch order; ``auto``/``cpu``/``cuda``; torch CPU threads
        (None: torch's default).
    """

    #: ``"faithful"`` (the reference's computation) and ``"corrected"`` (the defaults).
    PRESETS = PRESETS

    def __init__(
        self,
        stimulus_sizes: tuple[int, int] = (32, 32),
        time_size: int = 32,
        neural_size: int = 32,
        behaviour_size: int = 16,
        rt_layer: bool = False,
        readout: str = "unit",
        components: int | str = 2,
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
        self.readout = readout
        self.components = components
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

    # -- validation ---------------------------------------------------------------------------
    def _validate(self) -> None:
        for name, allowed in (("warp", ("none", "reference")), ("compensator", ("difference", "end")),
                              ("behaviour_likelihood", ("competing_risks", "reference")),
                              ("objective", OBJECTIVES), ("readout", READOUTS)):
            require(getattr(self, name) in allowed, f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        require(len(tuple(self.stimulus_sizes)) == 2 and min(int(v) for v in self.stimulus_sizes) >= 1,
                f"stimulus_sizes must be two widths >= 1, got {self.stimulus_sizes}")
        for name in ("time_size", "neural_size", "behaviour_size", "n_batches"):
            require(int(getattr(self, name)) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        require(0.0 <= float(self.validation_fraction) < 0.5,
                f"validation_fraction must be in [0, 0.5), got {self.validation_fraction}")
        if self.components != "auto":
            require(isinstance(self.components, (int, np.integer)) and not isinstance(self.components, bool)
                    and int(self.components) >= 1,
                    f"components must be a whole number >= 1 or 'auto', got {self.components!r}")
        if self.readout == "region":
            require(self.components == 1, f"readout='region' has one component per region: components must be 1, "
                    f"got {self.components!r}")
        require(float(self.neural_weight) >= 0 and float(self.behaviour_weight) >= 0, "loss weights must be >= 0")
        if self.behaviour_likelihood == "reference":
            require(self.warp == "reference" and self.compensator == "end" and self.objective == "joint"
                    and self.readout == "region",
                    "behaviour_likelihood='reference' is the reference's whole loss: it needs warp='reference', "
                    "compensator='end', objective='joint' and readout='region' (use NNPoisson.preset('faithful'))")
        self._check_training_params()

    @property
    def settings(self) -> LossSettings:
        nw, bw = float(self.neural_weight), float(self.behaviour_weight)
        if self.objective == "behaviour":
            nw = 0.0
        return LossSettings(warp=self.warp, compensator=self.compensator, behaviour=self.behaviour_likelihood,
                            neural_weight=nw, behaviour_weight=bw, detach_behaviour=self.objective == "neural")

    # -- the module -----------------------------------------------------------------------------
    def _build_module(self, meta: dict[str, Any]) -> NNPoissonNet:
        return NNPoissonNet(int(meta["n_features"]), len(meta["regions"]), len(meta["actions"]),
                            stimulus_sizes=tuple(int(v) for v in self.stimulus_sizes), time_size=int(self.time_size),
                            neural_size=int(self.neural_size), behaviour_size=int(self.behaviour_size),
                            rt_layer=bool(self.rt_layer), region_scale=meta.get("region_scale"),
                            readout=meta.get("readout", "region"), components=int(meta.get("components", 1)),
                            unit_region=meta.get("unit_region"), unit_scale=meta.get("unit_scale"))

    def _encode(self, data: TrialSpikes) -> np.ndarray:
        meta = self.meta_
        if list(data.stimulus_names) != list(meta["stimulus_names"]):
            raise ValueError(f"the trials' stimulus features {data.stimulus_names} differ from the fitted "
                             f"{meta['stimulus_names']}")
        return (data.stimulus - np.asarray(meta["stimulus_mean"])) / np.asarray(meta["stimulus_std"])

    def _check_compatible(self, data: TrialSpikes) -> None:
        meta = self.meta_
        if meta.get("readout", "region") == "unit":  # each unit has its own gain and weights
            data.check_units(meta["unit_ids"], meta["unit_region"], "this NNPoisson (per-unit read-out)")
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

        With ``components="auto"`` one model is trained per candidate J (1 up to
        :data:`AUTO_COMPONENTS`, at most the units of the smallest region) and the one with the
        best likelihood of the validation block is kept (``component_scores_``).

        Parameters
        ----------
        checkpoint_dir, checkpoint_every, resume
            Write ``checkpoint_dir/checkpoint.pt`` every ``checkpoint_every`` epochs; with
            ``resume`` continue from it exactly (``components="auto"``: one sub-folder per J).
        callback
            ``callback(epoch, loss)`` after every epoch.
        """
        self._start_fit(checkpoint_every)
        require(data.n_trials >= 2, f"NNPoisson needs at least 2 trials, got {data.n_trials}")
        if not np.isfinite(data.stimulus).all():
            raise ValueError("the stimulus features hold NaN or infinite values; fill them or leave those trials out")
        device = resolve_device(self.device)
        self._draw_seed()
        train_idx, val_idx, gap = validation_block(data, float(self.validation_fraction))
        train_data = data.subset(train_idx)
        silent = [r for r, n in zip(data.regions, train_data.spike_counts().sum(0)) if n == 0]
        if silent:
            raise DataError(f"region(s) {', '.join(silent)} have no spike in the training trials: their intensity "
                            "cannot be fitted; leave them out (`keep_regions`)", "keep_regions")
        per_unit = self.readout == "unit"
        unit_counts = train_data.unit_spike_counts().sum(0)
        if per_unit and (unit_counts == 0).any():
            ids = data.unit_ids[unit_counts == 0]
            listed = f"{ids[:5].tolist()}{'...' if len(ids) > 5 else ''}"
            raise DataError(f"{len(ids)} unit(s) (ids {listed}) have no spike "
                            "in any training trial: a per-unit intensity cannot be fitted to them; remove them from "
                            "the Units table, or pool each region's units (`readout` region)", "readout")
        candidates = self._component_candidates(data)
        mean = train_data.stimulus.mean(0) if self.standardize else np.zeros(data.stimulus.shape[1])
        std = train_data.stimulus.std(0) if self.standardize else np.ones(data.stimulus.shape[1])
        std = np.where(std > 0, std, 1.0)
        exposure = train_data.observed_neurons().sum(0)  # observed (unit, trial) windows per region
        counts = train_data.spike_counts().sum(0) / np.maximum(exposure, 1)
        scale = np.maximum(counts, 1e-3) if self.count_scale else np.ones(data.n_regions)
        unit_exposure = train_data.observation().sum(0)
        unit_scale = (np.maximum(unit_counts / np.maximum(unit_exposure, 1), 1e-3) if self.count_scale
                      else np.ones(data.n_units))
        base_meta = {
            "n_features": int(data.stimulus.shape[1]), "stimulus_names": list(data.stimulus_names),
            "stimulus_mean": mean.tolist(), "stimulus_std": std.tolist(), "regions": list(data.regions),
            "actions": list(data.actions), "window": float(data.window), "neurons": data.neurons.tolist(),
            "region_scale": [float(v) for v in scale], "n_trials_fit": int(len(train_idx)),
            "validation_trial_ids": data.trial_ids[val_idx].tolist(), "gap_trial_ids": data.trial_ids[gap].tolist(),
            "readout": self.readout, "unit_region": data.unit_region.tolist(),
            "unit_ids": np.asarray(data.unit_ids).tolist(), "unit_scale": [float(v) for v in unit_scale],
        }
        digest = hashlib.sha1(json.dumps([data.regions, data.actions, data.stimulus_names, data.window]).encode())
        for array in (data.spike_time, data.spike_trial, data.spike_unit, data.unit_region, data.rt, data.choice,
                      data.stimulus, data.observation()):
            digest.update(np.ascontiguousarray(array).tobytes())
        fingerprint = digest.hexdigest()
        scores: dict[int, float] = {}
        best = None
        for j in candidates:
            folder = checkpoint_dir
            if checkpoint_dir is not None and len(candidates) > 1:
                folder = os.path.join(os.fspath(checkpoint_dir), f"components_{j}")
            self.meta_ = {**base_meta, "components": int(j)}
            config = self._training_config(folder, checkpoint_every, resume)
            module, state, nll = self._fit_once(data, train_idx, val_idx, device, fingerprint, config, callback)
            scores[int(j)] = nll
            if best is None or nll < best[2]:
                best = (module, state, nll, dict(self.meta_))
            if len(candidates) > 1:
                log.info("components=%d: validation negative log-likelihood %.4f nats per trial", j, nll)
        module, state, _, self.meta_ = best
        self._record_fit(module, state)
        self.meta_["component_scores"] = {str(j): v for j, v in scores.items()}
        self.components_ = int(self.meta_["components"])
        self.component_scores_ = scores
        return self

    def _component_candidates(self, data: TrialSpikes) -> list[int]:
        """The J to fit: the given one, or 1 … min(AUTO_COMPONENTS, smallest region) for ``auto``;
        refuses more components than a region has units."""
        if self.readout == "region":
            return [1]
        smallest = int(data.neurons.min())
        if self.components == "auto":
            require(float(self.validation_fraction) > 0,
                    "components='auto' chooses J on the validation block: validation_fraction must be > 0")
            return list(range(1, min(AUTO_COMPONENTS, smallest) + 1))
        j = int(self.components)
        if j > smallest:
            region = data.regions[int(np.argmin(data.neurons))]
            raise ParameterError(f"components={j} but region {region!r} has only {smallest} unit(s): a region "
                                 f"cannot have more components than units; use components <= {smallest} (or 'auto')")
        return [j]

    def _fit_once(self, data: TrialSpikes, train_idx: np.ndarray, val_idx: np.ndarray, device: torch.device,
                  fingerprint: str, config: TrainingConfig,
                  callback: EpochCallback | None) -> tuple[NNPoissonNet, TrainingState, float]:
        """One training run with the components in ``self.meta_``: its module, what the loop did,
        and the validation block's negative log-likelihood per trial (nats, the objective's
        weights; NaN without validation)."""
        settings = self.settings
        identity = self._run_identity(fingerprint, components=self.meta_["components"])
        log.info("fitting nnpoisson (%s likelihood, %s objective, %s read-out, %d component(s) per region) on %d "
                 "trials (%d for validation) on %s", settings.behaviour, self.objective, self.readout,
                 self.meta_["components"], len(train_idx), len(val_idx), device)

        def objective(module: NNPoissonNet, generator: torch.Generator) -> Objective:
            self.module_ = module  # held while it trains: a callback may query the estimator
            tensors = TrialTensors.from_trials(data, self._encode(data), device)
            train_t = torch.as_tensor(train_idx, device=device)
            val_t = torch.as_tensor(val_idx, device=device)
            n_batches = min(int(self.n_batches), len(train_idx))

            def batches() -> list[torch.Tensor]:
                perm = torch.randperm(len(train_idx), generator=generator).to(device)
                return list(torch.tensor_split(train_t[perm], n_batches))

            def loss_fn(batch: torch.Tensor) -> torch.Tensor:
                if settings.faithful:  # the behaviour term on all *training* trials, never the validation ones
                    return reference_step_loss(module, tensors, batch, behaviour_trials=train_t)
                return corrected_nll(module, tensors, batch, settings)["loss"]

            def validation_fn() -> list[float]:
                # the two terms watched apart: a behaviour still improving is not lost in the
                # much larger neural term
                if settings.faithful:
                    return [float(reference_step_loss(module, tensors, val_t, behaviour_trials=val_t))]
                out = corrected_nll(module, tensors, val_t, settings)
                n = len(val_idx)
                return [settings.neural_weight * float(out["neural"].sum()) / n,
                        settings.behaviour_weight * float(out["behaviour"]) / n]

            return Objective(loss_fn, batches, validation_fn if len(val_idx) else None)

        module, state, run = self._train_module(self.meta_, device, objective, config, identity, callback)
        nll = float("nan")
        if run.validation_fn is not None:  # the kept weights scored as during training (same settings)
            with torch.no_grad(), deterministic(), self._threads(self.meta_, device):
                nll = float(sum(run.validation_fn()))
        return module, state, nll

    # -- likelihoods ------------------------------------------------------------------------------
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
        """NWB containers of this fit: (ModelProvenance, intensities table, trial predictions table),
        and with the per-unit read-out a fourth, the unit intensities table.

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
                f"{self.meta_.get('readout', 'region')} read-out with {self.meta_.get('components', 1)} component(s) "
                f"per region, seed {getattr(self, 'seed_', self.seed)}) on {', '.join(self.meta_['regions'])}")
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
        if self.meta_.get("readout", "region") != "unit":
            return provenance, intensities, table
        regions = list(self.meta_["regions"])
        units = intensity_table(self.unit_intensity_curves(stimuli, grid), grid, stimuli, data.condition_labels(),
                                regions, name=f"{name_prefix}unit_intensities",
                                description=f"intensity of each unit per stimulus condition, {desc}",
                                unit_ids=np.asarray(self.meta_["unit_ids"]),
                                unit_regions=[regions[k] for k in self.meta_["unit_region"]])
        return provenance, intensities, table, units

    def _restore(self, meta: dict[str, Any], state_dict: dict[str, torch.Tensor], loss_curve: list[float]) -> None:
        state_dict = dict(state_dict)
        state_dict.setdefault("region_scale", torch.as_tensor(meta.get("region_scale"), dtype=torch.float32))
        meta = dict(meta)
        if "readout" not in meta:  # saved before the per-unit read-out: the pooled model, units in region order
            meta.update(readout="region", components=1,
                        unit_region=np.repeat(np.arange(len(meta["neurons"])), meta["neurons"]).tolist())
        self.readout, self.components = meta["readout"], int(meta["components"])
        super()._restore(meta, state_dict, loss_curve)
        self.components_ = int(meta["components"])
        self.component_scores_ = {int(j): float(v) for j, v in meta.get("component_scores", {}).items()}

    def reference_t_end(self, data: TrialSpikes) -> np.ndarray:
        """The reference's T_end of each trial (its RT within W, else W)."""
        rt = torch.as_tensor(data.rt, dtype=torch.float64)
        return end_times(rt, torch.as_tensor(data.choice), float(data.window)).numpy()


__all__ = ["OBJECTIVES", "PRESETS", "NNPoisson", "TrialPredictions"]
