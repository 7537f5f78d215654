"""The TAVRNN estimator: learning, resuming, early stopping, inputs, NWB containers (determinism, save/load,
parameters and unfitted use: tests/test_estimator_contract.py, for every model)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nwb_tavrnn.models import TAVRNN, VGRNN, available_models, get_model  # noqa: E402

from .conftest import N_NODES, N_WINDOWS, planted_connectivity  # noqa: E402


def test_transform_shapes(fitted, planted):
    conn, _ = planted
    out = fitted.transform(conn)
    assert out.mean.shape == (N_WINDOWS, N_NODES, 8)
    assert out.log_variance.shape == (N_WINDOWS, N_NODES, 8)
    assert out.attention.shape == (N_WINDOWS, N_WINDOWS)
    assert out.history_mean.shape == (N_WINDOWS, 8)
    assert out.history_hidden.shape == (N_WINDOWS, 32)
    assert np.allclose(out.attention.sum(axis=1), 1.0, atol=1e-5)
    assert out.mean.dtype == np.float32 and np.isfinite(out.mean).all()


def test_loss_decreases(fitted):
    assert len(fitted.loss_curve_) == fitted.n_epochs_ == 40
    assert np.mean(fitted.loss_curve_[-5:]) < np.mean(fitted.loss_curve_[:5])


def test_embeddings_separate_planted_communities(fitted, planted):
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    conn, labels = planted
    mean = fitted.transform(conn).mean
    for t in (0, N_WINDOWS - 1):
        pred = KMeans(2, n_init=10, random_state=0).fit_predict(mean[t])
        assert adjusted_rand_score(labels, pred) >= 0.9


def test_interrupted_then_resumed_matches_uninterrupted(planted, tmp_path):
    conn, _ = planted
    reference = TAVRNN(epochs=10, seed=3, device="cpu", patience=None).fit(conn)

    class Interrupt(Exception):
        pass

    def stop_at_7(epoch, loss):
        if epoch == 7:
            raise Interrupt

    with pytest.raises(Interrupt):
        TAVRNN(epochs=10, seed=3, device="cpu", patience=None).fit(
            conn, checkpoint_dir=tmp_path, checkpoint_every=3, callback=stop_at_7)
    # The last checkpoint is from epoch 6; the resumed run redoes epoch 7 from there.
    resumed = TAVRNN(epochs=10, seed=3, device="cpu", patience=None).fit(conn, checkpoint_dir=tmp_path,
                                                                         resume=True)
    assert resumed.loss_curve_ == reference.loss_curve_
    for key, value in reference.module_.state_dict().items():
        torch.testing.assert_close(resumed.module_.state_dict()[key], value, rtol=0, atol=0)


def test_resume_refuses_another_runs_checkpoint(planted, tmp_path):
    from nwb_tavrnn.models.training import CheckpointMismatch

    conn, _ = planted
    TAVRNN(epochs=2, seed=0, device="cpu").fit(conn, checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointMismatch, match="h_dim|params"):
        TAVRNN(epochs=2, seed=0, h_dim=16, device="cpu").fit(conn, checkpoint_dir=tmp_path, resume=True)


def test_early_stopping_on_plateau(planted):
    conn, _ = planted
    model = TAVRNN(epochs=300, seed=0, device="cpu", patience=3, min_delta=0.5).fit(conn)
    assert model.stopped_early_ and model.n_epochs_ < 300


def test_any_number_of_windows_but_fitted_nodes(fitted):
    conn8, _ = planted_connectivity(n_windows=8, seed=4)
    assert fitted.transform(conn8).mean.shape == (8, N_NODES, 8)
    other, _ = planted_connectivity(n_nodes=N_NODES + 2, seed=4)
    with pytest.raises(ValueError, match="fitted on 30 nodes"):
        fitted.transform(other)


def test_one_graph_is_not_a_sequence():
    """One window would train a recurrence with no history; refused (a ValueError) rather than
    returning embeddings that look fitted."""
    conn1, _ = planted_connectivity(n_windows=1, seed=4)
    with pytest.raises(ValueError, match="needs a sequence of at least 2 graphs, got 1"):
        TAVRNN(epochs=2).fit(conn1)


def test_arrays_sparse_input_and_identity_features():
    conn, _ = planted_connectivity(sparse=True)
    dense_conn, _ = planted_connectivity()
    a = TAVRNN(epochs=3, device="cpu").fit(conn)
    b = TAVRNN(epochs=3, device="cpu").fit(dense_conn)
    assert a.loss_curve_ == b.loss_curve_  # sparse and dense forms are the same graphs
    adjacency = (dense_conn.to_dense() != 0).astype(np.float32)
    ident = TAVRNN(epochs=3, device="cpu", features="identity").fit(adjacency)
    assert ident.module_.x_dim == N_NODES + 1
    assert ident.transform(adjacency).mean.shape == (N_WINDOWS, N_NODES, 8)
    feats = np.random.default_rng(0).normal(size=(N_WINDOWS, N_NODES, 5)).astype(np.float32)
    custom = TAVRNN(epochs=2, device="cpu").fit(adjacency, features=feats)
    assert custom.transform(adjacency, features=feats).mean.shape == (N_WINDOWS, N_NODES, 8)


def test_plain_vgrnn_and_windowed_attention(planted):
    conn, _ = planted
    plain = VGRNN(epochs=3, device="cpu").fit(conn)
    assert plain.module_.attention is None
    np.testing.assert_array_equal(plain.transform(conn).attention, np.eye(N_WINDOWS, dtype=np.float32))
    windowed = TAVRNN(epochs=3, device="cpu", attention=2).fit(conn)
    att = windowed.transform(conn).attention
    assert np.all(np.tril(att, -2) == 0)
    prov, emb, attention = plain.to_nwb(conn)
    assert attention is None and prov.model_name == "vgrnn"


def test_presets_and_sampled_embeddings(planted):
    conn, _ = planted
    faithful = TAVRNN.preset("faithful", epochs=3, device="cpu")
    assert faithful.patience is None and faithful.embeddings == "sample"
    faithful.fit(conn)
    out1, out2 = faithful.transform(conn), faithful.transform(conn)
    assert out1.sample is not None
    np.testing.assert_array_equal(out1.sample, out2.sample)  # seeded
    assert TAVRNN.preset("improved").clip_grad_norm == 10.0
    with pytest.raises(ValueError):
        TAVRNN.preset("nope")


def test_gradient_clipping_applies(planted):
    conn, _ = planted
    clipped = TAVRNN(epochs=3, device="cpu", clip_grad_norm=1e-6).fit(conn)
    free = TAVRNN(epochs=3, device="cpu").fit(conn)
    assert clipped.loss_curve_[0] == free.loss_curve_[0]
    assert clipped.loss_curve_[1] != free.loss_curve_[1]


def test_sampled_decoder_trains(planted):
    conn, _ = planted
    model = TAVRNN(epochs=20, device="cpu", decoder="sampled").fit(conn)
    assert np.isfinite(model.loss_curve_).all()
    assert np.mean(model.loss_curve_[-3:]) < np.mean(model.loss_curve_[:3])


def test_to_nwb_and_from_provenance(fitted, planted):
    conn, _ = planted
    prov, emb, att = fitted.to_nwb(conn)
    assert emb.connectivity is conn and emb.model is prov and att.embeddings is emb
    assert prov.model_name == "tavrnn" and prov.seed == 0
    assert len(prov.training_loss) == 40
    assert prov.hyperparameters_dict["h_dim"] == 32
    assert "torch" in prov.versions_dict
    rebuilt = TAVRNN.from_provenance(prov)
    np.testing.assert_array_equal(rebuilt.transform(conn).mean, emb.mean)
    np.testing.assert_array_equal(att.data, fitted.transform(conn).attention)


def test_registry():
    assert get_model("TAVRNN") is TAVRNN and get_model("vgrnn") is VGRNN
    assert {"tavrnn", "vgrnn"} <= set(available_models())
    with pytest.raises(KeyError, match="available"):
        get_model("lfads")


def test_importing_the_package_does_not_import_torch():
    code = "import nwb_tavrnn, nwb_tavrnn.models, sys; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
