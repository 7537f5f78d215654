"""Parameters of the sorting front end, stored beside the results (as JSON in the Units table).

Three dataclasses, all serialisable with ``to_dict`` / ``from_dict`` / ``to_json``:

- :class:`PreprocessingParams`: bandpass, common reference, bad-channel removal.
- :class:`SortingParams`: sorter and its parameters, waveform/analyzer settings, curation thresholds.
- :class:`DetectionParams`: HD-MEA mode, per-channel threshold crossings (no sorting).

Job settings (``n_jobs``, chunk duration, progress bars) are :class:`JobParams`; they change how fast
a run is and how much memory it takes, never its results, and are recorded for provenance only.

Default curation (:data:`DEFAULT_CURATION`)
-------------------------------------------
A sorted unit is kept when all of these hold (thresholds inclusive; a metric that cannot be computed,
NaN, e.g. a presence ratio on a recording shorter than its bins, does not fail a unit):

- ``snr >= 3``: peak amplitude of the mean waveform on its best channel over the channel's noise (MAD);
  below this a "unit" is hard to tell from noise.
- ``isi_violations_ratio <= 0.5``: refractory-period (1.5 ms) violations relative to a Poisson train of
  the same rate (Hill et al. 2011; the Allen Institute's default cut-off); higher means a multi-unit.
- ``presence_ratio >= 0.5``: the unit fires in at least half of the time bins (drifting or lost units fail).
- ``firing_rate >= 0.05``: at least one spike per 20 s.

Failing units are removed (``curation_action="remove"``) or kept with ``passes_curation`` False
(``"label"``); ``curation=None`` or ``{}`` keeps every unit.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import ParameterError
from ..params import Check, at_least, param, positive
from ..params import check as check_declared

#: Units are kept when they pass all of these ``metric -> {"greater"/"less": value}`` thresholds.
DEFAULT_CURATION: dict[str, dict[str, float]] = {
    "snr": {"greater": 3.0},
    "isi_violations_ratio": {"less": 0.5},
    "presence_ratio": {"greater": 0.5},
    "firing_rate": {"greater": 0.05},
}

#: Quality metrics computed for every sorted unit (SpikeInterface names); stored as Units columns.
DEFAULT_METRICS: tuple[str, ...] = (
    "num_spikes", "firing_rate", "presence_ratio", "snr", "isi_violation", "amplitude_median",
)

#: The pure-Python sorter used by default (DESIGN §6: fastest and most accurate of lupin,
#: spykingcircus2 and tridesclous2 on 32-channel ground truth; needs numba, hdbscan and torch).
DEFAULT_SORTER = "lupin"


class ParamsError(ParameterError):
    """A parameter is out of range or of the wrong kind."""


def _checked(obj: Any) -> None:
    """The declared constraints of ``obj``'s parameters (:func:`nwb_tavrnn.params.check`), as a
    :class:`ParamsError` naming the parameter."""
    try:
        check_declared(obj)
    except ParamsError:
        raise
    except ParameterError as err:
        raise ParamsError(str(err), err.parameter) from None


def _none_or(text: str) -> str | None:
    """A command-line choice where ``none`` means "do not" (None)."""
    return None if text.lower() == "none" else text


def _json(text: str) -> Any:
    """A command-line JSON object (``--sorter-params '{"detect_threshold": 5}'``)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"not valid JSON ({err.msg} at character {err.pos})") from None


_BAD_CHANNELS = ("std", "mad", "coherence+psd", "neighborhood_r2", None)


class _Serialisable:
    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (nested dataclasses become dicts)."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=_json_default))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]):
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ParamsError`."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ParamsError(f"unknown {cls.__name__} fields: {', '.join(unknown)}")
        kwargs = dict(values)
        for name, nested in _NESTED.get(cls.__name__, {}).items():
            if isinstance(kwargs.get(name), dict):
                kwargs[name] = nested().from_dict(kwargs[name])
        for name in ("bandpass",):
            if isinstance(kwargs.get(name), list):
                kwargs[name] = tuple(kwargs[name])
        return cls(**kwargs)

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(json.loads(text))


def _json_default(value):
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(value)


@dataclass
class PreprocessingParams(_Serialisable):
    """How raw voltage is cleaned before sorting or threshold detection.

    Parameters
    ----------
    bandpass
        ``(freq_min, freq_max)`` in Hz of a Butterworth bandpass (order 5, zero phase), or None. A
        ``freq_max`` above 0.45 x the sampling rate is lowered to it.
    common_reference
        ``"median"`` or ``"average"`` global common reference across channels, or None. Skipped on
        recordings with fewer than ``min_channels_for_reference`` channels.
    bad_channels
        SpikeInterface ``detect_bad_channels`` method (``"std"``, ``"mad"``, ``"coherence+psd"``,
        ``"neighborhood_r2"``) or None; bad and flat (zero-variance) channels are removed, and listed
        in the results. Skipped below ``min_channels_for_bad_detection`` channels.
    bad_channel_threshold
        ``std_mad_threshold`` of the "std"/"mad" methods: a channel is noisy above this x the median.
    """

    bandpass: tuple[float, float] | None = param((300.0, 6000.0), nargs=2, parse=float, metavar=("MIN_HZ", "MAX_HZ"),
                                                 group="preprocessing", help="bandpass in Hz (300 6000 when sorting, 300 3000 in HD-MEA mode)")
    common_reference: str | None = param("median", flag="--reference", parse=_none_or, group="preprocessing",
                                         choices=("median", "average", None), metavar="{median,average,none}",
                                         help="common reference across channels (median)")
    bad_channels: str | None = param("std", parse=_none_or, choices=_BAD_CHANNELS, group="preprocessing",
                                     metavar="{std,mad,coherence+psd,neighborhood_r2,none}",
                                     help="noisy-channel removal (std when sorting, none in HD-MEA mode)")
    bad_channel_threshold: float = param(5.0, flag=None, check=positive(),
                                         help="std/mad methods: a channel is noisy above this x the median")
    min_channels_for_reference: int = param(4, flag=None, check=at_least(1),
                                            help="no common reference on recordings with fewer channels")
    min_channels_for_bad_detection: int = param(8, flag=None, check=at_least(1),
                                                help="no noisy-channel removal on recordings with fewer channels")

    def __post_init__(self) -> None:
        _checked(self)
        if self.bandpass is not None:
            lo, hi = (float(v) for v in self.bandpass)
            if not 0 < lo < hi:
                raise ParamsError("bandpass must be (freq_min, freq_max) with 0 < freq_min < freq_max, "
                                  f"got {self.bandpass}", "bandpass")
            self.bandpass = (lo, hi)


@dataclass
class SortingParams(_Serialisable):
    """Everything that decides the sorted units, stored as JSON beside them.

    Parameters
    ----------
    sorter
        Name of any SpikeInterface sorter installed (``lupin`` default; ``spykingcircus2``,
        ``tridesclous2``; ``kilosort4`` etc. where the user has them).
    sorter_params
        Passed to the sorter (see ``spikeinterface.sorters.get_default_sorter_params(name)``).
    preprocessing
        Applied before the sorter (which may filter and whiten again internally).
    ms_before, ms_after
        Extent of the mean waveforms around each spike.
    max_spikes_per_unit
        Spikes sampled per unit for the mean waveforms (bounded memory).
    waveform_channels
        Mean waveforms are stored on this many channels nearest the unit's best channel (best first),
        the same channels as the unit's ``electrodes``; fewer when the recording has fewer channels.
    metrics
        Quality metrics computed (SpikeInterface names).
    curation
        ``metric -> {"greater": x}`` / ``{"less": x}`` thresholds (inclusive), or None for none.
    curation_action
        ``"remove"`` failing units, or ``"label"`` them (column ``passes_curation``).
    seed
        Seed of the sorter (where it takes one) and of spike sampling.
    """

    sorter: str = param(DEFAULT_SORTER, group="sorting", help="any installed SpikeInterface sorter")
    sorter_params: dict[str, Any] = param({}, parse=_json, metavar="JSON", group="sorting",
                                          help="sorter parameters as a JSON object")
    preprocessing: PreprocessingParams = field(default_factory=PreprocessingParams)
    ms_before: float = param(1.0, flag=None, check=positive(), help="mean waveforms: ms before each spike")
    ms_after: float = param(2.0, flag=None, check=positive(), help="mean waveforms: ms after each spike")
    max_spikes_per_unit: int = param(500, flag=None, check=at_least(1),
                                     help="spikes sampled per unit for its mean waveform")
    waveform_channels: int = param(8, check=at_least(1), group="sorting",
                                   help="channels of each stored mean waveform")
    metrics: tuple[str, ...] | list[str] = param(DEFAULT_METRICS, flag=None,
                                                 help="quality metrics computed (SpikeInterface names)")
    curation: dict[str, dict[str, float]] | None = param(
        DEFAULT_CURATION, parse=_json, metavar="JSON", group="sorting",
        help='quality thresholds a unit must pass, e.g. {"snr": {"greater": 5}}; {} keeps every unit '
             "(default snr >= 3, isi_violations_ratio <= 0.5, presence_ratio >= 0.5, firing_rate >= 0.05)")
    curation_action: str = param("remove", flag=None, choices=("remove", "label"),
                                 help="units failing curation: 'remove', or 'label' them (passes_curation)")
    seed: int | None = param(0, check=Check(lambda v: v is None or v >= 0, "must be >= 0"), parse=int,
                             group="sorting", help="seed of the sorter and of spike sampling")

    def __post_init__(self) -> None:
        if not isinstance(self.sorter, str) or not self.sorter:
            raise ParamsError("sorter must be a sorter name such as 'lupin'", "sorter")
        _checked(self)
        self.metrics = tuple(self.metrics)
        if not isinstance(self.sorter_params, dict):
            raise ParamsError(f"sorter parameters must be a mapping such as {{\"detect_threshold\": 5}}, "
                              f"got {self.sorter_params!r}")
        if self.curation is not None and not isinstance(self.curation, dict):
            raise ParamsError(f"curation must be a mapping such as {{\"snr\": {{\"greater\": 5}}}} ({{}} keeps every "
                              f"unit), got {self.curation!r}")
        for metric, rule in (self.curation or {}).items():
            if not isinstance(rule, dict) or not set(rule) <= {"greater", "less", "abs"} or not (
                    {"greater", "less"} & set(rule)):
                raise ParamsError(f"curation threshold for {metric!r} must be like {{'greater': 3.0}} or {{'less': 0.5}}")


@dataclass
class DetectionParams(_Serialisable):
    """HD-MEA mode: threshold crossings on each channel, no sorting (how DishBrain was analysed).

    Parameters
    ----------
    preprocessing
        Applied first (default bandpass 300-3000 Hz, median common reference, no bad-channel removal
        so every electrode stays a node).
    detect_threshold
        An event is a local extremum beyond this many noise levels (noise = median absolute
        deviation / 0.6745 of the filtered trace, per channel).
    peak_sign
        ``"neg"``, ``"pos"`` or ``"both"``.
    exclude_sweep_ms
        Dead time: one event per channel within this window (the largest).
    """

    preprocessing: PreprocessingParams = field(
        default_factory=lambda: PreprocessingParams(bandpass=(300.0, 3000.0), bad_channels=None))
    detect_threshold: float = param(5.0, check=positive(), group="HD-MEA mode (no sorting)",
                                    help="events beyond this many noise levels")
    peak_sign: str = param("neg", choices=("neg", "pos", "both"), group="HD-MEA mode (no sorting)",
                           help="sign of events")
    exclude_sweep_ms: float = param(1.0, flag="--dead-time-ms", check=at_least(0), group="HD-MEA mode (no sorting)",
                                    help="one event per electrode within this time, ms")

    def __post_init__(self) -> None:
        _checked(self)


@dataclass
class JobParams(_Serialisable):
    """Chunked, parallel execution (SpikeInterface job kwargs): speed and memory, not results.

    Memory is bounded by ``n_jobs`` x ``chunk_duration`` x channels, whatever the recording length.
    """

    n_jobs: int = param(1, group="execution", metavar="N", help="parallel workers, -1 for every core")
    chunk_duration: str = param("1s", group="execution", help="chunk length, e.g. 1s (memory ~ n_jobs x chunk)")
    progress_bar: bool = param(False, flag=None, help="SpikeInterface's progress bars")
    mp_context: str | None = param(None, flag=None, help="multiprocessing start method of the workers")

    def __post_init__(self) -> None:
        import re

        if not (int(self.n_jobs) >= 1 or int(self.n_jobs) == -1):
            raise ParamsError(f"n_jobs must be >= 1 (or -1: every core), got {self.n_jobs}", "n_jobs")
        if not re.fullmatch(r"\d+(\.\d+)?(s|ms)", str(self.chunk_duration)) or float(
                re.sub(r"[a-z]+$", "", str(self.chunk_duration))) <= 0:
            raise ParamsError(f"chunk_duration must be like 1s or 500ms, got {self.chunk_duration!r}", "chunk_duration")

    def to_job_kwargs(self) -> dict[str, Any]:
        kwargs = {"n_jobs": int(self.n_jobs), "chunk_duration": self.chunk_duration,
                  "progress_bar": bool(self.progress_bar)}
        if self.mp_context:
            kwargs["mp_context"] = self.mp_context
        return kwargs


_NESTED = {"SortingParams": {"preprocessing": lambda: PreprocessingParams},
           "DetectionParams": {"preprocessing": lambda: PreprocessingParams}}


def check_reader_options(options: dict) -> None:
    """Reader arguments with a range, checked in one place for the CLI, configs and Python."""
    checks = {"sampling_frequency": (lambda v: v > 0, "a positive rate in Hz"),
              "num_channels": (lambda v: int(v) == v and v >= 1, "a whole number >= 1"),
              "gain_to_uV": (lambda v: math.isfinite(v) and v != 0, "finite and non-zero"),
              "offset_to_uV": (lambda v: math.isfinite(v), "finite")}
    for key, (ok, what) in checks.items():
        if key in options and options[key] is not None:
            try:
                good = ok(float(options[key]))
            except (TypeError, ValueError):
                good = False
            if not good:
                raise ParamsError(f"reader option {key} must be {what}, got {options[key]!r}")
