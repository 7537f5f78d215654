"""One window of the VGRNN recurrence (encoder, Z, graph GRU) as one autograd node.

On long sessions of small graphs (tens of nodes, hundreds of windows) every product is tiny and
the cost is per operation: with autograd recording each of the window's ~25 operations and replaying
~35 in the backward, the engine's bookkeeping outweighed the arithmetic. :class:`GraphCell` does the
same forward with recording off and a hand-written backward, so each window is one node of the
autograd graph. The equations (DESIGN.md §3; ``Â`` the window's normalised adjacency, ``⊙`` elementwise)::

    a_h = Â h
    e   = ReLU(P_enc + a_h W_eh)                                   # P_enc = (Â φx) W_ex (+ b), outside
    [μ | s] = (Â e) W_head (+ b_head),   σ = softplus(s)
    Z   = μ + σ ⊙ ε            (Z = μ without sampling)
    g   = σ(P_x[:, :2h] + (Â ReLU(Z W_φzᵀ + b_φz)) W_xz[:, :2h] + a_h W_g + b_g),  [u | r] = g
    c   = tanh(P_x[:, 2h:] + (Â ReLU(Z W_φzᵀ + b_φz)) W_xz[:, 2h:] + (Â (r ⊙ h)) W_hhᵀ + b_hh)
    H̃   = u ⊙ h + (1 − u) ⊙ c

``tests/models/test_cell.py`` checks values and every gradient against autograd on these equations.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor


def _t_mm(a: Tensor, b: Tensor) -> Tensor:
    """``aᵀ b`` (weight gradients)."""
    return a.t() @ b


class GraphCell(torch.autograd.Function):
    """The window step above; inputs in this order, ``None`` for an absent bias or for ``eps`` (no
    sampling). ``matrix`` and ``transpose`` are ``Â`` and ``Âᵀ`` (dense or sparse CSR; the same object
    when ``Â`` is symmetric).

    Shapes
    ------
    h : (N + 1, h);  pre_enc : (N + 1, h);  pre_x : (N + 1, 3h);  eps : (N + 1, z) or None
    enc_h : (h, h);  head : (h, 2z);  head_bias : (2z,);  phi_z_weight : (h, z);  phi_z_bias : (h,)
    x_phi_z : (h, 3h);  gate : (h, 2h);  gate_bias : (2h,);  hh_weight : (h, h);  hh_bias : (h,)
    return : mean, std, z (N + 1, z) and H̃ (N + 1, h)
    """

    @staticmethod
    def forward(ctx: Any, h: Tensor, pre_enc: Tensor, pre_x: Tensor, eps: Tensor | None,  # type: ignore[override]
                enc_h: Tensor, head: Tensor, head_bias: Tensor | None, phi_z_weight: Tensor, phi_z_bias: Tensor,
                x_phi_z: Tensor, gate: Tensor, gate_bias: Tensor, hh_weight: Tensor, hh_bias: Tensor,
                matrix: Tensor, transpose: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        hd, zd = h.shape[1], head.shape[1] // 2
        a_h = matrix @ h
        pre_e = torch.addmm(pre_enc, a_h, enc_h)
        a_e = matrix @ F.relu(pre_e)
        heads = a_e @ head if head_bias is None else torch.addmm(head_bias, a_e, head)
        mean, pre_std = heads[:, :zd], heads[:, zd:]
        std = F.softplus(pre_std)
        z = mean + std * eps if eps is not None else mean.clone()
        pre_phi = F.linear(z, phi_z_weight, phi_z_bias)
        a_phi = matrix @ F.relu(pre_phi)
        gx = torch.addmm(pre_x, a_phi, x_phi_z)
        gates = torch.sigmoid(gx[:, :2 * hd] + torch.addmm(gate_bias, a_h, gate))
        update, reset = gates[:, :hd], gates[:, hd:]
        a_rh = matrix @ (reset * h)
        candidate = torch.tanh(gx[:, 2 * hd:] + F.linear(a_rh, hh_weight, hh_bias))
        h_new = update * h + (1 - update) * candidate
        ctx.transpose = transpose
        ctx.has_head_bias = head_bias is not None
        ctx.save_for_backward(h, a_h, pre_e, a_e, pre_std, eps, z, pre_phi, a_phi, gates, a_rh, candidate,
                              enc_h, head, phi_z_weight, x_phi_z, gate, hh_weight)
        return mean, std, z, h_new

    @staticmethod
    def backward(ctx: Any, d_mean: Tensor, d_std: Tensor, d_z: Tensor, d_new: Tensor) -> tuple:  # type: ignore[override]
        (h, a_h, pre_e, a_e, pre_std, eps, z, pre_phi, a_phi, gates, a_rh, candidate,
         enc_h, head, phi_z_weight, x_phi_z, gate, hh_weight) = ctx.saved_tensors
        need = ctx.needs_input_grad
        at = ctx.transpose
        hd = h.shape[1]
        update, reset = gates[:, :hd], gates[:, hd:]
        # H̃ = u h + (1 − u) c
        d_h = d_new * update
        d_pre_c = d_new * (1 - update) * (1 - candidate * candidate)
        d_update = d_new * (h - candidate)
        d_a_rh = d_pre_c @ hh_weight
        d_rh = at @ d_a_rh
        d_h = d_h + d_rh * reset
        d_gates = torch.cat([d_update, d_rh * h], dim=1) * gates * (1 - gates)
        d_gx = torch.cat([d_gates, d_pre_c], dim=1)
        d_a_h = d_gates @ gate.t()
        d_a_phi = d_gx @ x_phi_z.t()
        d_pre_phi = (at @ d_a_phi) * (pre_phi > 0)
        d_z_all = d_z + d_pre_phi @ phi_z_weight
        d_heads_std = d_std if eps is None else d_std + d_z_all * eps
        d_heads = torch.cat([d_mean + d_z_all, d_heads_std * torch.sigmoid(pre_std)], dim=1)
        d_pre_e = (at @ (d_heads @ head.t())) * (pre_e > 0)
        d_a_h = d_a_h + d_pre_e @ enc_h.t()
        d_h = d_h + at @ d_a_h
        return (
            d_h if need[0] else None,
            d_pre_e if need[1] else None,
            d_gx if need[2] else None,
            None,
            _t_mm(a_h, d_pre_e) if need[4] else None,
            _t_mm(a_e, d_heads) if need[5] else None,
            d_heads.sum(0) if need[6] else None,
            _t_mm(d_pre_phi, z) if need[7] else None,
            d_pre_phi.sum(0) if need[8] else None,
            _t_mm(a_phi, d_gx) if need[9] else None,
            _t_mm(a_h, d_gates) if need[10] else None,
            d_gates.sum(0) if need[11] else None,
            _t_mm(d_pre_c, a_rh) if need[12] else None,
            d_pre_c.sum(0) if need[13] else None,
            None,
            None,
        )
