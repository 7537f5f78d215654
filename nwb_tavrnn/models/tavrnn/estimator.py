"""The TAVRNN estimator: fit on a DynamicConnectivity, transform to node embeddings, write to NWB.

Two presets, the two columns of the README's fidelity table (docs/tavrnn_fidelity.md explains each
row):

* ``TAVRNN.preset("faithful")`` computes what the authors' notebook computes, oddities included,
  each a parameter: the notebook's GCN normalisation (``gcn_norm="reference"``), the history node in
  the reconstruction target, ``pos_weight``/``norm`` and the KL (``history_in_loss=True``), no
  biases in the encoder's GCNs (``encoder_bias=False``), the graph GRU's weights frozen at their
  random initial values (``recurrence_trainable=False``: the notebook never registers them),
  attention over already-attended states (``attention_memory="attended"``), the KL divided by
  the node count twice (``kl_scale="reference"``), losses summed over windows
  (``loss_reduction="sum"``), no gradient clipping, 500 epochs, and random samples of Z as the
  embeddings (``embeddings="sample"``). A golden test holds it to an independent re-implementation
  of the notebook's equations.
* ``TAVRNN.preset("improved")`` (the defaults) fixes what we count as defects: the recurrence
  learns, the attention reads the GRU outputs, the loss is over the real nodes only, the encoder
  has biases, missing self-loops are added (``gcn_norm="gcn"``), gradients are clipped at 10,
  training stops after 50 epochs without improvement, embeddings are posterior means.

Other options: ``attention=w`` (the last ``w`` states), ``attention=None`` (plain VGRNN),
``edge_weights=True`` (weight GCN messages by ``|r|``), ``decoder="sampled"`` (automatic above
2,048 nodes: edges plus as many sampled non-edges, an unbiased O(E) estimate of the same loss).

Node count: with ``features="correlation"`` or ``"identity"`` (``x_dim = N + 1``) the first layer's
size is the number of nodes, so a fitted model transforms graphs over the same N nodes (any number
of windows). Features given as an array tie the model to their width instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...errors import DataError, ParameterError, require
from .._torch import cpu_threads_for, deterministic, resolve_device
from ..base import LatentGraphModel
from ..graphs import GCN_NORMS, GraphSequence, prepare_sequence
from ..registry import register_model
from ..training import EpochCallback, Objective
from .modules import ATTENTION_MEMORIES, KL_SCALES, LOSS_REDUCTIONS, VGRNNNet

log = logging.getLogger(__name__)

#: Above this many nodes ``decoder="auto"`` uses the sampled reconstruction loss.
DENSE_DECODER_MAX_NODES = 2048

#: What each preset sets; every other parameter keeps its default (``attention``: "full" for
#: TAVRNN, None for VGRNN).
PRESETS: dict[str, dict[str, Any]] = {
    # the sizes are the notebook's, written out so the preset stays the notebook if the defaults move
    "faithful": dict(h_dim=32, z_dim=8, epochs=500, patience=None, clip_grad_norm=None, decoder="dense",
                     edge_weights=False, embeddings="sample", gcn_norm="reference", history_in_loss=True,
                     encoder_bias=False, recurrence_trainable=False, attention_memory="attended",
                     kl_scale="reference", loss_reduction="sum", training_z="sample"),
    "improved": dict(epochs=500, patience=50, clip_grad_norm=10.0, decoder="auto", edge_weights=False,
                     embeddings="mean", gcn_norm="gcn", history_in_loss=False,
                     encoder_bias=True, recurrence_trainable=True, attention_memory="raw",
                     kl_scale="reference", loss_reduction="sum", training_z="sample"),
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
        raise ParameterError(f"attention must be 'full', a window width >= 1, or None; got {attention!r}")


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
        ``"correlation"`` (|r| rows with the history node's column, x_dim = N + 1) or
        ``"identity"``; an array may be given to :meth:`fit` instead. ``"reference"``: the
        notebook's inputs as arrays: ``features=`` an |r| array (W, N, N), or None for identity
        (what :meth:`from_reference_state_dict` sets).
    attention
        ``"full"``, a window width, or None (plain VGRNN).
    edge_weights
        Weight GCN messages by the connectivity's ``|weights|`` (reference: binary).
    decoder
        ``"dense"`` (exact reference loss), ``"sampled"`` or ``"auto"`` (dense up to 2,048 nodes).
    negative_ratio
        Sampled non-edges per edge for ``decoder="sampled"``.
    clip_grad_norm
        Clip the gradient norm to this before each step (default 10); None: no clipping (the
        reference; its loss can become NaN late in training).
    patience, min_delta
        Early stopping: stop after ``patience`` epochs without a relative improvement of
        ``min_delta`` in the loss; ``patience=None`` always runs ``epochs``.
    embeddings
        ``"mean"``: transform uses ``Z = μ`` (deterministic); ``"sample"``: draws ``Z`` as the
        reference did (seeded), and :meth:`to_nwb` writes the samples beside the means.
    gcn_norm
        ``"gcn"`` (torch-geometric's, missing self-loops added) or ``"reference"`` (the notebook's
        GCNConv: the adjacency as given, row-sum degrees); the same on symmetric graphs with a
        diagonal.
    history_in_loss
        Reconstruct the history node's edges and include it in the KL (the reference). Its row,
        column and diagonal add 2N + 1 positives, which on sparse graphs are most of them and cut
        ``pos_weight`` several-fold.
    encoder_bias
        Biases in the encoder's GCNs (the reference has none).
    recurrence_trainable
        Train the graph GRU's GCNs (False: frozen at initialisation, as the notebook, which never
        registers them with its optimiser).
    attention_memory
        ``"raw"``: attend over the GRU outputs; ``"attended"``: over the attended states that
        replaced them (the reference, which re-applies ``value`` to them at every later step).
    kl_scale
        ``"reference"``: the node-mean KL divided by the node count again (a KL weight of 1/N);
        ``"mean"``: the node mean.
    loss_reduction
        ``"sum"`` (the reference) or ``"mean"`` of the windows' losses.
    training_z
        ``"sample"``: train on ``Z = μ + σ ε`` (the VAE, the reference); ``"mean"``: on ``Z = μ``
        (deterministic; what the golden tests compare). The model study (docs/tavrnn_study.md)
        measured ``"mean"`` with ``z_dim=16`` as a default and did not adopt it: better node-group
        ARI on some held-back rows, worse window accuracy on others.
    warm_start
        :meth:`fit` continues from the fitted weights (a fresh Adam, the reference's settings)
        instead of a new initialisation.

    Attributes
    ----------
    module_ : VGRNNNet
    loss_curve_ : list of float, loss per epoch
    n_epochs_ : int, epochs run
    stopped_early_ : bool
    seed_ : int, the seed actually used
    """

    #: ``"faithful"`` (the reference notebook's computation) and ``"improved"`` (the defaults).
    PRESETS = PRESETS
    #: A recurrence over one graph learns no dynamics, and attention has no history to weigh.
    min_windows = 2

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
        gcn_norm: str = "gcn",
        history_in_loss: bool = False,
        encoder_bias: bool = True,
        recurrence_trainable: bool = True,
        attention_memory: str = "raw",
        kl_scale: str = "reference",
        loss_reduction: str = "sum",
        training_z: str = "sample",
        warm_start: bool = False,
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
        self.gcn_norm = gcn_norm
        self.history_in_loss = history_in_loss
        self.encoder_bias = encoder_bias
        self.recurrence_trainable = recurrence_trainable
        self.attention_memory = attention_memory
        self.kl_scale = kl_scale
        self.loss_reduction = loss_reduction
        self.training_z = training_z
        self.warm_start = warm_start

    # -- validation ---------------------------------------------------------------------------
    def _validate(self) -> None:
        _check_attention(self.attention)
        for name, allowed in (("decoder", ("auto", "dense", "sampled")), ("embeddings", ("mean", "sample")),
                              ("training_z", ("mean", "sample")), ("gcn_norm", GCN_NORMS),
                              ("attention_memory", ATTENTION_MEMORIES), ("kl_scale", KL_SCALES),
                              ("loss_reduction", LOSS_REDUCTIONS)):
            require(getattr(self, name) in allowed, f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name in ("h_dim", "z_dim"):
            require(int(getattr(self, name)) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        require(float(self.negative_ratio) > 0, f"negative_ratio must be positive, got {self.negative_ratio}")
        require(float(self.min_delta) >= 0, f"min_delta must be >= 0, got {self.min_delta}")
        self._check_training_params()

    def _decoder_for(self, n_nodes: int) -> str:
        if self.decoder == "auto":
            return "dense" if n_nodes <= DENSE_DECODER_MAX_NODES else "sampled"
        return self.decoder

    # -- the module -----------------------------------------------------------------------------
    def _threads(self, meta: dict[str, Any], device: torch.device) -> contextlib.AbstractContextManager:
        return cpu_threads_for(int(meta["n_nodes"]), device)

    def _generator_device(self, device: torch.device) -> torch.device:
        return device  # ε and the sampled non-edges are drawn where the model runs

    def _build_module(self, meta: dict[str, Any]) -> VGRNNNet:
        return VGRNNNet(int(meta["x_dim"]), int(self.h_dim), int(self.z_dim), self.attention,
                        encoder_bias=bool(self.encoder_bias), recurrence_trainable=bool(self.recurrence_trainable),
                        attention_memory=self.attention_memory, kl_scale=self.kl_scale,
                        loss_reduction=self.loss_reduction)

    def _sequence(self, connectivity: Any, features: Any, n_nodes: int | None = None) -> GraphSequence:
        kind, correlation = (self.features if features is None else features), None
        if self.features == "reference" and (features is None or not isinstance(features, str)):
            # the notebook's inputs: an |r| array (augmented like the 'correlation' rows) or identity
            kind, correlation = ("identity", None) if features is None else ("correlation", features)
        return prepare_sequence(connectivity, kind, bool(self.edge_weights), n_nodes=n_nodes,
                                correlation=correlation, gcn_norm=self.gcn_norm,
                                history_in_loss=bool(self.history_in_loss))

    def _fit_sequence(self, connectivity: Any, features: Any) -> GraphSequence:
        """The training sequence; with ``warm_start`` it must match the fitted sizes."""
        if not (self.warm_start and self.is_fitted):
            return self._sequence(connectivity, features)
        seq = self._sequence(connectivity, features, n_nodes=int(self.meta_["n_nodes"]))
        if seq.x_dim != int(self.meta_["x_dim"]):
            raise ValueError(f"warm_start: features have width {seq.x_dim} but the model has {self.meta_['x_dim']}")
        return seq

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
        self._start_fit(checkpoint_every)
        warm = bool(self.warm_start and self.is_fitted)
        device = next(self.module_.parameters()).device if warm else resolve_device(self.device)
        seq = self._fit_sequence(connectivity, features).to(device)
        if seq.num_windows < self.min_windows:
            raise DataError(f"{self.model_name} needs a sequence of at least {self.min_windows} graphs, got "
                            f"{seq.num_windows}: compute the graphs with more windows (a shorter window or step)")
        self._draw_seed()
        decoder = self._decoder_for(seq.n_nodes)
        meta = {"n_nodes": seq.n_nodes, "x_dim": seq.x_dim, "feature_kind": seq.feature_kind, "decoder": decoder,
                "n_windows_fit": seq.num_windows}
        config = self._training_config(checkpoint_dir, checkpoint_every, resume)
        identity = self._run_identity(seq.fingerprint)
        if warm:
            identity["start"] = hashlib.sha1(b"".join(v.detach().cpu().numpy().tobytes()
                                                      for v in self.module_.state_dict().values())).hexdigest()
        log.info("fitting %s on %d windows x %d nodes (x_dim %d, %s decoder) on %s%s", self.model_name,
                 seq.num_windows, seq.n_nodes, seq.x_dim, decoder, device, " from the fitted weights" if warm else "")
        sample = self.training_z == "sample"

        def objective(module: VGRNNNet, generator: torch.Generator) -> Objective:
            if warm:  # today's settings (KL scale, frozen recurrence...) on the fitted weights
                try:
                    module.load_state_dict(self.module_.state_dict())
                except RuntimeError:
                    raise ValueError("warm_start cannot change the network's shape (encoder_bias, attention, "
                                     "h_dim, z_dim); refit without warm_start") from None

            def loss_fn() -> torch.Tensor:
                return module(seq, sample=sample, generator=generator, decoder=decoder,
                              negative_ratio=float(self.negative_ratio))["loss"]

            return Objective(loss_fn)

        module, state, _ = self._train_module(meta, device, objective, config, identity, callback)
        self.meta_ = meta
        self._record_fit(module, state)
        return self

    # -- transform ------------------------------------------------------------------------------
    def _fitted_sequence(self, connectivity: Any, features: Any) -> GraphSequence:
        self._check_fitted()
        meta = self.meta_
        kind = features
        if features is None and self.features != "reference":
            kind = meta["feature_kind"] if meta["feature_kind"] != "array" else None
            if kind is None:
                raise ValueError("this model was fitted on features given as an array; give features= to transform")
        seq = self._sequence(connectivity, kind, n_nodes=int(meta["n_nodes"]))
        if seq.x_dim != int(meta["x_dim"]):
            raise ValueError(f"features have width {seq.x_dim} but the model was fitted on width {meta['x_dim']}")
        return seq.to(next(self.module_.parameters()).device)

    def transform(self, connectivity: Any, features: np.ndarray | str | None = None) -> Embeddings:
        """Embed every node of every window (any number of windows; the fitted number of nodes).

        Shapes
        ------
        connectivity (array) : (W, N, N)
        return : see :class:`Embeddings`
        """
        seq = self._fitted_sequence(connectivity, features)
        device = next(self.module_.parameters()).device
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
        return Embeddings(
            mean=mean[:, :n], log_variance=log_var[:, :n],
            attention=out["attention"].cpu().numpy().astype(np.float32),
            history_mean=mean[:, n], history_log_variance=log_var[:, n],
            history_hidden=out["hidden"][:, n].cpu().numpy().astype(np.float32),
            sample=out["z"].cpu().numpy()[:, :n].astype(np.float32) if sample else None,
        )

    def loss(self, connectivity: Any, features: np.ndarray | str | None = None) -> dict[str, float]:
        """The training objective on these graphs with ``Z = μ`` (deterministic): ``{"loss", "kl",
        "reconstruction"}``, each over the windows as ``loss_reduction`` says.

        Shapes
        ------
        connectivity (array) : (W, N, N)
        """
        seq = self._fitted_sequence(connectivity, features)
        self.module_.eval()
        with torch.no_grad(), deterministic(), cpu_threads_for(seq.n_nodes, seq.graphs[0].matrix.device):
            out = self.module_(seq, sample=False, decoder=self._decoder_for(seq.n_nodes))
        return {key: float(out[key]) for key in ("loss", "kl", "reconstruction")}

    # -- the reference notebook's checkpoints (tavrnn/reference.py) ------------------------------
    @classmethod
    def from_reference_state_dict(cls, state_dict: dict[str, Any], **overrides: Any) -> TAVRNN:
        """A fitted ``faithful`` estimator from the reference notebook's ``T_AVRNN.state_dict()``.

        The notebook never registers its graph GRU's GCNs, so its ``state_dict()`` lacks them; give
        them under ``rnn.weight_{xz,xr,xh,hz,hr,hh}.0.{weight,bias}`` (GCNConv layout: weight
        ``(in, out)``). Sizes are read from the weights; ``features="reference"``, so
        :meth:`transform`, :meth:`loss` and :meth:`fit` (with ``warm_start=True``) take the
        notebook's inputs: adjacency ``(W, N, N)`` and ``features=`` the |r| ``(W, N, N)`` or None
        for identity.

        Parameters
        ----------
        state_dict
            Tensors or arrays by the notebook's names.
        overrides
            Estimator parameters to change from the faithful preset (``device``, ``epochs``...).

        Raises
        ------
        ValueError
            A missing or unexpected tensor, a shape that does not fit, or a second GRU layer.
        """
        from .reference import estimator_from_reference

        return estimator_from_reference(cls, state_dict, overrides)

    def reference_state_dict(self) -> dict[str, torch.Tensor]:
        """The fitted weights by the reference notebook's names (the inverse of
        :meth:`from_reference_state_dict`).

        The GRU's GCNs come under ``rnn.weight_*.0``, which the notebook does not register: load
        the rest with ``model.load_state_dict(sd, strict=False)`` and copy those into
        ``model.rnn.weight_xz[0].weight`` etc. by hand.
        """
        from .reference import reference_layout

        self._check_fitted()
        if self.attention is None:
            raise ValueError("plain VGRNN has no attention layer: it has no reference layout")
        return reference_layout({k: v.detach().cpu() for k, v in self.module_.state_dict().items()})

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
            description=(f"posterior means and log-variances of every node in every window, from {desc}"
                         if emb.sample is None else
                         f"posterior means and log-variances of every node in every window along a recurrence run "
                         f"on random samples of z, and those samples ('sample': the embeddings the reference "
                         f"used downstream), from {desc}"),
            model_name=self.model_name,
            mean=emb.mean,
            log_variance=emb.log_variance,
            sample=emb.sample,
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
    """Plain VGRNN (TAVRNN without temporal attention), the ablation baseline; same parameters."""

    def __init__(self, h_dim: int = 32, z_dim: int = 8, epochs: int = 500, lr: float = 1e-2, seed: int | None = 0,
                 device: str = "auto", features: str = "correlation", attention: str | int | None = None,
                 edge_weights: bool = False, decoder: str = "auto", negative_ratio: float = 1.0,
                 clip_grad_norm: float | None = 10.0, patience: int | None = 50, min_delta: float = 1e-3,
                 embeddings: str = "mean", gcn_norm: str = "gcn", history_in_loss: bool = False,
                 encoder_bias: bool = True, recurrence_trainable: bool = True, attention_memory: str = "raw",
                 kl_scale: str = "reference", loss_reduction: str = "sum", training_z: str = "sample",
                 warm_start: bool = False) -> None:
        super().__init__(h_dim, z_dim, epochs, lr, seed, device, features, attention, edge_weights, decoder,
                         negative_ratio, clip_grad_norm, patience, min_delta, embeddings, gcn_norm, history_in_loss,
                         encoder_bias, recurrence_trainable, attention_memory, kl_scale, loss_reduction, training_z,
                         warm_start)
