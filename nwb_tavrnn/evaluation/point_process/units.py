"""Per-unit scores of point-process models: log-likelihood and bits per spike of each unit.

Units of one region can be tuned in opposite directions; a region-level intensity averages them
away, and so does a region-level score. These scores take each unit's own intensity (the
:class:`~.protocols.UnitIntensityModel` protocol; a region-level model through
:func:`~.protocols.unit_view`, each unit its region's intensity), and charge a unit for its
expected spikes only in the trials where it was observed. The per-unit time-rescaling test is
:func:`~.metrics.time_rescaling_ks` with ``per="unit"`` (or ``"unit_pooled"``).

Pure numpy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ...io.trials import TrialSpikes
from .metrics import _check_regions
from .protocols import IntensityModel, UnitIntensityModel, unit_view

log = logging.getLogger(__name__)


def unit_log_likelihood(model: IntensityModel | UnitIntensityModel, data: TrialSpikes) -> np.ndarray:
    """Exact continuous-time Poisson log-likelihood of each unit's spikes, in nats.

    LL_i = Σ_{spikes of unit i} log λ_i(t | s) − Σ_{trials j where i was observed}
    (Λ_i(W) − Λ_i(0) | s_j), W the window. For a region-level model λ_i = λ_{k(i)}, and the LLs
    of a region's units sum to the region's :func:`~.metrics.neural_log_likelihood`.

    Parameters
    ----------
    model
        Any :class:`UnitIntensityModel`, or an :class:`IntensityModel` (through its unit view).
    data
        The trials to score.

    Returns
    -------
    np.ndarray
        Log-likelihood per unit, in the order of ``data.unit_ids`` (−inf when the model gives
        intensity 0 at a spike).

    Raises
    ------
    ValueError
        Outputs of the wrong shape, or NaN; a model fitted on other regions.

    Shapes
    ------
    returns : (units,) float64
    """
    _check_regions(model, data)
    view = unit_view(model, data.unit_region)
    log_lam = np.asarray(view.unit_log_intensity(data), dtype=np.float64)
    if log_lam.shape != data.spike_time.shape:
        raise ValueError(f"unit_log_intensity returned shape {log_lam.shape}, expected {data.spike_time.shape}")
    if np.isnan(log_lam).any():
        raise ValueError("unit_log_intensity returned NaN")
    spike_term = np.bincount(data.spike_unit, weights=log_lam, minlength=data.n_units)
    cum = np.asarray(view.unit_cumulative(data, np.full((data.n_trials, 1), data.window)), dtype=np.float64)
    if cum.shape != (data.n_trials, 1, data.n_units):
        raise ValueError(f"unit_cumulative returned shape {cum.shape}, expected {(data.n_trials, 1, data.n_units)}")
    if np.isnan(cum).any():
        raise ValueError("unit_cumulative returned NaN")
    # a trial where the unit was not observed charges nothing, whatever the model's Λ there
    charged = np.where(data.observation(), cum[:, 0, :], 0.0)
    return spike_term - charged.sum(axis=0)


@dataclass
class UnitBits:
    """Log-likelihood gain of a model over a reference, per unit and aggregated per region.

    Attributes
    ----------
    unit_ids, unit_region
        The units, and the region index of each.
    regions
        Region names.
    gain
        LL_model − LL_reference of each unit (nats).
    spikes
        Spikes of each unit.
    per_unit
        gain / (spikes · ln 2): bits per spike of each unit (NaN for a unit without spikes).
    per_region
        Σ over the region's units of gain / (region's spikes · ln 2): the region's bits per spike
        with each unit's own intensity (NaN for a region without spikes). Units without spikes
        count here: their gain is their compensators' difference.

    Shapes
    ------
    unit_ids, unit_region, gain, spikes, per_unit : (units,)
    per_region : (regions,)
    """

    unit_ids: np.ndarray
    unit_region: np.ndarray
    regions: list[str]
    gain: np.ndarray
    spikes: np.ndarray
    per_unit: np.ndarray
    per_region: np.ndarray

    @property
    def overall(self) -> float:
        """Σ over all units of the gain / (all spikes · ln 2): bits per spike of the whole population."""
        return float(self.gain.sum() / (self.spikes.sum() * np.log(2.0)))


def unit_bits(model: IntensityModel | UnitIntensityModel, data: TrialSpikes,
              reference: IntensityModel | UnitIntensityModel) -> UnitBits:
    """Bits per spike of ``model`` over ``reference``, per unit and per region (from the units).

    The reference is normally a :class:`~.baselines.HomogeneousPoisson` with ``per="unit"``
    fitted on the training trials (0: no better than each unit's constant rate). Either model may
    be region-level (through its unit view).
    """
    gain = unit_log_likelihood(model, data) - unit_log_likelihood(reference, data)
    spikes = np.bincount(data.spike_unit, minlength=data.n_units).astype(np.float64)
    region_gain = np.bincount(data.unit_region, weights=gain, minlength=data.n_regions)
    region_spikes = np.bincount(data.unit_region, weights=spikes, minlength=data.n_regions)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_unit = np.where(spikes > 0, gain / (spikes * np.log(2.0)), np.nan)
        per_region = np.where(region_spikes > 0, region_gain / (region_spikes * np.log(2.0)), np.nan)
    return UnitBits(np.asarray(data.unit_ids).copy(), data.unit_region.copy(), list(data.regions), gain, spikes,
                    per_unit, per_region)


def unit_bits_per_spike(model: IntensityModel | UnitIntensityModel, data: TrialSpikes,
                        reference: IntensityModel | UnitIntensityModel) -> np.ndarray:
    """(LL_i,model − LL_i,reference) / (spikes_i · ln 2) of each unit, in bits per spike.

    Shapes
    ------
    returns : (units,) float64 (NaN for a unit without spikes)
    """
    return unit_bits(model, data, reference).per_unit


def region_bits_per_spike_from_units(model: IntensityModel | UnitIntensityModel, data: TrialSpikes,
                                     reference: IntensityModel | UnitIntensityModel) -> np.ndarray:
    """Σ_{i in k} (LL_i,model − LL_i,reference) / (spikes_k · ln 2) of each region k, in bits per spike.

    The per-unit LLs summed over the region: for region-level models this equals
    :func:`~.metrics.bits_per_spike`; for unit-level ones it scores each unit's own intensity
    (where :func:`~.metrics.bits_per_spike` scores their region mean).

    Shapes
    ------
    returns : (regions,) float64 (NaN for a region without spikes)
    """
    return unit_bits(model, data, reference).per_region


__all__ = ["UnitBits", "region_bits_per_spike_from_units", "unit_bits", "unit_bits_per_spike", "unit_log_likelihood"]
