"""The exact law of the decision task of :mod:`.decision`, and the model that scores it.

The closed forms the task is built from (the rise of the responses, its integral, and the Poisson
probabilities of the race's counts) and :class:`DecisionTruth`, the generating model with the
methods of a fitted point-process model. They live apart from the simulator so that its sessions
and the scoring of a fitted model read the same formulas; :mod:`.decision` imports them from here.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..errors import require

if TYPE_CHECKING:
    from ..io.trials import TrialSpikes
    from .decision import DecisionSession


def _rise(t: np.ndarray, tau: float) -> np.ndarray:
    """rise(t) = 1 − exp(−t/τ), 0 before onset. Shapes: any -> that of ``t``."""
    return 1.0 - np.exp(-np.clip(t, 0.0, None) / tau)


def _cumulative_rise(t: np.ndarray, tau: float) -> np.ndarray:
    """∫_0^t (1 − exp(−u/τ)) du."""
    t = np.clip(t, 0.0, None)
    return t - tau * (1.0 - np.exp(-t / tau))


def _poisson_pmf(k: int, mu: np.ndarray) -> np.ndarray:
    """P(N = k) of a Poisson count of mean ``mu``. Shapes: any -> that of ``mu``."""
    return np.exp(k * np.log(np.maximum(mu, 1e-300)) - mu - math.lgamma(k + 1))


def _poisson_cdf(k: int, mu: np.ndarray) -> np.ndarray:
    """P(N <= k) of a Poisson count of mean ``mu``. Shapes: any -> that of ``mu``."""
    return sum(_poisson_pmf(j, mu) for j in range(k + 1))


class DecisionTruth:
    """The exact generating model of a :class:`DecisionSession`, for its trials as read from its
    NWB file.

    Implements, by duck typing, the per-unit and per-region intensity and the behaviour methods a
    fitted point-process model of :class:`nwb_tavrnn.io.trials.TrialSpikes` has, for ``data`` read
    with ``read_trial_spikes(decision_nwbfile(session), ["stimulus"], "choice", "rt",
    window=cfg.window)``: ``data.unit_ids`` are the session's unit indices, ``data.regions``
    region names (matched by name), ``data.stimulus[:, 0]`` the signed stimulus ``c``, and
    ``data.actions`` the action names. Work is grouped by distinct stimulus value, so it is
    vectorised over trials.
    """

    def __init__(self, session: DecisionSession) -> None:
        self.session = session

    # -- per unit -----------------------------------------------------------------------------
    def unit_log_intensity(self, data: TrialSpikes) -> np.ndarray:
        """log λ_i(t | c) of each spike's unit at the spike's time, ``c`` its trial's stimulus.

        Shapes
        ------
        returns : (spikes,) float64
        """
        values, which = self._conditions(data)
        a, b = self.session._coefficients(values)
        units = self._units(data)[data.spike_unit]
        rate = a[units] + b[which[data.spike_trial], units] * _rise(data.spike_time, self.session.config.tau)
        return np.log(rate)

    def unit_cumulative(self, data: TrialSpikes, times: np.ndarray) -> np.ndarray:
        """Λ_i(t) − Λ_i(0) of every unit of ``data`` at ``times`` (after each trial's onset).

        Shapes
        ------
        times : (trials, m)
        returns : (trials, m, units) float64, units in ``data``'s order
        """
        values, which = self._conditions(data)
        a, b = self.session._coefficients(values)
        units = self._units(data)
        t = self._times(data, times)
        return (a[units] * t[..., None]
                + b[which][:, None, units] * _cumulative_rise(t, self.session.config.tau)[..., None])

    def unit_intensity_curves(self, stimulus: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """λ_i(t | c) of every unit of the session on a time grid, for given stimuli.

        Shapes
        ------
        stimulus : (C, 1), the signed stimulus in column 0
        grid : (m,) s after onset
        returns : (C, units, m) float64, units in the session's order
        """
        a, b = self.session._coefficients(self._stimulus(stimulus))
        rise = _rise(np.asarray(grid, dtype=np.float64), self.session.config.tau)
        return a[None, :, None] + b[:, :, None] * rise[None, None, :]

    # -- per region (the mean over a region's units: a per-neuron intensity) -----------------------
    def region_log_intensity(self, data: TrialSpikes) -> np.ndarray:
        """log λ_k(t | c) of each spike's region at the spike's time.

        Shapes
        ------
        returns : (spikes,) float64
        """
        values, which = self._conditions(data)
        a, b = self.session._region_coefficients(data.regions, values)
        k = data.unit_region[data.spike_unit]
        return np.log(a[k] + b[which[data.spike_trial], k] * _rise(data.spike_time, self.session.config.tau))

    def region_cumulative(self, data: TrialSpikes, times: np.ndarray) -> np.ndarray:
        """Λ_k(t) − Λ_k(0) per neuron of every region of ``data`` at ``times``.

        Shapes
        ------
        times : (trials, m)
        returns : (trials, m, regions) float64, regions in ``data.regions`` order
        """
        values, which = self._conditions(data)
        a, b = self.session._region_coefficients(data.regions, values)
        t = self._times(data, times)
        return a * t[..., None] + b[which][:, None, :] * _cumulative_rise(t, self.session.config.tau)[..., None]

    def intensity_curves(self, stimulus: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """λ_k(t | c) per neuron of every region on a time grid, for given stimuli.

        Shapes
        ------
        stimulus : (C, 1)
        grid : (m,) s after onset
        returns : (C, regions, m) float64, regions sorted by name (the order ``read_trial_spikes`` gives)
        """
        regions = sorted(set(self.session.unit_region))
        a, b = self.session._region_coefficients(regions, self._stimulus(stimulus))
        rise = _rise(np.asarray(grid, dtype=np.float64), self.session.config.tau)
        return a[None, :, None] + b[:, :, None] * rise[None, None, :]

    # -- behaviour ------------------------------------------------------------------------------
    def choice_probabilities(self, data: TrialSpikes) -> np.ndarray:
        """P(action a wins the race within W), and, last column, P(no response within W).

        Shapes
        ------
        returns : (trials, actions + 1) float64, columns ``data.actions`` then "none"
        """
        values, which = self._conditions(data)
        table = []
        for value in values:
            p = self.session.choice_probability(float(value))
            table.append([p[str(action)] for action in data.actions] + [p["none"]])
        return np.array(table, dtype=np.float64).reshape(len(values), len(data.actions) + 1)[which]

    def rt_cdf(self, data: TrialSpikes, grid: np.ndarray) -> np.ndarray:
        """P(a response by t) = 1 − S_left(t) · S_right(t), S a side's survival P(N(t) < θ).

        Shapes
        ------
        grid : (m,) s after onset
        returns : (trials, m) float64
        """
        values, which = self._conditions(data)
        grid = np.asarray(grid, dtype=np.float64)
        table = np.empty((len(values), len(grid)))
        for v, value in enumerate(values):
            _, surv = self.session._race(grid, float(value))
            table[v] = 1.0 - surv["left"] * surv["right"]
        return table[which]

    # -- helpers --------------------------------------------------------------------------------
    @staticmethod
    def _conditions(data: TrialSpikes) -> tuple[np.ndarray, np.ndarray]:
        """Distinct stimulus values and each trial's index into them. Shapes: (V,), (trials,)."""
        unique, which = data.conditions()  # the stimulus is one signed value per trial
        return unique[:, 0], which

    @staticmethod
    def _stimulus(stimulus: np.ndarray) -> np.ndarray:
        """Shapes: (C, features) -> (C,), the signed stimulus."""
        stimulus = np.asarray(stimulus, dtype=np.float64)
        return stimulus.reshape(len(stimulus), -1)[:, 0]

    @staticmethod
    def _times(data: TrialSpikes, times: np.ndarray) -> np.ndarray:
        t = np.clip(np.asarray(times, dtype=np.float64), 0.0, None)
        require(t.ndim == 2 and len(t) == data.n_trials, f"times must be (trials, m) = ({data.n_trials}, m), "
                f"got shape {t.shape}")
        return t

    def _units(self, data: TrialSpikes) -> np.ndarray:
        """The session's index of each unit of ``data``. Shape (units,)."""
        ids = np.asarray(data.unit_ids, dtype=np.int64)
        require(len(ids) == 0 or (ids.min() >= 0 and ids.max() < self.session.n_units),
                f"unit ids {ids.tolist()[:5]}... are not this session's (0..{self.session.n_units - 1})")
        return ids


__all__ = ["DecisionTruth"]
