"""What a point-process model of trial-aligned spiking provides, per region or per unit, and views
that turn one kind into the other.

* :class:`IntensityModel`: a per-neuron intensity of each region, shared by all its units;
* :class:`UnitIntensityModel`: an intensity of each unit (units of one region may be tuned in
  opposite directions, which a region-level model averages away);
* :class:`BehaviourModel`: choice probabilities and the RT distribution;
* :func:`unit_view` gives any region-level model the unit protocol (λ_i = λ_{k(i)}, each unit its
  region's intensity), and :func:`region_view` gives any unit-level model the region protocol
  (λ_k = the mean over the region's units of λ_i: the per-neuron intensity of the superposition of
  the region's units). Every score can thus take either kind of model.

Pure numpy: the views only call the wrapped model's methods.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ...io.trials import TrialSpikes, unit_averaging

#: Largest (units × times) block evaluated at once when a region's intensity at spike times is
#: averaged over its units (bounded memory for many units and spikes).
_MAX_ELEMENTS = 8_000_000

_REGION_METHODS = ("region_log_intensity", "region_cumulative", "intensity_curves")
_UNIT_METHODS = ("unit_log_intensity", "unit_cumulative", "unit_intensity_curves")


@runtime_checkable
class IntensityModel(Protocol):
    """A per-neuron inhomogeneous Poisson intensity of each region, given the trial's stimulus.

    Every neuron of region k fires, in the window ``[0, W)`` after each trial's onset, as an
    inhomogeneous Poisson process of intensity λ_k(t | stimulus) (Hz), independently of the others.
    """

    def region_log_intensity(self, data: TrialSpikes) -> np.ndarray:
        """log λ_k(t_spike | stimulus of the spike's trial), k the spike's region, in log Hz.

        Shapes
        ------
        returns : (spikes,) float64
        """
        ...

    def region_cumulative(self, data: TrialSpikes, times: np.ndarray) -> np.ndarray:
        """Λ_k(t) − Λ_k(0) = ∫_0^t λ_k(u | stimulus of the trial) du, per neuron, at ``times``.

        Shapes
        ------
        times : (trials, m) s after each trial's onset
        returns : (trials, m, regions) float64
        """
        ...

    def intensity_curves(self, stimulus: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """λ_k(t | s) per neuron (Hz) of every region on a time grid, for given stimuli.

        Shapes
        ------
        stimulus : (C, features)
        grid : (m,) s after onset
        returns : (C, regions, m) float64
        """
        ...


@runtime_checkable
class UnitIntensityModel(Protocol):
    """An inhomogeneous Poisson intensity of each unit, given the trial's stimulus.

    Unit i fires, in the window ``[0, W)`` after each trial's onset in which it was observed, as an
    inhomogeneous Poisson process of intensity λ_i(t | stimulus) (Hz), independently of the others.
    """

    def unit_log_intensity(self, data: TrialSpikes) -> np.ndarray:
        """log λ_i(t_spike | stimulus of the spike's trial), i the spike's unit, in log Hz; shape
        (spikes,) float64."""
        ...

    def unit_cumulative(self, data: TrialSpikes, times: np.ndarray) -> np.ndarray:
        """Λ_i(t) − Λ_i(0) of every unit at ``times`` (trials, m) s after each trial's onset; shape
        (trials, m, units) float64."""
        ...

    def unit_intensity_curves(self, stimulus: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """λ_i(t | s) (Hz) of every unit on a grid (m,) for stimuli (C, features); shape (C, units, m)."""
        ...


@runtime_checkable
class BehaviourModel(Protocol):
    """The choice and reaction time of each trial, given its stimulus (and nothing observed later)."""

    def choice_probabilities(self, data: TrialSpikes) -> np.ndarray:
        """P(action a is the first response within W), and, last column, P(no response within W).

        Shapes
        ------
        returns : (trials, actions + 1) float64, rows summing to 1
        """
        ...

    def rt_cdf(self, data: TrialSpikes, grid: np.ndarray) -> np.ndarray:
        """P(a response by t | the trial's stimulus), unconditional: tends to 1 − P(none) at W.

        Shapes
        ------
        grid : (m,) s after onset
        returns : (trials, m) float64
        """
        ...


def _has(model, methods: tuple[str, ...]) -> bool:
    return all(callable(getattr(model, m, None)) for m in methods)


def _check_units(unit_region: np.ndarray, data: TrialSpikes, what: str) -> None:
    if not np.array_equal(unit_region, data.unit_region):
        raise ValueError(f"{what} was made for {len(unit_region)} units (regions {np.bincount(unit_region).tolist()}) "
                         f"but the data have {data.n_units} (regions {data.neurons.tolist()}): score it on the units "
                         "it was made for")


def region_log_intensity_from_units(curves, data: TrialSpikes, averaging: np.ndarray,
                                    max_elements: int = _MAX_ELEMENTS) -> np.ndarray:
    """log of the mean over each spike's region's units of λ_i at the spike, from unit curves.

    ``curves`` is a :meth:`UnitIntensityModel.unit_intensity_curves`; it is asked, per distinct
    stimulus, for the units' intensities at that stimulus's spike times (exact, not interpolated).

    Shapes
    ------
    averaging : (units, regions), as :func:`unit_averaging`
    returns : (spikes,) float64
    """
    out = np.empty(len(data.spike_time))
    if len(out) == 0:
        return out
    unique, which = np.unique(data.stimulus, axis=0, return_inverse=True)
    spike_condition = which.ravel()[data.spike_trial]
    region = data.spike_region
    chunk = max(1, max_elements // max(averaging.shape[0], 1))
    for c, spikes in _groups(spike_condition):
        for start in range(0, len(spikes), chunk):
            sel = spikes[start:start + chunk]
            lam = np.asarray(curves(unique[c:c + 1], data.spike_time[sel]), dtype=np.float64)[0]  # (units, m)
            mean = averaging.T @ lam  # (regions, m)
            with np.errstate(divide="ignore"):
                out[sel] = np.log(mean[region[sel], np.arange(len(sel))])
    return out


def _groups(key: np.ndarray):
    """(value, indices with that value) for each distinct value of ``key``, in one sort (not a mask per value)."""
    order = np.argsort(key, kind="stable")
    cuts = np.flatnonzero(np.diff(key[order])) + 1
    for part in np.split(order, cuts):
        if len(part):
            yield int(key[part[0]]), part


class UnitView:
    """The unit protocol of a region-level model: every unit has its region's per-neuron intensity.

    Parameters
    ----------
    model
        An :class:`IntensityModel`.
    unit_region
        Region index of each unit (only :meth:`unit_intensity_curves` needs it; the other methods
        take the data's).

    Shapes
    ------
    unit_region : (units,)
    """

    def __init__(self, model: IntensityModel, unit_region: np.ndarray | None = None) -> None:
        self.model = model
        self.unit_region = None if unit_region is None else np.asarray(unit_region, dtype=np.int64)
        if hasattr(model, "regions_"):  # the scores check the regions through it
            self.regions_ = model.regions_

    def unit_log_intensity(self, data: TrialSpikes) -> np.ndarray:
        """Shapes: returns (spikes,): λ_i at a spike is its region's λ_k there."""
        return self.model.region_log_intensity(data)

    def unit_cumulative(self, data: TrialSpikes, times: np.ndarray) -> np.ndarray:
        """Shapes: times (trials, m) -> (trials, m, units)."""
        return np.asarray(self.model.region_cumulative(data, times))[..., data.unit_region]

    def unit_intensity_curves(self, stimulus: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """Shapes: stimulus (C, features), grid (m,) -> (C, units, m)."""
        if self.unit_region is None:
            raise ValueError("this unit view was made without the units' regions: unit_view(model, data.unit_region)")
        return np.asarray(self.model.intensity_curves(stimulus, grid))[:, self.unit_region, :]


class RegionView:
    """The region protocol of a unit-level model: λ_k = mean over the region's units of λ_i.

    That is the per-neuron intensity of the superposition of the region's units (their pooled
    process divided by n_k), so that a region-level score of the view is a score of the pooled
    spikes. The mean is over all the region's units, whichever were observed in a trial.

    Parameters
    ----------
    model
        A :class:`UnitIntensityModel`.
    unit_region
        Region index of each unit the model describes.
    n_regions
        Regions (default: the model's ``regions_`` if it has them, else the largest index + 1).

    Shapes
    ------
    unit_region : (units,)
    """

    def __init__(self, model: UnitIntensityModel, unit_region: np.ndarray, n_regions: int | None = None) -> None:
        self.model = model
        self.unit_region = np.asarray(unit_region, dtype=np.int64)
        if hasattr(model, "regions_"):
            self.regions_ = model.regions_
        if n_regions is None:
            n_regions = len(model.regions_) if hasattr(model, "regions_") else int(self.unit_region.max(initial=-1)) + 1
        self.averaging = unit_averaging(self.unit_region, n_regions)

    def region_log_intensity(self, data: TrialSpikes) -> np.ndarray:
        """Shapes: returns (spikes,)."""
        _check_units(self.unit_region, data, "this region view")
        return region_log_intensity_from_units(self.model.unit_intensity_curves, data, self.averaging)

    def region_cumulative(self, data: TrialSpikes, times: np.ndarray) -> np.ndarray:
        """Shapes: times (trials, m) -> (trials, m, regions)."""
        _check_units(self.unit_region, data, "this region view")
        return np.asarray(self.model.unit_cumulative(data, times), dtype=np.float64) @ self.averaging

    def intensity_curves(self, stimulus: np.ndarray, grid: np.ndarray) -> np.ndarray:
        """Shapes: stimulus (C, features), grid (m,) -> (C, regions, m)."""
        curves = np.asarray(self.model.unit_intensity_curves(stimulus, grid), dtype=np.float64)
        return np.einsum("cum,uk->ckm", curves, self.averaging)


def unit_view(model, unit_region: np.ndarray | None = None) -> UnitIntensityModel:
    """``model`` itself if it has the unit methods, else a :class:`UnitView` of its regions.

    Parameters
    ----------
    model
        A :class:`UnitIntensityModel` or an :class:`IntensityModel`.
    unit_region
        Region index of each unit (e.g. ``data.unit_region``), for the view's intensity curves.

    Raises
    ------
    TypeError
        A model with neither protocol.
    """
    if _has(model, _UNIT_METHODS):
        return model
    if _has(model, _REGION_METHODS):
        return UnitView(model, unit_region)
    raise TypeError(f"{type(model).__name__} implements neither IntensityModel nor UnitIntensityModel")


def region_view(model, unit_region: np.ndarray | None = None, n_regions: int | None = None) -> IntensityModel:
    """``model`` itself if it has the region methods, else a :class:`RegionView` of its units.

    Parameters
    ----------
    model
        An :class:`IntensityModel` or a :class:`UnitIntensityModel`.
    unit_region
        Region index of each unit (default: the model's ``unit_region_``).
    n_regions
        Regions (see :class:`RegionView`).

    Raises
    ------
    TypeError
        A model with neither protocol, or a unit-level one without known unit regions.
    """
    if _has(model, _REGION_METHODS):
        return model
    if _has(model, _UNIT_METHODS):
        if unit_region is None:
            unit_region = getattr(model, "unit_region_", None)
        if unit_region is None:
            raise TypeError(f"a region view of {type(model).__name__} needs the units' regions: "
                            "region_view(model, data.unit_region)")
        return RegionView(model, unit_region, n_regions)
    raise TypeError(f"{type(model).__name__} implements neither IntensityModel nor UnitIntensityModel")


__all__ = ["BehaviourModel", "IntensityModel", "RegionView", "UnitIntensityModel", "UnitView",
           "region_log_intensity_from_units", "region_view", "unit_averaging", "unit_view"]
