"""Poisson scores of binned target-region spiking that the models compute themselves: the
log-likelihood of expected counts, each target unit's mean rate (the reference of bits/spike), and
the bits/spike that compares a model with it.

:class:`~nwb_tavrnn.models.seq2seq.Seq2seq` needs these inside ``fit`` and ``score``; the other
baselines of :mod:`nwb_tavrnn.evaluation.region_prediction` build on :class:`RateBaseline` from
here (evaluation imports models, never the other way). Numpy and scipy only: importing this module
does not import torch.

Binning is streamed through :meth:`~nwb_tavrnn.io.region_pairs.RegionPairSegments.batch`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln

from ..io.region_pairs import RegionPairSegments

#: Floor under a predicted count per bin (keeps log finite for units silent in training).
FLOOR = 1e-6


def segment_chunks(n: int, size: int = 128) -> list[np.ndarray]:
    """Segment indices ``0 … n − 1`` in consecutive chunks of at most about ``size`` (what one
    binned batch holds).

    Shapes
    ------
    returns : list of (≤ size,) int arrays covering (n,)
    """
    return np.array_split(np.arange(n), max(1, math.ceil(n / size)))


def poisson_log_likelihood(rate: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Σ over segments and bins of ``y log r − r − log y!`` per unit.

    Shapes
    ------
    rate, counts : (segments, bins, units) -> (units,)
    """
    rate = np.maximum(rate, FLOOR)
    return (counts * np.log(rate) - rate - gammaln(counts + 1.0)).sum((0, 1))


def bits_per_spike(ll_model: np.ndarray, ll_reference: np.ndarray, data: RegionPairSegments, lag: int) -> float:
    """(LL_model − LL_reference) / (target spikes in the predicted bins · ln 2), pooled over units.

    Shapes
    ------
    ll_model, ll_reference : (n_target,) nats
    """
    spikes = 0.0
    for part in segment_chunks(data.n_segments):
        spikes += float(data.batch(part)[1][:, lag:].sum())
    return float((np.sum(ll_model) - np.sum(ll_reference)) / (max(spikes, 1.0) * np.log(2.0)))


class RateBaseline:
    """A predictor of every target unit's expected count per bin; subclasses give :meth:`expected`.

    ``lag`` bins at the start of each segment are left out of the likelihood: the bins a lagged
    model cannot predict.
    """

    lag: int = 0

    def expected(self, data: RegionPairSegments, part: np.ndarray, source: np.ndarray,
                 target: np.ndarray | None = None) -> np.ndarray:
        """Expected counts of the segments ``part`` given their binned source (and, for baselines
        on the target's own past, target) counts.

        Shapes
        ------
        source : (len(part), bins, n_source); target : (len(part), bins, n_target)
        returns : (len(part), bins, n_target)
        """
        raise NotImplementedError

    def log_likelihood(self, data: RegionPairSegments) -> np.ndarray:
        """Poisson log-likelihood (nats, with the log y! term) of every target unit from ``lag`` on.

        Shapes
        ------
        returns : (n_target,)
        """
        total = np.zeros(data.n_target)
        for part in segment_chunks(data.n_segments):
            src, tgt = data.batch(part)
            rate = self.expected(data, part, src, tgt)
            total += poisson_log_likelihood(rate[:, self.lag:], tgt[:, self.lag:].astype(np.float64))
        return total

    def predict(self, data: RegionPairSegments) -> np.ndarray:
        """Expected count per bin of every target unit.

        Shapes
        ------
        returns : (segments, bins, n_target)
        """
        out = np.empty((data.n_segments, data.n_bins, data.n_target))
        for part in segment_chunks(data.n_segments):
            src, tgt = data.batch(part)
            out[part] = self.expected(data, part, src, tgt)
        return out


class MeanRate(RateBaseline):
    """Each target unit's mean count per bin on the training segments."""

    def __init__(self, lag: int = 0) -> None:
        self.lag = int(lag)

    @classmethod
    def from_means(cls, means: np.ndarray, lag: int = 0) -> MeanRate:
        """A fitted MeanRate with these means (counts per bin).

        Shapes
        ------
        means : (n_target,)
        """
        out = cls(lag)
        out.mean_ = np.asarray(means, dtype=np.float64)
        return out

    def fit(self, data: RegionPairSegments) -> MeanRate:
        total, bins = np.zeros(data.n_target), 0
        for part in segment_chunks(data.n_segments):
            tgt = data.batch(part)[1][:, self.lag:]
            total += tgt.sum((0, 1))
            bins += tgt.shape[0] * tgt.shape[1]
        self.mean_ = total / max(bins, 1)
        return self

    def expected(self, data, part, source, target=None):
        return np.broadcast_to(self.mean_, (len(part), data.n_bins, data.n_target))


__all__ = ["FLOOR", "MeanRate", "RateBaseline", "bits_per_spike", "poisson_log_likelihood", "segment_chunks"]
