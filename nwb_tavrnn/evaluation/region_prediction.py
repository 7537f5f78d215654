"""Baselines for predicting a target region's binned spiking, and the bits/spike that compares them.

Every model here has ``log_likelihood(data) -> (n_target,)``: the Poisson log-likelihood (nats,
with the log y! term) of every target unit over the segments' bins from ``lag`` on, the bins a
lagged model can predict. Baselines:

* :class:`MeanRate`: each unit's mean count per bin on the training segments (the reference of
  bits/spike);
* :class:`ConditionPSTH`: each unit's mean count per bin *of the segment*, pooled (no label) or per
  condition (the segments' labels: an oracle at test time, since it reads the test label);
  trial-aligned segments only;
* :class:`HistoryGLM`: a Poisson GLM per target unit on recent history, of the source (the last
  ``history`` bins up to ``t − lag``), of the target itself (up to ``t − 1``) or of both, reduced to
  ``rank`` principal components first (principal-component regression, not reduced-rank
  regression: the reduction ignores the targets); scikit-learn's PCA and PoissonRegressor.

Binning is streamed through :meth:`~nwb_tavrnn.io.region_pairs.RegionPairSegments.batch`.
:class:`MeanRate`, the likelihood and bits/spike live in :mod:`nwb_tavrnn.models.metrics` (Seq2seq
scores itself with them) and are re-exported here.
"""

from __future__ import annotations

import logging

import numpy as np

from ..io.region_pairs import RegionPairSegments
from ..models.metrics import FLOOR, MeanRate, RateBaseline, bits_per_spike, poisson_log_likelihood, segment_chunks

log = logging.getLogger(__name__)


class ConditionPSTH(RateBaseline):
    """Mean count per bin of the segment, per unit and condition (the segment labels), smoothed in
    time (a Gaussian of ``smooth_bins``) and shrunk towards the unit's mean rate by ``prior_segments``
    pseudo-segments: a raw per-bin mean of sparse units predicts zero where a test spike then costs
    everything.

    ``conditions=False`` pools every segment (the PSTH of time in the trial, which uses no label).
    With conditions, a test segment's prediction uses *its own* label: an oracle that knows the
    behaviour it is asked about, reported as such (``condition_psth_oracle``)."""

    def __init__(self, lag: int = 0, smooth_bins: float = 2.0, prior_segments: float = 2.0,
                 conditions: bool = True) -> None:
        self.lag, self.smooth_bins, self.prior_segments = int(lag), float(smooth_bins), float(prior_segments)
        self.conditions = bool(conditions)

    def fit(self, data: RegionPairSegments) -> ConditionPSTH:
        if self.conditions and data.labels is None:
            raise ValueError("a per-condition PSTH needs labelled (trial-aligned) segments")
        sums: dict[str, np.ndarray] = {}
        counts: dict[str, int] = {}
        for part in segment_chunks(data.n_segments):
            tgt = data.batch(part)[1].astype(np.float64)
            for i, seg in enumerate(part):
                key = str(data.labels[seg]) if self.conditions else ""
                sums[key] = sums.get(key, 0.0) + tgt[i]
                counts[key] = counts.get(key, 0) + 1
        from scipy.ndimage import gaussian_filter1d

        total = sum(counts.values())
        mean = sum(s.sum(0) for s in sums.values()) / (total * data.n_bins)  # (units,)
        prior = self.prior_segments * mean[None, :]

        def estimate(s: np.ndarray, n: float) -> np.ndarray:
            rate = (s + prior) / (n + self.prior_segments)
            return gaussian_filter1d(rate, self.smooth_bins, axis=0, mode="nearest") if self.smooth_bins > 0 else rate

        self.psth_ = {k: estimate(sums[k], counts[k]) for k in sums}
        self.pooled_ = estimate(sum(sums.values()), total)
        return self

    def expected(self, data, part, source, target=None):
        if not self.conditions:
            return np.broadcast_to(self.pooled_, (len(part), *self.pooled_.shape))
        if data.labels is None:
            raise ValueError("a per-condition PSTH needs labelled segments")
        return np.stack([self.psth_.get(str(data.labels[s]), self.pooled_) for s in part])


class HistoryGLM(RateBaseline):
    """Poisson GLM of every target unit on recent history, through ``rank`` principal components of
    that history (principal-component regression).

    ``inputs`` says whose history: ``source`` (the source's last ``history`` bins up to ``t − lag``:
    what a source → target model may use), ``target`` (the target's own last ``history`` bins up to
    ``t − 1``: shared slow state and the target's own dynamics, with no source at all) or
    ``source+target`` (both). A source model that beats ``target`` is more than the target's own past.

    Parameters
    ----------
    max_rows
        Training bins used (a random subset beyond it): the fit stays seconds long on long recordings.
    """

    INPUTS = ("source", "target", "source+target")

    def __init__(self, lag: int = 0, history: int = 5, rank: int = 10, alpha: float = 1e-3,
                 max_rows: int = 20000, seed: int = 0, inputs: str = "source") -> None:
        if inputs not in self.INPUTS:
            raise ValueError(f"inputs must be one of {', '.join(self.INPUTS)}, got {inputs!r}")
        self.lag, self.history, self.rank, self.alpha = int(lag), int(history), int(rank), float(alpha)
        self.max_rows, self.seed, self.inputs = int(max_rows), int(seed), inputs

    def _shifted(self, counts: np.ndarray, delay: int) -> np.ndarray:
        """(segments, bins, n) -> (segments, bins, history · n): for bin t, the bins t − delay − h
        for h = 0 … history − 1 (zeros before the segment starts), on a log1p scale."""
        s, b, n = counts.shape
        x = np.log1p(counts)
        out = np.zeros((s, b, self.history * n), dtype=np.float32)
        for h in range(self.history):
            shift = delay + h
            if shift < b:
                out[:, shift:, h * n:(h + 1) * n] = x[:, :b - shift]
        return out

    def _design(self, source: np.ndarray, target: np.ndarray | None = None) -> np.ndarray:
        """The regressors of every bin: the source from ``t − lag`` back, the target from ``t − 1`` back.

        Shapes
        ------
        source : (segments, bins, n_source); target : (segments, bins, n_target)
        """
        parts = []
        if self.inputs in ("source", "source+target"):
            parts.append(self._shifted(source, self.lag))
        if self.inputs in ("target", "source+target"):
            parts.append(self._shifted(target, 1))
        return np.concatenate(parts, axis=2)

    def fit(self, data: RegionPairSegments) -> HistoryGLM:
        from sklearn.decomposition import PCA
        from sklearn.linear_model import PoissonRegressor

        rng = np.random.default_rng(self.seed)
        total = data.n_segments * (data.n_bins - self.lag)
        keep = min(1.0, self.max_rows / max(total, 1))
        xs, ys = [], []
        for part in segment_chunks(data.n_segments):
            src, tgt = data.batch(part)
            x = self._design(src, tgt)[:, self.lag:]
            x = x.reshape(-1, x.shape[2])
            y = tgt[:, self.lag:].reshape(-1, data.n_target)
            pick = rng.random(len(x)) < keep
            xs.append(x[pick])
            ys.append(y[pick])
        x, y = np.concatenate(xs), np.concatenate(ys)
        self.pca_ = PCA(n_components=min(self.rank, x.shape[1], len(x) - 1), random_state=self.seed).fit(x)
        z = self.pca_.transform(x)
        self.models_ = [PoissonRegressor(alpha=self.alpha, max_iter=300).fit(z, y[:, j]) for j in range(y.shape[1])]
        log.info("history GLM fitted on %d bins, %d components", len(x), z.shape[1])
        return self

    def expected(self, data, part, source, target=None):
        x = self._design(source, target)
        z = self.pca_.transform(x.reshape(-1, x.shape[2]))
        rate = np.stack([m.predict(z) for m in self.models_], axis=1)
        return rate.reshape(len(part), data.n_bins, data.n_target)


__all__ = ["FLOOR", "ConditionPSTH", "HistoryGLM", "MeanRate", "bits_per_spike", "poisson_log_likelihood"]
