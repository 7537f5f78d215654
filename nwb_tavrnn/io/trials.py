"""Spikes cut into trials: each region's spikes in a window after each trial's onset, beside the
trial's stimulus and behaviour (choice and reaction time). What the point-process models
(NNPoisson) and their baselines fit and score.

Light (numpy and pynwb only): no torch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..errors import InputFileError, require
from .read import interval_column, ragged_rows, read_intervals, read_spike_trains

log = logging.getLogger(__name__)

#: Where a unit's region can come from (see :func:`read_trial_spikes`).
REGION_SOURCES = ("auto", "location", "group")

#: Values of a choice column that mean "no response" unless told otherwise. Not "-1" or "0": in
#: Steinmetz / IBL coding -1 is a right choice and 0 NoGo; give such codes explicitly.
DEFAULT_NO_RESPONSE = ("", "none", "nan", "no response", "timeout")

#: Always "no response", whatever else is listed: a missing value is not an action.
MISSING_CHOICE = ("", "nan", "none")


@dataclass
class TrialSpikes:
    """Spikes of each region in ``[0, window)`` after each trial's onset, with stimulus and behaviour.

    Every neuron of a region is modelled with the region's per-neuron intensity, so spikes are
    kept with their unit (for per-neuron goodness of fit) and region.

    Parameters
    ----------
    stimulus
        Encoded stimulus features of each trial (numeric columns as given, text columns one-hot).
    stimulus_names
        Name of each feature column.
    regions
        Region names, in the order of the region index.
    unit_region
        Region index of each unit.
    spike_time, spike_trial, spike_unit
        Each spike's time after its trial's onset (s), trial index and unit index.
    choice
        Action index of each trial's response (into ``actions``), -1 when there was none within
        the window (censored at ``window``).
    rt
        Reaction time from onset (s); NaN when ``choice`` is -1.
    window
        The response window W (s): spikes and responses after it are not modelled.
    trial_ids, onsets
        Ids (rows of the source trials table) and session times of the onsets.
    unit_ids
        Ids of the units (rows of the source Units table).
    observed
        Whether each unit was recorded over each trial's whole window (from the Units table's
        ``obs_intervals``); None: every unit in every trial. A unit is charged for its expected
        spikes only in the trials where it was observed, and has no spikes in the others.

    Shapes
    ------
    stimulus : (trials, features) float64
    unit_region : (units,) int64
    spike_time, spike_trial, spike_unit : (spikes,)
    choice, rt, trial_ids, onsets : (trials,)
    observed : (trials, units) bool or None
    """

    stimulus: np.ndarray
    stimulus_names: list[str]
    regions: list[str]
    unit_region: np.ndarray
    spike_time: np.ndarray
    spike_trial: np.ndarray
    spike_unit: np.ndarray
    choice: np.ndarray
    actions: list[str]
    rt: np.ndarray
    window: float
    trial_ids: np.ndarray
    onsets: np.ndarray
    unit_ids: np.ndarray | None = None
    observed: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.stimulus = np.asarray(self.stimulus, dtype=np.float64).reshape(len(self.choice), -1)
        self.unit_region = np.asarray(self.unit_region, dtype=np.int64)
        self.spike_time = np.asarray(self.spike_time, dtype=np.float64)
        self.spike_trial = np.asarray(self.spike_trial, dtype=np.int64)
        self.spike_unit = np.asarray(self.spike_unit, dtype=np.int64)
        self.choice = np.asarray(self.choice, dtype=np.int64)
        self.rt = np.asarray(self.rt, dtype=np.float64)
        self.trial_ids = np.asarray(self.trial_ids, dtype=np.int64)
        self.onsets = np.asarray(self.onsets, dtype=np.float64)
        if self.unit_ids is None:
            self.unit_ids = np.arange(len(self.unit_region), dtype=np.int64)
        n = len(self.choice)
        for name in ("rt", "trial_ids", "onsets"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"TrialSpikes: {n} trials but {len(getattr(self, name))} {name}")
        if not (len(self.spike_time) == len(self.spike_trial) == len(self.spike_unit)):
            raise ValueError("TrialSpikes: spike_time, spike_trial and spike_unit differ in length")
        if self.observed is not None:
            self.observed = np.asarray(self.observed, dtype=bool)
            if self.observed.shape != (n, len(self.unit_region)):
                raise ValueError(f"TrialSpikes: observed has shape {self.observed.shape}, expected "
                                 f"{(n, len(self.unit_region))} (trials, units)")
            if self.observed.all():
                self.observed = None
            elif len(self.spike_unit) and not self.observed[self.spike_trial, self.spike_unit].all():
                raise ValueError("TrialSpikes: spikes of a unit in a trial where it was not observed")

    # -- sizes --------------------------------------------------------------------------------
    @property
    def n_trials(self) -> int:
        return len(self.choice)

    @property
    def n_regions(self) -> int:
        return len(self.regions)

    @property
    def n_actions(self) -> int:
        return len(self.actions)

    @property
    def spike_region(self) -> np.ndarray:
        """Region index of each spike. Shape (spikes,)."""
        return self.unit_region[self.spike_unit]

    @property
    def n_units(self) -> int:
        return len(self.unit_region)

    @property
    def neurons(self) -> np.ndarray:
        """Units per region. Shape (regions,)."""
        return np.bincount(self.unit_region, minlength=self.n_regions).astype(np.int64)

    def observation(self) -> np.ndarray:
        """Whether each unit was observed in each trial (all True without ``obs_intervals``).

        Shapes
        ------
        returns : (trials, units) bool
        """
        if self.observed is None:
            return np.ones((self.n_trials, self.n_units), dtype=bool)
        return self.observed

    def observed_neurons(self) -> np.ndarray:
        """Units of each region observed in each trial (what each trial's expected spikes are charged for).

        Shapes
        ------
        returns : (trials, regions) float64
        """
        if self.observed is None:
            return np.broadcast_to(self.neurons.astype(np.float64), (self.n_trials, self.n_regions)).copy()
        one_hot = np.eye(self.n_regions)[self.unit_region]  # (units, regions)
        return self.observed.astype(np.float64) @ one_hot

    def check_units(self, unit_ids: Sequence[int], unit_region: Sequence[int], what: str) -> None:
        """Refuse trials of other units than a per-unit model was fitted on (same ids, same regions,
        same order): another unit would silently get that unit's intensity.

        Raises
        ------
        ValueError
            Naming the model (``what``) and the first difference.
        """
        ids, regions = np.asarray(unit_ids, dtype=np.int64), np.asarray(unit_region, dtype=np.int64)
        if len(ids) != self.n_units:
            raise ValueError(f"{what} was fitted on {len(ids)} units but the trials have {self.n_units}: score it "
                             "on trials of the same units")
        if not (np.array_equal(ids, self.unit_ids) and np.array_equal(regions, self.unit_region)):
            i = int(np.flatnonzero((ids != self.unit_ids) | (regions != self.unit_region))[0])
            raise ValueError(f"{what} was fitted on other units (or another order) than the trials': unit {i} is id "
                             f"{ids[i]} there, {self.unit_ids[i]} here; score it on trials of the same units")

    def unit_spike_counts(self) -> np.ndarray:
        """Spikes per trial and unit. Shape (trials, units)."""
        flat = self.spike_trial * self.n_units + self.spike_unit
        return np.bincount(flat, minlength=self.n_trials * self.n_units).reshape(self.n_trials, self.n_units)

    def spike_counts(self) -> np.ndarray:
        """Spikes per trial and region, pooled over the region's units. Shape (trials, regions)."""
        flat = self.spike_trial * self.n_regions + self.spike_region
        return np.bincount(flat, minlength=self.n_trials * self.n_regions).reshape(self.n_trials, self.n_regions)

    def conditions(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct stimuli and each trial's condition index.

        Shapes
        ------
        returns : (conditions, features) float64, (trials,) int64
        """
        unique, index = np.unique(self.stimulus, axis=0, return_inverse=True)
        return unique, index.ravel().astype(np.int64)

    def condition_labels(self) -> list[str]:
        """A readable name per condition, e.g. ``stimulus=0.25``."""
        unique, _ = self.conditions()
        return [", ".join(f"{n}={v:g}" for n, v in zip(self.stimulus_names, row)) for row in unique]

    def subset(self, trials: Sequence[int] | np.ndarray) -> TrialSpikes:
        """The given trials (indices into this object, each at most once), renumbered from 0, in the
        order given."""
        trials = np.asarray(trials, dtype=np.int64)
        if len(np.unique(trials)) != len(trials):
            raise ValueError("TrialSpikes.subset: a trial may be taken once (resample indices, not trials)")
        new_index = np.full(self.n_trials, -1, dtype=np.int64)
        new_index[trials] = np.arange(len(trials))
        keep = new_index[self.spike_trial] >= 0
        return replace(
            self, stimulus=self.stimulus[trials], spike_time=self.spike_time[keep],
            spike_trial=new_index[self.spike_trial[keep]], spike_unit=self.spike_unit[keep],
            choice=self.choice[trials], rt=self.rt[trials], trial_ids=self.trial_ids[trials],
            onsets=self.onsets[trials], observed=None if self.observed is None else self.observed[trials],
        )

    def summary(self) -> str:
        responded = int((self.choice >= 0).sum())
        return (f"{self.n_trials} trials, {len(self.spike_time)} spikes in {self.window:g} s windows, regions "
                f"{', '.join(f'{r} ({n} units)' for r, n in zip(self.regions, self.neurons))}; {responded} "
                f"responses ({', '.join(f'{a}: {int((self.choice == i).sum())}' for i, a in enumerate(self.actions))})")


def unit_averaging(unit_region: np.ndarray, n_regions: int) -> np.ndarray:
    """The matrix that averages unit columns into region columns: A[i, k] = 1/n_k if i is in k.

    A region without units gets an all-zero column (its mean intensity is taken as 0: it is charged
    for nothing, having no units).

    Shapes
    ------
    unit_region : (units,) -> (units, regions) float64
    """
    unit_region = np.asarray(unit_region, dtype=np.int64)
    one_hot = np.zeros((len(unit_region), n_regions))
    one_hot[np.arange(len(unit_region)), unit_region] = 1.0
    return one_hot / np.maximum(one_hot.sum(axis=0), 1.0)


# -- reading from NWB -------------------------------------------------------------------------
def _encode_stimulus(df: pd.DataFrame, columns: Sequence[str], table: str) -> tuple[np.ndarray, list[str]]:
    blocks, names = [], []
    for col in columns:
        values = interval_column(df, col, table)
        missing = values.map(_is_missing).to_numpy(dtype=bool)
        if missing.any():
            raise InputFileError(f"stimulus column {col!r} of {table!r} has missing values (trial ids "
                                 f"{df.index[missing].tolist()[:5]}); fill them or leave those trials out")
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().all():
            values = numeric.to_numpy(dtype=np.float64)
            if not np.isfinite(values).all():
                raise InputFileError(f"stimulus column {col!r} of {table!r} has infinite values (trial ids "
                                     f"{df.index[~np.isfinite(values)].tolist()[:5]})")
            blocks.append(values[:, None])
            names.append(col)
            continue
        text = values.map(_text)
        levels = sorted(set(text))
        blocks.append(np.stack([(text == lev).to_numpy(dtype=np.float64) for lev in levels], axis=1))
        names.extend(f"{col}={lev}" for lev in levels)
    return np.concatenate(blocks, axis=1), names


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, float) and np.isnan(value):
        return "nan"
    return str(value).strip()


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or _text(value) == ""


def _numeric_text(value) -> str:
    """``2``, ``2.0`` and ``b'2'`` all as ``"2"``: choice codes compared as text."""
    text = _text(value)
    try:
        number = float(text)
    except ValueError:
        return text.lower()
    return "nan" if np.isnan(number) else f"{number:g}"


def _unit_regions(nwbfile, spikes, regions: str) -> np.ndarray:
    units = nwbfile.units
    if regions in REGION_SOURCES:
        if regions == "auto" and "region" in units.colnames:
            regions = "region"
        elif regions == "group":
            return np.asarray([_text(g) for g in spikes.groups], dtype=object)
        else:
            return np.asarray([_text(g) for g in spikes.locations], dtype=object)
    if regions not in units.colnames:
        raise InputFileError(f"the Units table has no column {regions!r} for the regions; use location, group or "
                             f"one of its columns: {', '.join(c for c in units.colnames if c != 'spike_times')}")
    return np.asarray([_text(v) for v in units[regions].data[:]], dtype=object)


def _observed_windows(units, rows: list[int], onsets: np.ndarray, window: float) -> np.ndarray | None:
    """Whether each unit's ``obs_intervals`` cover each trial's whole window ``[onset, onset + W)``;
    None when the table has no ``obs_intervals`` (every unit observed throughout).

    Shapes
    ------
    onsets : (trials,) -> (trials, len(rows)) bool
    """
    if "obs_intervals" not in units.colnames:
        return None
    intervals = ragged_rows(units, "obs_intervals")
    out = np.zeros((len(onsets), len(rows)), dtype=bool)
    for j, u in enumerate(rows):
        spans = np.asarray(intervals[u], dtype=np.float64).reshape(-1, 2)
        if spans.size == 0:
            continue
        tol = 1e-9  # a window ending exactly at the recording's end is inside it
        covered = (spans[None, :, 0] <= onsets[:, None] + tol) & (onsets[:, None] + window <= spans[None, :, 1] + tol)
        out[:, j] = covered.any(axis=1)
    missing = int((~out).sum())
    if missing:
        log.info("%d (trial, unit) windows fall outside the units' obs_intervals: those units are not charged "
                 "there", missing)
    return out


def read_trial_spikes(
    nwbfile,
    stimulus: Sequence[str],
    choice: str,
    rt: str | None = None,
    *,
    response_time: str | None = None,
    trials: str = "trials",
    onset: str = "start_time",
    rt_reference: str | None = None,
    regions: str = "auto",
    keep_regions: Sequence[str] | None = None,
    window: float = 1.0,
    no_response: Sequence[str] | None = None,
    late: str = "error",
    invalid: str = "error",
) -> TrialSpikes:
    """Cut an NWB file's units into trials.

    Parameters
    ----------
    nwbfile
        An open :class:`pynwb.NWBFile` with a Units table and the trials table.
    stimulus
        Trials-table columns of stimulus features (numeric used as given, text one-hot encoded).
    choice
        Column of the response; its distinct values (other than ``no_response``) are the actions.
    rt, response_time
        Either the reaction time in s (from ``rt_reference``, default the onset) or the session time
        of the response.
    trials
        Name of the intervals table.
    onset
        Column of the stimulus onset (time zero of each trial's window).
    rt_reference
        Column that ``rt`` is measured from when it is not the onset (e.g. the end of the image,
        for a question asked after it); RT from onset = ``rt + rt_reference − onset``.
    regions
        ``auto`` (a Units ``region`` column when present, else the electrodes' location),
        ``location``, ``group``, or the name of a Units column.
    keep_regions
        Only these regions (in this order); default all, sorted.
    window
        The response window W (s) after onset.
    no_response
        Choice values meaning "no response" (compared as text; default none, nan, timeout and
        empty; missing values always count). Their trials are censored at W.
    late
        ``error`` or ``censor``: what to do with responses after W (censor: treat as no response
        within the window, as the reference did).
    invalid
        ``error`` or ``drop``: what to do with trials whose onset is missing or whose RT is
        negative or missing for a response. (Trials without spikes are kept: under a Poisson model
        an empty window is data; most trials empty is an error, a clock mismatch.)

    Raises
    ------
    InputFileError
        Missing tables or columns, or invalid trials (with ``invalid="error"``), naming them.
    ParameterError
        Settings out of range.
    """
    require(window > 0 and np.isfinite(window), f"window must be a positive number of seconds, got {window}", "window")
    require(late in ("error", "censor"), f"late must be error or censor, got {late!r}", "late")
    require(invalid in ("error", "drop"), f"invalid must be error or drop, got {invalid!r}", "invalid")
    require((rt is None) != (response_time is None), "give exactly one of rt and response_time",
            ("rt", "response_time"))
    require(len(stimulus) >= 1, "give at least one stimulus column (`stimulus`)", "stimulus")
    tables = read_intervals(nwbfile)
    if trials not in tables:
        raise InputFileError(f"the file has no intervals table {trials!r}; it has: {', '.join(tables) or 'none'} "
                             "(`trials`)", "trials")
    df = tables[trials]
    if len(df) == 0:
        raise InputFileError(f"the intervals table {trials!r} is empty")
    onsets = pd.to_numeric(interval_column(df, onset, trials), errors="coerce").to_numpy(dtype=np.float64)
    stim, names = _encode_stimulus(df, stimulus, trials)
    labels = interval_column(df, choice, trials).map(_numeric_text)
    missing = {_numeric_text(v) for v in (no_response if no_response is not None else DEFAULT_NO_RESPONSE)}
    missing |= set(MISSING_CHOICE)
    actions = sorted(set(labels) - missing)
    if not actions:
        raise InputFileError(f"choice column {choice!r} holds no response values (all are {sorted(set(labels))})")
    action_index = {a: i for i, a in enumerate(actions)}
    choice_idx = np.array([action_index.get(v, -1) for v in labels], dtype=np.int64)
    if rt is not None:
        rts = pd.to_numeric(interval_column(df, rt, trials), errors="coerce").to_numpy(dtype=np.float64)
        if rt_reference is not None:
            ref = pd.to_numeric(interval_column(df, rt_reference, trials), errors="coerce").to_numpy(np.float64)
            rts = rts + ref - onsets
    else:
        rts = pd.to_numeric(interval_column(df, response_time, trials), errors="coerce").to_numpy(np.float64) - onsets
    rts = np.where(choice_idx >= 0, rts, np.nan)

    ids = np.asarray(df.index, dtype=np.int64)
    problems: dict[str, np.ndarray] = {
        "onset is missing": ~np.isfinite(onsets),
        "a response without a valid reaction time": (choice_idx >= 0) & ~np.isfinite(rts),
        "a negative reaction time": (choice_idx >= 0) & (rts < 0),
    }
    late_mask = (choice_idx >= 0) & (rts >= window)
    if late_mask.any():
        if late == "error":
            raise InputFileError(
                f"{int(late_mask.sum())} responses come after the {window:g} s window (trial ids "
                f"{ids[late_mask][:5].tolist()}{'...' if late_mask.sum() > 5 else ''}, RT up to "
                f"{np.nanmax(rts[late_mask]):.3g} s); widen the `window`, or treat them as no response "
                "within it (`late` censor)", ("window", "late"))
        log.info("%d responses after the %g s window treated as no response within it", late_mask.sum(), window)
        choice_idx = np.where(late_mask, -1, choice_idx)
        rts = np.where(late_mask, np.nan, rts)

    spikes = read_spike_trains(nwbfile)
    unit_names = _unit_regions(nwbfile, spikes, regions)
    present = sorted(set(unit_names))
    wanted = list(keep_regions) if keep_regions else present
    unknown = [r for r in wanted if r not in present]
    if unknown:
        raise InputFileError(f"no units in region(s) {', '.join(map(repr, unknown))}; the units' regions are: "
                             f"{', '.join(map(repr, present))} (`regions`)", "regions")
    if any(r == "" for r in wanted):
        raise InputFileError("some units have no region (empty location); choose where regions come from "
                             "(`regions` location|group|COLUMN) or keep only named ones (`keep_regions`)",
                             ("regions", "keep_regions"))
    region_of = {r: i for i, r in enumerate(wanted)}
    units = [u for u in range(len(spikes)) if unit_names[u] in region_of]
    unit_region = np.array([region_of[unit_names[u]] for u in units], dtype=np.int64)

    t_list, trial_list, unit_list = [], [], []
    ok_onsets = np.where(np.isfinite(onsets), onsets, -np.inf)
    observed = _observed_windows(nwbfile.units, units, ok_onsets, window)
    for new_u, u in enumerate(units):
        times = spikes.times[u]
        # every (spike, trial) pair with onset <= t < onset + W, windows may overlap
        lo = np.searchsorted(times, ok_onsets, side="left")
        hi = np.searchsorted(times, ok_onsets + window, side="left")
        counts = np.maximum(hi - lo, 0)
        if counts.sum() == 0:
            continue
        trial_of = np.repeat(np.arange(len(onsets)), counts)
        idx = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi) if b > a])
        if observed is not None:  # a unit's spikes in a window it was not recorded over all of are not data
            keep = observed[trial_of, new_u]
            trial_of, idx = trial_of[keep], idx[keep]
        t_list.append(times[idx] - onsets[trial_of])
        trial_list.append(trial_of)
        unit_list.append(np.full(len(idx), new_u, dtype=np.int64))
    spike_time = np.concatenate(t_list) if t_list else np.zeros(0)
    spike_trial = np.concatenate(trial_list) if trial_list else np.zeros(0, dtype=np.int64)
    spike_unit = np.concatenate(unit_list) if unit_list else np.zeros(0, dtype=np.int64)
    per_trial = np.bincount(spike_trial, minlength=len(onsets))
    empty = (per_trial == 0) & np.isfinite(onsets)
    # An empty trial is data under a Poisson model (kept); all or most of them empty is a clock mismatch.
    if empty.sum() > 0.5 * np.isfinite(onsets).sum():
        raise InputFileError(
            f"{int(empty.sum())} of {len(onsets)} trials of {trials!r} have no spike of any unit in their "
            f"{window:g} s window: are the trial times ({onset}) on the units' clock?")
    if empty.any():
        log.info("%d trials have no spike in the window (kept: an empty window is data)", empty.sum())

    bad = np.zeros(len(onsets), dtype=bool)
    for what, mask in problems.items():
        if not mask.any():
            continue
        if invalid == "error":
            raise InputFileError(
                f"{int(mask.sum())} trials of {trials!r} have {what}: trial ids {ids[mask][:5].tolist()}"
                f"{'...' if mask.sum() > 5 else ''}; fix them or leave them out (`invalid` drop)", "invalid")
        log.warning("leaving out %d trials with %s (trial ids %s)", mask.sum(), what, ids[mask][:5].tolist())
        bad |= mask
    data = TrialSpikes(stimulus=stim, stimulus_names=names, regions=[str(r) for r in wanted], unit_region=unit_region,
                       spike_time=spike_time, spike_trial=spike_trial, spike_unit=spike_unit, choice=choice_idx,
                       actions=actions, rt=rts, window=float(window), trial_ids=ids, onsets=onsets,
                       unit_ids=spikes.ids[units], observed=observed)
    if bad.any():
        data = data.subset(np.flatnonzero(~bad))
    if data.n_trials < 2:
        raise InputFileError(f"only {data.n_trials} usable trials in {trials!r}; a model needs more")
    if not (data.choice >= 0).any():
        raise InputFileError(f"no trial of {trials!r} has a response within the {window:g} s window; widen the "
                             "`window`", "window")
    log.info("trials: %s", data.summary())
    return data


__all__ = ["DEFAULT_NO_RESPONSE", "REGION_SOURCES", "TrialSpikes", "read_trial_spikes", "unit_averaging"]
