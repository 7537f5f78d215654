"""Small, seeded instances of our NWB types and of a typical source file, for tests and examples.

Like pynwb's ``mock`` module: each function returns a valid object with known contents, every
argument overridable, so tests state only what they care about.
"""

from __future__ import annotations

import datetime

import numpy as np
from pynwb import NWBFile, TimeSeries
from pynwb.file import Subject

from .schema import DynamicConnectivity, ModelProvenance, NodeEmbeddings, TemporalAttention

SESSION_START = datetime.datetime(2024, 3, 1, 9, 30, tzinfo=datetime.timezone.utc)


def mock_source_nwbfile(
    n_units: int = 6, duration: float = 60.0, rate: float = 5.0, seed: int = 0, silent_units: int = 1,
    with_units: bool = True,
) -> NWBFile:
    """An in-memory session like a lab would share: electrodes in two groups, Units (the last
    ``silent_units`` without spikes), epochs, trials and a behavioural position series."""
    rng = np.random.default_rng(seed)
    nwbfile = NWBFile(
        session_description="mock session for nwb_tavrnn tests",
        identifier=f"mock-source-{seed}",
        session_start_time=SESSION_START,
        experimenter=["Doe, Jane"],
        lab="Test lab",
        institution="Test institute",
        experiment_description="spontaneous and task activity",
        keywords=["test"],
    )
    nwbfile.subject = Subject(subject_id="m1", species="Mus musculus", sex="F", age="P90D",
                              description="mock subject")
    device = nwbfile.create_device(name="probe", description="mock probe")
    groups = [
        nwbfile.create_electrode_group(name=f"shank{g}", description=f"shank {g}", location=loc, device=device)
        for g, loc in enumerate(["CA1", "DG"])
    ]
    nwbfile.add_electrode_column(name="channel_name", description="name of the channel")
    for e in range(n_units):
        nwbfile.add_electrode(group=groups[e % 2], location=groups[e % 2].location, x=float(e), y=0.0, z=0.0,
                              channel_name=f"ch{e}")
    if with_units:
        from pynwb.misc import Units

        nwbfile.units = Units(name="units", description="mock sorted units", resolution=1 / 30000)
        nwbfile.add_unit_column(name="quality", description="curation label")
        for u in range(n_units):
            if u >= n_units - silent_units:
                times = np.zeros(0)
            else:
                times = np.sort(rng.uniform(0, duration, rng.poisson(rate * duration)))
            nwbfile.add_unit(spike_times=np.round(times * 30000) / 30000, electrodes=[u],
                             electrode_group=groups[u % 2], id=100 + u, quality="good")
    half = duration / 2
    nwbfile.add_epoch(start_time=0.0, stop_time=half, tags=["rest"])
    nwbfile.add_epoch(start_time=half, stop_time=duration, tags=["task"])
    nwbfile.add_trial_column(name="outcome", description="1 = hit, 0 = miss")
    for k, start in enumerate(np.arange(half, duration - 2.0, 5.0)):
        nwbfile.add_trial(start_time=float(start), stop_time=float(start + 2.0), outcome=int(k % 3 != 0))
    behavior = nwbfile.create_processing_module("behavior", "mock behaviour")
    behavior.add(TimeSeries(name="position", data=np.sin(np.linspace(0, 6, int(duration * 10))), unit="m",
                            rate=10.0, starting_time=0.0, description="linear position"))
    return nwbfile


def mock_dynamic_connectivity(
    n_windows: int = 4, n_nodes: int = 5, seed: int = 0, sparse: bool = False, node_ids=None, **kwargs
) -> DynamicConnectivity:
    """Symmetric |r|-like graphs with a 0.6 threshold, in dense or sparse form."""
    rng = np.random.default_rng(seed)
    r = rng.uniform(0, 1, (n_windows, n_nodes, n_nodes)).astype(np.float32)
    r = (r + r.transpose(0, 2, 1)) / 2
    r[:, np.arange(n_nodes), np.arange(n_nodes)] = 1.0
    adjacency = np.where(r >= 0.6, r, 0).astype(np.float32)
    starts = np.arange(n_windows) * 60.0
    args = dict(
        description="mock sliding-window Pearson graphs",
        bin_size=0.05,
        window_start_times=starts,
        window_stop_times=starts + 120.0,
        node_ids=np.arange(n_nodes, dtype=np.int64) if node_ids is None else np.asarray(node_ids),
        node_groups=np.array([f"g{i % 2}" for i in range(n_nodes)]),
        node_locations=np.array(["CA1" if i % 2 == 0 else "DG" for i in range(n_nodes)]),
        correlation=r,
        inactive_mask=np.zeros((n_windows, n_nodes), dtype=bool),
        threshold_mode="fixed",
        threshold=0.6,
        window_duration=120.0,
        window_step=60.0,
        parameters={"bin_size": 0.05, "binary": True, "threshold": 0.6},
    )
    if sparse:
        idx = np.argwhere(adjacency != 0)
        args.update(edge_index=idx.astype(np.int64), edge_weight=adjacency[tuple(idx.T)])
    else:
        args.update(data=adjacency)
    args.update(kwargs)
    return DynamicConnectivity(**args)


def mock_model_provenance(connectivity: DynamicConnectivity | None = None, seed: int = 0, **kwargs) -> ModelProvenance:
    rng = np.random.default_rng(seed)
    flat, layout = ModelProvenance.pack_weights(
        {"encoder.weight": rng.normal(size=(4, 3)), "encoder.bias": rng.normal(size=4)}
    )
    args = dict(
        description="mock training run",
        model_name="tavrnn",
        hyperparameters={"h_dim": 32, "z_dim": 8, "lr": 0.01},
        versions={"nwb_tavrnn": "0.1.0", "torch": "2.13.0"},
        seed=seed,
        training_loss=np.linspace(2.0, 0.5, 10),
        validation_loss=np.linspace(2.1, 0.6, 10),
        weights=flat,
        weights_layout=layout,
        connectivity=connectivity,
    )
    args.update(kwargs)
    return ModelProvenance(**args)


def mock_node_embeddings(
    connectivity: DynamicConnectivity | None = None, latent: int = 3, seed: int = 0, model=None, **kwargs
) -> NodeEmbeddings:
    rng = np.random.default_rng(seed)
    conn = connectivity if connectivity is not None else mock_dynamic_connectivity(seed=seed)
    shape = (conn.num_windows, conn.num_nodes, latent)
    args = dict(
        description="mock embeddings",
        model_name="tavrnn",
        mean=rng.normal(size=shape).astype(np.float32),
        log_variance=rng.normal(-2, 0.1, size=shape).astype(np.float32),
        window_start_times=np.asarray(conn.window_start_times[:]),
        window_stop_times=np.asarray(conn.window_stop_times[:]),
        node_ids=np.asarray(conn.node_ids[:]),
        connectivity=connectivity,
        model=model,
    )
    args.update(kwargs)
    return NodeEmbeddings(**args)


def mock_temporal_attention(n_windows: int = 4, embeddings: NodeEmbeddings | None = None, seed: int = 0,
                            **kwargs) -> TemporalAttention:
    """Causal attention: row t is a softmax over windows 0..t."""
    rng = np.random.default_rng(seed)
    n = embeddings.num_windows if embeddings is not None else n_windows
    scores = rng.normal(size=(n, n))
    scores[np.triu_indices(n, 1)] = -np.inf
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    args = dict(description="mock attention", data=weights.astype(np.float32), window_width=0, embeddings=embeddings)
    args.update(kwargs)
    return TemporalAttention(**args)
