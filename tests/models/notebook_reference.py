"""An independent re-implementation of the reference notebook's TAVRNN (``TAVRNN.ipynb``: GCNConv,
graph_gru_attention, AttentionLayer, T_AVRNN and its losses), written from its equations for the
golden tests. It shares no code with ``nwb_tavrnn.models``: dense matrices, Python loops, the
notebook's parameter names and layouts (GCNConv weights are ``(in, out)``), the notebook's list of
states in which the attended state overwrites the newest one.

Inputs follow the notebook: the real nodes' adjacency gets a history node (row, column and
diagonal set to 1); the node features are the |r| matrix augmented the same way, or the identity.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

EPS = 1e-10
GRU = ("weight_xz", "weight_xr", "weight_xh", "weight_hz", "weight_hr", "weight_hh")


def with_history_node(matrix: np.ndarray) -> torch.Tensor:
    """The notebook's augmentation: one more row and column of ones (diagonal included).

    Shapes
    ------
    matrix : (N, N)
    return : (N + 1, N + 1) float32
    """
    n = matrix.shape[0]
    out = torch.ones(n + 1, n + 1)
    out[:n, :n] = torch.as_tensor(np.asarray(matrix, dtype=np.float32))
    return out


def inputs(adjacency: np.ndarray, features: np.ndarray | None) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``x_in`` (W, N+1, N+1) and ``adj_with_history_node_list`` (binary, history node added)."""
    adjs = [with_history_node((a != 0).astype(np.float32)) for a in adjacency]
    if features is None:
        x = torch.stack([torch.eye(adjs[0].shape[0]) for _ in adjs])
    else:
        x = torch.stack([with_history_node(np.abs(f)) for f in features])
    return x, adjs


def init_params(x_dim: int, h_dim: int = 32, z_dim: int = 8, seed: int = 0, encoder_bias: bool = False) -> dict:
    """Random weights in the notebook's state_dict layout, the GRU's included (Glorot-like scales,
    non-zero biases so that every term matters)."""
    g = torch.Generator().manual_seed(seed)

    def u(*shape, scale=None):
        scale = scale if scale is not None else math.sqrt(6.0 / sum(shape[:2])) if len(shape) == 2 else 0.1
        return (torch.rand(*shape, generator=g) * 2 - 1) * scale

    p = {
        "phi_x.0.weight": u(h_dim, x_dim), "phi_x.0.bias": u(h_dim),
        "phi_z.0.weight": u(h_dim, z_dim), "phi_z.0.bias": u(h_dim),
        "enc.weight": u(2 * h_dim, h_dim), "enc_mean.weight": u(h_dim, z_dim), "enc_std.weight": u(h_dim, z_dim),
        "prior.0.weight": u(h_dim, h_dim), "prior.0.bias": u(h_dim),
        "prior_mean.0.weight": u(z_dim, h_dim), "prior_mean.0.bias": u(z_dim),
        "prior_std.0.weight": u(z_dim, h_dim), "prior_std.0.bias": u(z_dim),
    }
    if encoder_bias:
        p.update({"enc.bias": u(h_dim), "enc_mean.bias": u(z_dim), "enc_std.bias": u(z_dim)})
    for name in ("query", "key", "value"):
        p[f"rnn.AttentionLayer.{name}.weight"] = u(h_dim, h_dim)
        p[f"rnn.AttentionLayer.{name}.bias"] = u(h_dim)
    for name in GRU:
        p[f"rnn.{name}.0.weight"] = u(2 * h_dim if name[-2] == "x" else h_dim, h_dim)
        p[f"rnn.{name}.0.bias"] = u(h_dim)
    return {k: v.double().requires_grad_() for k, v in p.items()}


def gcn(x: torch.Tensor, adj: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """The notebook's GCNConv: unit weights on the non-zeros of ``adj``, degree = row count,
    ``out_i = Σ_j d_i^-1/2 d_j^-1/2 (x W)_j + b`` over ``adj[i, j] != 0``; no self-loops added."""
    a = (adj != 0).to(x.dtype)
    deg = a.sum(dim=1)
    d = deg.pow(-0.5)
    d[torch.isinf(d)] = 0
    out = (d[:, None] * a * d[None, :]) @ (x @ weight)
    return out if bias is None else out + bias


def linear(p: dict, name: str, x: torch.Tensor) -> torch.Tensor:
    return x @ p[f"{name}.weight"].t() + p[f"{name}.bias"]


def kld(mean_1, std_1, mean_2, std_2) -> torch.Tensor:
    num_nodes = mean_1.shape[0]
    element = (2 * torch.log(std_2 + EPS) - 2 * torch.log(std_1 + EPS)
               + ((std_1 + EPS) ** 2 + (mean_1 - mean_2) ** 2) / (std_2 + EPS) ** 2 - 1)
    return (0.5 / num_nodes) * torch.mean(torch.sum(element, dim=1), dim=0)


def nll(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    size = target.shape[0]
    total = target.sum()
    pos_weight = (size * size - total) / total
    norm = size * size / ((size * size - total) * 2)
    return norm * F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight, reduction="none").mean()


def forward(p: dict, x: torch.Tensor, adjs: list[torch.Tensor], eps: list[torch.Tensor] | None = None) -> dict:
    """T_AVRNN.forward with one GRU layer; ``eps`` None means ``z = mean`` (sampling off).

    Returns kl and reconstruction summed over windows, the per-window means (N + 1 nodes) and the
    attention rows (row t over windows 0..t).
    """
    h_dim = p["phi_x.0.weight"].shape[0]
    x = x.to(p["phi_x.0.weight"].dtype)
    nodes = x.shape[1]
    all_h = [torch.zeros(1, nodes, h_dim, dtype=x.dtype)]
    kl_total, nll_total, means, zs, attention = 0.0, 0.0, [], [], []
    for t in range(x.shape[0]):
        adj = adjs[t].to(x.dtype)
        h = all_h[-1]
        phi_x = F.relu(linear(p, "phi_x.0", x[t]))
        enc = F.relu(gcn(torch.cat([phi_x, h[-1]], 1), adj, p["enc.weight"], p.get("enc.bias")))
        enc_mean = gcn(enc, adj, p["enc_mean.weight"], p.get("enc_mean.bias"))
        enc_std = F.softplus(gcn(enc, adj, p["enc_std.weight"], p.get("enc_std.bias")))
        prior = F.relu(linear(p, "prior.0", h[-1]))
        prior_mean = linear(p, "prior_mean.0", prior)
        prior_std = F.softplus(linear(p, "prior_std.0", prior))
        z = enc_mean if eps is None else enc_mean + enc_std * eps[t].to(x.dtype)
        phi_z = F.relu(linear(p, "phi_z.0", z))
        dec = z @ z.t()
        # graph GRU (layer 0) on the newest state of the list
        inp = torch.cat([phi_x, phi_z], 1)
        prev = all_h[-1][0]

        def g(name, v):
            return gcn(v, adj, p[f"rnn.{name}.0.weight"], p[f"rnn.{name}.0.bias"])

        s_g = torch.sigmoid(g("weight_xz", inp) + g("weight_hz", prev))
        r_g = torch.sigmoid(g("weight_xr", inp) + g("weight_hr", prev))
        h_tilde = torch.tanh(g("weight_xh", inp) + g("weight_hh", r_g * prev))
        all_h.append((s_g * prev + (1 - s_g) * h_tilde).unsqueeze(0))
        # AttentionLayer: query from the newest state's history node, keys and values over all
        # states but the initial zeros; the weighted sum overwrites the newest state
        states = torch.stack(all_h[1:], dim=0)  # (t+1, 1, N+1, h)
        query = linear(p, "rnn.AttentionLayer.query", states[-1, -1, -1, :].view(1, -1))
        keys = linear(p, "rnn.AttentionLayer.key", states[:, -1, -1, :])
        scores = query @ keys.t() / math.sqrt(h_dim)
        weights = F.softmax(scores, dim=1)
        values = linear(p, "rnn.AttentionLayer.value", states)
        all_h[-1] = (values * weights.view(-1, 1, 1, 1)).sum(dim=0)
        attention.append(weights[0])
        kl_total = kl_total + kld(enc_mean, enc_std, prior_mean, prior_std)
        nll_total = nll_total + nll(dec, adj)
        means.append(enc_mean)
        zs.append(z)
    return {"kl": kl_total, "reconstruction": nll_total, "loss": kl_total + nll_total,
            "mean": torch.stack(means), "z": torch.stack(zs), "attention": attention}


def train(p: dict, x: torch.Tensor, adjs: list[torch.Tensor], epochs: int, lr: float = 1e-2) -> list[float]:
    """The notebook's loop: Adam over the registered parameters (not the GRU's GCNs), one step per
    epoch on the whole sequence, ``z = mean``. Returns the loss before each step."""
    registered = [v for k, v in p.items() if not k.startswith(tuple(f"rnn.{g}." for g in GRU))]
    optimizer = torch.optim.Adam(registered, lr=lr)
    curve = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = forward(p, x, adjs)["loss"]
        loss.backward()
        optimizer.step()
        curve.append(float(loss.detach()))
    return curve
