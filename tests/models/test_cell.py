"""The hand-written window step against autograd on its equations (written out here, in float64)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from nwb_tavrnn.models.tavrnn.cell import GraphCell  # noqa: E402

N, H, Z = 7, 5, 3


def _equations(h, pre_enc, pre_x, eps, enc_h, head, head_bias, wz, bz, x_phi_z, gate, gate_bias, whh, bhh, a):
    """DESIGN.md §3, one window, every GCN written separately with the adjacency ``a``."""
    e = F.relu(pre_enc + (a @ h) @ enc_h)
    heads = (a @ e) @ head + (0 if head_bias is None else head_bias)
    mean, std = heads[:, :Z], F.softplus(heads[:, Z:])
    z = mean if eps is None else mean + std * eps
    phi_z = F.relu(z @ wz.t() + bz)
    gx = pre_x + (a @ phi_z) @ x_phi_z
    update = torch.sigmoid(gx[:, :H] + (a @ h) @ gate[:, :H] + gate_bias[:H])
    reset = torch.sigmoid(gx[:, H:2 * H] + (a @ h) @ gate[:, H:] + gate_bias[H:])
    cand = torch.tanh(gx[:, 2 * H:] + (a @ (reset * h)) @ whh.t() + bhh)
    return mean, std, z, update * h + (1 - update) * cand


@pytest.mark.parametrize("sample", [True, False])
@pytest.mark.parametrize("head_bias", [True, False])
@pytest.mark.parametrize("layout", ["dense-symmetric", "dense", "sparse"])
def test_values_and_every_gradient_match_autograd(sample, head_bias, layout):
    g = torch.Generator().manual_seed(0)

    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_(True)

    a = torch.rand(N + 1, N + 1, generator=g, dtype=torch.float64) * (torch.rand(N + 1, N + 1, generator=g) < 0.5)
    if layout == "dense-symmetric":
        a = a + a.t()
    transpose = a if layout == "dense-symmetric" else a.t().contiguous()
    matrix = a
    if layout == "sparse":
        matrix, transpose = a.to_sparse_csr(), a.t().contiguous().to_sparse_csr()
    inputs = [r(N + 1, H), r(N + 1, H), r(N + 1, 3 * H),
              torch.randn(N + 1, Z, generator=g, dtype=torch.float64) if sample else None,
              r(H, H), r(H, 2 * Z), r(2 * Z) if head_bias else None, r(H, Z), r(H), r(H, 3 * H), r(H, 2 * H),
              r(2 * H), r(H, H), r(H)]
    ours = GraphCell.apply(*inputs, matrix, transpose)
    theirs = _equations(*inputs, a)
    weights = [torch.randn(o.shape, generator=g, dtype=torch.float64) for o in theirs]
    differentiable = [x for x in inputs if x is not None and x.requires_grad]
    grads_ours = torch.autograd.grad(sum((o * w).sum() for o, w in zip(ours, weights)), differentiable)
    grads_theirs = torch.autograd.grad(sum((o * w).sum() for o, w in zip(theirs, weights)), differentiable)
    for o, t in zip(ours, theirs):
        torch.testing.assert_close(o, t, rtol=1e-10, atol=1e-12)
    for i, (o, t) in enumerate(zip(grads_ours, grads_theirs)):
        torch.testing.assert_close(o, t, rtol=1e-9, atol=1e-11, msg=f"gradient of input {i}")


def test_frozen_weights_get_no_gradient_work():
    g = torch.Generator().manual_seed(1)
    a = torch.rand(N + 1, N + 1, generator=g)
    frozen = [torch.randn(*s, generator=g) for s in ((H, 3 * H), (H, 2 * H), (2 * H,), (H, H), (H,))]
    h = torch.randn(N + 1, H, requires_grad=True)
    args = [h, torch.randn(N + 1, H), torch.randn(N + 1, 3 * H), None, torch.randn(H, H), torch.randn(H, 2 * Z),
            None, torch.randn(H, Z), torch.randn(H), *frozen, a, a.t().contiguous()]
    out = GraphCell.apply(*args)
    (grad_h,) = torch.autograd.grad(out[3].sum(), [h])
    assert torch.isfinite(grad_h).all() and grad_h.abs().sum() > 0
