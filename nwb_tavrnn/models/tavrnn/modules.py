"""VGRNN (Hajiramezanali et al., 2019) with TAVRNN's temporal attention, built from small modules.

Every GCN of the reference is ``Â X W + b``; here the propagation ``Â X`` is done first and shared:
``Â φx`` feeds both the encoder and the GRU, ``Â h`` both the encoder and the GRU's gates, and the
three GRU gates read one propagated input. The result is the same function as six separate GCNs
(up to float rounding) with four sparse products per window instead of nine dense ones.

Equations (per window ``t``; DESIGN.md §3)::

    φx = ReLU(Lin(X_t)),  φz = ReLU(Lin(Z_t))
    e = ReLU(GCN([φx ‖ h])),  μ = GCN(e),  σ = softplus(GCN(e))                 # encoder
    p = ReLU(Lin(h)),  μp = Lin(p),  σp = softplus(Lin(p))                       # prior
    Z_t = μ + σ ε;  logits = Z_t Z_tᵀ                                            # decoder
    H̃_t = GRU_GCN([φx ‖ φz], h)                                                  # recurrence
    α = softmax_j(q(s_t) · k(s_j) / √h),  H_t = Σ_j α_j v(S_j)                  # attention

``S_j`` is what the attention memory holds for window ``j``: the raw GRU output ``H̃_j``
(``attention_memory="raw"``) or, as the reference notebook does, the attended state ``H_j`` that
replaced it (``"attended"``; the current window is always its raw ``H̃_t``).

The options that make this the reference notebook's computation exactly (``TAVRNN.preset("faithful")``)
are the keyword arguments of :class:`VGRNNNet`; docs/tavrnn_fidelity.md lists them.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..graphs import GraphSequence, SparseGraph
from .attention import AttentionMemory, TemporalAttention
from .cell import GraphCell

#: The reference's stabiliser inside the Gaussian KL.
KL_EPS = 1e-10


@dataclass
class RecurrentState:
    """What the recurrence carries from one window to the next: the hidden state and, with
    attention, the memory of earlier states (bounded by ``attention`` = w, growing with the windows
    for "full")."""

    h: Tensor
    memory: AttentionMemory | None


class GraphGRU(nn.Module):
    """GRU whose input and hidden transforms are GCNs on the window's graph (one layer).

    Parameter names mirror the reference's ``weight_{x,h}{z,r,h}`` GCNs.

    Shapes
    ------
    propagated_input : (N + 1, in_dim), already multiplied by ``Â``
    h, propagated_h : (N + 1, h_dim)
    return : (N + 1, h_dim)
    """

    def __init__(self, in_dim: int, h_dim: int, bias: bool = True) -> None:
        super().__init__()
        self.x_z = nn.Linear(in_dim, h_dim, bias=bias)
        self.x_r = nn.Linear(in_dim, h_dim, bias=bias)
        self.x_h = nn.Linear(in_dim, h_dim, bias=bias)
        self.h_z = nn.Linear(h_dim, h_dim, bias=bias)
        self.h_r = nn.Linear(h_dim, h_dim, bias=bias)
        self.h_h = nn.Linear(h_dim, h_dim, bias=bias)

    def forward(self, propagated_input: Tensor, h: Tensor, propagated_h: Tensor, graph: SparseGraph) -> Tensor:
        z = torch.sigmoid(self.x_z(propagated_input) + self.h_z(propagated_h))
        r = torch.sigmoid(self.x_r(propagated_input) + self.h_r(propagated_h))
        candidate = torch.tanh(self.x_h(propagated_input) + self.h_h(graph.propagate(r * h)))
        return z * h + (1 - z) * candidate


class GraphEncoder(nn.Module):
    """q(Z_t | X_t, h): a GCN layer, then GCN heads for the mean and the softplus standard deviation.

    Shapes
    ------
    propagated_phi_x, propagated_h : (N + 1, h_dim)
    return : mean, std, each (N + 1, z_dim)
    """

    def __init__(self, h_dim: int, z_dim: int, bias: bool = True) -> None:
        super().__init__()
        self.hidden = nn.Linear(2 * h_dim, h_dim, bias=bias)
        self.mean = nn.Linear(h_dim, z_dim, bias=bias)
        self.std = nn.Linear(h_dim, z_dim, bias=bias)

    def forward(self, propagated_phi_x: Tensor, propagated_h: Tensor, graph: SparseGraph) -> tuple[Tensor, Tensor]:
        e = F.relu(self.hidden(torch.cat([propagated_phi_x, propagated_h], dim=1)))
        propagated_e = graph.propagate(e)
        return self.mean(propagated_e), F.softplus(self.std(propagated_e))


class Prior(nn.Module):
    """p(Z_t | h_{t-1}): an MLP on the recurrent state (no graph).

    Shapes
    ------
    h : (N + 1, h_dim)
    return : mean, std, each (N + 1, z_dim)
    """

    def __init__(self, h_dim: int, z_dim: int) -> None:
        super().__init__()
        self.hidden = nn.Linear(h_dim, h_dim)
        self.mean = nn.Linear(h_dim, z_dim)
        self.std = nn.Linear(h_dim, z_dim)

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor]:
        p = F.relu(self.hidden(h))
        return self.mean(p), F.softplus(self.std(p))


def kl_reference(mean_q: Tensor, std_q: Tensor, mean_p: Tensor, std_p: Tensor, scale: str = "reference") -> Tensor:
    """KL(q‖p) of diagonal Gaussians as the reference computes it: the per-node sum, averaged over
    nodes, and (``scale="reference"``) divided by the number of nodes once more (the reference's
    ``0.5 / num_nodes`` before a node mean); ``scale="mean"`` stops at the node mean.

    Shapes
    ------
    all inputs : (..., N, z_dim), e.g. (N, z_dim) or (W, N, z_dim)
    return : (...) one value per leading index, () for a single window
    """
    n = mean_q.shape[-2] if scale == "reference" else 1
    element = (2 * torch.log(std_p + KL_EPS) - 2 * torch.log(std_q + KL_EPS)
               + ((std_q + KL_EPS) ** 2 + (mean_q - mean_p) ** 2) / (std_p + KL_EPS) ** 2 - 1)
    return (0.5 / n) * element.sum(dim=-1).mean(dim=-1)


def _weights(n: int, n_edges: int | Tensor) -> tuple:
    """The reference's ``pos_weight = (N²−E)/E`` and ``norm = N²/(2(N²−E))`` (E a count, or a
    tensor of counts, one per window)."""
    total = float(n) * n
    if isinstance(n_edges, Tensor):
        e = n_edges.clamp(min=1)
        negatives = (total - e).clamp(min=1.0)
    else:
        e = float(max(n_edges, 1))
        negatives = max(total - e, 1.0)
    return negatives / e, total / (2.0 * negatives)


class _InnerProductBCE(torch.autograd.Function):
    """``Σ_ij BCEWithLogits(z_i · z_j, A_ij, pos_weight)`` with a hand-written backward.

    Uses ``Σ_ij BCE = Σ_ij softplus(l_ij) + Σ_edges [p·softplus(−l) − softplus(l)]``. Autograd would
    keep the logits, build more N×N tensors for the gradients, and scatter the edge terms back
    row by row (slow: a deterministic scatter sorts). Here the only N×N tensor kept is ``σ(L)``;
    the gradient is ``dZ = (σ(L) + C) Z + (σ(L) + C)ᵀ Z`` with ``C`` the sparse per-edge correction
    (``2 (σ(L) + C) Z`` when the edges are symmetric).
    """

    @staticmethod
    def forward(ctx: Any, z: Tensor, pos_index: Tensor, crow: Tensor, col: Tensor, pos_weight: float,
                symmetric: bool) -> Tensor:  # type: ignore[override]
        logits = z @ z.t()
        pos = logits.reshape(-1)[pos_index]
        total = F.softplus(logits).sum() + (pos_weight * F.softplus(-pos) - F.softplus(pos)).sum()
        if ctx.needs_input_grad[0]:
            ctx.pos_weight, ctx.symmetric = pos_weight, symmetric
            ctx.save_for_backward(z, torch.sigmoid_(logits), crow, col, pos)
        return total

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple:  # type: ignore[override]
        z, sig, crow, col, pos = ctx.saved_tensors
        n = z.shape[0]
        # d/dl [p·softplus(−l) − softplus(l)] = −p·σ(−l) − σ(l), on the edges only (CSR order).
        values = -ctx.pos_weight * torch.sigmoid(-pos) - torch.sigmoid(pos)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
            correction = torch.sparse_csr_tensor(crow, col, values, (n, n))
        if ctx.symmetric:
            dz = 2.0 * (sig @ z + correction @ z)
        else:
            dz = sig @ z + sig.t() @ z + correction @ z + correction.t() @ z
        return grad * dz, None, None, None, None, None


def reconstruction_dense(z: Tensor, pos_index: Tensor, crow: Tensor | None = None, col: Tensor | None = None,
                         symmetric: bool | None = None) -> Tensor:
    """The reference's loss, ``norm · mean(BCEWithLogits(Z Zᵀ, A, pos_weight))``, computed exactly.

    Parameters
    ----------
    z
        Latent positions of the real nodes.
    pos_index
        Flat indices ``i * N + j`` of the edges, unique (sorted when ``crow`` is given).
    crow, col, symmetric
        The edges as CSR row pointers and columns, and whether they are symmetric; worked out
        from ``pos_index`` when not given (:class:`~nwb_tavrnn.models.graphs.SparseGraph` keeps them).

    Shapes
    ------
    z : (N, z_dim)
    pos_index, col : (E,)
    crow : (N + 1,)
    return : () scalar
    """
    n = z.shape[0]
    pos_weight, norm = _weights(n, pos_index.numel())
    if crow is None or col is None:
        pos_index = torch.sort(pos_index).values
        row, col = pos_index // n, pos_index % n
        crow = torch.searchsorted(row, torch.arange(n + 1, device=z.device))
        if symmetric is None:
            symmetric = bool(torch.equal(torch.sort(col * n + row).values, pos_index))
    return norm * _InnerProductBCE.apply(z, pos_index, crow, col, pos_weight, bool(symmetric)) / (float(n) * n)


#: Above this many logits (windows × nodes²) the dense loss runs window by window (each N×N block
#: then stays in cache, 4x faster at 901 nodes); below, all windows at once (a few batched products
#: instead of a dozen small operations per window: most of the loss's cost on long, small sessions).
BATCHED_DECODER_MAX_ELEMENTS = 1 << 22


def reconstruction_batched(z: Tensor, targets: Tensor) -> Tensor:
    """:func:`reconstruction_dense` summed over windows, computed for all windows at once.

    ``norm · mean(pos_weight · A · softplus(−l) + (1 − A) · softplus(l))`` per window with
    ``l = Z Zᵀ`` and the window's own ``pos_weight`` and ``norm`` (:func:`_weights`).

    Shapes
    ------
    z : (W, N, z_dim)
    targets : (W, N, N) bool
    return : () scalar
    """
    n = z.shape[1]
    pos_weight, norm = _weights(n, targets.flatten(1).sum(dim=1).to(z.dtype))
    logits = torch.bmm(z, z.transpose(1, 2))
    per = torch.where(targets, pos_weight[:, None, None] * F.softplus(-logits), F.softplus(logits))
    return (norm * per.flatten(1).sum(dim=1)).sum() / (float(n) * n)


def reconstruction_sampled(z: Tensor, pos_index: Tensor, generator: torch.Generator | None,
                           negative_ratio: float = 1.0) -> Tensor:
    """Unbiased estimate of :func:`reconstruction_dense` from the edges plus sampled non-edges.

    Every edge contributes exactly; ``ceil(ratio · E)`` pairs are drawn uniformly, pairs that are
    edges are rejected, and the mean BCE of the rest stands for all ``N² − E`` non-edges. Memory and
    time are O(E · z) instead of O(N² · z).

    Shapes
    ------
    z : (N, z_dim)
    pos_index : (E,) flat indices, sorted or not
    return : () scalar
    """
    n = z.shape[0]
    n_edges = pos_index.numel()
    pos_weight, norm = _weights(n, n_edges)
    src, dst = pos_index // n, pos_index % n
    pos_logits = (z[src] * z[dst]).sum(dim=1)
    total = pos_weight * F.softplus(-pos_logits).sum()
    n_neg_total = float(n) * n - n_edges
    if n_neg_total > 0:
        k = max(int(math.ceil(negative_ratio * max(n_edges, 1))), 1)
        draw = torch.randint(0, n * n, (k,), generator=generator, device=z.device)
        draw = draw[~torch.isin(draw, pos_index)]
        if draw.numel():
            neg_logits = (z[draw // n] * z[draw % n]).sum(dim=1)
            total = total + n_neg_total * F.softplus(neg_logits).mean()
    return norm * total / (float(n) * n)


#: The options of :class:`VGRNNNet` whose values the presets set (see ``TAVRNN.preset``).
ATTENTION_MEMORIES = ("raw", "attended")
KL_SCALES = ("reference", "mean")
LOSS_REDUCTIONS = ("sum", "mean")


def _glorot_(layer: nn.Linear) -> None:
    """The reference's GCNConv initialisation: Glorot-uniform weight, zero bias."""
    bound = math.sqrt(6.0 / (layer.in_features + layer.out_features))
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound)
        if layer.bias is not None:
            layer.bias.zero_()


class VGRNNNet(nn.Module):
    """The network: VGRNN, with temporal attention unless ``attention is None``.

    Parameters
    ----------
    x_dim, h_dim, z_dim
        Feature, recurrent-state and latent sizes.
    attention
        ``"full"`` (attend over the whole history, as the reference), an int ``w`` (the last ``w``
        states, the current one included) or ``None`` (plain VGRNN).
    encoder_bias
        Biases in the encoder's three GCNs (the reference's ``enc``, ``enc_mean``, ``enc_std`` have none).
    recurrence_trainable
        Whether the graph GRU's six GCNs learn. The reference keeps them in plain Python lists,
        never registered with the module, so its optimiser never sees them: they stay at their
        random initial values (``False`` reproduces that; they are still saved with the weights).
    attention_memory
        ``"raw"``: attend over the GRU outputs ``H̃_j``; ``"attended"``: over the attended states
        that replaced them (the reference).
    kl_scale, loss_reduction
        ``"reference"`` divides the node-mean KL by the node count again, ``"mean"`` does not;
        ``"sum"`` adds the windows' losses (the reference), ``"mean"`` averages them.

    Layers that play a GCN's part (the encoder's and the GRU's) start as the reference's GCNConv
    (Glorot-uniform weights, zero biases); the others keep ``nn.Linear``'s initialisation, as there.
    """

    def __init__(self, x_dim: int, h_dim: int = 32, z_dim: int = 8, attention: str | int | None = "full", *,
                 encoder_bias: bool = True, recurrence_trainable: bool = True, attention_memory: str = "raw",
                 kl_scale: str = "reference", loss_reduction: str = "sum") -> None:
        super().__init__()
        for name, value, allowed in (("attention_memory", attention_memory, ATTENTION_MEMORIES),
                                     ("kl_scale", kl_scale, KL_SCALES),
                                     ("loss_reduction", loss_reduction, LOSS_REDUCTIONS)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        self.x_dim, self.h_dim, self.z_dim = x_dim, h_dim, z_dim
        self.attention_memory, self.kl_scale, self.loss_reduction = attention_memory, kl_scale, loss_reduction
        self.phi_x = nn.Linear(x_dim, h_dim)
        self.phi_z = nn.Linear(z_dim, h_dim)
        self.encoder = GraphEncoder(h_dim, z_dim, bias=encoder_bias)
        self.prior = Prior(h_dim, z_dim)
        self.rnn = GraphGRU(2 * h_dim, h_dim)
        self.attention_window = None if attention in (None, "full") else int(attention)
        self.attention = TemporalAttention(h_dim) if attention is not None else None
        for layer in (*self.encoder.children(), *self.rnn.children()):
            _glorot_(layer)
        self.rnn.requires_grad_(bool(recurrence_trainable))

    def embed_features(self, seq: GraphSequence) -> Tensor:
        """φx for every window in one product (it does not depend on the recurrence).

        Shapes
        ------
        return : (W, N + 1, h_dim), or (1, N + 1, h_dim) for identity features (shared by all windows)
        """
        if seq.features is None:  # φx(I) is the weight matrix itself: skip the N×N identity product
            return F.relu(self.phi_x.weight.t() + self.phi_x.bias).unsqueeze(0)
        return F.relu(self.phi_x(seq.features))

    # -- the recurrence, one window at a time (shared by forward and the online embedder) ------------
    def _fused(self) -> dict[str, Tensor | None]:
        """The layers' weights arranged for the recurrence: the φx halves of the encoder's first GCN and
        of the three GRU input GCNs side by side, the encoder's heads together, the GRU's gates together."""
        enc, rnn, hd = self.encoder, self.rnn, self.h_dim
        x_weight = torch.cat([rnn.x_z.weight, rnn.x_r.weight, rnn.x_h.weight])  # (3h, 2h)
        return {
            "input": torch.cat([enc.hidden.weight[:, :hd], x_weight[:, :hd]]).t(),  # (h, 4h)
            "input_bias": torch.cat([rnn.x_z.bias, rnn.x_r.bias, rnn.x_h.bias]),
            "enc_h": enc.hidden.weight[:, hd:].t(),
            "head": torch.cat([enc.mean.weight, enc.std.weight]).t(),  # (h, 2z)
            "head_bias": None if enc.mean.bias is None else torch.cat([enc.mean.bias, enc.std.bias]),
            "x_phi_z": x_weight[:, hd:].t(),  # (h, 3h)
            "gate": torch.cat([rnn.h_z.weight, rnn.h_r.weight]).t(),  # (h, 2h)
            "gate_bias": torch.cat([rnn.h_z.bias, rnn.h_r.bias]),
        }

    def _input_terms(self, a_phi_x: Tensor, fused: dict) -> tuple[Tensor, Tensor]:
        """The encoder's and the GRU's shares of ``Â φx`` (any leading window axes)."""
        hd = self.h_dim
        pre = a_phi_x @ fused["input"]
        pre_enc = pre[..., :hd]
        if self.encoder.hidden.bias is not None:
            pre_enc = pre_enc + self.encoder.hidden.bias
        return pre_enc, pre[..., hd:] + fused["input_bias"]

    def initial_state(self, n_nodes: int, device: torch.device | str = "cpu",
                      capacity: int = 8) -> RecurrentState:
        """The state before the first window: zeros, empty attention memory (room for ``capacity``
        states; it grows on line, but not while gradients are tracked)."""
        h = torch.zeros(n_nodes + 1, self.h_dim, device=device)
        memory = None if self.attention is None else AttentionMemory(capacity, n_nodes + 1, self.h_dim,
                                                                     self.attention_window, device, h.dtype)
        return RecurrentState(h, memory)

    def _advance(self, graph, pre_enc: Tensor, pre_x: Tensor, state: RecurrentState, fused: dict, sample: bool,
                 generator: torch.Generator | None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """One window of the recurrence: encoder, Z, graph GRU, attention. Updates ``state`` in place
        and returns (mean, std, z, attention weights over the reachable memory)."""
        eps = torch.randn(state.h.shape[0], self.z_dim, generator=generator, device=pre_x.device) if sample else None
        mean, std, z, h_tilde = GraphCell.apply(
            state.h, pre_enc, pre_x, eps, fused["enc_h"], fused["head"], fused["head_bias"], self.phi_z.weight,
            self.phi_z.bias, fused["x_phi_z"], fused["gate"], fused["gate_bias"], self.rnn.h_h.weight,
            self.rnn.h_h.bias, graph.matrix, graph.transpose)
        if self.attention is None:
            state.h = h_tilde
            return mean, std, z, torch.ones(1, device=mean.device)
        h, alpha = self.attention.attend(h_tilde, state.memory)
        # the reference overwrites the newest state with the attended one
        state.memory.store(h if self.attention_memory == "attended" else h_tilde)
        state.h = h
        return mean, std, z, alpha

    def step(self, graph, features: Tensor | None, state: RecurrentState) -> dict[str, Tensor]:
        """Embed one more window (Z = μ), carrying ``state`` from the previous one: what
        :meth:`forward` computes for that window, for an online caller. With gradients on, the
        attention memory cannot grow: give :meth:`initial_state` a ``capacity`` of the windows to come.

        Shapes
        ------
        features : (N + 1, x_dim), or None for identity features
        return["mean"], ["std"] : (N + 1, z_dim); ["hidden"] : (N + 1, h_dim); ["attention"] : (memory,)
        """
        fused = self._fused()
        if features is None:
            phi_x = F.relu(self.phi_x.weight.t() + self.phi_x.bias)
        else:
            phi_x = F.relu(self.phi_x(features))
        pre_enc, pre_x = self._input_terms(graph.propagate(phi_x), fused)
        mean, std, _, alpha = self._advance(graph, pre_enc, pre_x, state, fused, False, None)
        return {"mean": mean, "std": std, "hidden": state.h, "attention": alpha}

    def forward(
        self,
        seq: GraphSequence,
        sample: bool = True,
        generator: torch.Generator | None = None,
        decoder: str = "dense",
        negative_ratio: float = 1.0,
        compute_loss: bool = True,
    ) -> dict[str, Tensor]:
        """Run the whole sequence.

        The computation is arranged for speed, the function is the one in the module docstring:
        everything that does not depend on the recurrence (φx, ``Â φx`` and its share of the
        encoder's and GRU's input GCNs, the prior, the KL) is done
        for all windows in batched products outside the time loop, and gate weights are
        concatenated so each window costs a handful of small products and four sparse ones.

        Parameters
        ----------
        sample
            Draw ``Z_t = μ + σ ε`` (training, as the reference); False uses ``Z_t = μ`` throughout
            (deterministic embeddings).
        generator
            Source of ε and of sampled non-edges (so a checkpoint can hold its state).
        decoder
            ``"dense"`` (exact reference loss) or ``"sampled"`` (edges + sampled non-edges).

        Shapes
        ------
        return["loss"], ["reconstruction"], ["kl"] : () scalars over windows (see ``loss_reduction``)
        return["mean"], ["std"] : (W, N + 1, z_dim), history node last
        return["z"] : (W, N + 1, z_dim), the Z the recurrence used (= mean when ``sample`` is False)
        return["hidden"] : (W, N + 1, h_dim), the state after attention
        return["attention"] : (W, W), row t sums to 1 over windows ≤ t
        """
        n, w_count = seq.n_nodes, seq.num_windows
        device = self.phi_x.weight.device
        fused = self._fused()
        phi_x = self.embed_features(seq)
        dense = seq.dense_matrices()
        if dense is not None:  # small graphs: one batched product for all windows
            a_phi_x = torch.bmm(dense, phi_x.expand(w_count, -1, -1))
        else:
            # unbind, not indexing: the backward of W separate index ops would zero-fill W full-size tensors.
            phi_x_all = phi_x.unbind(0)
            a_phi_x = torch.stack([g.propagate(phi_x_all[t if len(phi_x_all) > 1 else 0])
                                   for t, g in enumerate(seq.graphs)])
        pre_enc, pre_x = self._input_terms(a_phi_x, fused)
        pre_enc, pre_x = pre_enc.unbind(0), pre_x.unbind(0)
        state = self.initial_state(n, device, capacity=w_count)
        previous, means, stds, zs, hiddens = [], [], [], [], []
        attention = torch.zeros(w_count, w_count, device=device)
        for t, graph in enumerate(seq.graphs):
            previous.append(state.h)
            mean, std, z, alpha = self._advance(graph, pre_enc[t], pre_x[t], state, fused, sample, generator)
            attention[t, t - alpha.shape[0] + 1: t + 1] = alpha
            means.append(mean)
            stds.append(std)
            zs.append(z)
            hiddens.append(state.h)
        mean_all, std_all = torch.stack(means), torch.stack(stds)
        out = {"mean": mean_all, "std": std_all, "z": torch.stack(zs), "hidden": torch.stack(hiddens),
               "attention": attention}
        if compute_loss:
            m = n + 1 if seq.history_in_loss else n  # the nodes the loss sees
            prior_mean, prior_std = self.prior(torch.stack(previous)[:, :m])
            kl = kl_reference(mean_all[:, :m], std_all[:, :m], prior_mean, prior_std, self.kl_scale).sum()
            z_all = [z[:m] for z in zs]
            if decoder == "dense" and w_count * m * m <= BATCHED_DECODER_MAX_ELEMENTS:
                recon = reconstruction_batched(torch.stack(z_all), seq.dense_targets())
            elif decoder == "dense":
                recon = sum(reconstruction_dense(z_all[t], g.pos_index, g.pos_crow, g.pos_col, g.pos_symmetric)
                            for t, g in enumerate(seq.graphs))
            else:
                recon = sum(reconstruction_sampled(z_all[t], g.pos_index, generator, negative_ratio)
                            for t, g in enumerate(seq.graphs))
            if self.loss_reduction == "mean":
                recon, kl = recon / w_count, kl / w_count
            out.update(loss=recon + kl, reconstruction=recon, kl=kl)
        return out
