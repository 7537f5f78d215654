"""Golden tests: ``TAVRNN.preset("faithful")`` against an independent re-implementation of the
reference notebook's equations (``notebook_reference.py``, which shares no code with the package).

Same weights (the notebook's state_dict, GRU included) → the same loss, KL, reconstruction, means,
attention; one Adam step → the same weights; twenty epochs → the same loss curve.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nwb_tavrnn.models import TAVRNN  # noqa: E402

from . import notebook_reference as ref  # noqa: E402
from .conftest import planted_correlation  # noqa: E402

N, W = 20, 6


def _data(asymmetric: bool = False):
    corr, _ = planted_correlation(N, W, seed=3)
    adjacency = (corr >= 0.6).astype(np.float32)  # the diagonal is 1, as the notebook's
    if asymmetric:  # drop one direction of some edges: the row-sum normalisation must still match
        rng = np.random.default_rng(0)
        drop = np.triu(rng.uniform(size=(N, N)) < 0.3, 1) & (adjacency[0] > 0)
        adjacency[:, drop] = 0
    return adjacency, corr


def _estimator(params: dict, **overrides) -> TAVRNN:
    state = {k: v.detach().float() for k, v in params.items()}
    return TAVRNN.from_reference_state_dict(state, device="cpu", **overrides)


def _close(ours, theirs, rtol=1e-5):
    theirs = np.asarray(theirs.detach().numpy() if hasattr(theirs, "detach") else theirs, dtype=np.float64)
    ours = np.asarray(ours, dtype=np.float64)
    scale = max(np.abs(theirs).max(), 1e-12)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("kind", ["correlation", "identity", "asymmetric"])
def test_same_weights_same_loss_means_and_attention(kind):
    adjacency, corr = _data(asymmetric=kind == "asymmetric")
    features = None if kind == "identity" else corr
    x, adjs = ref.inputs(adjacency, features)
    params = ref.init_params(x.shape[2], seed=1)
    expected = ref.forward(params, x, adjs)
    est = _estimator(params)
    assert est.meta_["n_nodes"] == N and est.module_.x_dim == N + 1
    loss = est.loss(adjacency, features=features)
    for key in ("loss", "kl", "reconstruction"):
        assert loss[key] == pytest.approx(float(expected[key].detach()), rel=1e-5), key
    est.set_params(embeddings="mean")
    emb = est.transform(adjacency, features=features)
    _close(emb.mean, expected["mean"][:, :N])
    _close(emb.history_mean, expected["mean"][:, N])
    attention = np.zeros((W, W))
    for t, row in enumerate(expected["attention"]):
        attention[t, : t + 1] = row.detach().numpy()
    _close(emb.attention, attention)


def test_one_adam_step_gives_the_same_weights():
    adjacency, corr = _data()
    x, adjs = ref.inputs(adjacency, corr)
    params = ref.init_params(x.shape[2], seed=2)
    est = _estimator(params, warm_start=True, epochs=1, training_z="mean")
    ref.train(params, x, adjs, epochs=1)
    est.fit(adjacency, features=corr)
    after = est.reference_state_dict()
    assert set(after) == set(params)
    for name, value in params.items():
        _close(after[name].numpy(), value, rtol=1e-5)
    # The GRU's GCNs are frozen (the notebook never registers them), and the key's bias cannot
    # change the attention (its gradient is zero); every other tensor moved.
    initial = ref.init_params(x.shape[2], seed=2)
    for name in params:
        changed = not np.array_equal(after[name].numpy(), initial[name].detach().float().numpy())
        assert changed == (not name.startswith(("rnn.weight_", "rnn.AttentionLayer.key.bias"))), name


@pytest.mark.parametrize("features", ["correlation", "identity"])
def test_twenty_epochs_same_loss_curve(features):
    adjacency, corr = _data()
    feats = corr if features == "correlation" else None
    x, adjs = ref.inputs(adjacency, feats)
    params = ref.init_params(x.shape[2], seed=4)
    est = _estimator(params, warm_start=True, epochs=20, training_z="mean")
    expected = ref.train(params, x, adjs, epochs=20)
    est.fit(adjacency, features=feats)
    np.testing.assert_allclose(est.loss_curve_, expected, rtol=1e-3)
    assert expected[-1] < expected[0]


def test_reference_state_dict_round_trip_and_bad_dicts():
    params = ref.init_params(N + 1, seed=5)
    est = _estimator(params)
    back = est.reference_state_dict()
    for name, value in params.items():
        np.testing.assert_array_equal(back[name].numpy(), value.detach().float().numpy())
    no_gru = {k: v for k, v in params.items() if not k.startswith("rnn.weight_")}
    with pytest.raises(ValueError, match="never registers"):
        TAVRNN.from_reference_state_dict(no_gru)
    with pytest.raises(ValueError, match="unexpected"):
        TAVRNN.from_reference_state_dict({**params, "rnn.weight_xz.1.weight": params["rnn.weight_xz.0.weight"]})
    bad = dict(params)
    bad["enc_std.weight"] = torch.zeros(5, 5)
    with pytest.raises(ValueError, match="does not fit"):
        TAVRNN.from_reference_state_dict(bad)


def test_faithful_preset_is_the_reference_configuration():
    est = TAVRNN.preset("faithful")
    assert (est.gcn_norm, est.history_in_loss, est.encoder_bias, est.recurrence_trainable, est.attention_memory,
            est.kl_scale, est.loss_reduction, est.clip_grad_norm, est.patience, est.embeddings, est.epochs,
            est.h_dim, est.z_dim, est.training_z) == (
        "reference", True, False, False, "attended", "reference", "sum", None, None, "sample", 500, 32, 8, "sample")
    improved = TAVRNN.preset("improved")
    assert improved.recurrence_trainable and improved.attention_memory == "raw" and not improved.history_in_loss


def test_sampled_embeddings_with_the_same_eps_and_a_file_like_input():
    """The sampling path (z = μ + σ ε, with the ε our estimator draws) on a DynamicConnectivity
    holding signed r, as the pipeline writes it: the same means and the same samples."""
    from nwb_tavrnn.testing import mock_dynamic_connectivity

    rng = np.random.default_rng(7)
    corr, _ = planted_correlation(N, W, seed=5)
    corr = corr * np.where(rng.uniform(size=corr.shape) < 0.3, -1, 1)  # signed, symmetric per window
    corr = np.triu(corr, 1) + np.triu(corr, 1).transpose(0, 2, 1)
    corr[:, np.arange(N), np.arange(N)] = 1
    adjacency = np.where(np.abs(corr) >= 0.6, corr, 0).astype(np.float32)
    conn = mock_dynamic_connectivity(n_windows=W, n_nodes=N, data=adjacency, correlation=corr.astype(np.float32))
    x, adjs = ref.inputs(adjacency, np.abs(corr))
    params = ref.init_params(x.shape[2], seed=6)
    est = _estimator(params, features="correlation", seed=11)
    generator = torch.Generator().manual_seed(11)  # what transform draws, window by window
    eps = [torch.randn((N + 1, 8), generator=generator) for _ in range(W)]
    expected = ref.forward(params, x, adjs, eps=eps)
    emb = est.transform(conn)
    _close(emb.sample, expected["z"][:, :N])
    _close(emb.mean, expected["mean"][:, :N])
    assert est.loss(conn)["loss"] == pytest.approx(float(ref.forward(params, x, adjs)["loss"].detach()), rel=1e-5)


def test_warm_start_applies_todays_settings():
    adjacency, corr = _data()
    params = ref.init_params(N + 1, seed=8)
    est = _estimator(params)
    before = est.loss(adjacency, features=corr)
    est.set_params(kl_scale="mean", warm_start=True, epochs=1, recurrence_trainable=True, training_z="mean")
    est.fit(adjacency, features=corr)
    assert est.module_.kl_scale == "mean" and est.module_.rnn.x_z.weight.requires_grad
    gru_after = est.reference_state_dict()["rnn.weight_xz.0.weight"].numpy()
    assert not np.array_equal(gru_after, params["rnn.weight_xz.0.weight"].detach().float().numpy())
    assert est.loss_curve_[0] != pytest.approx(before["loss"], rel=1e-3)  # the KL is now the node mean
    with pytest.raises(ValueError, match="warm_start cannot change"):
        est.set_params(encoder_bias=True).fit(adjacency, features=corr)
