"""The NNPoisson network: a monotone neural network for each region's cumulative intensity Λ_k(t | s)
and, on top of the vector of regional cumulative intensities, one monotone head per action.

Architecture (the reference's ``expr/model.py``, names of its Keras layers in brackets)::

    a_s = L3 softplus(L2 softplus(L1 s + b1) + b2) + b3         stimulus path   [neuro0-2]
    h1  = tanh(a_s + V u),            V ≥ 0, no bias            time enters      [neuro3, mix]
    h2  = tanh(U1 h1 + c1),           U1 ≥ 0                                     [neuro4]
    h3  = tanh(h2 + R s[-1] + r0)     (only with ``rt_layer``)                   [neuro5, mix2]
    Λ̃   = softplus(U2 h3 + c2),       U2 ≥ 0   one output per region             [neuro6]
    Λ̃_a = softplus(B2_a tanh(B1_a Λ̃ + d1_a) + d2_a),  B ≥ 0   one per action      [beh0-3]

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
        Fixed per-region multipliers of the regional outputs (count scale); ones for the faithful
        preset.

    Shapes
    ------
    region_scale : (regions,)
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
    ) -> None:
        super().__init__()
        s1, s2 = (int(v) for v in stimulus_sizes)
        self.n_regions, self.n_actions, self.rt_layer = int(n_regions), int(n_actions), bool(rt_layer)
        self.stim1 = nn.Linear(n_features, s1)
        self.stim2 = nn.Linear(s1, s2)
        self.stim3 = nn.Linear(s2, time_size)
        self.time_weight = nn.Parameter(torch.empty(time_size, 1))  # V ≥ 0, no bias
        self.hidden = nn.Linear(time_size, neural_size)  # U1 ≥ 0
        self.rt = nn.Linear(1, neural_size) if self.rt_layer else None
        self.out = nn.Linear(neural_size, n_regions)  # U2 ≥ 0
        self.beh1_weight = nn.Parameter(torch.empty(n_actions, behaviour_size, n_regions))  # ≥ 0
        self.beh1_bias = nn.Parameter(torch.zeros(n_actions, behaviour_size))
        self.beh2_weight = nn.Parameter(torch.empty(n_actions, 1, behaviour_size))  # ≥ 0
        self.beh2_bias = nn.Parameter(torch.zeros(n_actions, 1))
        scale = torch.ones(n_regions) if region_scale is None else torch.as_tensor(region_scale, dtype=torch.float32)
        self.register_buffer("region_scale", scale.reshape(n_regions).clone())
        self.reset_parameters()

    #: Parameters projected onto ≥ 0 after every optimiser step (Keras ``NonNeg``).
    NON_NEGATIVE = ("time_weight", "hidden.weight", "out.weight", "beh1_weight", "beh2_weight")

    def reset_parameters(self) -> None:
        """The reference's initialisation: Glorot-uniform weights, zero biases, |Glorot| for the
        non-negative layers (Keras defaults)."""
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
        returns : (points, regions), (points, regions) or None
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

    def actions(self, big: torch.Tensor, dbig: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Λ̃_a of every action from the regional Λ̃, and its derivative by the chain rule.

        Shapes
        ------
        big, dbig : (points, regions) -> (points, actions), (points, actions) or None
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
