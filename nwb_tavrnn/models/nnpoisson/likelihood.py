"""NNPoisson's likelihoods, all regions and actions in one vectorised pass: the reference's loss
(``faithful``) and the corrected one.

Notation: trial ``j`` with stimulus ``s_j``, window ``W``, reaction time ``τ_j`` (response ``a_j``)
or none; ``n_k`` units in region ``k``. The network maps a trial's time ``t`` to ``u = κ_j t`` and
reports ``Λ(t) = m_j · scale · Λ̃(κ_j t)``, so ``λ(t) = m_j · scale · κ_j · Λ̃'(κ_j t)``.

* Corrected (the default): ``κ_j = 1/W``, ``m_j = 1`` for every trial (no warp), count scales,
  and the exact log-likelihood of an inhomogeneous Poisson process per unit plus a
  competing-risks likelihood for the response::

      −log L_j = Σ_i o_ji [ −Σ_{spikes of i in j} log λ_i(t) + Λ_i(W) − Λ_i(0) ]
                 − 1[resp] log λ_{a_j}(τ_j) + Σ_a (Λ_a(τ*_j) − Λ_a(0)),   τ*_j = τ_j or W

  with o_ji = 1 when unit i was observed over trial j's window, and Λ_i from the network's
  read-out (:meth:`NNPoissonNet.readout_matrix`): its region's Λ_k for the pooled read-out (the
  sum is then Σ_k n_k(j) ΔΛ_k, the reference's form), a mix of its region's components for the
  per-unit one.

  averaged over the trials of a mini-batch (behaviour and neural terms on the same trials).
* Faithful (the reference's ``expr/losses.py``): ``T_j = τ_j`` for a response within W, else
  ``W``; ``κ_j = W / T_j`` and ``m_j = 1/κ_j`` (the per-trial time warp); spikes after ``T_j`` are
  dropped; the compensator is ``Λ(T)``, not ``Λ(T) − Λ(0)``; ``log(1e-5 + λ)``; normalisers 200·R
  (neural) and 200 (behaviour); the behaviour term a Poisson window per action on *all* trials,
  weighted 0.01, at every (region, batch) step::

      L_k(batch) = −1/(200 R) [ Σ_{spikes of k} log(1e-5 + λ_k(t)) − Σ_j n_k Λ_k(T_j) ]
      L_a        = −1/200     [ Σ_{j: a_j = a} log(1e-5 + λ_a(τ_j)) − Σ_j Λ_a(W) ]
      step loss  = L_k(batch) + 0.01 Σ_a L_a

  With the warp, ``λ_a(τ_j) = Λ̃_a'(W)`` whatever ``τ_j`` is: the reaction time leaks into its own
  likelihood (the tests show it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from ...io.trials import TrialSpikes
from .network import NNPoissonNet

#: The reference's constants (``expr/losses.py`` and ``main.py``).
REFERENCE_EPS = 1e-5
REFERENCE_NEURAL_NORM = 200.0  # times the number of regions
REFERENCE_BEHAVIOUR_NORM = 200.0
REFERENCE_BEHAVIOUR_WEIGHT = 0.01

#: Floor under λ in the corrected log-likelihood (Hz): only keeps log finite at a zero weight.
CORRECTED_EPS = 1e-8


@dataclass
class TrialTensors:
    """A :class:`~nwb_tavrnn.io.trials.TrialSpikes` on a device, spikes sorted by trial.

    Shapes
    ------
    stimulus : (trials, features) float32 (already encoded for the network)
    spike_time, spike_trial, spike_region, spike_unit : (spikes,)
    neurons : (regions,) float32; unit_region : (units,) int64; observed : (trials, units) float32
    choice : (trials,) int64; rt : (trials,) float32 (NaN: none)
    trial_start : (trials + 1,) int64, spikes of trial j are [trial_start[j], trial_start[j + 1])
    """

    stimulus: torch.Tensor
    spike_time: torch.Tensor
    spike_trial: torch.Tensor
    spike_region: torch.Tensor
    spike_unit: torch.Tensor
    neurons: torch.Tensor
    unit_region: torch.Tensor
    observed: torch.Tensor
    choice: torch.Tensor
    rt: torch.Tensor
    trial_start: torch.Tensor
    window: float

    @classmethod
    def from_trials(cls, data: TrialSpikes, stimulus: np.ndarray, device: torch.device | str = "cpu") -> TrialTensors:
        order = np.lexsort((data.spike_time, data.spike_trial))
        trial = data.spike_trial[order]
        start = np.searchsorted(trial, np.arange(data.n_trials + 1))

        def t(x, dtype):
            return torch.as_tensor(np.ascontiguousarray(x), dtype=dtype, device=device)

        return cls(
            stimulus=t(stimulus, torch.float32), spike_time=t(data.spike_time[order], torch.float32),
            spike_trial=t(trial, torch.int64), spike_region=t(data.spike_region[order], torch.int64),
            spike_unit=t(data.spike_unit[order], torch.int64), neurons=t(data.neurons, torch.float32),
            unit_region=t(data.unit_region, torch.int64), observed=t(data.observation(), torch.float32),
            choice=t(data.choice, torch.int64),
            rt=t(data.rt, torch.float32), trial_start=t(start, torch.int64), window=float(data.window),
        )

    @property
    def n_trials(self) -> int:
        return int(self.choice.shape[0])

    def spikes_of(self, trials: torch.Tensor) -> torch.Tensor:
        """Indices of the spikes of these trials (a mini-batch)."""
        starts, stops = self.trial_start[trials], self.trial_start[trials + 1]
        counts = stops - starts
        offsets = torch.repeat_interleave(starts - torch.cumsum(counts, 0) + counts, counts)
        return torch.arange(int(counts.sum()), device=starts.device) + offsets


@dataclass(frozen=True)
class LossSettings:
    """Which likelihood (see the module docstring); each field is an NNPoisson parameter."""

    warp: str = "none"  # "none" | "reference"
    compensator: str = "difference"  # "difference": Λ(T) − Λ(0); "end": Λ(T)
    behaviour: str = "competing_risks"  # "competing_risks" | "reference"
    neural_weight: float = 1.0
    behaviour_weight: float = 1.0
    detach_behaviour: bool = False  # objective "neural": behaviour heads read a frozen neural layer

    @property
    def faithful(self) -> bool:
        return self.behaviour == "reference"


def end_times(rt: torch.Tensor, choice: torch.Tensor, window: float) -> torch.Tensor:
    """The reference's ``T_end``: the RT of a response within the window, else W."""
    responded = (choice >= 0) & torch.isfinite(rt) & (rt < window)
    return torch.where(responded, rt, torch.full_like(rt, window))


def warp_factors(settings: LossSettings, rt: torch.Tensor, choice: torch.Tensor,
                 window: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-trial ``κ`` (time → network input) and ``m`` (output multiplier).

    Shapes
    ------
    rt, choice : (trials,) -> (trials,), (trials,)
    """
    if settings.warp == "reference":
        kappa = window / end_times(rt, choice, window)
        return kappa, 1.0 / kappa
    kappa = torch.full_like(rt, 1.0 / window)
    return kappa, torch.ones_like(rt)


def evaluate(net: NNPoissonNet, terms: tuple[torch.Tensor, torch.Tensor | None], trial: torch.Tensor,
             t: torch.Tensor, kappa: torch.Tensor, mult: torch.Tensor, *, rate: bool = True,
             actions: bool = False, detach: bool = False) -> dict[str, torch.Tensor]:
    """Regional (per neuron) and action cumulative intensities and intensities at points.

    Parameters
    ----------
    terms
        :meth:`NNPoissonNet.stimulus_terms` of every trial.
    trial, t
        Each point's trial index and time after onset (s).
    kappa, mult
        Per-trial warp factors (:func:`warp_factors`).

    Shapes
    ------
    trial, t : (points,) -> "Lambda", "lambda": (points, regions · components), per neuron of the
    pooled read-out, unscaled components of the per-unit one; "A_Lambda", "A_lambda": (points, actions)
    """
    a, r = terms
    k, m = kappa[trial], mult[trial]
    big, dbig = net.latent(a[trial], None if r is None else r[trial], t * k, rate=rate or actions)
    scale = net.region_scale
    out = {"Lambda": big * (m[:, None] * scale)}
    if rate:
        out["lambda"] = dbig * ((m * k)[:, None] * scale)
    if actions:
        if detach:
            big, dbig = big.detach(), dbig.detach()
        ab, adb = net.actions(big, dbig)
        out["A_Lambda"] = ab * m[:, None]
        out["A_lambda"] = adb * (m * k)[:, None]
    return out


def _gather(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return x.gather(1, index[:, None])[:, 0]


def corrected_nll(net: NNPoissonNet, data: TrialTensors, trials: torch.Tensor, settings: LossSettings,
                  per_trial: bool = False, predictive: bool = False) -> dict[str, torch.Tensor]:
    """The corrected negative log-likelihood of these trials (nats): ``"neural"`` (per region),
    ``"behaviour"`` and ``"loss"`` (weighted, averaged over the trials).

    ``predictive``: with the reference's warp, warp every trial as one without a response (its
    ``T_end = W``), so the likelihood does not use the trial's own RT.

    Shapes
    ------
    trials : (batch,) -> "neural": (regions,) summed over the batch (or (batch, regions) with
    ``per_trial``), "behaviour": () or (batch,), "loss": ()
    """
    W = data.window
    terms = net.stimulus_terms(data.stimulus[trials])
    nb = trials.shape[0]
    local = torch.arange(nb, device=trials.device)
    rt, choice = data.rt[trials], data.choice[trials]
    if predictive:
        kappa, mult = warp_factors(settings, torch.full_like(rt, float("nan")), torch.full_like(choice, -1), W)
    else:
        kappa, mult = warp_factors(settings, rt, choice, W)
    sp = data.spikes_of(trials)
    counts = data.trial_start[trials + 1] - data.trial_start[trials]
    sp_local = torch.repeat_interleave(local, counts)
    sp_region = data.spike_region[sp]
    readout = net.readout_matrix(data.unit_region)  # (units, components)
    at_spikes = evaluate(net, terms, sp_local, data.spike_time[sp], kappa, mult)
    log_rate = torch.log((at_spikes["lambda"] * readout[data.spike_unit[sp]]).sum(1) + CORRECTED_EPS)
    R = net.n_regions
    spike_term = torch.zeros(nb * R, device=trials.device, dtype=log_rate.dtype).index_add_(
        0, sp_local * R + sp_region, log_rate).reshape(nb, R)
    responded = (choice >= 0) & torch.isfinite(rt) & (rt < W)
    tau = torch.where(responded, rt, torch.full_like(rt, W))
    need_actions = settings.behaviour_weight != 0
    # points per trial: 0, the end of the neural window W, and τ* (the behaviour's end)
    pts_trial = torch.cat([local, local, local])
    pts_t = torch.cat([torch.zeros_like(tau), torch.full_like(tau, W), tau])
    ends = evaluate(net, terms, pts_trial, pts_t, kappa, mult, rate=need_actions, actions=need_actions,
                    detach=settings.detach_behaviour)
    lam0, lamW = ends["Lambda"][:nb], ends["Lambda"][nb:2 * nb]
    compensator = lamW - lam0 if settings.compensator == "difference" else lamW
    # each unit charged for its expected spikes only in the trials it was observed in
    charged = (compensator @ readout.T) * data.observed[trials]  # (batch, units)
    neural = -spike_term + charged @ F.one_hot(data.unit_region, R).to(charged.dtype)
    out: dict[str, torch.Tensor] = {}
    if need_actions:
        a0, atau = ends["A_Lambda"][:nb], ends["A_Lambda"][2 * nb:]
        comp_a = (atau - a0 if settings.compensator == "difference" else atau).sum(1)
        rate_at = _gather(ends["A_lambda"][2 * nb:], choice.clamp(min=0))
        behaviour = comp_a - torch.where(responded, torch.log(rate_at + CORRECTED_EPS), torch.zeros_like(rate_at))
    else:
        behaviour = torch.zeros(nb, device=trials.device)
    out["neural"] = neural if per_trial else neural.sum(0)
    out["behaviour"] = behaviour if per_trial else behaviour.sum()
    out["loss"] = (settings.neural_weight * neural.sum() + settings.behaviour_weight * behaviour.sum()) / nb
    return out


def reference_losses(net: NNPoissonNet, data: TrialTensors, trials: torch.Tensor,
                     behaviour_trials: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The reference's loss terms: ``"neural"`` L_k of every region on ``trials`` (regions,) and
    ``"behaviour"`` Σ_a L_a on ``behaviour_trials`` (default: all trials, as the reference does).

    The reference steps on ``L_k(batch) + 0.01 Σ_a L_a`` one region at a time; summed over the
    regions of one batch that is ``Σ_k L_k + 0.01 R Σ_a L_a`` (:func:`reference_step_loss`).
    """
    W = data.window
    R = net.n_regions
    settings = LossSettings(warp="reference", compensator="end", behaviour="reference")
    if behaviour_trials is None:
        behaviour_trials = torch.arange(data.n_trials, device=trials.device)
    # neural part on the batch
    terms = net.stimulus_terms(data.stimulus[trials])
    nb = trials.shape[0]
    local = torch.arange(nb, device=trials.device)
    rt, choice = data.rt[trials], data.choice[trials]
    kappa, mult = warp_factors(settings, rt, choice, W)
    t_end = end_times(rt, choice, W)
    sp = data.spikes_of(trials)
    counts = data.trial_start[trials + 1] - data.trial_start[trials]
    sp_local = torch.repeat_interleave(local, counts)
    keep = data.spike_time[sp] < t_end[sp_local]  # the reference keeps spikes before min(W, RT)
    sp, sp_local = sp[keep], sp_local[keep]
    sp_region = data.spike_region[sp]
    at_spikes = evaluate(net, terms, sp_local, data.spike_time[sp], kappa, mult)
    log_rate = torch.log(REFERENCE_EPS + _gather(at_spikes["lambda"], sp_region))
    spike_sum = torch.zeros(R, device=trials.device, dtype=log_rate.dtype).index_add_(0, sp_region, log_rate)
    ends = evaluate(net, terms, local, t_end, kappa, mult, rate=False)
    comp = (ends["Lambda"] * data.neurons).sum(0)
    neural = -(spike_sum - comp) / (REFERENCE_NEURAL_NORM * R)
    # behaviour part on all trials: λ_a at the RT of trials that chose a, Λ_a at W for every trial
    bt = behaviour_trials
    bterms = net.stimulus_terms(data.stimulus[bt])
    nbt = bt.shape[0]
    blocal = torch.arange(nbt, device=bt.device)
    brt, bchoice = data.rt[bt], data.choice[bt]
    bk, bm = warp_factors(settings, brt, bchoice, W)
    responded = (bchoice >= 0) & torch.isfinite(brt) & (brt < W)
    tau = torch.where(responded, brt, torch.full_like(brt, W))
    at = evaluate(net, bterms, torch.cat([blocal, blocal]), torch.cat([tau, torch.full_like(tau, W)]), bk, bm,
                  rate=True, actions=True)
    rate_at = _gather(at["A_lambda"][:nbt], bchoice.clamp(min=0))
    log_terms = torch.where(responded, torch.log(REFERENCE_EPS + rate_at), torch.zeros_like(rate_at)).sum()
    behaviour = -(log_terms - at["A_Lambda"][nbt:].sum()) / REFERENCE_BEHAVIOUR_NORM
    return {"neural": neural, "behaviour": behaviour}


def reference_step_loss(net: NNPoissonNet, data: TrialTensors, trials: torch.Tensor,
                        behaviour_trials: torch.Tensor | None = None) -> torch.Tensor:
    """The sum over regions of the reference's step losses on one batch (see :func:`reference_losses`);
    the behaviour term on ``behaviour_trials`` (default all trials of ``data``)."""
    parts = reference_losses(net, data, trials, behaviour_trials)
    return parts["neural"].sum() + REFERENCE_BEHAVIOUR_WEIGHT * net.n_regions * parts["behaviour"]


__all__ = ["LossSettings", "TrialTensors", "corrected_nll", "end_times", "evaluate", "reference_losses",
           "reference_step_loss", "warp_factors"]
