"""TAVRNN's temporal attention over earlier recurrent states, and the memory that holds them.

Per window the attention is one autograd node (:class:`_Attend`: query, key and value projections,
scores, softmax and the weighted sum, with a hand-written backward) reading the earlier states from
one preallocated buffer (:class:`AttentionMemory`). On long sessions of small graphs the cost of a
window is per operation, not arithmetic; a list of states cost a Python loop over the whole history
each window, both ways (O(W²) small operations per epoch), and separate projection layers four more
autograd nodes per window. ``tests/models/test_modules.py`` checks both against plain autograd.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn


class AttentionMemory:
    """The earlier states the attention reads, in one preallocated ``(capacity, N + 1, h)`` buffer.

    One buffer, not a list of tensors, makes each window's attention a fixed number of batched
    products, forward and backward: with a list, every window cost a Python loop over the whole
    history both ways, O(W²) small operations per epoch (40 % of an epoch at 286 windows).

    Gradients: :class:`_Attend` reads the buffer, so autograd does not see the stored states as its
    inputs. Its backward adds what the past states receive into :attr:`grads`, and a hook on each
    stored tensor adds its slot when autograd reaches that tensor. Autograd reaches it only after every
    later window's backward has run (each later window depends on it through the recurrence), so
    every contribution is in by then. What a backward pass leaves uncollected (a partial
    ``autograd.grad`` that never reaches a stored state) is cleared when the pass ends, so that a
    second pass over the same graph (``retain_graph``) starts from zero.

    Limits: the buffer cannot move while gradients are tracked, so a forward with gradients must
    size it for its windows (``VGRNNNet.forward`` does; give ``initial_state`` a ``capacity`` for
    ``step`` with gradients on); and ``torch.autograd.grad`` with a stored state itself among the
    ``inputs`` misses its share from later windows' attention (captured gradients skip tensor hooks).

    Shapes
    ------
    states, grads : (capacity, N + 1, h_dim)
    """

    def __init__(self, capacity: int, rows: int, h_dim: int, window: int | None,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> None:
        self.states = torch.zeros(max(int(capacity), 1), rows, h_dim, device=device, dtype=dtype)
        self.grads: Tensor | None = None
        self.used = 0  # slots holding states, oldest first
        self.window = window
        self._tracked = False  # stored tensors carry gradient hooks: the buffer must not move
        self._clear_queued = False

    def span(self) -> tuple[int, int]:
        """Slots ``[lo, hi)`` of the earlier states the next window attends to (the window's
        ``w`` includes the current state)."""
        hi = self.used
        return (0 if self.window is None else max(0, hi - (self.window - 1))), hi

    def store(self, state: Tensor) -> None:
        """Append ``state`` (the newest window's) to the memory."""
        if self.used == self.states.shape[0]:
            self._make_room()
        slot = self.used
        self.states[slot] = state.detach()
        self.used += 1
        if state.requires_grad:
            self._tracked = True
            state.register_hook(lambda grad, slot=slot: self._collect(grad, slot))

    def _collect(self, grad: Tensor | None, slot: int) -> Tensor | None:
        # grad is None for a state whose window's output no loss uses (the last raw state): no later
        # window attended to it in this pass either, so its slot holds nothing
        if self.grads is None or grad is None:
            return grad
        out = grad + self.grads[slot]
        self.grads[slot].zero_()  # taken: a second backward (retain_graph) collects afresh
        return out

    def deposits(self) -> Tensor:
        """The gradient buffer, created at the first deposit of a backward pass, which also arranges
        for what is left in it to be cleared when the pass ends."""
        if self.grads is None:
            self.grads = torch.zeros_like(self.states)
        if not self._clear_queued:
            self._clear_queued = True
            torch.autograd.Variable._execution_engine.queue_callback(self._clear)
        return self.grads

    def _clear(self) -> None:
        self._clear_queued = False
        if self.grads is not None:
            self.grads.zero_()

    def _make_room(self) -> None:
        """Online use: drop states the window can no longer reach, or grow (doubling)."""
        if self._tracked:
            raise RuntimeError("the attention memory is full while gradients are tracked; "
                               "give initial_state the number of windows")
        keep = self.used if self.window is None else min(self.used, self.window - 1)
        new = self.states.new_zeros((max(2 * keep, 8), *self.states.shape[1:]))
        new[:keep] = self.states[self.used - keep:self.used]
        self.states, self.used = new, keep


class _Attend(torch.autograd.Function):
    """One window's attention: ``q = W_q s_t + b_q``, ``α = softmax_j(s_j · (W_kᵀ q) / √h)``,
    ``out = W_v (Σ_j α_j S_j) + b_v`` over the earlier states ``past`` and the current state (last),
    with ``s_j`` a state's history-node (last) row.

    ``past`` is an ordinary input, or (``memory`` given) the memory's slots ``[lo, lo + k - 1)``: then
    its gradient goes to ``memory.grads`` instead (see :class:`AttentionMemory`).

    Shapes
    ------
    current : (N + 1, h);  past : (k - 1, N + 1, h);  weights (h, h), biases (h,)
    return : (N + 1, h) and α (k,)
    """

    @staticmethod
    def forward(ctx: Any, current: Tensor, past: Tensor, memory: AttentionMemory | None,  # type: ignore[override]
                lo: int, w_q: Tensor, b_q: Tensor, w_k: Tensor, w_v: Tensor, b_v: Tensor,
                scale: float) -> tuple[Tensor, Tensor]:
        q = torch.addmv(b_q, w_q, current[-1])
        key_query = torch.mv(w_k.t(), q) * scale
        own = torch.dot(current[-1], key_query).reshape(1)
        alpha = torch.softmax(torch.cat([torch.mv(past[:, -1], key_query), own]) if len(past) else own, dim=0)
        mixed = current * alpha[-1]
        if len(past):
            mixed = torch.addmv(mixed.flatten(), past.flatten(1).t(), alpha[:-1]).view_as(current)
        out = torch.addmm(b_v, mixed, w_v.t())
        ctx.memory, ctx.lo, ctx.scale = memory, lo, scale
        if memory is not None:
            # a view of the buffer, whose later slots are still to be written (these never change):
            # kept outside save_for_backward, whose version check would see those writes
            ctx.past = past
            past = past.new_empty(0)
        ctx.save_for_backward(current, past, alpha, q, key_query, mixed, w_q, w_k, w_v)
        ctx.mark_non_differentiable(alpha)
        return out, alpha

    @staticmethod
    def backward(ctx: Any, d_out: Tensor, _: Tensor) -> tuple:  # type: ignore[override]
        current, past, alpha, q, key_query, mixed, w_q, w_k, w_v = ctx.saved_tensors
        memory, need = ctx.memory, ctx.needs_input_grad
        if memory is not None:
            past = ctx.past
        k = len(past)
        grad = d_out @ w_v  # d mixed
        d_alpha = torch.dot(current.flatten(), grad.flatten()).reshape(1)
        if k:
            d_alpha = torch.cat([torch.mv(past.flatten(1), grad.flatten()), d_alpha])
        d_scores = alpha * (d_alpha - torch.dot(alpha, d_alpha))
        d_key_query = current[-1] * d_scores[-1]
        d_past = None  # returned only for an ordinary ``past``; the memory's goes to its deposits
        if k:
            d_key_query = torch.addmv(d_key_query, past[:, -1].t(), d_scores[:-1])
            target = memory.deposits()[ctx.lo:ctx.lo + k] if memory is not None else (
                torch.zeros_like(past) if need[1] else None)
            if target is not None:
                target.flatten(1).addr_(alpha[:-1], grad.flatten())
                target[:, -1].addr_(d_scores[:-1], key_query)
            if memory is None:
                d_past = target
        d_q = torch.mv(w_k, d_key_query) * ctx.scale
        d_current = None
        if need[0]:
            d_current = grad * alpha[-1]
            d_current[-1] += d_scores[-1] * key_query + torch.mv(w_q.t(), d_q)
        return (d_current, d_past, None, None,
                torch.outer(d_q, current[-1]) if need[4] else None,
                d_q if need[5] else None,
                torch.outer(q, d_key_query) * ctx.scale if need[6] else None,
                d_out.t() @ mixed if need[7] else None,
                d_out.sum(0) if need[8] else None,
                None)


class TemporalAttention(nn.Module):
    """TAVRNN's attention over earlier recurrent states, keyed by the history node's state.

    ``α_j = softmax_j(q(s_t) · k(s_j) / √h)`` with ``s_j`` the history node's row of state ``S_j``
    and ``q, k, v`` affine maps (with bias, as the reference's ``nn.Linear``); returns
    ``Σ_j α_j v(S_j)``, computed as ``v(Σ_j α_j S_j)`` (the same, as the α sum to 1: one product
    instead of ``t``), with the scores as ``s_j · (W_kᵀ q)`` (one product per state instead of a key
    per state). With a single state, ``α = 1`` and the result is ``v(S_0)``.

    The key's bias adds the same ``q · b`` to every score, so it cannot change α: it is left out
    of the scores. Its gradient is then exactly zero, as in exact arithmetic, instead of rounding
    noise that Adam (which divides by the gradient's size) would turn into full-size steps.

    Shapes
    ------
    states : list of k tensors (N + 1, h_dim) or a (k, N + 1, h_dim) tensor, oldest first; the last is
        the current ``H̃_t``
    return : (N + 1, h_dim) and α (k,)
    """

    def __init__(self, h_dim: int) -> None:
        super().__init__()
        self.query = nn.Linear(h_dim, h_dim)
        self.key = nn.Linear(h_dim, h_dim)
        self.value = nn.Linear(h_dim, h_dim)
        self.scale = 1.0 / math.sqrt(h_dim)

    def forward(self, states: list[Tensor] | Tensor) -> tuple[Tensor, Tensor]:
        states = torch.stack(list(states)) if not isinstance(states, Tensor) else states
        return self._attend(states[-1], states[:-1], None, 0)

    def attend(self, current: Tensor, memory: AttentionMemory) -> tuple[Tensor, Tensor]:
        """Attend over the memory's reachable states and ``current`` (the recurrence's path).

        Shapes
        ------
        current : (N + 1, h_dim);  return : (N + 1, h_dim) and α (reachable + 1,)
        """
        lo, hi = memory.span()
        return self._attend(current, memory.states[lo:hi], memory, lo)

    def _attend(self, current: Tensor, past: Tensor, memory: AttentionMemory | None,
                lo: int) -> tuple[Tensor, Tensor]:
        return _Attend.apply(current, past, memory, lo, self.query.weight, self.query.bias, self.key.weight,
                             self.value.weight, self.value.bias, self.scale)
