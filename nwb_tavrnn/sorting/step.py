"""The sorting step end to end: raw voltage → preprocess → sort (or detect events) → Units in NWB.

:func:`sort` and :func:`detect_events` read any recording SpikeInterface reads (an NWB
ElectricalSeries, Maxwell, BioCam, SpikeGLX, Open Ephys, Intan, headerless binary...) or a recording
object, and write a new NWB file (session metadata carried over from an NWB input) or a copy of the
NWB input with the units added. Work is chunked and parallel (``JobParams``); memory is bounded by
the chunk size, not the recording length. The destination is checked before any work and written
atomically; the input is never modified.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError, OutputFileError
from ..io.files import PathLike, atomic_destination, check_writable, temporary_work_folder
from . import adapter
from .params import DetectionParams, JobParams, ParamsError, SortingParams

log = logging.getLogger(__name__)

SORTED_KIND = "Spike-sorted units (nwb_tavrnn sort, SpikeInterface)."
EVENTS_KIND = ("Threshold-crossing events, one row per electrode (nwb_tavrnn sort, HD-MEA mode): NOT sorted units; "
               "each row's id is its electrode id and its spike_times are that electrode's events.")


@dataclass
class SortingResult:
    """What a sorting run produced (also written to NWB when an output was given).

    Shapes
    ------
    spike_times : units x (spikes_u,) seconds, of the units kept
    metrics : DataFrame, units kept x metrics
    """

    params: SortingParams
    unit_ids: np.ndarray
    spike_times: list[np.ndarray]
    metrics: Any
    passes_curation: np.ndarray
    removed_channels: list
    info: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    output: Path | None = None
    location: str | None = None

    @property
    def num_units(self) -> int:
        return len(self.unit_ids)


@dataclass
class EventsResult:
    """HD-MEA mode results: threshold-crossing times per channel (node ids = electrode ids).

    Shapes
    ------
    event_times : channels x (events_c,) seconds
    noise_levels : (channels,) uV when calibrated, else raw units
    """

    params: DetectionParams
    channel_ids: np.ndarray
    event_times: list[np.ndarray]
    noise_levels: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    output: Path | None = None
    location: str | None = None


def _job_kwargs(job: JobParams | dict | None) -> dict:
    if job is None:
        job = JobParams()
    if isinstance(job, dict):
        job = JobParams.from_dict(job)
    return adapter.job_kwargs_or_env(job.to_job_kwargs())


def _check_mode(mode: str, output: PathLike | None, overwrite: bool) -> None:
    if mode not in ("derived", "append"):
        raise ParamsError(f"mode must be 'derived' or 'append', got {mode!r}")
    if output is not None:
        check_writable(output, overwrite=overwrite)


def _original_indices(loaded: adapter.LoadedRecording, recording) -> np.ndarray:
    ids = list(loaded.recording.channel_ids)
    position = {c: i for i, c in enumerate(ids)}
    return np.asarray([position[c] for c in recording.channel_ids], dtype=np.int64)


def _obs(loaded: adapter.LoadedRecording) -> tuple[float, float]:
    t0 = loaded.info["start_time"]
    return (t0, t0 + loaded.info["duration_s"])


def _load_and_preprocess(source: Any, format: str | None, electrical_series: str | None, segment_index: int | None,
                         reader_options: dict[str, Any] | None, mode: str, preprocessing, job_kwargs: dict):
    """Read the recording (refusing append mode for non-NWB input) and preprocess it lazily.

    Returns the loaded recording, the preprocessed one and the removed channel ids.
    """
    if segment_index is not None and int(segment_index) < 0:
        raise ParamsError(f"segment must be >= 0 (the first segment is 0), got {segment_index}")
    loaded = adapter.load_recording(source, format, electrical_series=electrical_series, segment_index=segment_index,
                                    **(reader_options or {}))
    if mode == "append" and loaded.format != "nwb":
        raise ParamsError("append mode needs an NWB input; write a new file instead (mode='derived')")
    rec, removed = adapter.preprocess(loaded.recording, preprocessing, job_kwargs)
    return loaded, rec, removed


def sort(source: Any, output: PathLike | None = None, params: SortingParams | None = None, *,
         format: str | None = None, reader_options: dict[str, Any] | None = None,
         electrical_series: str | None = None, segment_index: int | None = None, mode: str = "derived",
         name: str = "units", metadata: dict[str, Any] | None = None, job: JobParams | dict | None = None,
         work_folder: PathLike | None = None, overwrite: bool = False, verbose: bool = False) -> SortingResult:
    """Spike-sort a recording and write its units to NWB.

    Parameters
    ----------
    source
        Path of the recording (NWB file with an ElectricalSeries, or any format SpikeInterface
        reads), or a SpikeInterface recording object.
    output
        NWB file to create (None: return the results only).
    params
        :class:`SortingParams` (default: lupin, default preprocessing and curation).
    format, reader_options, electrical_series, segment_index
        See :func:`nwb_tavrnn.sorting.adapter.load_recording`.
    mode
        ``"derived"``: a new file (session metadata, Subject, electrodes and intervals copied from an
        NWB input); ``"append"``: a copy of the NWB input with the units added.
    name
        ``"units"``: the file's Units table; another name (or a file that has units already, in
        append mode): ``processing/ecephys/<name>``.
    metadata
        NWBFile arguments and ``subject`` (dict) overriding what the input provides.
    job
        Chunking and parallelism (:class:`JobParams` or its dict).
    work_folder
        Where sorter files go (a temporary folder inside it, removed afterwards); default system temp.

    Raises
    ------
    InputFileError, ParamsError, OutputFileError, SortingFailed
    """
    params = params or SortingParams()
    _check_mode(mode, output, overwrite)
    adapter.check_sorter(params.sorter)
    job_kwargs = _job_kwargs(job)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    loaded, rec, removed = _load_and_preprocess(source, format, electrical_series, segment_index, reader_options,
                                                mode, params.preprocessing, job_kwargs)
    timings["load_preprocess_s"] = time.perf_counter() - t
    # Named after this process, so the folder of a run killed outright is removed by the next sort.
    tmp = temporary_work_folder("nwb_tavrnn_sort", work_folder)
    try:
        t = time.perf_counter()
        sorting = adapter.run_sorter(rec, params, tmp, job_kwargs, verbose=verbose)
        timings["sorter_s"] = time.perf_counter() - t
        t = time.perf_counter()
        analysis = adapter.analyze(rec, sorting, params, job_kwargs)
        timings["analyzer_s"] = time.perf_counter() - t
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    passes = adapter.curate(analysis.metrics, params.curation)
    keep = passes if params.curation_action == "remove" else np.ones(len(passes), dtype=bool)
    log.info("%d units sorted, %d pass curation, %d kept", len(passes), int(passes.sum()), int(keep.sum()))
    if output is not None and not keep.any():
        # An empty Units table helps nobody downstream (no graph has fewer than 2 nodes): stop, say why.
        raise InputFileError(
            f"{source}: {len(passes)} unit(s) sorted, none kept by curation {params.curation}; nothing was written. "
            "Keep failing units marked (`curation_action='label'`), relax the `curation`, or detect per-electrode "
            "events instead of sorting (`method='hdmea'`, as for HD-MEA chips)",
            ("curation_action='label'", "curation", "method='hdmea'"))
    if len(passes) and not keep.any():
        log.warning("no unit passed curation (%s)", params.curation)
    # channel indices of the analysis are in the preprocessed recording; the file has every input channel
    analysis.channel_indices = _original_indices(loaded, rec)[analysis.channel_indices]
    info = dict(loaded.info, format=loaded.format, source=loaded.source, electrical_series=loaded.electrical_series,
                removed_channels=[str(c) for c in removed], num_units_sorted=len(passes),
                num_units_passing=int(passes.sum()), job=job_kwargs)
    idx = np.flatnonzero(keep)
    result = SortingResult(params, analysis.unit_ids[idx], [analysis.spike_times[i] for i in idx],
                           analysis.metrics.iloc[idx] if len(passes) else analysis.metrics, passes[idx],
                           list(removed), info, timings)
    if output is not None:
        t = time.perf_counter()
        from . import nwb as nwbio

        description = nwbio.describe(SORTED_KIND, params.to_json(), {k: v for k, v in info.items() if k != "job"})

        def build(nwbfile, rows, groups):
            return nwbio.sorted_units_table(nwbfile, analysis, keep, passes, rows, groups, description,
                                            obs=_obs(loaded))

        result.output, result.location = _write(loaded, output, build, mode, name, metadata, overwrite)
        timings["write_s"] = time.perf_counter() - t
    return result


def detect_events(source: Any, output: PathLike | None = None, params: DetectionParams | None = None, *,
                  format: str | None = None, reader_options: dict[str, Any] | None = None,
                  electrical_series: str | None = None, segment_index: int | None = None, mode: str = "derived",
                  name: str = "units", metadata: dict[str, Any] | None = None, job: JobParams | dict | None = None,
                  overwrite: bool = False) -> EventsResult:
    """HD-MEA mode: per-electrode threshold-crossing events as nodes, no sorting.

    Arguments as in :func:`sort`; ``params`` is a :class:`DetectionParams`. Every input channel
    becomes one row (node) of the Units table, bad channels included (their rows may be empty).
    """
    params = params or DetectionParams()
    _check_mode(mode, output, overwrite)
    job_kwargs = _job_kwargs(job)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    loaded, rec, removed = _load_and_preprocess(source, format, electrical_series, segment_index, reader_options,
                                                mode, params.preprocessing, job_kwargs)
    detected = adapter.detect_events(rec, params, job_kwargs)
    timings["detect_s"] = time.perf_counter() - t
    # back to every input channel (a removed channel has no events)
    n = loaded.recording.get_num_channels()
    where = _original_indices(loaded, rec)
    times = [np.zeros(0) for _ in range(n)]
    noise = np.full(n, np.nan)
    gains = None if detected.gains is None else np.full(n, np.nan)
    for j, c in enumerate(where):
        times[c] = detected.event_times[j]
        noise[c] = detected.noise_levels[j]
        if gains is not None:
            gains[c] = detected.gains[j]
    events = adapter.ChannelEvents(times, noise, gains)
    info = dict(loaded.info, format=loaded.format, source=loaded.source, electrical_series=loaded.electrical_series,
                removed_channels=[str(c) for c in removed], num_events=int(sum(len(x) for x in times)), job=job_kwargs)
    result = EventsResult(params, np.asarray(loaded.recording.channel_ids), times,
                          noise * (gains if gains is not None else 1.0), info, timings)
    if output is not None:
        t = time.perf_counter()
        from . import nwb as nwbio

        description = nwbio.describe(EVENTS_KIND, params.to_json(), {k: v for k, v in info.items() if k != "job"})

        def build(nwbfile, rows, groups):
            return nwbio.events_units_table(nwbfile, events, rows, groups, params.detect_threshold,
                                            loaded.info["sampling_frequency"], description, obs=_obs(loaded))

        result.output, result.location = _write(loaded, output, build, mode, name, metadata, overwrite)
        timings["write_s"] = time.perf_counter() - t
    return result


def _write(loaded: adapter.LoadedRecording, output: PathLike, build, mode: str, name: str,
           metadata: dict | None, overwrite: bool) -> tuple[Path, str]:
    """Build the Units with ``build(nwbfile, rows, groups)`` in the right file and write it atomically."""
    from pynwb import NWBHDF5IO

    from ..io.files import open_nwb
    from ..schema import load_namespace
    from . import nwb as nwbio

    load_namespace()
    if loaded.format == "nwb" and mode == "append":
        with atomic_destination(output, overwrite=overwrite, copy_from=loaded.source) as tmp:
            with NWBHDF5IO(str(tmp), "a", load_namespaces=True) as io:
                nwbfile = io.read()
                rows = loaded.electrode_rows
                groups = [nwbfile.electrodes["group"].data[int(r)] for r in rows]
                location = nwbio.attach_units(nwbfile, build(nwbfile, rows, groups), name)
                io.write(nwbfile, cache_spec=True)
        log.info("appended %s to a copy of %s: %s", location, loaded.source, output)
        return Path(output), location
    if loaded.format == "nwb":
        from ..io.write import copy_electrodes, copy_intervals
        from ..schema import SourceFileReference

        with open_nwb(loaded.source) as source:
            nwbfile = nwbio.new_session_nwbfile(loaded.source, "nwb", loaded.info, metadata, source_nwb=source)
            copy_electrodes(source, nwbfile)
            copy_intervals(source, nwbfile)
            copied = {"nwbfile": source.object_id}
            for key in ("electrodes", "subject", "epochs", "trials"):
                if getattr(source, key, None) is not None:
                    copied[key] = getattr(source, key).object_id
            nwbfile.add_lab_meta_data(SourceFileReference(
                source_identifier=source.identifier, source_object_id=source.object_id,
                source_path=str(loaded.source), copied_objects=copied))
            if nwbfile.electrodes is None or len(nwbfile.electrodes) <= int(loaded.electrode_rows.max()):
                raise InputFileError(f"{loaded.source}: the ElectricalSeries points to electrodes the file lacks")
            rows = loaded.electrode_rows
            groups = [nwbfile.electrodes["group"].data[int(r)] for r in rows]
            location = nwbio.attach_units(nwbfile, build(nwbfile, rows, groups), name)
            _write_new(nwbfile, output, overwrite)
        return Path(output), location
    nwbfile = nwbio.new_session_nwbfile(loaded.source, loaded.format, loaded.info, metadata)
    rows, groups = nwbio.add_recording_electrodes(nwbfile, adapter.channel_info(loaded.recording), loaded.format,
                                                  location=(metadata or {}).get("electrode_location", "unknown"))
    location = nwbio.attach_units(nwbfile, build(nwbfile, rows, groups), name)
    _write_new(nwbfile, output, overwrite)
    return Path(output), location


def _write_new(nwbfile, output: PathLike, overwrite: bool) -> None:
    from pynwb import NWBHDF5IO

    with atomic_destination(output, overwrite=overwrite) as tmp:
        with NWBHDF5IO(str(tmp), "w") as io:
            io.write(nwbfile, cache_spec=True)
    log.info("wrote %s", output)


def write_recording_nwb(recording, path: PathLike, *, overwrite: bool = False, metadata: dict | None = None,
                        name: str = "ElectricalSeries") -> Path:
    """Write a SpikeInterface recording as an NWB ElectricalSeries (chunked; for tests and demos).

    Raw samples are stored with ``conversion`` = gain to volts when the recording is calibrated.
    """
    from hdmf.backends.hdf5.h5_utils import H5DataIO
    from pynwb.ecephys import ElectricalSeries

    from . import nwb as nwbio

    info = {"sampling_frequency": recording.get_sampling_frequency(), "num_channels": recording.get_num_channels()}
    nwbfile = nwbio.new_session_nwbfile(f"{type(recording).__name__}", "object", info,
                                        {"session_description": "Raw voltage written by nwb_tavrnn.", **(metadata or {})})
    rows, _ = nwbio.add_recording_electrodes(nwbfile, adapter.channel_info(recording), "object")
    region = nwbfile.create_electrode_table_region(list(map(int, rows)), "the recorded electrodes")
    uniform = recording.has_scaleable_traces() and np.allclose(recording.get_channel_gains(),
                                                               recording.get_channel_gains()[0]) \
        and not np.any(recording.get_channel_offsets())
    if uniform:  # raw samples, one gain for all: stored as they are
        conversion, in_uv = float(recording.get_channel_gains()[0]) * 1e-6, False
    else:  # per-channel gains are scaled to uV here; an uncalibrated recording is taken to be in uV
        conversion, in_uv = 1e-6, bool(recording.has_scaleable_traces())
    data = adapter.traces_iterator(recording, return_in_uV=in_uv)
    nwbfile.add_acquisition(ElectricalSeries(
        name=name, data=H5DataIO(data, compression="gzip"), electrodes=region,
        rate=float(recording.get_sampling_frequency()), starting_time=float(recording.get_start_time(0)),
        conversion=conversion, description="Raw voltage of the recording."))
    _write_new(nwbfile, path, overwrite)
    return Path(path)


def check_output(output: PathLike | None, overwrite: bool) -> None:
    """Raise :class:`OutputFileError` early when ``output`` cannot be written."""
    if output is None:
        raise OutputFileError("give an OUTPUT file")
    check_writable(output, overwrite)
