"""The one adapter to SpikeInterface: every call into ``spikeinterface`` lives in this module (and,
for opening recordings, in :mod:`.recording`, whose names it imports back).

SpikeInterface is imported inside the functions, so ``import nwb_tavrnn`` (and
``import nwb_tavrnn.sorting``) never loads it. Errors from readers and sorters are turned into
one-line :class:`~nwb_tavrnn.errors.NwbTavrnnError` subclasses here.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError, NwbTavrnnError
from ._spikeinterface import _short, spikeinterface_version  # noqa: F401 - the version is part of this module's API
from .params import DetectionParams, ParamsError, PreprocessingParams, SortingParams
from .recording import (  # noqa: F401 - part of this module's API
    FORMATS,
    LoadedRecording,
    channel_info,
    find_electrical_series,
    guess_format,
    load_recording,
)

log = logging.getLogger(__name__)


class SortingFailed(NwbTavrnnError):
    """The sorter (or the analysis after it) failed on this recording."""

    exit_code = 1


# ------------------------------------------------------------------------------------------ preprocessing

def preprocess(recording, params: PreprocessingParams, job_kwargs: dict | None = None) -> tuple[Any, list]:
    """Lazy bandpass, bad-channel removal and common reference; return it and the removed channel ids."""
    import spikeinterface.preprocessing as spre
    from spikeinterface.core import get_random_data_chunks

    rec = recording
    fs = rec.get_sampling_frequency()
    if params.bandpass is not None:
        lo, hi = params.bandpass
        hi = min(hi, 0.45 * fs)
        if lo >= hi:
            raise ParamsError(f"bandpass {params.bandpass} does not fit a {fs:g} Hz recording")
        rec = spre.bandpass_filter(rec, freq_min=lo, freq_max=hi, dtype="float32")
    removed: list = []
    n = rec.get_num_channels()
    if params.bad_channels is not None and n >= params.min_channels_for_bad_detection:
        chunks = get_random_data_chunks(rec, num_chunks_per_segment=20, chunk_size=int(0.1 * fs), seed=0,
                                        return_in_uV=False)
        flat = rec.channel_ids[np.std(chunks, axis=0) == 0]
        try:
            bad, _ = spre.detect_bad_channels(rec, method=params.bad_channels,
                                              std_mad_threshold=params.bad_channel_threshold, seed=0,
                                              job_kwargs=job_kwargs)
        except Exception as err:  # noqa: BLE001  e.g. coherence+psd on a layout it cannot handle
            log.warning("bad-channel detection (%s) failed, no channel removed: %s", params.bad_channels, _short(err))
            bad = []
        removed = sorted(set(flat.tolist()) | set(np.asarray(bad).tolist()), key=str)
        if len(removed) >= n:
            raise InputFileError("every channel was detected as bad or flat; nothing left to sort "
                                 "(disable bad-channel detection to keep them)")
        if removed:
            log.info("removing %d bad/flat channels: %s", len(removed), removed[:20])
            rec = rec.remove_channels(removed)
    if params.common_reference is not None and rec.get_num_channels() >= params.min_channels_for_reference:
        rec = spre.common_reference(rec, reference="global", operator=params.common_reference)
    return rec, removed


# ---------------------------------------------------------------------------------------------- sorting

def check_sorter(name: str) -> None:
    """Raise :class:`ParamsError` unless ``name`` is a SpikeInterface sorter installed here."""
    import spikeinterface.sorters as ss

    if name not in ss.available_sorters():
        raise ParamsError(f"unknown sorter {name!r}; installed: {', '.join(ss.installed_sorters()) or 'none'}")
    if name not in ss.installed_sorters():
        raise ParamsError(f"sorter {name!r} is not installed here (installed: {', '.join(ss.installed_sorters())}); "
                          f"see spikeinterface.sorters.get_sorter_description({name!r}) for how to install it")


def sorter_kwargs(name: str, params: SortingParams, job_kwargs: dict | None) -> dict[str, Any]:
    """The keyword arguments ``run_sorter`` gets: the user's, plus seed and job kwargs where taken."""
    import spikeinterface.sorters as ss

    defaults = ss.get_default_sorter_params(name)
    unknown = sorted(set(params.sorter_params) - set(defaults))
    if unknown:
        raise ParamsError(f"sorter {name!r} has no parameters {', '.join(unknown)}")
    kwargs = dict(params.sorter_params)
    if "seed" in defaults and "seed" not in kwargs and params.seed is not None:
        kwargs["seed"] = int(params.seed)
    if "job_kwargs" in defaults and "job_kwargs" not in kwargs and job_kwargs:
        kwargs["job_kwargs"] = dict(job_kwargs)
    return kwargs


def run_sorter(recording, params: SortingParams, folder: Path, job_kwargs: dict | None = None,
               verbose: bool = False):
    """Run ``params.sorter`` on ``recording`` in ``folder``; return the sorting (loaded in memory).

    A recording that cannot be serialised to JSON (an in-memory or generated one) is first saved
    in ``folder`` as a binary copy, chunk by chunk.
    """
    import spikeinterface.sorters as ss
    from spikeinterface.core import NumpySorting

    check_sorter(params.sorter)
    kwargs = sorter_kwargs(params.sorter, params, job_kwargs)
    folder = Path(folder)
    rec = recording
    if not rec.check_serializability("json"):
        log.info("saving the preprocessed recording for the sorter (it is not serialisable)")
        rec = rec.save(folder=folder / "preprocessed", format="binary", **(job_kwargs or {}))
    try:
        sorting = ss.run_sorter(params.sorter, rec, folder=folder / "sorter_output", remove_existing_folder=True,
                                verbose=verbose, **kwargs)
    except Exception as err:  # noqa: BLE001  SpikeSortingError and anything the sorter raises
        raise SortingFailed(f"sorter {params.sorter!r} failed: {type(err).__name__}: {_short(err)}") from None
    sorting = NumpySorting.from_sorting(sorting)  # detach from the sorter's folder (deleted afterwards)
    return sorting.remove_empty_units()


# --------------------------------------------------------------------------------------------- analysis

@dataclass
class UnitsAnalysis:
    """Per-unit results of the SortingAnalyzer.

    Shapes
    ------
    spike_times : units x (spikes_u,) seconds
    templates : (units, samples, waveform_channels) mean waveforms, in uV when ``scaled``
    channel_indices : (units, waveform_channels) recording channel index of each template column
    metrics : DataFrame (units x metrics)
    """

    unit_ids: np.ndarray
    spike_times: list[np.ndarray]
    templates: np.ndarray
    channel_indices: np.ndarray
    metrics: Any
    scaled: bool
    sampling_frequency: float
    nbefore: int


def analyze(recording, sorting, params: SortingParams, job_kwargs: dict | None = None) -> UnitsAnalysis:
    """SortingAnalyzer (in memory, sparse): mean waveforms, noise levels, amplitudes, quality metrics."""
    from spikeinterface.core import create_sorting_analyzer, get_template_extremum_channel

    fs = float(recording.get_sampling_frequency())
    t0 = float(recording.get_start_time(0))
    duration = float(recording.get_total_duration())
    unit_ids = np.asarray(sorting.unit_ids)
    scaled = bool(recording.has_scaleable_traces())
    nbefore = int(round(params.ms_before * fs / 1000))
    nsamples = nbefore + int(round(params.ms_after * fs / 1000))
    k = min(params.waveform_channels, recording.get_num_channels())
    if len(unit_ids) == 0:
        import pandas as pd

        return UnitsAnalysis(unit_ids, [], np.zeros((0, nsamples, k), np.float32), np.zeros((0, k), int),
                             pd.DataFrame(), scaled, fs, nbefore)
    try:
        analyzer = create_sorting_analyzer(sorting, recording, format="memory", sparse=True, return_in_uV=scaled,
                                           seed=params.seed, job_kwargs=job_kwargs)
        analyzer.compute("random_spikes", max_spikes_per_unit=params.max_spikes_per_unit, seed=params.seed)
        analyzer.compute("templates", ms_before=params.ms_before, ms_after=params.ms_after, operators=["average"],
                         **(job_kwargs or {}))
        analyzer.compute("noise_levels", random_slices_kwargs=dict(seed=params.seed), **(job_kwargs or {}))
        metrics = list(params.metrics)
        if any(m in metrics for m in ("amplitude_median", "amplitude_cutoff", "amplitude_cv", "noise_cutoff")):
            analyzer.compute("spike_amplitudes", **(job_kwargs or {}))
        metric_params = {"presence_ratio": {"bin_duration_s": float(min(60.0, max(duration / 10, 1e-3)))}}
        qm = analyzer.compute("quality_metrics", metric_names=metrics,
                              metric_params={m: v for m, v in metric_params.items() if m in metrics})
        table = qm.get_data()
        dense = analyzer.get_extension("templates").get_templates(operator="average")  # (units, samples, channels)
        peak = get_template_extremum_channel(analyzer, peak_sign="both", outputs="index")
    except NwbTavrnnError:
        raise
    except Exception as err:  # noqa: BLE001
        raise SortingFailed(f"analysing the sorted units failed: {type(err).__name__}: {_short(err)}") from None
    locations = np.asarray(recording.get_channel_locations(), dtype=float)
    channels = np.zeros((len(unit_ids), k), dtype=np.int64)
    for u, unit in enumerate(unit_ids):
        d = np.linalg.norm(locations - locations[peak[unit]], axis=1)
        d[peak[unit]] = -1.0  # best channel first, even where two contacts share a position
        channels[u] = np.argsort(d, kind="stable")[:k]
    templates = np.take_along_axis(dense, channels[:, None, :], axis=2).astype(np.float32)
    spike_times = [sorting.get_unit_spike_train(unit, segment_index=0) / fs + t0 for unit in unit_ids]
    return UnitsAnalysis(unit_ids, spike_times, templates, channels, table.loc[unit_ids], scaled, fs, nbefore)


def curate(metrics, thresholds: dict | None) -> np.ndarray:
    """Boolean mask of units passing every threshold (NaN metrics do not fail a unit)."""
    n = len(metrics)
    if not thresholds or n == 0:
        return np.ones(n, dtype=bool)
    from spikeinterface.curation import threshold_metrics_label_units

    try:
        labels = threshold_metrics_label_units(metrics, thresholds, pass_label="good", fail_label="bad",
                                               operator="and", nan_policy="ignore")
    except ValueError as err:
        raise ParamsError(f"curation thresholds: {_short(err)}") from None
    return (labels["label"] == "good").to_numpy()


# ------------------------------------------------------------------------------------------- HD-MEA mode

@dataclass
class ChannelEvents:
    """Threshold crossings of each channel.

    Shapes
    ------
    event_times : channels x (events_c,) seconds
    noise_levels : (channels,) in the recording's raw units (x ``gains`` for uV)
    """

    event_times: list[np.ndarray]
    noise_levels: np.ndarray
    gains: np.ndarray | None


def channel_noise(recording, job_kwargs: dict | None = None) -> np.ndarray:
    """Each channel's noise level (MAD of 20 random 50 ms slices), in the recording's raw units."""
    from spikeinterface.core import get_noise_levels

    fs = float(recording.get_sampling_frequency())
    return np.asarray(get_noise_levels(recording, return_in_uV=False, method="mad",
                                       random_slices_kwargs=dict(num_chunks_per_segment=20, chunk_size=int(0.05 * fs),
                                                                 seed=0),
                                       **(job_kwargs or {})), dtype=np.float64)


def detect_events(recording, params: DetectionParams, job_kwargs: dict | None = None,
                  noise: np.ndarray | None = None) -> ChannelEvents:
    """Per-channel threshold crossings (``detect_peaks`` "by_channel"), chunked and parallel.

    ``noise``: the channels' noise levels when already known (a stream detected chunk by chunk keeps
    the ones of its start, so thresholds do not move between chunks)."""
    from spikeinterface.sortingcomponents.peak_detection import detect_peaks

    fs = float(recording.get_sampling_frequency())
    t0 = float(recording.get_start_time(0))
    noise = channel_noise(recording, job_kwargs) if noise is None else np.asarray(noise, dtype=np.float64)
    safe = np.where(noise > 0, noise, np.inf)  # a flat channel never crosses
    peaks = detect_peaks(recording, method="by_channel",
                         method_kwargs=dict(peak_sign=params.peak_sign, detect_threshold=params.detect_threshold,
                                            exclude_sweep_ms=params.exclude_sweep_ms, noise_levels=safe),
                         job_kwargs=job_kwargs)
    order = np.lexsort((peaks["sample_index"], peaks["channel_index"]))
    peaks = peaks[order]
    bounds = np.searchsorted(peaks["channel_index"], np.arange(recording.get_num_channels() + 1))
    times = [peaks["sample_index"][bounds[c]:bounds[c + 1]] / fs + t0 for c in range(recording.get_num_channels())]
    gains = recording.get_channel_gains() if recording.has_scaleable_traces() else None
    return ChannelEvents(times, noise, None if gains is None else np.asarray(gains, dtype=np.float64))


# ------------------------------------------------------------------------------- ground truth, NWB export

def generate_ground_truth(duration: float = 30.0, num_channels: int = 16, num_units: int = 10, seed: int = 0,
                          noise_level: float = 5.0):
    """SpikeInterface ``generate_ground_truth_recording``: (recording in uV, true sorting)."""
    from spikeinterface.core import generate_ground_truth_recording

    return generate_ground_truth_recording(durations=[duration], num_channels=num_channels, num_units=num_units,
                                           seed=seed, noise_kwargs=dict(noise_levels=noise_level, strategy="on_the_fly"))


def sorting_from_times(spike_times: dict[Any, np.ndarray], sampling_frequency: float, t_start: float = 0.0):
    """A SpikeInterface sorting from spike times in seconds (e.g. read back from a Units table)."""
    from spikeinterface.core import NumpySorting

    frames = {u: np.round((np.asarray(t) - t_start) * sampling_frequency).astype(np.int64)
              for u, t in spike_times.items()}
    return NumpySorting.from_unit_dict([frames], sampling_frequency=sampling_frequency)


def compare_to_ground_truth(gt_sorting, sorting, well_detected_score: float = 0.8) -> dict[str, Any]:
    """``compare_sorter_to_ground_truth``: per-unit accuracy and the count of well-detected units."""
    from spikeinterface.comparison import compare_sorter_to_ground_truth

    cmp = compare_sorter_to_ground_truth(gt_sorting, sorting, exhaustive_gt=True)
    perf = cmp.get_performance()
    return {"accuracy": perf["accuracy"].to_numpy(dtype=float),
            "well_detected": len(cmp.get_well_detected_units(well_detected_score)),
            "num_gt": len(gt_sorting.unit_ids), "num_sorted": len(sorting.unit_ids),
            "false_positive_units": len(cmp.get_false_positive_units()), "performance": perf}


def traces_iterator(recording, buffer_gb: float = 0.1, chunk_mb: float = 4.0, return_in_uV: bool = False):
    """An hdmf ``GenericDataChunkIterator`` over a recording's traces (frames x channels), for NWB."""
    from hdmf.data_utils import GenericDataChunkIterator

    class _Traces(GenericDataChunkIterator):
        def __init__(self, rec, **kwargs):
            self._rec = rec
            super().__init__(**kwargs)

        def _get_data(self, selection):
            frames, channels = selection
            ids = self._rec.channel_ids[channels]
            return self._rec.get_traces(start_frame=frames.start, end_frame=frames.stop, channel_ids=ids,
                                        return_in_uV=return_in_uV)

        def _get_maxshape(self):
            return (self._rec.get_num_samples(0), self._rec.get_num_channels())

        def _get_dtype(self):
            return np.dtype("float32") if return_in_uV else self._rec.get_dtype()

    return _Traces(recording, buffer_gb=buffer_gb, chunk_mb=chunk_mb, display_progress=False)


def job_kwargs_or_env(job_kwargs: dict | None) -> dict:
    """Job kwargs with ``n_jobs`` capped at the CPUs available."""
    kwargs = dict(job_kwargs or {})
    n = kwargs.get("n_jobs", 1)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if isinstance(n, int) and n > cpus:
        kwargs["n_jobs"] = cpus
    return kwargs


def generate_channel_events(num_channels: int = 16, duration: float = 10.0, rate: float = 5.0,
                            amplitude: float = 60.0, noise_level: float = 5.0, sampling_frequency: float = 20000.0,
                            seed: int = 0):
    """A synthetic HD-MEA recording whose events are known per channel (for HD-MEA mode tests).

    Each channel carries its own Poisson train (``rate`` Hz, 2 ms refractory) of a biphasic spike of
    ``amplitude`` uV trough confined to that channel, in Gaussian noise of ``noise_level`` uV, on a
    square grid of 17.5 um pitch. Generated lazily, so long, many-channel recordings cost no memory.

    Returns
    -------
    recording, true_times
        The recording (uV, float32) and, per channel, the true event (trough) times in seconds.
    """
    from spikeinterface.core import NumpySorting
    from spikeinterface.generation import InjectTemplatesRecording, NoiseGeneratorRecording

    rng = np.random.default_rng(seed)
    fs = float(sampling_frequency)
    n = int(duration * fs)
    nbefore, nafter = int(0.001 * fs), int(0.002 * fs)
    t = np.arange(-nbefore, nafter) / fs * 1000.0  # ms
    shape = -np.exp(-(t / 0.15) ** 2) + 0.35 * np.exp(-((t - 0.5) / 0.3) ** 2)
    shape = (shape / -shape.min() * amplitude).astype(np.float32)
    templates = np.zeros((num_channels, len(t), num_channels), dtype=np.float32)
    templates[np.arange(num_channels), :, np.arange(num_channels)] = shape
    units = {}
    for c in range(num_channels):
        isi = rng.exponential(1.0 / rate, int(rate * duration * 2) + 20) + 0.002
        frames = np.floor(np.cumsum(isi) * fs).astype(np.int64)
        units[c] = frames[(frames >= nbefore) & (frames < n - nafter)]
    sorting = NumpySorting.from_unit_dict([units], sampling_frequency=fs)
    noise = NoiseGeneratorRecording(num_channels=num_channels, sampling_frequency=fs, durations=[n / fs],
                                    noise_levels=noise_level, dtype="float32", seed=seed, strategy="on_the_fly")
    rec = InjectTemplatesRecording(sorting, templates, nbefore=nbefore, parent_recording=noise)
    side = int(np.ceil(np.sqrt(num_channels)))
    k = np.arange(num_channels)
    rec.set_dummy_probe_from_locations(np.column_stack([(k % side) * 17.5, (k // side) * 17.5]))
    return rec, [units[c] / fs for c in range(num_channels)]
