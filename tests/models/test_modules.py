"""The network's pieces: shapes, attention, gradients, normalisation and losses against references."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nwb_tavrnn.models.graphs import normalised_graph, prepare_sequence  # noqa: E402
from nwb_tavrnn.models.tavrnn.modules import (  # noqa: E402
    TemporalAttention,
    VGRNNNet,
    reconstruction_batched,
    reconstruction_dense,
    reconstruction_sampled,
)

from .conftest import planted_correlation  # noqa: E402

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "model.py"


def _sequence(n=20, w=5, seed=0):
    corr, labels = planted_correlation(n, w, seed)
    adjacency = (corr >= 0.6).astype(np.float32)
    return prepare_sequence(adjacency, features=corr), adjacency, corr


def test_output_shapes():
    seq, _, _ = _sequence(n=20, w=5)
    torch.manual_seed(0)
    net = VGRNNNet(seq.x_dim, h_dim=16, z_dim=4)
    out = net(seq, generator=torch.Generator().manual_seed(0))
    assert out["mean"].shape == (5, 21, 4) and out["std"].shape == (5, 21, 4)
    assert out["hidden"].shape == (5, 21, 16)
    assert out["attention"].shape == (5, 5)
    assert out["loss"].shape == () and torch.isfinite(out["loss"])
    assert (out["std"] > 0).all()


def test_attention_rows_sum_to_one_and_are_causal():
    seq, _, _ = _sequence(n=20, w=6)
    net = VGRNNNet(seq.x_dim, attention="full")
    att = net(seq, sample=False, compute_loss=False)["attention"].detach()
    assert torch.allclose(att.sum(dim=1), torch.ones(6), atol=1e-6)
    assert torch.all(att >= 0)
    assert torch.all(torch.triu(att, diagonal=1) == 0)
    windowed = VGRNNNet(seq.x_dim, attention=2)(seq, sample=False, compute_loss=False)["attention"].detach()
    assert torch.allclose(windowed.sum(dim=1), torch.ones(6), atol=1e-6)
    assert torch.all(torch.tril(windowed, diagonal=-2) == 0)  # nothing older than the window


def test_attention_at_first_step_is_the_value_map():
    torch.manual_seed(0)
    attention = TemporalAttention(8)
    state = torch.randn(1, 5, 8)
    out, alpha = attention([state[0]])
    assert alpha.shape == (1,) and float(alpha.detach()) == pytest.approx(1.0)
    assert torch.allclose(out, attention.value(state[0]), atol=1e-6)


def test_attention_matches_the_equations():
    torch.manual_seed(1)
    attention = TemporalAttention(8)
    states = torch.randn(4, 5, 8, requires_grad=True)
    out, alpha = attention(list(states.unbind(0)))
    q = attention.query(states[-1, -1])
    scores = torch.stack([attention.key(states[j, -1]) @ q for j in range(4)]) / math.sqrt(8)  # with the bias
    expected_alpha = torch.softmax(scores, 0)
    expected = sum(expected_alpha[j] * attention.value(states[j]) for j in range(4))
    assert torch.allclose(alpha, expected_alpha, atol=1e-6)
    assert torch.allclose(out, expected, atol=1e-5)
    # the memory-saving weighted sum has the gradients of the plain expression
    grad = torch.randn(5, 8)
    ours = torch.autograd.grad(out, [states, *attention.parameters()], grad, allow_unused=True)
    theirs = torch.autograd.grad(expected, [states, *attention.parameters()], grad, allow_unused=True)
    for a, b in zip(ours, theirs):
        assert torch.allclose(a if a is not None else torch.zeros_like(b), b, atol=1e-5)


@pytest.mark.parametrize("memory", ["raw", "attended"])
@pytest.mark.parametrize("window", ["full", 3, 1])
def test_memory_buffer_gives_the_gradients_of_plain_autograd(monkeypatch, memory, window):
    """The attention memory's buffer hands gradients to the stored states through hooks; the same
    sequence with the states kept as ordinary autograd inputs (a stacked list) must give the same
    loss and the same gradient for every parameter."""
    from nwb_tavrnn.models.tavrnn import modules

    seq, _, _ = _sequence(n=12, w=7)

    def run():
        torch.manual_seed(3)
        net = VGRNNNet(seq.x_dim, h_dim=8, z_dim=3, attention=window, attention_memory=memory)
        out = net(seq, generator=torch.Generator().manual_seed(0))
        (out["loss"] + out["hidden"][-3:].square().sum()).backward()  # the last states' attention too
        return float(out["loss"]), {k: v.grad.clone() for k, v in net.named_parameters() if v.grad is not None}

    buffered = run()
    store = modules.AttentionMemory.store

    def keep(self, state):
        self.__dict__.setdefault("kept", []).append(state)
        store(self, state.detach())  # no hook: the plain path below carries the gradient

    def plain_attend(self, current, mem):
        lo, hi = mem.span()
        kept = mem.__dict__.get("kept", [])
        kept = kept[len(kept) - mem.used:]  # what the buffer holds, as autograd tensors
        past = torch.stack(kept[lo:hi]) if hi > lo else current.new_empty(0, *current.shape)
        return self._attend(current, past, None, 0)

    monkeypatch.setattr(modules.AttentionMemory, "store", keep)
    monkeypatch.setattr(modules.TemporalAttention, "attend", plain_attend)
    plain = run()
    assert buffered[0] == pytest.approx(plain[0], rel=1e-6)
    assert buffered[1].keys() == plain[1].keys()
    for name, grad in plain[1].items():
        assert torch.allclose(buffered[1][name], grad, rtol=1e-4, atol=1e-7), name


@pytest.mark.parametrize("memory", ["raw", "attended"])
def test_second_backward_over_the_same_graph_starts_from_zero(memory):
    """retain_graph: backward twice gives twice the gradient, and a partial autograd.grad first
    (which never reaches the first windows' stored states) leaves nothing behind for the next pass."""
    seq, _, _ = _sequence(n=12, w=6)

    def grads(passes):
        torch.manual_seed(4)
        net = VGRNNNet(seq.x_dim, h_dim=8, z_dim=3, attention="full", attention_memory=memory)
        out = net(seq, generator=torch.Generator().manual_seed(0))
        passes(net, out["loss"])
        return {k: v.grad.clone() for k, v in net.named_parameters() if v.grad is not None}

    once = grads(lambda net, loss: loss.backward())
    twice = grads(lambda net, loss: (loss.backward(retain_graph=True), loss.backward()))
    partial = grads(lambda net, loss: (torch.autograd.grad(loss, [net.attention.value.weight], retain_graph=True),
                                       loss.backward()))
    for name, grad in once.items():
        assert torch.allclose(twice[name], 2 * grad, rtol=1e-5, atol=1e-7), name
        assert torch.allclose(partial[name], grad, rtol=1e-5, atol=1e-7), name


def test_attention_memory_grows_on_line_and_keeps_what_the_window_reaches():
    from nwb_tavrnn.models.tavrnn.modules import AttentionMemory

    for window, reach in ((None, 20), (4, 3)):
        mem = AttentionMemory(2, 3, 2, window)
        for t in range(20):
            mem.store(torch.full((3, 2), float(t)))
        lo, hi = mem.span()
        assert hi - lo == reach
        assert mem.states[lo:hi, 0, 0].tolist() == [float(t) for t in range(20 - reach, 20)]
    tracked = AttentionMemory(1, 3, 2, None)
    tracked.store(torch.zeros(3, 2, requires_grad=True) * 1)
    with pytest.raises(RuntimeError, match="initial_state"):
        tracked.store(torch.zeros(3, 2))


@pytest.mark.parametrize("attention", ["full", None])
def test_gradient_reaches_every_parameter(attention):
    seq, _, _ = _sequence(n=20, w=4)
    torch.manual_seed(0)
    net = VGRNNNet(seq.x_dim, attention=attention)
    net(seq, generator=torch.Generator().manual_seed(0))["loss"].backward()
    for name, param in net.named_parameters():
        if name == "attention.key.bias":  # cannot change α (it shifts every score alike)
            assert param.grad is None
            continue
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name


def test_gcn_normalisation_matches_torch_geometric():
    gcn_norm = pytest.importorskip("torch_geometric.nn.conv.gcn_conv").gcn_norm

    _, adjacency, _ = _sequence(n=12, w=1)
    a = adjacency[0].copy()
    a[3, 3] = 0  # a node without a self-loop: GCNConv adds it
    n = a.shape[0]
    src, dst = np.nonzero(a)
    graph = normalised_graph(src, dst, None, n, directed=False)
    # Same graph for torch-geometric: the real edges plus the history node joined to all and itself.
    hist = np.full(n, n)
    edges = np.stack([np.concatenate([src, np.arange(n), hist, [n]]), np.concatenate([dst, hist, np.arange(n), [n]])])
    edge_index = torch.from_numpy(edges.astype(np.int64))
    edge_index, weight = gcn_norm(edge_index, None, n + 1, add_self_loops=True)
    x = torch.randn(n + 1, 3)
    expected = torch.zeros(n + 1, 3).index_add_(0, edge_index[1], weight[:, None] * x[edge_index[0]])
    assert torch.allclose(graph.propagate(x), expected, atol=1e-6)


@pytest.mark.parametrize("symmetric", [True, False])
def test_dense_loss_is_the_reference_bce(symmetric):
    torch.manual_seed(0)
    z = torch.randn(15, 4, dtype=torch.float64, requires_grad=True)
    a = (torch.rand(15, 15) < 0.2).double()
    if symmetric:
        a = ((a + a.T) > 0).double()
        a.fill_diagonal_(1)
    pos = a.reshape(-1).nonzero().squeeze(1)
    n, e = 15, float(a.sum())
    pos_weight = (n * n - e) / e
    norm = n * n / ((n * n - e) * 2)
    ref = norm * torch.nn.functional.binary_cross_entropy_with_logits(
        z @ z.T, a, pos_weight=torch.tensor(pos_weight, dtype=torch.float64))
    ours = reconstruction_dense(z, pos)
    assert float(ours.detach()) == pytest.approx(float(ref.detach()), rel=1e-10)
    assert torch.autograd.gradcheck(lambda v: reconstruction_dense(v, pos), (z,))


def test_batched_loss_is_the_reference_bce_summed_over_windows():
    torch.manual_seed(1)
    z = torch.randn(4, 12, 3, dtype=torch.float64, requires_grad=True)
    a = torch.rand(4, 12, 12) < torch.tensor([0.0, 0.1, 0.5, 1.0])[:, None, None]  # empty and full too
    expected = 0.0
    for t in range(4):
        n, e = 12, max(float(a[t].sum()), 1.0)
        negatives = max(n * n - e, 1.0)
        expected = expected + n * n / (2 * negatives) * torch.nn.functional.binary_cross_entropy_with_logits(
            z[t] @ z[t].T, a[t].double(), pos_weight=torch.tensor(negatives / e, dtype=torch.float64))
    ours = reconstruction_batched(z, a)
    assert float(ours.detach()) == pytest.approx(float(expected.detach()), rel=1e-10)
    assert torch.autograd.gradcheck(lambda v: reconstruction_batched(v, a), (z,))


def test_sampled_loss_estimates_the_dense_loss():
    torch.manual_seed(0)
    z = torch.randn(60, 4)
    a = (torch.rand(60, 60) < 0.05).float()
    a = ((a + a.T) > 0).float()
    pos = a.reshape(-1).nonzero().squeeze(1)
    exact = float(reconstruction_dense(z, pos))
    gen = torch.Generator().manual_seed(0)
    estimates = [float(reconstruction_sampled(z, pos, gen, negative_ratio=4.0)) for _ in range(200)]
    assert np.mean(estimates) == pytest.approx(exact, rel=0.03)


def test_same_loss_as_a_dense_reference_implementation():
    """The benchmark's dense, reference-style implementation gives the same loss and gradients."""
    spec = importlib.util.spec_from_file_location("benchmark_model", BENCHMARK)
    bench = importlib.util.module_from_spec(spec)
    sys.modules["benchmark_model"] = bench
    spec.loader.exec_module(bench)
    seq, adjacency, _ = _sequence(n=24, w=4)
    torch.manual_seed(0)
    ours = VGRNNNet(seq.x_dim)
    ref = bench.DenseReference(seq.x_dim)
    ref.load_state_dict(ours.state_dict())
    adjs, targets = bench.dense_inputs(adjacency)
    for sample in (False, True):
        a = ours(seq, sample=sample, generator=torch.Generator().manual_seed(5))["loss"]
        b = ref(seq.features, adjs, targets, sample, torch.Generator().manual_seed(5))
        assert float(a.detach()) == pytest.approx(float(b.detach()), rel=1e-5)
    ga = torch.autograd.grad(ours(seq, sample=False)["loss"], list(ours.parameters()), allow_unused=True)
    gb = torch.autograd.grad(ref(seq.features, adjs, targets, False, None), list(ref.parameters()))
    for x, y in zip(ga, gb):
        assert torch.allclose(torch.zeros_like(y) if x is None else x, y, rtol=1e-4, atol=1e-6)


def _saved_for_backward_mb(net, seq) -> float:
    """Bytes autograd keeps for the backward of one forward pass (distinct storages), in MB."""
    seen: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = net(seq, generator=torch.Generator().manual_seed(0))
    out["loss"].backward()
    return sum(seen.values()) / 1e6


def test_attention_memory_is_linear_in_windows():
    """100 windows of 30 nodes: what the backward keeps is within 1.5x of plain VGRNN's. Stacking
    the memory at every window kept O(W^2 N h): W^2/2 (N+1) h float32 = 20 MB here on VGRNN's 8 MB,
    about 3.5x (4x at 200 x 200, the size ``benchmarks/attention_memory.py`` prints, with others)."""
    rng = np.random.default_rng(0)
    n, w = 30, 100
    corr = rng.uniform(0, 0.7, (w, n, n)).astype(np.float32)
    corr = (corr + corr.transpose(0, 2, 1)) / 2
    corr[:, np.arange(n), np.arange(n)] = 1
    seq = prepare_sequence((corr >= 0.6).astype(np.float32), "correlation", correlation=corr)
    sizes = {}
    for name, kwargs in {"vgrnn": dict(attention=None), "tavrnn": dict(attention="full"),
                         "faithful": dict(attention="full", attention_memory="attended")}.items():
        torch.manual_seed(0)
        sizes[name] = _saved_for_backward_mb(VGRNNNet(seq.x_dim, **kwargs), seq)
    assert sizes["tavrnn"] <= 1.5 * sizes["vgrnn"], sizes
    assert sizes["faithful"] <= 1.5 * sizes["vgrnn"], sizes


def test_propagation_with_a_symmetric_pattern_and_asymmetric_weights():
    """The edge pattern is symmetric but the weights are not: the backward must use the true
    transpose (it once reused the matrix itself)."""
    rng = np.random.default_rng(1)
    n = 9
    pattern = np.triu(rng.uniform(size=(n, n)) < 0.4, 1)
    pattern = pattern | pattern.T
    src, dst = np.nonzero(pattern)
    weights = rng.uniform(0.5, 1.0, len(src))  # w(i->j) != w(j->i)
    for norm in ("gcn", "reference"):
        graph = normalised_graph(src, dst, weights, n, norm=norm)
        dense = graph.matrix.to_dense().double()
        x = torch.randn(n + 1, 3, dtype=torch.float64, requires_grad=True)
        assert not torch.allclose(dense, dense.T)
        grad_out = torch.randn(n + 1, 3, dtype=torch.float64)
        (got,) = torch.autograd.grad(graph.propagate(x.float()).double(), x, grad_out)
        assert torch.allclose(got, dense.T @ grad_out, atol=1e-5)


def test_reference_normalisation_uses_row_sums_and_adds_no_self_loops():
    a = np.array([[0, 1, 1], [1, 0, 0], [0, 1, 1]], dtype=np.float32)  # no loop on 0 and 1, not symmetric
    src, dst = np.nonzero(a)
    graph = normalised_graph(src, dst, None, 3, norm="reference")
    full = np.ones((4, 4))
    full[:3, :3] = a
    d = full.sum(axis=1) ** -0.5
    np.testing.assert_allclose(graph.matrix.to_dense().numpy(), d[:, None] * full * d[None, :], rtol=1e-6)
