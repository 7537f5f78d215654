"""The NNPoisson network: a monotone neural network for each region's cumulative intensity Λ_k(t | s)
and, on top of the vector of regional cumulative intensities, one monotone head per action.

Architecture (the reference's ``expr/model.py``, names of its Keras layers in brackets)::

    a_s = L3 softplus(L2 softplus(L1 s + b1) + b2) + b3         stimulus path   [neuro0-2]
    h1  = tanh(a_s + V u),            V ≥ 0, no bias            time enters      [neuro3, mix]
    h2  = tanh(U1 h1 + c1),           U1 ≥ 0                                     [neuro4]
    h3  = tanh(h2 + R s[-1] + r0)     (only with ``rt_layer``)                   [neuro5, mix2]
    Λ̃   = softplus(U2 h3 + c2),       U2 ≥ 0   J outputs per region (the reference: 1)  [neuro6]
    Λ̃_a = softplus(B2_a tanh(B1_a Λ̃ + d1_a) + d2_a),  B ≥ 0   one per action      [beh0-3]

Read-outs (how a unit's cumulative intensity comes from its region's outputs):

* ``"region"`` (the reference's pooled model, J = 1): every unit of region k has Λ_k = scale_k Λ̃_k;
* ``"unit"``: Λ_i = g_i Σ_j w_ij Λ̃_{k(i), j}, with g_i = exp(log g_i) > 0 and w_i = softmax(logits_i)
  (non-negative, summing to 1, so g_i is the unit's scale): a non-negative mix of monotone
  components is monotone, and every unit of a region draws on the same J components (the regional
  bottleneck). The action heads read the K·J components Λ̃.

Every weight on a path from the time input ``u`` to an output is non-negative and every activation
increasing, so each output is non-decreasing in ``u``. The intensities are the time derivatives,
computed here in forward mode by the chain rule (exact, one pass, no double backward; the tests
check them against autograd and finite differences).

Time and scale (see :class:`NNPoissonNet`): ``u = t / time_scale`` with ``time_scale = W /
warp`` per trial; the faithful preset has the reference's warp ``u = (W / T_end) · t`` with
``time_scale`` 1 and outputs divided by the warp, the corrected one ``u = t / W`` for every trial
(nothing about the trial's future in its input) and each region's output multiplied by a fixed
count scale (mean spikes per neuron and window), so that Λ̃ of order 1 fits any firing rate.

Shapes
------
stimulus : (trials, features); time : (points,) with a trial index per point
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F


def _abs_glorot_(weight: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """|Glorot-uniform|: the reference's ``abs_glorot_uniform`` for the non-negative layers."""
    fan_out, fan_in = weight.shape[-2], weight.shape[-1]
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        weight.uniform_(-bound, bound, generator=generator).abs_()
    return weight


def _glorot_(weight: torch.Tensor) -> torch.Tensor:
    fan_out, fan_in = weight.shape[-2], weight.shape[-1]
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        weight.uniform_(-bound, bound)
    return weight


class NNPoissonNet(nn.Module):
    """Regional and action cumulative intensities as monotone functions of time given a stimulus.

    Parameters
    ----------
    n_features, n_regions, n_actions
        Stimulus width, regions (outputs of the neural layer) and actions (behaviour heads).
    stimulus_sizes
        Widths of the two softplus layers of the stimulus path (the reference: 10, 10).
    time_size
        Width of the time layer (and of the stimulus path's linear output); the reference: 10.
    neural_size
        Width of the layer between the time layer and the regional outputs; the reference: 10.
    behaviour_size
        Width of each action head's hidden layer; the reference: 10.
    rt_layer
        The reference's unconstrained dense layer on the last stimulus feature (``neuro5``); it
        does not depend on time, so monotonicity is kept.
    region_scale
        Fixed per-region multipliers of the regional outputs (count scale) of the ``"region"``
        read-out; ones for the faithful preset.
    readout
        ``"region"`` or ``"unit"`` (see the module docstring).
    components
        J, components per region (1 for the ``"region"`` read-out).
    unit_region
        Region index of each unit (the ``"unit"`` read-out's parameters are per unit).
    unit_scale
        Initial g_i of each unit (its mean spike count per window: Λ̃ of order 1 fits any rate).

    Shapes
    ------
    region_scale : (regions,); unit_region, unit_scale : (units,)
    """

    def __init__(
        self,
        n_features: int,
        n_regions: int,
        n_actions: int,
        stimulus_sizes: Sequence[int] = (10, 10),
        time_size: int = 10,
        neural_size: int = 10,
        behaviour_size: int = 10,
        rt_layer: bool = False,
        region_scale: Sequence[float] | torch.Tensor | None = None,
        readout: str = "region",
        components: int = 1,
        unit_region: Sequence[int] | torch.Tensor | None = None,
        unit_scale: Sequence[float] | torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        s1, s2 = (int(v) for v in stimulus_sizes)
        self.n_regions, self.n_actions, self.rt_layer = int(n_regions), int(n_actions), bool(rt_layer)
        if readout not in ("region", "unit"):
            raise ValueError(f"readout must be 'region' or 'unit', got {readout!r}")
        if readout == "region" and int(components) != 1:
            raise ValueError("the 'region' read-out has one component per region (components=1)")
        if readout == "unit" and unit_region is None:
            raise ValueError("the 'unit' read-out needs each unit's region (unit_region)")
        self.readout, self.components = readout, int(components)
        n_out = self.n_regions * self.components
        self.stim1 = nn.Linear(n_features, s1)
        self.stim2 = nn.Linear(s1, s2)
        self.stim3 = nn.Linear(s2, time_size)
        self.time_weight = nn.Parameter(torch.empty(time_size, 1))  # V ≥ 0, no bias
        self.hidden = nn.Linear(time_size, neural_size)  # U1 ≥ 0
        self.rt = nn.Linear(1, neural_size) if self.rt_layer else None
        self.out = nn.Linear(neural_size, n_out)  # U2 ≥ 0
        self.beh1_weight = nn.Parameter(torch.empty(n_actions, behaviour_size, n_out))  # ≥ 0
        self.beh1_bias = nn.Parameter(torch.zeros(n_actions, behaviour_size))
        self.beh2_weight = nn.Parameter(torch.empty(n_actions, 1, behaviour_size))  # ≥ 0
        self.beh2_bias = nn.Parameter(torch.zeros(n_actions, 1))
        if readout == "region":
            scale = (torch.ones(n_regions) if region_scale is None
                     else torch.as_tensor(region_scale, dtype=torch.float32))
        else:  # the units' gains carry the scale
            scale = torch.ones(n_out)
        self.register_buffer("region_scale", scale.reshape(n_out).clone())
        if readout == "unit":
            units = torch.as_tensor(unit_region, dtype=torch.int64).reshape(-1)
            self.register_buffer("unit_region", units.clone())
            init = torch.ones(len(units)) if unit_scale is None else torch.as_tensor(unit_scale, dtype=torch.float32)
            self.unit_log_gain = nn.Parameter(torch.log(init.reshape(len(units))).clone())
            self.unit_logits = nn.Parameter(torch.zeros(len(units), self.components))
        self.reset_parameters()

    #: Parameters projected onto ≥ 0 after every optimiser step (Keras ``NonNeg``).
    NON_NEGATIVE = ("time_weight", "hidden.weight", "out.weight", "beh1_weight", "beh2_weight")

    def reset_parameters(self) -> None:
        """The reference's initialisation: Glorot-uniform weights, zero biases, |Glorot| for the
        non-negative layers (Keras defaults). The unit read-out starts from equal weights and the
        gains given at construction."""
        for layer in (self.stim1, self.stim2, self.stim3) + ((self.rt,) if self.rt is not None else ()):
            _glorot_(layer.weight)
            nn.init.zeros_(layer.bias)
        for name in self.NON_NEGATIVE:
            _abs_glorot_(self.get_parameter(name))
        for bias in (self.hidden.bias, self.out.bias, self.beh1_bias, self.beh2_bias):
            nn.init.zeros_(bias)

    @torch.no_grad()
    def after_step(self) -> None:
        """Project the constrained weights back onto ≥ 0 (called by the training loop)."""
        for name in self.NON_NEGATIVE:
            self.get_parameter(name).clamp_(min=0.0)

    # -- the pieces ---------------------------------------------------------------------------
    def stimulus_terms(self, stimulus: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The time-independent parts, once per trial: ``a_s`` and the RT layer's ``R s[-1] + r0``.

        Shapes
        ------
        stimulus : (trials, features) -> (trials, time_size), (trials, neural_size) or None
        """
        a = self.stim3(F.softplus(self.stim2(F.softplus(self.stim1(stimulus)))))
        r = self.rt(stimulus[:, -1:]) if self.rt is not None else None
        return a, r

    def latent(self, a: torch.Tensor, r: torch.Tensor | None, u: torch.Tensor,
               rate: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Λ̃(u) of every region and its derivative dΛ̃/du, at points with their trial's terms.

        Shapes
        ------
        a : (points, time_size); r : (points, neural_size) or None; u : (points,)
        returns : (points, regions · components), same or None (components of region k are the
        columns k·J … k·J + J − 1)
        """
        v = self.time_weight.clamp(min=0.0)[:, 0]
        h1 = torch.tanh(a + u[:, None] * v)
        w1 = self.hidden.weight.clamp(min=0.0)
        h2 = torch.tanh(F.linear(h1, w1, self.hidden.bias))
        h = torch.tanh(h2 + r) if r is not None else h2
        w2 = self.out.weight.clamp(min=0.0)
        z = F.linear(h, w2)
        z = z + self.out.bias
        big = F.softplus(z)
        if not rate:
            return big, None
        d1 = (1.0 - h1 * h1) * v
        d2 = (1.0 - h2 * h2) * F.linear(d1, w1)
        dh = (1.0 - h * h) * d2 if r is not None else d2
        return big, torch.sigmoid(z) * F.linear(dh, w2)

    def readout_matrix(self, unit_region: torch.Tensor) -> torch.Tensor:
        """M with Λ_units = Λ̃_components · Mᵀ (after the component scale): one-hot of each unit's
        region for the ``"region"`` read-out, g_i w_ij in unit i's region's J columns for ``"unit"``.

        Shapes
        ------
        unit_region : (units,) -> (units, regions · components)
        """
        onehot = F.one_hot(unit_region, self.n_regions).to(self.region_scale.dtype)
        if self.readout == "region":
            return onehot
        if unit_region.shape != self.unit_region.shape or not torch.equal(unit_region, self.unit_region):
            raise ValueError(f"the data's {unit_region.shape[0]} units (or their regions) differ from the "
                             f"{self.unit_region.shape[0]} the model was fitted on")
        w = torch.softmax(self.unit_logits, dim=1) * torch.exp(self.unit_log_gain)[:, None]  # (U, J)
        return (onehot[:, :, None] * w[:, None, :]).reshape(len(unit_region), -1)

    def actions(self, big: torch.Tensor, dbig: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Λ̃_a of every action from the regional Λ̃, and its derivative by the chain rule.

        Shapes
        ------
        big, dbig : (points, regions · components) -> (points, actions), (points, actions) or None
        """
        b1 = self.beh1_weight.clamp(min=0.0)  # (A, H, R)
        b2 = self.beh2_weight.clamp(min=0.0)  # (A, 1, H)
        q = torch.tanh(torch.einsum("ahr,pr->pah", b1, big) + self.beh1_bias)  # (P, A, H)
        w = torch.einsum("aoh,pah->pao", b2, q)[..., 0] + self.beh2_bias[:, 0]  # (P, A)
        out = F.softplus(w)
        if dbig is None:
            return out, None
        dq = (1.0 - q * q) * torch.einsum("ahr,pr->pah", b1, dbig)
        return out, torch.sigmoid(w) * torch.einsum("aoh,pah->pao", b2, dq)[..., 0]


__all__ = ["NNPoissonNet"]
