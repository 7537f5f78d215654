"""NWB side of the sorting front end (pynwb only, no SpikeInterface).

Layout of the results
---------------------
Sorted units go into the file's ``units`` table (or, when appending to a file that already has
one, into ``processing/ecephys/<name>``), one row per unit:

- ``spike_times`` (s, on the recording's clock), ``obs_intervals`` (the recorded span),
- ``electrodes``: the ``waveform_channels`` electrodes nearest the unit's best one, best first;
  ``electrode_group``: the group of the best electrode,
- ``waveform_mean`` (units x samples x those electrodes, volts, ``waveform_rate`` = sampling rate)
  when the recording is calibrated; otherwise ``waveform_mean_raw`` in the recording's raw units,
- one column per quality metric (SpikeInterface names), ``passes_curation``, ``sorter_unit_id``,
- the table's ``description`` ends with the :class:`~.params.SortingParams` JSON (and run facts).

HD-MEA mode writes the same table with one row per electrode (id = electrode id) holding that
electrode's threshold-crossing times as ``spike_times``; ``event_type`` is
``"threshold_crossing"`` on every row (these are multi-unit events, not sorted units),
``detection_threshold`` and ``noise_level`` (uV when calibrated) give the threshold used. Nodes of
the downstream graphs are these electrodes, and their positions are in the electrodes table
(``rel_x``, ``rel_y`` in um). A Units table is where every NWB tool looks for spike trains, so
the connectivity step and any reader of NWB use the events with no special case.
"""

from __future__ import annotations

import datetime
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pynwb import NWBFile
from pynwb.file import Subject

from ..io.units import build_units_table
from ..io.write import DEFAULT_SUBJECT as _SUBJECT_UNKNOWN

log = logging.getLogger(__name__)

#: Placeholder Subject for inputs that carry none (override with ``metadata={"subject": {...}}``).
DEFAULT_SUBJECT = {
    **_SUBJECT_UNKNOWN,
    "description": "Placeholder written by nwb_tavrnn sort: the input carried no subject metadata; "
                   "replace with the real subject (subject_id, species, sex, age).",
}


def _version() -> str:
    from .. import __version__

    return __version__


def _start_time(source: str, metadata: Mapping[str, Any]) -> datetime.datetime:
    value = metadata.get("session_start_time")
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    if isinstance(value, str):
        parsed = datetime.datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)
    path = Path(source)
    if path.exists():  # the file's modification time: the best guess a headerless recording offers
        return datetime.datetime.fromtimestamp(path.stat().st_mtime, tz=datetime.timezone.utc).replace(microsecond=0)
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def new_session_nwbfile(source: str, fmt: str, info: Mapping[str, Any], metadata: Mapping[str, Any] | None = None,
                        source_nwb: NWBFile | None = None) -> NWBFile:
    """A new NWBFile: session metadata from ``source_nwb`` when the input is NWB, else defaults.

    ``metadata`` overrides: any NWBFile argument (``session_description``, ``experimenter``, ``lab``,
    ``institution``, ``session_start_time`` ...) and ``subject`` (a dict of Subject arguments).
    """
    metadata = dict(metadata or {})
    metadata.pop("electrode_location", None)
    subject_kwargs = dict(metadata.pop("subject", None) or {})
    if source_nwb is not None:
        from ..io.write import copy_subject, derived_metadata

        kwargs = derived_metadata(source_nwb)
        subject = copy_subject(source_nwb.subject)
        if subject is not None and subject_kwargs:
            from hdmf.utils import get_docval

            names = [d["name"] for d in get_docval(Subject.__init__)]
            base = {n: getattr(subject, n) for n in names if getattr(subject, n, None) is not None}
            subject = Subject(**{**base, **subject_kwargs})
        elif subject is None:
            subject = Subject(**{**DEFAULT_SUBJECT, **subject_kwargs})
    else:
        kwargs = dict(
            session_description=f"Recording {Path(source).name} ({fmt}), spike-sorted by nwb_tavrnn.",
            identifier=str(uuid.uuid4()),
            session_start_time=_start_time(source, metadata),
            source_script=f"nwb_tavrnn {_version()}",
            source_script_file_name="nwb_tavrnn",
            notes=f"Derived by nwb_tavrnn from {source} ({fmt}); recording: {json.dumps(dict(info), default=str)}",
        )
        subject = Subject(**{**DEFAULT_SUBJECT, **subject_kwargs})
    if "session_start_time" in metadata:
        metadata["session_start_time"] = _start_time(source, metadata)
    kwargs.update(metadata)
    nwbfile = NWBFile(**kwargs)
    nwbfile.subject = subject
    return nwbfile


def add_recording_electrodes(nwbfile: NWBFile, channels: Mapping[str, Any], fmt: str,
                             location: str = "unknown") -> tuple[np.ndarray, list]:
    """Add a device, electrode groups and one electrode per channel; return (rows, groups) per channel.

    Electrode ids are the channel ids where these are integers, else 0..N-1 (the original channel
    ids are in the ``channel_name`` column either way); positions go to ``rel_x``/``rel_y`` (um).
    """
    ids = np.asarray(channels["channel_ids"])
    locs = np.asarray(channels["locations"], dtype=float)
    try:
        electrode_ids = np.asarray([int(str(i)) for i in ids], dtype=np.int64)
        if len(np.unique(electrode_ids)) != len(ids):
            raise ValueError
    except ValueError:
        electrode_ids = np.arange(len(ids), dtype=np.int64)
    device = nwbfile.create_device(name=f"{fmt}_device" if fmt != "object" else "recording_device",
                                   description=f"Recording device of the input (read by SpikeInterface as '{fmt}').")
    groups_of = channels["groups"] if channels["groups"] is not None else np.full(len(ids), "0")
    groups = {}
    for g in dict.fromkeys(str(x) for x in groups_of):
        groups[g] = nwbfile.create_electrode_group(name=f"group{g}" if g.isdigit() else g,
                                                   description=f"Electrodes of channel group {g} of the recording.",
                                                   location=location, device=device)
    nwbfile.add_electrode_column(name="channel_name", description="Channel id in the source recording.")
    if channels.get("gains") is not None:
        nwbfile.add_electrode_column(name="gain_to_uV", description="Gain from raw samples to microvolts.")
    start = len(nwbfile.electrodes) if nwbfile.electrodes is not None else 0
    for c in range(len(ids)):
        extra = {"gain_to_uV": float(channels["gains"][c])} if channels.get("gains") is not None else {}
        nwbfile.add_electrode(id=int(electrode_ids[c]), group=groups[str(groups_of[c])], location=location,
                              rel_x=float(locs[c, 0]), rel_y=float(locs[c, 1]), channel_name=str(ids[c]), **extra)
    rows = np.arange(start, start + len(ids), dtype=np.int64)
    return rows, [groups[str(g)] for g in groups_of]


def _int_ids(unit_ids: Sequence) -> np.ndarray:
    try:
        out = np.asarray([int(str(u)) for u in unit_ids], dtype=np.int64)
        if len(np.unique(out)) == len(out):
            return out
    except ValueError:
        pass
    return np.arange(len(unit_ids), dtype=np.int64)


def sorted_units_table(nwbfile: NWBFile, analysis, keep: np.ndarray, passes: np.ndarray, rows: np.ndarray,
                       groups: list, description: str, name: str = "units", obs: tuple[float, float] | None = None):
    """The Units table of sorted units (see the module docstring for its columns)."""
    idx = np.flatnonzero(keep)
    n = len(idx)
    elec = [rows[analysis.channel_indices[u]] for u in idx]
    metrics = analysis.metrics
    extra: dict[str, tuple[str, list]] = {}
    for column in metrics.columns:
        values = metrics[column].to_numpy()[idx]
        if np.issubdtype(values.dtype, np.integer) or (column.endswith(("_count", "num_spikes"))
                                                         and np.all(np.isfinite(values.astype(float)))):
            extra[column] = (f"Quality metric '{column}' (SpikeInterface).", [int(v) for v in values])
        elif np.issubdtype(values.dtype, np.number):
            extra[column] = (f"Quality metric '{column}' (SpikeInterface).", [float(v) for v in values])
    extra["passes_curation"] = ("Whether the unit passes the curation thresholds in the table description.",
                                [bool(v) for v in passes[idx]])
    extra["sorter_unit_id"] = ("Unit id given by the sorter.", [str(analysis.unit_ids[u]) for u in idx])
    units = build_units_table(
        [analysis.spike_times[u] for u in idx], _int_ids(analysis.unit_ids[idx]) if n else [],
        description=description, resolution=1.0 / analysis.sampling_frequency,
        obs_intervals=[np.asarray([obs])] * n if obs is not None else None,
        electrodes=elec, electrode_table=nwbfile.electrodes,
        electrode_groups=[groups[analysis.channel_indices[u][0]] for u in idx], extra_columns=extra,
    )
    waveforms = analysis.templates[idx]
    if analysis.scaled:
        units.waveform_rate = float(analysis.sampling_frequency)
        units.add_column(name="waveform_mean", description="Mean waveform on the unit's electrodes (best first), "
                         f"{analysis.nbefore} samples before the spike time.", data=(waveforms * 1e-6).astype(np.float32))
    else:
        units.add_column(name="waveform_mean_raw", description="Mean waveform on the unit's electrodes (best first) "
                         "in the recording's raw units (the input carried no gain to volts), "
                         f"{analysis.nbefore} samples before the spike time, sampled at "
                         f"{analysis.sampling_frequency:g} Hz.", data=waveforms)
    return units


def events_units_table(nwbfile: NWBFile, events, rows: np.ndarray, groups: list, threshold: float,
                       sampling_frequency: float, description: str, obs: tuple[float, float] | None = None):
    """HD-MEA mode: one row per electrode with its threshold-crossing times (see the module docstring)."""
    n = len(events.event_times)
    electrode_ids = np.asarray(nwbfile.electrodes.id.data[:])[rows]
    noise = events.noise_levels * (events.gains if events.gains is not None else 1.0)
    units_word = "uV" if events.gains is not None else "raw units"
    extra = {
        "event_type": ("What the spike times are: 'threshold_crossing' (per-electrode events, not sorted units).",
                       ["threshold_crossing"] * n),
        "noise_level": (f"Noise level of the electrode's filtered trace ({units_word}; MAD / 0.6745).",
                        [float(v) for v in noise]),
        "detection_threshold": (f"Threshold of the events ({units_word}) = detect_threshold x noise_level.",
                                [float(threshold * v) for v in noise]),
    }
    return build_units_table(
        events.event_times, electrode_ids, description=description, resolution=1.0 / sampling_frequency,
        obs_intervals=[np.asarray([obs])] * n if obs is not None else None,
        electrodes=[[r] for r in rows], electrode_table=nwbfile.electrodes, electrode_groups=list(groups),
        extra_columns=extra,
    )


def attach_units(nwbfile: NWBFile, units, name: str = "units") -> str:
    """Put ``units`` in ``nwbfile.units`` when free (and named "units"), else in processing/ecephys."""
    from ..io.write import MODULE_NAME

    if nwbfile.units is None and name == "units":
        nwbfile.units = units
        return "units"
    units.name = name if name != "units" else "sorted_units"
    if MODULE_NAME in nwbfile.processing:
        module = nwbfile.processing[MODULE_NAME]
    else:
        module = nwbfile.create_processing_module(MODULE_NAME, "Extracellular electrophysiology processing.")
    if units.name in module.data_interfaces:
        from ..errors import OutputFileError

        raise OutputFileError(f"the file already holds processing/{MODULE_NAME}/{units.name}; give another `name`",
                              "name")
    module.add(units)
    return f"processing/{MODULE_NAME}/{units.name}"


def describe(kind: str, params_json: str, facts: Mapping[str, Any]) -> str:
    """Units description: what the rows are, then the parameters and run facts as JSON."""
    return f"{kind} Parameters (JSON): {params_json} Run: {json.dumps(dict(facts), default=str, sort_keys=True)}"


def params_from_description(description: str) -> dict[str, Any]:
    """Read back the parameters stored by :func:`describe`."""
    head, _, rest = description.partition("Parameters (JSON): ")
    text, _, _ = rest.partition(" Run: ")
    return json.loads(text)


__all__ = ["DEFAULT_SUBJECT", "add_recording_electrodes", "attach_units", "describe",
           "events_units_table", "new_session_nwbfile", "params_from_description", "sorted_units_table"]
