"""Opening raw recordings with SpikeInterface's readers: part of the adapter (:mod:`.adapter`).

SpikeInterface is imported inside the functions, so importing this module never loads it. Errors
from the readers are turned into one-line :class:`~nwb_tavrnn.errors.InputFileError` here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError
from ._spikeinterface import _short, spikeinterface_version
from .params import check_reader_options

# the adapter's logger: the readers' messages keep the name they had inside .adapter
log = logging.getLogger(__package__ + ".adapter")

#: ``--format`` name -> (SpikeInterface reader, what it reads).
FORMATS: dict[str, str] = {
    "nwb": "read_nwb_recording",
    "binary": "read_binary",
    "biocam": "read_biocam",
    "maxwell": "read_maxwell",
    "spikeglx": "read_spikeglx",
    "openephys": "read_openephys",
    "intan": "read_intan",
    "mearec": "read_mearec",
    "blackrock": "read_blackrock",
    "neuralynx": "read_neuralynx",
    "mcsh5": "read_mcsh5",
    "mcsraw": "read_mcsraw",
    "plexon": "read_plexon",
    "spikegadgets": "read_spikegadgets",
    "zarr": "read_zarr",
}

_SUFFIXES = {".nwb": "nwb", ".brw": "biocam", ".bxr": "biocam", ".rhd": "intan", ".rhs": "intan",
             ".mcd": "mcsraw", ".ns5": "blackrock", ".ns6": "blackrock", ".rec": "spikegadgets",
             ".zarr": "zarr", ".bin": "binary", ".dat": "binary", ".raw": "binary"}


def guess_format(path: Path) -> str | None:
    """Format name from a path's suffix or folder contents, or None."""
    name = path.name.lower()
    if name.endswith(".raw.h5"):
        return "maxwell"
    if path.is_dir():
        if any(path.glob("*.ap.meta")) or any(path.glob("*/*.ap.meta")) or any(path.glob("*.meta")):
            return "spikeglx"
        if any(path.glob("**/structure.oebin")) or any(path.glob("**/settings.xml")):
            return "openephys"
        return None
    return _SUFFIXES.get(path.suffix.lower())


@dataclass
class LoadedRecording:
    """A recording and where it came from.

    Attributes
    ----------
    recording
        A single-segment SpikeInterface recording.
    format
        Reader used (``"object"`` for a recording passed in).
    source
        Path (or description) of the input.
    electrical_series
        For NWB input, the path of the ElectricalSeries read.
    electrode_rows
        For NWB input, the electrodes-table row of each channel.
    """

    recording: Any
    format: str
    source: str
    electrical_series: str | None = None
    electrode_rows: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)


def find_electrical_series(path: Path) -> list[str]:
    """Paths of every ElectricalSeries in an NWB file (acquisition and processing), via h5py."""
    import h5py

    found: list[str] = []

    def visit(name, obj):
        if isinstance(obj, h5py.Group) and obj.attrs.get("neurodata_type") in (b"ElectricalSeries", "ElectricalSeries"):
            found.append(name)

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return sorted(found, key=lambda p: (not p.startswith("acquisition"), p))


def _electrode_rows(path: Path, series_path: str) -> np.ndarray:
    import h5py

    with h5py.File(path, "r") as f:
        return np.asarray(f[series_path]["electrodes"][:], dtype=np.int64)


def load_recording(source: Any, format: str | None = None, *, electrical_series: str | None = None,
                   segment_index: int | None = None, **options: Any) -> LoadedRecording:
    """Open a recording with the SpikeInterface reader of ``format`` (guessed from the path if None).

    Parameters
    ----------
    source
        A path, or a SpikeInterface ``BaseRecording`` (used as is).
    format
        A key of :data:`FORMATS`, or the name of any ``spikeinterface.extractors.read_*`` function
        without ``read_``.
    electrical_series
        NWB input: path of the ElectricalSeries in the file (default: the only one, or the first in
        acquisition).
    segment_index
        Multi-segment recordings: the segment to use (required when there are several).
    options
        Passed to the reader (e.g. binary: ``sampling_frequency``, ``num_channels``, ``dtype``,
        ``gain_to_uV``, ``offset_to_uV``, ``time_axis``, ``file_offset``; biocam: ``mea_pitch``...).

    Raises
    ------
    InputFileError
        Missing file, unknown format, unreadable data, no ElectricalSeries, zero channels or samples.
    """
    from spikeinterface.core import BaseRecording

    check_reader_options(options)
    if isinstance(source, BaseRecording):
        loaded = LoadedRecording(source, "object", f"{type(source).__name__} object")
    else:
        path = Path(source)
        if not path.exists():
            raise InputFileError(f"{path}: no such file or folder")
        fmt = (format or guess_format(path) or "").lower().replace("-", "").replace("_", "")
        if not fmt:
            from ..importers import IMPORTERS, recognise

            known = recognise(path)
            if known:
                raise InputFileError(f"{path}: holds the {known} layout, not a raw recording; convert it first: "
                                     f"nwb-tavrnn import {known} {path} OUT.nwb ({IMPORTERS[known].description})")
            raise InputFileError(f"{path}: cannot tell the recording format from the name; give the `format` "
                                 f"(one of {', '.join(sorted(FORMATS))})", "format")
        if fmt == "nwb":
            loaded = _load_nwb(path, electrical_series, options)
        else:
            loaded = _load_other(path, fmt, options)
    return _checked(loaded, segment_index)


def _load_nwb(path: Path, series: str | None, options: dict) -> LoadedRecording:
    from spikeinterface.extractors import read_nwb_recording

    from ..io.files import check_readable_nwb

    check_readable_nwb(path)
    found = find_electrical_series(path)
    if not found:
        raise InputFileError(f"{path}: no ElectricalSeries (raw voltage) in the file; nothing to sort")
    if series is None:
        series = found[0]
        if len(found) > 1:
            log.info("%s holds %d ElectricalSeries; using %s (choose with electrical_series=)", path, len(found), series)
    series = series.strip("/")
    if series not in found:
        raise InputFileError(f"{path}: no ElectricalSeries at {series!r}; the file has: {', '.join(found)}")
    try:
        rec = read_nwb_recording(path, electrical_series_path=series, **options)
    except Exception as err:  # noqa: BLE001  readers raise many types on malformed files
        raise InputFileError(f"{path}: cannot read {series} ({type(err).__name__}: {_short(err)})") from None
    return LoadedRecording(rec, "nwb", str(path), electrical_series=series,
                           electrode_rows=_electrode_rows(path, series))


def _load_other(path: Path, fmt: str, options: dict) -> LoadedRecording:
    import spikeinterface.extractors as se

    name = FORMATS.get(fmt, f"read_{fmt}")
    reader = getattr(se, name, None)
    if reader is None and fmt == "binary":
        from spikeinterface.core import read_binary as reader
    if reader is None:
        raise InputFileError(f"unknown recording format {fmt!r}; known: {', '.join(sorted(FORMATS))} "
                             "(or any spikeinterface.extractors.read_<format>)")
    kwargs = dict(options)
    if fmt == "binary":
        missing = [k for k in ("sampling_frequency", "num_channels", "dtype") if kwargs.get(k) is None]
        if missing:
            raise InputFileError(f"{path}: a headerless binary file needs {', '.join(f'`{k}`' for k in missing)}",
                                 tuple(missing))
        if int(kwargs["num_channels"]) < 1:
            raise InputFileError(f"{path}: num_channels must be at least 1")
        kwargs["file_paths"] = [str(path)]
    else:
        kwargs["file_path" if not path.is_dir() or fmt not in ("spikeglx", "openephys") else "folder_path"] = str(path)
    try:
        rec = reader(**kwargs)
    except TypeError as err:
        raise InputFileError(f"{path}: bad options for the {fmt} reader ({_short(err)})") from None
    except Exception as err:  # noqa: BLE001
        raise InputFileError(f"{path}: not readable as {fmt} ({type(err).__name__}: {_short(err)})") from None
    return LoadedRecording(rec, fmt, str(path))


def _checked(loaded: LoadedRecording, segment_index: int | None) -> LoadedRecording:
    rec = loaded.recording
    if rec.get_num_channels() == 0:
        raise InputFileError(f"{loaded.source}: the recording has no channels")
    if segment_index is not None and not 0 <= int(segment_index) < rec.get_num_segments():
        raise InputFileError(f"{loaded.source}: segment {segment_index} does not exist; the recording has "
                             f"{rec.get_num_segments()} (0 to {rec.get_num_segments() - 1})")
    if rec.get_num_segments() > 1:
        if segment_index is None:
            raise InputFileError(f"{loaded.source}: the recording has {rec.get_num_segments()} segments; "
                                 "choose one (`segment_index`)", "segment_index")
        rec = rec.select_segments([int(segment_index)])
    if rec.get_num_samples(0) == 0:
        raise InputFileError(f"{loaded.source}: the recording has zero duration")
    if not rec.has_probe():
        # Sorters need positions: a linear layout, 20 um apart, stands in when the format has none.
        locations = np.column_stack([np.zeros(rec.get_num_channels()), 20.0 * np.arange(rec.get_num_channels())])
        rec = rec.select_channels(rec.channel_ids)  # a view, so a recording passed in is left untouched
        rec.set_dummy_probe_from_locations(locations)
        loaded.info["dummy_positions"] = "no electrode positions in the input: a linear layout with 20 um pitch"
        log.info("%s: no electrode positions; using a linear layout with 20 um pitch", loaded.source)
    loaded.recording = rec
    loaded.info.update(sampling_frequency=float(rec.get_sampling_frequency()), num_channels=int(rec.get_num_channels()),
                       num_samples=int(rec.get_num_samples(0)), duration_s=float(rec.get_total_duration()),
                       start_time=float(rec.get_start_time(0)), scaled_to_uV=bool(rec.has_scaleable_traces()),
                       reader=type(rec).__name__, spikeinterface=spikeinterface_version())
    return loaded


def channel_info(recording) -> dict[str, Any]:
    """Per-channel ids, positions (um), groups and gains, as plain arrays.

    Shapes
    ------
    locations : (channels, 2 or 3)
    """
    ids = np.asarray(recording.channel_ids)
    groups = recording.get_property("group")
    if groups is None:
        groups = recording.get_property("group_name")
    gains = recording.get_channel_gains() if recording.has_scaleable_traces() else None
    return {"channel_ids": ids, "locations": np.asarray(recording.get_channel_locations(), dtype=float),
            "groups": None if groups is None else np.asarray(groups).astype(str),
            "brain_area": recording.get_property("brain_area"), "gains": gains}


__all__ = ["FORMATS", "LoadedRecording", "channel_info", "find_electrical_series", "guess_format", "load_recording"]
