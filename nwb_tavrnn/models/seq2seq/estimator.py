"""The Seq2seq estimator: translate a source region's spiking into a target region's through
low-dimensional latents (:class:`~nwb_tavrnn.models.seq2seq.network.Seq2seqNet`).

The seed project ("Seq2seq Neural Spike Pattern Analysis": hippocampus → prefrontal spiking, the
latents then decoding foraging behaviour) is not public; this is built from its description and
from public knowledge of sequence-to-sequence latent models (docs/seq2seq.md).

Fitting streams segments: each mini-batch is binned from the spike times when it is used
(:meth:`~nwb_tavrnn.io.region_pairs.RegionPairSegments.batch`), so memory is bounded by the batch.
Early stopping watches the Poisson NLL of a validation block: the last ``validation_fraction`` of
the training segments in time (a contiguous block, never shuffled bins).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from typing import Any

import numpy as np
import torch

from ...errors import require
from ...io.region_pairs import RegionPairSegments
from .._torch import deterministic, resolve_device, torch_threads
from ..base import Estimator
from ..metrics import MeanRate, bits_per_spike
from ..registry import register_model
from ..training import EpochCallback, Objective
from .network import Seq2seqNet, poisson_nll

log = logging.getLogger(__name__)


@register_model("seq2seq")
class Seq2seq(Estimator):
    """Source-region spiking → latent trajectory → target-region Poisson rates.

    Parameters
    ----------
    latent_dim
        Dimension of the latents (2-16).
    hidden
        GRU state size of the encoder and decoder.
    lag
        Seconds by which the target lags the source: the target's bin ``t`` is predicted from the
        source up to ``t − lag``. None (the default) is one bin: the source must *precede* the
        target. 0 predicts bin ``t`` from source bin ``t`` (co-firing, not precedence). A lag that
        is not a whole number of bins is refused with the nearest valid values.
    bidirectional
        Encoder reads each segment both ways (latents then use the segment's future).
    epochs, lr, batch_size, validation_fraction, patience, min_delta, clip_grad_norm
        Adam on mini-batches of segments; early stopping on the validation block's NLL.
    seed, device, threads
        As for the other models.
    """

    #: One preset, the defaults (every estimator has ``preset``; the seed project left no
    #: reference computation to reproduce).
    PRESETS = {"default": {}}

    def __init__(
        self,
        latent_dim: int = 4,
        hidden: int = 64,
        lag: float | None = None,
        bidirectional: bool = False,
        epochs: int = 300,
        lr: float = 5e-3,
        batch_size: int = 32,
        validation_fraction: float = 0.15,
        patience: int | None = 25,
        min_delta: float = 1e-4,
        clip_grad_norm: float | None = 5.0,
        seed: int | None = 0,
        device: str = "auto",
        threads: int | None = None,
    ) -> None:
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.lag = lag
        self.bidirectional = bidirectional
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.min_delta = min_delta
        self.clip_grad_norm = clip_grad_norm
        self.seed = seed
        self.device = device
        self.threads = threads

    def _validate(self) -> None:
        require(1 <= int(self.latent_dim) <= 64, f"latent_dim must be in 1..64, got {self.latent_dim}")
        for name in ("hidden", "batch_size"):
            require(int(getattr(self, name)) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        require(self.lag is None or float(self.lag) >= 0, f"lag must be >= 0 seconds or None (one bin), got {self.lag}")
        require(0.0 <= float(self.validation_fraction) < 0.5,
                f"validation_fraction must be in [0, 0.5), got {self.validation_fraction}")
        self._check_training_params()

    # -- the module -----------------------------------------------------------------------------
    def _build_module(self, meta: dict[str, Any]) -> Seq2seqNet:
        return Seq2seqNet(int(meta["n_source"]), int(meta["n_target"]), int(self.latent_dim), int(self.hidden),
                          bool(self.bidirectional), torch.as_tensor(meta["target_mean"], dtype=torch.float32))

    def lag_bins(self, bin_size: float) -> int:
        """The lag in whole bins of ``bin_size`` s (None: one bin).

        Raises
        ------
        ParameterError
            When the lag is not a whole number of bins (naming the nearest valid values).
        """
        if self.lag is None:
            return 1
        ratio = float(self.lag) / float(bin_size)
        whole = round(ratio)
        if abs(ratio - whole) > 1e-6:
            below, above = math.floor(ratio) * float(bin_size), math.ceil(ratio) * float(bin_size)
            require(False, f"lag {float(self.lag):g} s is not a whole number of {float(bin_size):g} s bins; the "
                           f"nearest valid values are {below:g} and {above:g} s")
        return int(whole)

    def _check_compatible(self, data: RegionPairSegments) -> None:
        meta = self.meta_
        if data.n_source != meta["n_source"] or data.n_target != meta["n_target"]:
            raise ValueError(f"the segments have {data.n_source} source and {data.n_target} target units; the model "
                             f"was fitted on {meta['n_source']} and {meta['n_target']}")
        if abs(data.bin_size - meta["bin_size"]) > 1e-12:
            raise ValueError(f"bin size {data.bin_size} s differs from the fitted {meta['bin_size']} s")
        if int(meta["lag_bins"]) >= data.n_bins:
            raise ValueError(f"the lag ({meta['lag_bins']} bins) is not shorter than these {data.n_bins}-bin segments")

    # -- fit ----------------------------------------------------------------------------------
    def fit(self, data: RegionPairSegments, *, checkpoint_dir: str | os.PathLike | None = None,
            checkpoint_every: int = 25, resume: bool = False, callback: EpochCallback | None = None) -> Seq2seq:
        """Train on the segments (all of them: hold test segments out before, e.g. with
        :func:`~nwb_tavrnn.evaluation.splits.holdout_blocks`)."""
        self._start_fit(checkpoint_every)
        lag = self.lag_bins(data.bin_size)
        require(lag < data.n_bins, f"lag {self.lag} s is {lag} bins, not shorter than the {data.n_bins}-bin segments")
        require(data.n_segments >= 2, f"Seq2seq needs at least 2 segments, got {data.n_segments}")
        device = resolve_device(self.device)
        self._draw_seed()
        order = np.argsort(data.starts, kind="stable")
        n_val = int(math.floor(float(self.validation_fraction) * data.n_segments))
        train_idx, val_idx = np.sort(order[:data.n_segments - n_val]), np.sort(order[data.n_segments - n_val:])
        if n_val:  # a training segment overlapping the validation block would share its spikes
            first = data.starts[val_idx].min()
            train_idx = train_idx[data.stops[train_idx] <= first]
        require(len(train_idx) >= 1, "no training segment left before the validation block")
        _, target_mean = data.subset(train_idx).mean_rates()
        reference = MeanRate(lag).fit(data)
        silent = np.flatnonzero(reference.mean_ == 0)
        if len(silent):  # any rate beats the reference's floor there: bits/spike would be meaningless
            raise ValueError(f"target unit(s) {data.target.ids[silent][:10].tolist()} have no spike in the training "
                             "segments; leave them out of the target region (e.g. ids:...)")
        self.meta_ = {"n_source": data.n_source, "n_target": data.n_target, "bin_size": float(data.bin_size),
                      "n_bins": int(data.n_bins), "lag_bins": lag, "target_mean": target_mean.tolist(),
                      "source_ids": data.source.ids.tolist(), "target_ids": data.target.ids.tolist(),
                      "source_name": data.source_name, "target_name": data.target_name,
                      "n_segments_fit": int(len(train_idx)), "reference_mean": reference.mean_.tolist()}
        digest = hashlib.sha1(np.ascontiguousarray(data.starts).tobytes())
        for trains in (data.source, data.target):
            for t in trains.times:
                digest.update(np.ascontiguousarray(t).tobytes())
        digest.update(json.dumps([data.bin_size, data.n_bins, lag, data.source.ids.tolist(),
                                  data.target.ids.tolist()]).encode())
        identity = self._run_identity(digest.hexdigest())
        config = self._training_config(checkpoint_dir, checkpoint_every, resume)
        log.info("fitting seq2seq (latent %d, lag %d bins) on %d segments (%d for validation) on %s",
                 int(self.latent_dim), lag, len(train_idx), n_val, device)

        def objective(module: Seq2seqNet, generator: torch.Generator) -> Objective:
            n_batches = max(1, math.ceil(len(train_idx) / int(self.batch_size)))

            def batches() -> list[np.ndarray]:
                perm = torch.randperm(len(train_idx), generator=generator).numpy()
                return [train_idx[part] for part in np.array_split(perm, n_batches)]

            def loss_fn(batch: np.ndarray) -> torch.Tensor:
                src, tgt = (torch.from_numpy(a).to(device) for a in data.batch(batch))
                _, log_rate = module(src)
                return poisson_nll(log_rate, tgt, lag).sum(1).mean()

            def validation_fn() -> float:
                return self._nll(module, data, val_idx, lag, device) / len(val_idx)

            return Objective(loss_fn, batches, validation_fn if n_val else None)

        module, state, _ = self._train_module(self.meta_, device, objective, config, identity, callback)
        self._record_fit(module, state)
        return self

    # -- outputs --------------------------------------------------------------------------------
    def _chunks(self, n: int) -> list[np.ndarray]:
        return np.array_split(np.arange(n), max(1, math.ceil(n / max(int(self.batch_size), 64))))

    @staticmethod
    def _nll(module, data, segments, lag, device) -> float:
        total = 0.0
        for part in np.array_split(segments, max(1, math.ceil(len(segments) / 64))):
            src, tgt = (torch.from_numpy(a).to(device) for a in data.batch(part))
            _, log_rate = module(src)
            total += float(poisson_nll(log_rate, tgt, lag).sum())
        return total

    def _run(self, data: RegionPairSegments):
        self._check_fitted()
        self._check_compatible(data)
        device = next(self.module_.parameters()).device
        with torch.no_grad(), deterministic(), torch_threads(self.threads):
            for part in self._chunks(data.n_segments):
                src, tgt = data.batch(part)
                latent, log_rate = self.module_(torch.from_numpy(src).to(device))
                yield part, latent.double().cpu().numpy(), log_rate.double().cpu().numpy(), tgt

    def transform(self, data: RegionPairSegments) -> np.ndarray:
        """The latent trajectory of every segment, bin by bin.

        Shapes
        ------
        returns : (segments, bins, latent_dim)
        """
        out = np.empty((data.n_segments, data.n_bins, int(self.latent_dim)))
        for part, latent, _, _ in self._run(data):
            out[part] = latent
        return out

    def predict(self, data: RegionPairSegments) -> np.ndarray:
        """Predicted target rates (spikes/s) aligned to the target's bins: bin ``t`` from the
        network's output at ``t − lag`` (the first ``lag`` bins are NaN: nothing predicts them).

        Shapes
        ------
        returns : (segments, bins, n_target)
        """
        self._check_fitted()
        lag = int(self.meta_["lag_bins"])
        out = np.full((data.n_segments, data.n_bins, data.n_target), np.nan)
        for part, _, log_rate, _ in self._run(data):
            out[part, lag:] = np.exp(log_rate[:, :data.n_bins - lag]) / data.bin_size
        return out

    def log_likelihood(self, data: RegionPairSegments) -> np.ndarray:
        """Poisson log-likelihood (nats, with the log y! term) of every target unit over the
        segments' predicted bins.

        Shapes
        ------
        returns : (n_target,)
        """
        from scipy.special import gammaln

        self._check_fitted()
        lag = int(self.meta_["lag_bins"])
        total = np.zeros(data.n_target)
        for _, _, log_rate, tgt in self._run(data):
            lr, y = log_rate[:, :data.n_bins - lag], tgt[:, lag:].astype(np.float64)
            total += (y * lr - np.exp(lr) - gammaln(y + 1)).sum((0, 1))
        return total

    def score(self, data: RegionPairSegments) -> float:
        """Held-out bits/spike of the target against each unit's mean count per bin on all the
        segments given to :meth:`fit` (from the lag on; the step's reference too). Higher is better."""
        self._check_fitted()
        reference = MeanRate.from_means(np.asarray(self.meta_["reference_mean"]), int(self.meta_["lag_bins"]))
        return float(bits_per_spike(self.log_likelihood(data), reference.log_likelihood(data), data,
                                    int(self.meta_["lag_bins"])))

    # -- NWB --------------------------------------------------------------------------------------
    def to_nwb(self, data: RegionPairSegments, latents: np.ndarray | None = None, name_prefix: str = "") -> tuple:
        """(ModelProvenance, latent TimeSeries, predicted target rates TimeSeries): the series have one
        sample per bin of every segment, in time order, with the bin centres as timestamps."""
        from pynwb import TimeSeries

        from ...schema import ModelProvenance

        self._check_fitted()
        latents = self.transform(data) if latents is None else latents
        rates = self.predict(data)
        order = np.argsort(data.starts, kind="stable")
        starts = data.starts[order]
        overlap = bool(np.any(starts[1:] < starts[:-1] + data.n_bins * data.bin_size - 1e-9))
        if overlap or np.any(np.diff(starts) <= 0):
            # overlapping segments (trial windows closer than their length): one sample per segment,
            # (segments, bins, k), stamped with the segment's start; a flat series would repeat times
            stamps, shape = starts, (len(order), data.n_bins)
            layout = (f"one sample per segment, each of shape ({data.n_bins} bins, k): bin j covers "
                      f"start + [j, j + 1) x {data.bin_size:g} s (segments overlap in time)")
        else:
            stamps = np.concatenate([data.bin_times(i) for i in order])
            shape = (len(order) * data.n_bins,)
            layout = "one sample per bin, stamped with the bin centre"
        fields = self._provenance_fields()
        if getattr(self, "validation_curve_", None):
            fields["validation_loss"] = np.asarray(self.validation_curve_, dtype=np.float64)
        desc = (f"seq2seq {self.meta_['source_name']} -> {self.meta_['target_name']} (latent {self.latent_dim}, "
                f"hidden {self.hidden}, lag {self.meta_['lag_bins']} bins of {self.meta_['bin_size']:g} s, "
                f"seed {getattr(self, 'seed_', self.seed)})")
        provenance = ModelProvenance(name=f"{name_prefix}ModelProvenance",
                                     description=f"training run of {desc}; loss per epoch = mean Poisson NLL per "
                                                 "segment; weights are the torch state_dict (rebuild with "
                                                 "Seq2seq.from_provenance)", **fields)
        segment_note = f"; {data.n_segments} segments of {data.n_bins} bins ({data.aligned_to}); {layout}"
        latent_series = TimeSeries(name=f"{name_prefix}latents", data=latents[order].reshape(*shape, latents.shape[2]),
                                   unit="a.u.", timestamps=stamps,
                                   description=f"latent trajectory per bin, {desc}{segment_note}")
        rate_series = TimeSeries(name=f"{name_prefix}predicted_target_rates",
                                 data=rates[order].reshape(*shape, rates.shape[2]), unit="spikes/s", timestamps=stamps,
                                 description=f"predicted rate of every target unit (columns in the order of Units ids "
                                             f"{self.meta_['target_ids'][:20]}...), {desc}{segment_note}; NaN where the "
                                             "lag leaves nothing to predict from")
        return provenance, latent_series, rate_series


__all__ = ["Seq2seq"]
