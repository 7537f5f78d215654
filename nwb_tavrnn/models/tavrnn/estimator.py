"""The TAVRNN estimator: fit on a DynamicConnectivity, transform to node embeddings, write to NWB.

Faithful to the reference by default in the model and the loss (history node, |r| features,
unweighted symmetric-normalised GCN, attention over the whole history, pos-weighted BCE plus the
reference's KL, h=32, z=8, Adam lr=1e-2, one step per epoch on the full sequence). Departures, each a
parameter:

* ``patience=50`` (default): stop once the loss has not improved by ``min_delta`` (relative) for 50
  epochs; the reference always ran 500 epochs (``patience=None``).
* ``embeddings="mean"`` (default): :meth:`TAVRNN.transform` runs the recurrence on ``Z = μ`` and
  returns the posterior means; the reference used random samples (``"sample"``).
* ``clip_grad_norm``: clip before the optimiser step (the reference's clip came after it: no effect).
* ``attention=w``: attend over the last ``w`` states only; ``None``: plain VGRNN (ablation).
* ``edge_weights=True``: weight GCN messages by ``|r|``.
* ``decoder="sampled"`` (automatic above 2,048 nodes): edges plus as many sampled non-edges,
  reweighted to estimate the same loss in O(E) memory.

``TAVRNN.preset("faithful")`` and ``TAVRNN.preset("improved")`` give the two reported settings.

Node count: with ``features="correlation"`` (``x_dim = N``) or ``"identity"`` (``x_dim = N + 1``) the
first layer's size is the number of nodes, so a fitted model transforms graphs over the same N nodes
(any number of windows). Features given as an array tie the model to their width instead.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..base import LatentGraphModel
from ..graphs import GraphSequence, prepare_sequence
from ..registry import register_model
from ..training import EpochCallback, TrainingConfig, train
from .._torch import cpu_threads_for, deterministic, resolve_device, seed_everything
from .modules import VGRNNNet

log = logging.getLogger(__name__)

#: Above this many nodes ``decoder="auto"`` uses the sampled reconstruction loss.
DENSE_DECODER_MAX_NODES = 2048

PRESETS: dict[str, dict[str, Any]] = {
    "faithful": dict(epochs=500, patience=None, clip_grad_norm=None, decoder="dense", edge_weights=False,
                     attention="full", embeddings="sample"),
    "improved": dict(epochs=500, patience=50, clip_grad_norm=10.0, decoder="auto", edge_weights=False,
                     attention="full", embeddings="mean"),
}


@dataclass
class Embeddings:
    """What :meth:`TAVRNN.transform` returns.

    Shapes
    ------
    mean, log_variance : (W, N, z) float32, posterior of every real node
    attention : (W, W) float32, row t sums to 1 over windows ≤ t (identity for plain VGRNN)
    history_mean, history_log_variance : (W, z) float32, the history node's posterior
    history_hidden : (W, h) float32, the history node's recurrent state (what attention reads)
    sample : (W, N, z) float32 or None, the ``Z`` drawn in the recurrence when ``embeddings="sample"``
    """

    mean: np.ndarray
    log_variance: np.ndarray
    attention: np.ndarray
    history_mean: np.ndarray
    history_log_variance: np.ndarray
    history_hidden: np.ndarray
    sample: np.ndarray | None = None


def _check_attention(attention: Any) -> None:
    if attention is None or attention == "full":
        return
    if isinstance(attention, bool) or not isinstance(attention, (int, np.integer)) or attention < 1:
        raise ValueError(f"attention must be 'full', a window width >= 1, or None; got {attention!r}")


@register_model("tavrnn")
class TAVRNN(LatentGraphModel):
    """Temporal-attention VGRNN on a sequence of graphs (scikit-learn-like estimator).

    Parameters
    ----------
    h_dim, z_dim
        Recurrent-state and latent sizes (reference: 32 and 8).
    epochs
        Maximum number of epochs (one Adam step on the full sequence each).
    lr
        Adam learning rate.
    seed
        Seeds weights, ε and sampled non-edges; None draws one (recorded in ``seed_``).
    device
        ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    features
        ``"correlation"`` (|r| rows, x_dim = N) or ``"identity"``; an array may be given to
        :meth:`fit` instead.
    attention
        ``"full"``, a window width, or None (plain VGRNN).
    edge_weights
        Weight GCN messages by the connectivity's ``|weights|`` (reference: binary).
    decoder
        ``"dense"`` (exact reference loss), ``"sampled"`` or ``"auto"`` (dense up to 2,048 nodes).
    negative_ratio
        Sampled non-edges per edge for ``decoder="sampled"``.
    clip_grad_norm
        Clip the gradient norm to this before each step (default 10, as the ``improved`` preset);
        None: no clipping (the reference; its loss can become NaN late in training).
    patience, min_delta
        Early stopping: stop after ``patience`` epochs without a relative improvement of
        ``min_delta`` in the loss; ``patience=None`` always runs ``epochs``.
    embeddings
        ``"mean"``: transform uses ``Z = μ`` (deterministic); ``"sample"``: draws ``Z`` as the
        reference did (seeded).

    Attributes
    ----------
    module_ : VGRNNNet
    loss_curve_ : list of float, loss per epoch
    n_epochs_ : int, epochs run
    stopped_early_ : bool
    seed_ : int, the seed actually used
    """

    def __init__(
        self,
        h_dim: int = 32,
        z_dim: int = 8,
        epochs: int = 500,
        lr: float = 1e-2,
        seed: int | None = 0,
        device: str = "auto",
        features: str = "correlation",
        attention: str | int | None = "full",
        edge_weights: bool = False,
        decoder: str = "auto",
        negative_ratio: float = 1.0,
        clip_grad_norm: float | None = 10.0,
        patience: int | None = 50,
        min_delta: float = 1e-3,
        embeddings: str = "mean",
    ) -> None:
        self.h_dim = h_dim
        self.z_dim = z_dim
        self.epochs = epochs
        self.lr = lr
        self.seed = seed
        self.device = device
        self.features = features
        self.attention = attention
        self.edge_weights = edge_weights
        self.decoder = decoder
        self.negative_ratio = negative_ratio
        self.clip_grad_norm = clip_grad_norm
        self.patience = patience
        self.min_delta = min_delta
        self.embeddings = embeddings

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> TAVRNN:
        """``"faithful"`` (the reference's behaviour) or ``"improved"``; keywords override."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    # -- validation ---------------------------------------------------------------------------
    def _validate(self) -> None:
        _check_attention(self.attention)
        if self.decoder not in ("auto", "dense", "sampled"):
            raise ValueError(f"decoder must be 'auto', 'dense' or 'sampled', got {self.decoder!r}")
        if self.embeddings not in ("mean", "sample"):
            raise ValueError(f"embeddings must be 'mean' or 'sample', got {self.embeddings!r}")
        if int(self.epochs) < 1 or int(self.h_dim) < 1 or int(self.z_dim) < 1:
            raise ValueError("epochs, h_dim and z_dim must be positive")
        if self.patience is not None and int(self.patience) < 1:
            raise ValueError("patience must be a positive number of epochs, or None")

    def _decoder_for(self, n_nodes: int) -> str:
        if self.decoder == "auto":
            return "dense" if n_nodes <= DENSE_DECODER_MAX_NODES else "sampled"
        return self.decoder

    # -- the module -----------------------------------------------------------------------------
    def _fitted_meta(self) -> dict[str, Any]:
        return dict(self.meta_)

    def _build_module(self, meta: dict[str, Any]) -> VGRNNNet:
        return VGRNNNet(int(meta["x_dim"]), int(self.h_dim), int(self.z_dim), self.attention)

    def _sequence(self, connectivity: Any, features: Any, n_nodes: int | None = None) -> GraphSequence:
        kind = self.features if features is None else features
        return prepare_sequence(connectivity, kind, bool(self.edge_weights), n_nodes=n_nodes)

    # -- fit ----------------------------------------------------------------------------------
    def fit(
        self,
        connectivity: Any,
        features: np.ndarray | str | None = None,
        *,
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_every: int = 25,
        resume: bool = False,
        callback: EpochCallback | None = None,
    ) -> TAVRNN:
        """Train on one sequence of graphs.

        Parameters
        ----------
        connectivity
            A DynamicConnectivity, or adjacency matrices (non-zero = edge).
        features
            Overrides the ``features`` parameter (e.g. an array of node features).
        checkpoint_dir, checkpoint_every, resume
            Write ``checkpoint_dir/checkpoint.pt`` every ``checkpoint_every`` epochs (and at the
            end); with ``resume`` continue from it exactly.
        callback
            ``callback(epoch, loss)`` after each epoch (progress bars, logging).

        Shapes
        ------
        connectivity (array) : (W, N, N)
        features (array) : (W, N, x_dim)
        """
        self._validate()
        device = resolve_device(self.device)
        seq = self._sequence(connectivity, features).to(device)
        self.seed_ = int(self.seed) if self.seed is not None else secrets.randbelow(2**31)
        decoder = self._decoder_for(seq.n_nodes)
        meta = {"n_nodes": seq.n_nodes, "x_dim": seq.x_dim, "feature_kind": seq.feature_kind, "decoder": decoder,
                "n_windows_fit": seq.num_windows}
        config = TrainingConfig(
            epochs=int(self.epochs), lr=float(self.lr), clip_grad_norm=self.clip_grad_norm,
            patience=None if self.patience is None else int(self.patience), min_delta=float(self.min_delta),
            checkpoint_dir=checkpoint_dir, checkpoint_every=int(checkpoint_every), resume=resume,
        )
        params = {k: v for k, v in self.get_params().items() if k not in ("epochs", "device")}
        params["seed"] = self.seed_
        identity = {"model": self.model_name, "params": json.dumps(params, sort_keys=True),
                    "data": seq.fingerprint}
        log.info("fitting %s on %d windows x %d nodes (x_dim %d, %s decoder) on %s", self.model_name,
                 seq.num_windows, seq.n_nodes, seq.x_dim, decoder, device)
        seed_everything(self.seed_)
        with deterministic(), cpu_threads_for(seq.n_nodes, device):
            module = self._build_module(meta).to(device)
            generator = torch.Generator(device=device).manual_seed(self.seed_)

            def loss_fn() -> torch.Tensor:
                return module(seq, sample=True, generator=generator, decoder=decoder,
                              negative_ratio=float(self.negative_ratio))["loss"]

            state = train(module, loss_fn, generator, config, identity, callback)
        self.module_ = module.eval()
        self.meta_ = meta
        self.loss_curve_ = list(state.losses)
        self.n_epochs_ = state.epoch
        self.stopped_early_ = state.stopped_early
        return self

    # -- transform ------------------------------------------------------------------------------
    def transform(self, connectivity: Any, features: np.ndarray | str | None = None) -> Embeddings:
        """Embed every node of every window (any number of windows; the fitted number of nodes).

        Shapes
        ------
        connectivity (array) : (W, N, N)
        return : see :class:`Embeddings`
        """
        self._check_fitted()
        meta = self.meta_
        kind = features if features is not None else (meta["feature_kind"] if meta["feature_kind"] != "array"
                                                      else None)
        if kind is None:
            raise ValueError("this model was fitted on features given as an array; give features= to transform")
        seq = self._sequence(connectivity, kind, n_nodes=int(meta["n_nodes"]))
        if seq.x_dim != int(meta["x_dim"]):
            raise ValueError(f"features have width {seq.x_dim} but the model was fitted on width {meta['x_dim']}")
        device = next(self.module_.parameters()).device
        seq = seq.to(device)
        sample = self.embeddings == "sample"
        seed = getattr(self, "seed_", None)
        if seed is None:
            seed = int(self.seed) if self.seed is not None else 0
        generator = torch.Generator(device=device).manual_seed(seed)
        self.module_.eval()
        with torch.no_grad(), deterministic(), cpu_threads_for(seq.n_nodes, device):
            out = self.module_(seq, sample=sample, generator=generator, compute_loss=False)
        n = seq.n_nodes
        mean = out["mean"].cpu().numpy().astype(np.float32)
        log_var = (2.0 * torch.log(out["std"])).cpu().numpy().astype(np.float32)
        drawn = None
        if sample:
            # Re-draw the same ε stream to report the samples the recurrence used.
            gen = torch.Generator(device=device).manual_seed(seed)
            eps = [torch.randn(out["mean"][t].shape, generator=gen, device=device) for t in range(seq.num_windows)]
            drawn = (out["mean"] + out["std"] * torch.stack(eps)).cpu().numpy()[:, :n].astype(np.float32)
        return Embeddings(
            mean=mean[:, :n], log_variance=log_var[:, :n],
            attention=out["attention"].cpu().numpy().astype(np.float32),
            history_mean=mean[:, n], history_log_variance=log_var[:, n],
            history_hidden=out["hidden"][:, n].cpu().numpy().astype(np.float32),
            sample=drawn,
        )

    def fit_transform(self, connectivity: Any, features: np.ndarray | str | None = None, **kwargs: Any) -> Embeddings:
        return self.fit(connectivity, features, **kwargs).transform(connectivity, features)

    # -- NWB ------------------------------------------------------------------------------------
    def to_nwb(self, connectivity: Any, embeddings: Embeddings | None = None, name_prefix: str = "") -> tuple:
        """Build the NWB containers of this fit for ``connectivity`` (a DynamicConnectivity).

        The NodeEmbeddings link to ``connectivity`` and to the ModelProvenance, the
        TemporalAttention to the NodeEmbeddings; add all of them to the file that holds
        ``connectivity`` (they must be written to the same file).

        Parameters
        ----------
        embeddings
            A :meth:`transform` result to store (computed here when None).
        name_prefix
            Prefix for the objects' names (``NodeEmbeddings``, ``TemporalAttention``,
            ``ModelProvenance``), to keep several fits in one file apart.

        Returns
        -------
        (ModelProvenance, NodeEmbeddings, TemporalAttention or None)
            The attention is None for plain VGRNN (``attention=None``).
        """
        from ...schema import DynamicConnectivity, ModelProvenance, NodeEmbeddings, TemporalAttention

        if not isinstance(connectivity, DynamicConnectivity):
            raise TypeError("to_nwb needs the DynamicConnectivity the embeddings describe (for window times and ids)")
        self._check_fitted()
        emb = embeddings if embeddings is not None else self.transform(connectivity)
        desc = (f"{self.model_name} (h={self.h_dim}, z={self.z_dim}, attention={self.attention}, "
                f"features={self.meta_['feature_kind']}, seed={getattr(self, 'seed_', self.seed)})")
        provenance = ModelProvenance(
            name=f"{name_prefix}ModelProvenance",
            description=f"training run of {desc}; {len(self.loss_curve_)} epochs, loss = reconstruction + KL summed "
                        "over windows; weights are the torch state_dict (rebuild with TAVRNN.from_provenance)",
            connectivity=connectivity,
            **self._provenance_fields(),
        )
        optional = {}
        for key in ("node_groups", "node_locations"):
            value = getattr(connectivity, key, None)
            if value is not None:
                optional[key] = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in value[()]])
        node_embeddings = NodeEmbeddings(
            name=f"{name_prefix}NodeEmbeddings",
            description=f"posterior {'means' if self.embeddings == 'mean' else 'means (recurrence on samples)'} "
                        f"and log-variances of every node in every window, from {desc}",
            model_name=self.model_name,
            mean=emb.mean,
            log_variance=emb.log_variance,
            window_start_times=np.asarray(connectivity.window_start_times[()], dtype=np.float64),
            window_stop_times=np.asarray(connectivity.window_stop_times[()], dtype=np.float64),
            node_ids=np.asarray(connectivity.node_ids[()], dtype=np.int64),
            connectivity=connectivity,
            model=provenance,
            **optional,
        )
        attention = None
        if self.attention is not None:
            attention = TemporalAttention(
                name=f"{name_prefix}TemporalAttention",
                description="TAVRNN attention weights: row t is the softmax over the recurrent states of windows "
                            "<= t that formed window t's state (keys from the history node)",
                data=np.asarray(emb.attention, dtype=np.float32),
                window_width=0 if self.attention == "full" else int(self.attention),
                embeddings=node_embeddings,
            )
        return provenance, node_embeddings, attention


@register_model("vgrnn")
class VGRNN(TAVRNN):
    """Plain VGRNN (TAVRNN without temporal attention), the ablation baseline."""

    def __init__(self, h_dim: int = 32, z_dim: int = 8, epochs: int = 500, lr: float = 1e-2, seed: int | None = 0,
                 device: str = "auto", features: str = "correlation", attention: str | int | None = None,
                 edge_weights: bool = False, decoder: str = "auto", negative_ratio: float = 1.0,
                 clip_grad_norm: float | None = 10.0, patience: int | None = 50, min_delta: float = 1e-3,
                 embeddings: str = "mean") -> None:
        super().__init__(h_dim, z_dim, epochs, lr, seed, device, features, attention, edge_weights, decoder,
                         negative_ratio, clip_grad_norm, patience, min_delta, embeddings)
