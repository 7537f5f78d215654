"""Choice predictions of several models compared on the same trials: intervals and paired tests.

:func:`compare_behaviour` scores each model's choice probabilities (accuracy of the most probable
outcome, mean log-probability of the observed one) with circular block-bootstrap intervals over the
trials in onset order, tests each model's difference from a reference by flipping the signs of
blocks of consecutive trials, and gives the per-condition ceiling of any stimulus-only predictor.
Blocks, not single trials: engagement drifts slowly over a session, so neighbouring trials' errors
come together.

Pure numpy (the bootstrap's indices come from :mod:`nwb_tavrnn.evaluation.metrics`, imported
when called).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...io.trials import TrialSpikes
from ..nulls import PairedTest, block_sign_flip_test
from .metrics import _observed_column

log = logging.getLogger(__name__)


@dataclass
class MethodBehaviour:
    """One model's choice scores on the compared trials.

    Attributes
    ----------
    method
        The model's name.
    accuracy, accuracy_interval
        Share of trials whose most probable outcome was observed, and its 95 % percentile interval.
    log_probability, log_probability_interval
        Mean natural log of the probability given to the observed outcome, and its interval
        (−inf when some observed outcome had probability 0).
    accuracy_test, log_probability_test
        Paired block sign-flip test of this model minus the reference (None for the reference,
        and for the log-probability when either gave an observed outcome probability 0).
    """

    method: str
    accuracy: float
    accuracy_interval: tuple[float, float]
    log_probability: float
    log_probability_interval: tuple[float, float]
    accuracy_test: PairedTest | None = None
    log_probability_test: PairedTest | None = None


@dataclass
class BehaviourComparison:
    """Choice scores of several models on the same trials (:func:`compare_behaviour`).

    Attributes
    ----------
    methods
        Each model's scores, in the order given.
    reference
        The model the others are tested against.
    ceiling
        Accuracy of predicting each trial's outcome as its condition's most frequent one among
        these trials (optimistic, see :func:`compare_behaviour`).
    n_trials, block, n_boot
        Trials compared; trials per block; bootstrap resamples.
    """

    methods: list[MethodBehaviour]
    reference: str
    ceiling: float
    n_trials: int
    block: int
    n_boot: int

    def rows(self) -> list[dict[str, Any]]:
        """Tidy rows (one per method and metric): method, metric, value, low, high, and against
        the reference difference, p_value and n_blocks (None for the reference); then the ceiling.
        ``pandas.DataFrame(result.rows())`` makes the table."""
        out = []
        for m in self.methods:
            for metric, value, (low, high), test in (
                    ("accuracy", m.accuracy, m.accuracy_interval, m.accuracy_test),
                    ("log_probability", m.log_probability, m.log_probability_interval, m.log_probability_test)):
                out.append({"method": m.method, "metric": metric, "value": value, "low": low, "high": high,
                            "difference": None if test is None else test.difference,
                            "p_value": None if test is None else test.p_value,
                            "n_blocks": None if test is None else test.n_blocks})
        out.append({"method": "per-condition ceiling", "metric": "accuracy", "value": self.ceiling, "low": None,
                    "high": None, "difference": None, "p_value": None, "n_blocks": None})
        return out


def _interval(per_trial: np.ndarray, resamples: np.ndarray) -> tuple[float, float]:
    """95 % percentile interval of the mean over bootstrap resamples. Shapes: (n,), (n_boot, n)."""
    means = per_trial[resamples].mean(axis=1)
    # inverted_cdf: an attained resample mean, so −inf (a probability-0 outcome) needs no interpolation
    low, high = np.quantile(means, [0.025, 0.975], method="inverted_cdf")
    return float(low), float(high)


def condition_ceiling(data: TrialSpikes) -> float:
    """Accuracy of the most frequent outcome of each trial's stimulus condition, among these trials.

    Every trial of a condition is predicted as that condition's most frequent outcome (an action,
    or no response) in ``data`` itself: in-sample, so an optimistic ceiling for any model that
    sees only the stimulus (on held-out trials it is above what such a model can expect).
    """
    _, condition = data.conditions()
    outcome = _observed_column(data)
    n_out = data.n_actions + 1
    counts = np.bincount(condition * n_out + outcome, minlength=(condition.max(initial=-1) + 1) * n_out)
    return float(counts.reshape(-1, n_out).max(axis=1).sum() / max(data.n_trials, 1))


def compare_behaviour(probabilities: Mapping[str, np.ndarray], data: TrialSpikes, reference: str, *,
                      block: int = 10, n_boot: int = 2000, seed: int = 0) -> BehaviourComparison:
    """Choice accuracy and log-probability of several models, with intervals and paired tests.

    Per model: the accuracy of its most probable outcome and the mean log-probability of the
    observed outcome (as :func:`~.metrics.choice_accuracy`), each with a 95 % circular
    block-bootstrap percentile interval: the trials in onset order, resampled in runs of ``block``
    (:func:`nwb_tavrnn.evaluation.metrics.block_bootstrap_indices`; the same resamples for every
    model). Per model other than ``reference``: a paired test that its difference from the
    reference is zero, for each score, by :func:`nwb_tavrnn.evaluation.nulls.block_sign_flip_test`
    on the per-trial differences / n with blocks of ``block`` consecutive trials (onset order).

    Also the per-condition ceiling (:func:`condition_ceiling`): the accuracy of predicting every
    trial as the most frequent outcome of its stimulus condition *among these same trials*, an
    optimistic (in-sample) ceiling for any model whose prediction depends only on the stimulus.

    Parameters
    ----------
    probabilities
        Model name → choice probabilities of ``data``'s trials (a column per action, then no
        response; :meth:`~.protocols.BehaviourModel.choice_probabilities`).
    data
        The trials, with their observed choices and onsets.
    reference
        The name of the model the others are tested against.
    block
        Consecutive trials per bootstrap run and per sign-flip block.
    n_boot
        Bootstrap resamples.
    seed
        Seed of the resamples and of the random sign patterns.

    Raises
    ------
    ValueError
        An unknown reference, or probabilities of the wrong shape.

    Shapes
    ------
    probabilities[name] : (trials, actions + 1)
    """
    if reference not in probabilities:
        raise ValueError(f"reference {reference!r} is not among the methods {list(probabilities)}")
    n = data.n_trials
    if n == 0:
        raise ValueError("no trials to compare")
    order = np.argsort(data.onsets, kind="stable")  # the bootstrap's and the blocks' time order
    observed = _observed_column(data)[order]
    rows = np.arange(n)
    correct, logp = {}, {}
    for name, p in probabilities.items():
        p = np.asarray(p, dtype=np.float64)
        if p.shape != (n, data.n_actions + 1):
            raise ValueError(f"choice probabilities of {name!r} have shape {p.shape}, expected "
                             f"{(n, data.n_actions + 1)} (a column per action, then no response)")
        p = p[order]
        correct[name] = (np.argmax(p, axis=1) == observed).astype(np.float64)
        with np.errstate(divide="ignore"):
            logp[name] = np.log(p[rows, observed])
    from ..metrics import block_bootstrap_indices  # that module brings scikit-learn: only when called

    resamples = block_bootstrap_indices(n, block, n_boot, seed)
    blocks = np.arange(n) // max(int(block), 1)
    methods = []
    for name in probabilities:
        result = MethodBehaviour(name, float(correct[name].mean()), _interval(correct[name], resamples),
                                 float(logp[name].mean()), _interval(logp[name], resamples))
        if name != reference:
            result.accuracy_test = block_sign_flip_test((correct[name] - correct[reference]) / n, blocks, seed=seed)
            if np.isfinite(logp[name]).all() and np.isfinite(logp[reference]).all():
                result.log_probability_test = block_sign_flip_test((logp[name] - logp[reference]) / n, blocks,
                                                                   seed=seed)
            else:
                log.warning("%s or %s gives an observed outcome probability 0: no log-probability test",
                            name, reference)
        methods.append(result)
    return BehaviourComparison(methods, reference, condition_ceiling(data), n, int(block), int(n_boot))


__all__ = ["BehaviourComparison", "MethodBehaviour", "compare_behaviour", "condition_ceiling"]
