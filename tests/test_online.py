"""The online embedder against the offline steps: same graphs, embeddings and attention (1e-5) for
spike batches of random sizes that do not line up with the windows."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("torch")

from nwb_tavrnn.connectivity import ConnectivityParams  # noqa: E402
from nwb_tavrnn.connectivity.compute import compute_dynamic_connectivity  # noqa: E402
from nwb_tavrnn.models import TAVRNN  # noqa: E402
from nwb_tavrnn.online import OnlineEmbedder  # noqa: E402
from nwb_tavrnn.simulate import SimulationConfig, simulate_network  # noqa: E402


@pytest.mark.parametrize("attention", ["full", 3])
def test_online_windows_equal_the_offline_steps(attention):
    config = dataclasses.replace(SimulationConfig.small(), gameplay_minutes=6.0, rest_minutes=2.0)
    trains = simulate_network(config, seed=0).spikes
    params = ConnectivityParams.preset("default", window=40, step=20, threshold_mode="top_k", top_k=5)
    offline = compute_dynamic_connectivity(trains, params)
    model = TAVRNN(epochs=3, attention=attention, device="cpu", seed=0).fit(offline)
    emb = model.transform(offline)
    times = np.concatenate(trains.times)
    ids = np.concatenate([np.full(len(t), u) for t, u in zip(trains.times, trains.ids)])
    order = np.argsort(times, kind="stable")
    times, ids = times[order], ids[order]
    online = OnlineEmbedder(model, params, trains.ids, t_start=float(trains.t_start or 0.0), groups=trains.groups)
    rng = np.random.default_rng(1)
    results, i = [], 0
    while i < len(times):  # batches of random sizes, unaligned with bins and windows
        j = min(len(times), i + int(rng.integers(1, 4000)))
        results += online.push(times[i:j], ids[i:j])
        i = j
    results += online.flush(float(trains.t_stop))
    assert len(results) == offline.adjacency.shape[0] > 5
    for k, res in enumerate(results):
        assert res.start == pytest.approx(offline.window_start_times[k]) and res.stop == pytest.approx(offline.window_stop_times[k])
        np.testing.assert_allclose(res.adjacency, offline.adjacency[k], atol=1e-6)
        np.testing.assert_allclose(res.correlation, offline.correlation[k], atol=1e-6)
        np.testing.assert_allclose(res.mean, emb.mean[k], atol=1e-5, rtol=1e-5)
        attended = emb.attention[k, k - len(res.attention) + 1:k + 1]
        np.testing.assert_allclose(res.attention, attended, atol=1e-5)
    from nwb_tavrnn.evaluation.metrics import subregion_alignment

    np.testing.assert_allclose([r.alignment for r in results], subregion_alignment(emb.mean, trains.groups),
                               atol=1e-4)
    # what is kept stays bounded by one window's bins
    assert len(online._bins) <= online.window_bins + online.step_bins
