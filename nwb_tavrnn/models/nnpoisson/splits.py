"""How NNPoisson's trials are split: the held-out split's record (:class:`TrialSplit`) and the
early-stopping block (:func:`validation_block`), both sharing no spike across their sides.

The held-out split itself and the scores are :mod:`nwb_tavrnn.evaluation.nnpoisson`'s.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ...io.trials import TrialSpikes

log = logging.getLogger(__name__)


@dataclass
class TrialSplit:
    """Trial indices of the training and test sets, and the trials left out of both because their
    window overlaps a test trial's window (they would share spikes with it).

    Shapes
    ------
    train, test, gap : (n,) int64 indices into the trials
    """

    train: np.ndarray
    test: np.ndarray
    gap: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def labels(self, n_trials: int, validation: np.ndarray | None = None) -> np.ndarray:
        """``train`` / ``validation`` / ``test`` / ``excluded`` per trial. Shape (trials,)."""
        out = np.full(n_trials, "excluded", dtype=object)
        out[self.train] = "train"
        if validation is not None:
            out[validation] = "validation"
        out[self.test] = "test"
        return out


def validation_block(data: TrialSpikes, fraction: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The early-stopping split of the training trials: the last ``fraction`` of them in time (one
    contiguous block), the rest for training, less the training trials whose window overlaps a
    validation window (they would share spikes with it).

    A random subset would put every validation trial beside training trials of the same stretch
    of the session, so slow drifts (of engagement, of the recording) would look predictable.

    Shapes
    ------
    returns : train (n,), validation (v,), gap (g,) int64 indices into the trials, sorted
    """
    n = data.n_trials
    n_val = int(round(float(fraction) * n))
    order = np.argsort(data.onsets, kind="stable")
    if n_val == 0:
        return np.sort(order), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    val, rest = order[n - n_val:], order[:n - n_val]
    first = data.onsets[val].min()
    overlap = data.onsets[rest] + data.window > first
    if overlap.any():
        log.info("left %d training trials out of the fit: their windows overlap the validation block", overlap.sum())
    return np.sort(rest[~overlap]), np.sort(val), np.sort(rest[overlap])


__all__ = ["TrialSplit", "validation_block"]
