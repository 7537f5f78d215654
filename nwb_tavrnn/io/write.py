"""Write results back to NWB: as a self-contained derived file, appended to a copy, or in place.

A derived file carries what its results refer to (session metadata, Subject, devices, electrode
groups, electrodes, Units, intervals tables) and records the source file's identity in a
:class:`~nwb_tavrnn.schema.SourceFileReference`, because DANDI refuses external links. Results go
into the ``ecephys`` processing module. All writes are atomic (see :mod:`.files`).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
from hdmf.utils import get_docval
from pynwb import NWBHDF5IO, NWBFile
from pynwb.core import NWBDataInterface
from pynwb.ecephys import ElectrodeGroup
from pynwb.epoch import TimeIntervals
from pynwb.file import Subject

from ..errors import InputFileError, OutputFileError
from .files import PathLike, atomic_destination, check_readable_nwb, check_writable, refuse_source_as_destination
from .read import is_inside, ragged_rows
from .units import build_units_table

log = logging.getLogger(__name__)

MODULE_NAME = "ecephys"
MODULE_DESCRIPTION = "Dynamic connectivity graphs and latent embeddings computed from spike trains by nwb_tavrnn."


def _version() -> str:
    from .. import __version__

    return __version__


def _scalar(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _is_simple(value) -> bool:
    value = _scalar(value)
    return isinstance(value, (str, int, float, bool)) and not (isinstance(value, float) and np.isnan(value))


def derived_metadata(source: NWBFile) -> dict:
    kwargs = dict(
        session_description=source.session_description,
        identifier=str(uuid.uuid4()),
        session_start_time=source.session_start_time,
        timestamps_reference_time=source.timestamps_reference_time,
        source_script=f"nwb_tavrnn {_version()}",
        source_script_file_name="nwb_tavrnn",
        notes=f"Derived by nwb_tavrnn from the NWB file with identifier {source.identifier}.",
    )
    for key in ("experimenter", "experiment_description", "session_id", "institution", "lab", "keywords",
                "related_publications", "protocol"):
        value = getattr(source, key, None)
        if value is not None:
            kwargs[key] = [_scalar(v) for v in value] if isinstance(value, (tuple, list, np.ndarray)) else value
    return kwargs


#: Placeholder Subject for inputs that carry none (NWB best practice asks for one; DANDI needs it).
DEFAULT_SUBJECT = {
    "subject_id": "unknown",
    "species": "http://purl.obolibrary.org/obo/NCBITaxon_1",  # NCBI taxonomy root: organism not given
    "sex": "U",
    "age": "P0D/",
}


def placeholder_subject(why: str) -> Subject:
    """A Subject saying that nothing is known about the subject, and why (its description)."""
    return Subject(**DEFAULT_SUBJECT, description=f"Placeholder written by nwb_tavrnn: {why}")


def copy_subject(subject: Subject | None) -> Subject | None:
    if subject is None:
        return None
    names = [d["name"] for d in get_docval(Subject.__init__)]
    kwargs = {n: _scalar(getattr(subject, n, None)) for n in names if getattr(subject, n, None) is not None}
    return Subject(**kwargs)


def copy_electrodes(source: NWBFile, derived: NWBFile) -> dict[str, ElectrodeGroup]:
    """Copy devices, electrode groups and the electrodes table; return the new groups by name."""
    devices = {}
    for name, device in source.devices.items():
        extra = {"manufacturer": device.manufacturer} if getattr(device, "manufacturer", None) else {}
        devices[name] = derived.create_device(name=name, description=device.description, **extra)
    groups = {}
    for name, group in source.electrode_groups.items():
        device = devices.get(group.device.name) if group.device is not None else None
        if device is None:
            device = derived.create_device(name=f"{name}_device", description="device of electrode group " + name)
        groups[name] = derived.create_electrode_group(
            name=name, description=group.description or "no description", location=group.location or "unknown",
            device=device, position=getattr(group, "position", None),
        )
    if source.electrodes is None or len(source.electrodes) == 0:
        return groups
    table = source.electrodes
    builtin = {d["name"] for d in get_docval(NWBFile.add_electrode)}
    df = table.to_dataframe()
    extra = [c for c in df.columns if c not in builtin and c != "group_name" and df[c].map(_is_simple).all()]
    for column in extra:
        derived.add_electrode_column(name=column, description=table[column].description or column)
    skipped = [c for c in df.columns if c not in builtin and c != "group_name" and c not in extra]
    if skipped:
        log.info("electrodes columns not copied (not simple values): %s", skipped)
    for eid, row in df.iterrows():
        kwargs = {k: _scalar(row[k]) for k in df.columns if k in builtin and k != "group" and _is_simple(row[k])}
        kwargs.update({c: _scalar(row[c]) for c in extra})
        kwargs["location"] = kwargs.get("location", "unknown")
        derived.add_electrode(group=groups[row["group"].name], id=int(eid), **kwargs)
    return groups


def estimate_resolution(spike_times: Sequence[np.ndarray]) -> float | None:
    """Smallest positive difference between any two spike times: an upper bound on the resolution.

    Used only when a source file leaves ``Units.resolution`` unset, which nwbinspector (rightly)
    flags; the true value is 1 / sampling rate of the recording system.
    """
    flat = np.unique(np.concatenate([np.asarray(t, dtype=np.float64) for t in spike_times] or [np.zeros(0)]))
    steps = np.diff(flat)
    steps = steps[steps > 0]
    return float(steps.min()) if steps.size else None


def copy_units(source: NWBFile, derived: NWBFile, groups: dict[str, ElectrodeGroup]) -> None:
    units = source.units
    if units is None:
        return
    colnames = set(units.colnames)
    n = len(units)
    spike_times = ragged_rows(units, "spike_times") if "spike_times" in colnames else [np.zeros(0)] * n
    resolution = units.resolution
    if resolution is None or not resolution > 0:
        resolution = estimate_resolution(spike_times)
        if resolution is not None:
            log.info("source Units have no resolution; using the smallest spike-time difference, %g s", resolution)
    builtin = {d["name"] for d in get_docval(NWBFile.add_unit)}
    extra = {}
    for name in units.colnames:
        column = units[name]
        if name in builtin or name.endswith("_index") or hasattr(column, "target") or hasattr(column, "table"):
            continue
        values = column.data[:]
        if all(_is_simple(v) for v in values):
            extra[name] = (column.description or name, [_scalar(v) for v in values])
        else:
            log.info("Units column %r not copied (not simple values)", name)
    has_electrodes = "electrodes" in colnames and derived.electrodes is not None
    derived.units = build_units_table(
        spike_times,
        np.asarray(units.id.data[:]),
        description=units.description or "units copied from the source file",
        resolution=resolution,
        obs_intervals=ragged_rows(units, "obs_intervals") if "obs_intervals" in colnames else None,
        # electrodes are copied whole and in order, so a row index means the same electrode in both
        electrodes=ragged_rows(units, "electrodes") if has_electrodes else None,
        electrode_table=derived.electrodes if has_electrodes else None,
        electrode_groups=[groups[g.name] for g in units["electrode_group"][:]] if "electrode_group" in colnames else None,
        extra_columns=extra,
    )


def copy_intervals(source: NWBFile, derived: NWBFile) -> None:
    standard = {"epochs": source.epochs, "trials": source.trials, "invalid_times": source.invalid_times}
    tables = {k: v for k, v in standard.items() if v is not None}
    tables.update({k: v for k, v in source.intervals.items() if k not in tables})
    for name, table in tables.items():
        new = TimeIntervals(name=name, description=table.description or name)
        df = table.to_dataframe()
        columns = [c for c in df.columns if c not in ("start_time", "stop_time", "timeseries")
                   and df[c].map(_is_simple).all()]
        for column in columns:
            new.add_column(name=column, description=table[column].description or column)
        for _, row in df.iterrows():
            new.add_interval(start_time=float(row["start_time"]), stop_time=float(row["stop_time"]),
                             **{c: _scalar(row[c]) for c in columns})
        if name in standard:
            setattr(derived, name, new)
        else:
            derived.add_time_intervals(new)


def copy_behavior(source: NWBFile, derived: NWBFile) -> None:
    """Copy the behavioural time series (the 'behavior' module) so labels can come from them later.

    Series nested in containers (e.g. Position) are copied flat, named by their path in the module.
    """
    from pynwb import TimeSeries

    if "behavior" not in source.processing:
        return
    module = source.processing["behavior"]
    series = [o for o in source.objects.values() if isinstance(o, TimeSeries) and is_inside(o, module)]
    if not series:
        return
    target = derived.create_processing_module("behavior", module.description or "behavioural data")
    for ts in series:
        name = ts.name if ts.parent is module else f"{ts.parent.name}_{ts.name}"
        timing = ({"timestamps": np.asarray(ts.timestamps[()])} if ts.timestamps is not None
                  else {"rate": float(ts.rate), "starting_time": float(ts.starting_time or 0.0)})
        target.add(TimeSeries(name=name, data=np.asarray(ts.data[()]), unit=ts.unit,
                              description=ts.description or name, **timing))


def attach_node_region(obj: NWBDataInterface, nwbfile: NWBFile, node_table: str = "units") -> None:
    """Give ``obj`` a ``node_region`` into the ``node_table`` of ``nwbfile``, matching ``node_ids``.

    Objects that already have a region, or have no ``node_region`` field, are left alone.

    Raises
    ------
    InputFileError
        If the table is missing or lacks some of the node ids.
    """
    if not hasattr(obj, "node_region") or obj.node_region is not None:
        return
    table = _node_table(nwbfile, node_table)
    if table is None:
        raise InputFileError(f"cannot link {obj.name} to the {node_table} table: the file has none")
    row_of = {int(i): r for r, i in enumerate(np.asarray(table.id.data[:]))}
    ids = np.asarray(obj.node_ids[:])
    missing = [int(i) for i in ids if int(i) not in row_of]
    if missing:
        raise InputFileError(f"{obj.name}: node ids {missing[:10]} are not in the {node_table} table")
    obj.node_region = table.create_region(
        name="node_region", region=[row_of[int(i)] for i in ids], description=f"the {node_table} the nodes stand for"
    )


def _node_table(nwbfile: NWBFile, node_table: str):
    """The table node ids refer to: Units, electrodes, or (``ophys:PATH``) the PlaneSegmentation of
    the ROI series at PATH."""
    if node_table.startswith("ophys:"):
        from .roi_series import roi_series_at

        series = roi_series_at(nwbfile, node_table.split(":", 1)[1])
        return series.rois.table if series is not None else None
    return nwbfile.units if node_table == "units" else nwbfile.electrodes


#: How a name clash is resolved, said by every step whose objects take a name prefix.
RENAME_HINT = "give the result another name (a `name_prefix` keeps both)"


def add_results(nwbfile: NWBFile, objects: Sequence[NWBDataInterface], node_table: str = "units",
                module_name: str = MODULE_NAME, module_description: str = MODULE_DESCRIPTION) -> None:
    """Add our objects to the ``ecephys`` module (or ``module_name``) of an open file (not yet written).

    Raises
    ------
    OutputFileError
        If the module already holds an object of the same name.
    """
    if not objects:  # nothing for the module (e.g. a builder that added an intervals table)
        return
    if module_name in nwbfile.processing:
        module = nwbfile.processing[module_name]
    else:
        module = nwbfile.create_processing_module(module_name, module_description)
    for obj in objects:
        if obj.name in module.data_interfaces:
            raise OutputFileError(
                f"the file already holds an object named {obj.name!r} in processing/{module_name}; {RENAME_HINT}",
                "name_prefix")
        attach_node_region(obj, nwbfile, node_table)
        module.add(obj)


def module_for(node_table: str) -> str:
    """The processing module results over these nodes go to: ``ophys`` beside ROI traces, else ``ecephys``."""
    return "ophys" if node_table.startswith("ophys:") else MODULE_NAME


def module_of(obj) -> str:
    """The processing module an object of an open file sits in (``ecephys`` when not in one)."""
    from pynwb.base import ProcessingModule

    parent = getattr(obj, "parent", None)
    return parent.name if isinstance(parent, ProcessingModule) else MODULE_NAME


def build_derived_nwbfile(
    source: NWBFile, objects: Iterable[NWBDataInterface] = (), source_path: str | None = None,
    node_table: str = "units",
) -> NWBFile:
    """Build (in memory) a self-contained derived NWBFile holding ``objects``."""
    from ..schema import SourceFileReference

    derived = NWBFile(**derived_metadata(source))
    derived.subject = copy_subject(source.subject) or placeholder_subject(
        "the source file carried no subject metadata; replace with the real subject.")
    groups = copy_electrodes(source, derived)
    copy_units(source, derived, groups)
    copy_intervals(source, derived)
    copy_behavior(source, derived)
    if node_table.startswith("ophys:"):  # the ROIs the nodes stand for, and the traces they were computed on
        from .roi_copy import copy_roi_series

        copy_roi_series(source, derived, node_table.split(":", 1)[1])
    copied = {"nwbfile": source.object_id}
    for key in ("units", "electrodes", "subject", "epochs", "trials"):
        if getattr(source, key, None) is not None:
            copied[key] = getattr(source, key).object_id
    derived.add_lab_meta_data(
        SourceFileReference(
            source_identifier=source.identifier, source_object_id=source.object_id,
            source_path=str(source_path) if source_path else None, copied_objects=copied,
        )
    )
    module = module_for(node_table)
    add_results(derived, list(objects), node_table, module, MODULE_DESCRIPTION if module == MODULE_NAME else
                "Optical physiology: imaging planes, ROI traces and the graphs nwb_tavrnn computed from them.")
    return derived


def write_derived(
    source: NWBFile, destination: PathLike, objects: Iterable[NWBDataInterface] = (), *,
    source_path: str | None = None, node_table: str = "units", overwrite: bool = False,
    fill: Callable[[Path], None] | None = None,
) -> Path:
    """Write ``objects`` into a new self-contained NWB file derived from ``source``.

    Parameters
    ----------
    source
        The open source file (never modified).
    destination
        Path of the new file; written atomically.
    objects
        Our containers (DynamicConnectivity, NodeEmbeddings, ...); any without a ``node_region``
        get one into the copied ``node_table`` ("units", "electrodes" or "ophys:PATH", the
        PlaneSegmentation of the ROI series at PATH, copied with that series) by their ``node_ids``.
    fill
        Called with the path of the complete temporary file before it is moved into place: fills
        datasets created empty (``H5DataIO(data=None, shape=..., dtype=...)``) as results are
        computed, so results larger than memory stream to disk and a failure still leaves nothing.
    """
    from ..schema import load_namespace

    load_namespace()
    refuse_source_as_destination(source_path, destination)
    check_writable(destination, overwrite)
    derived = build_derived_nwbfile(source, objects, source_path=source_path, node_table=node_table)
    with atomic_destination(destination, overwrite=overwrite) as tmp:
        with NWBHDF5IO(str(tmp), "w") as io:
            io.write(derived, cache_spec=True)
        if fill is not None:
            fill(tmp)
    log.info("wrote derived file %s", destination)
    return Path(destination)


#: Private working files of a run (see :func:`working_file`), by real path.
_WORKING_FILES: set[str] = set()


@contextmanager
def working_file(path: PathLike) -> Iterator[Path]:
    """Within the block, results added in place to ``path`` are written into it directly.

    For a run's private temporary file, which is moved into place atomically once every step has
    written to it (:func:`nwb_tavrnn.pipeline.run_pipeline`): a copy per step to keep each step
    atomic would write the whole file once per step, and on a failure the whole file is discarded
    anyway.
    """
    key = os.path.realpath(path)
    _WORKING_FILES.add(key)
    try:
        yield Path(path)
    finally:
        _WORKING_FILES.discard(key)


def append_results(
    source_path: PathLike,
    objects: Iterable[NWBDataInterface] | Callable[[NWBFile], Iterable[NWBDataInterface]],
    destination: PathLike | None = None, *,
    in_place: bool = False, node_table: str = "units", overwrite: bool = False,
    fill: Callable[[Path], None] | None = None, module_name: str = MODULE_NAME,
    module_description: str = MODULE_DESCRIPTION,
) -> Path:
    """Add ``objects`` to a copy of ``source_path`` at ``destination``, or to the source itself.

    The source is changed only with ``in_place=True``, and then atomically: the objects are added
    to a temporary copy that replaces the source only once fully written. ``objects`` may be a
    function of the re-read copy returning the objects, for objects that link to ones already in
    the file. ``fill`` is as in :func:`write_derived`.
    """
    from ..schema import load_namespace

    load_namespace()
    source_path = check_readable_nwb(source_path)
    if in_place:
        if destination is not None and Path(destination).resolve() != source_path.resolve():
            raise OutputFileError("in-place writing takes no separate destination")
        # the file itself, not a symbolic link to it (replacing the link would leave the file as it was)
        destination, overwrite = Path(os.path.realpath(source_path)), True
    elif destination is None:
        raise OutputFileError("give a destination path, or ask for in-place writing explicitly")
    else:
        refuse_source_as_destination(source_path, destination)
    direct = in_place and os.path.realpath(source_path) in _WORKING_FILES
    with (nullcontext(source_path) if direct else
          atomic_destination(destination, overwrite=overwrite, copy_from=source_path)) as tmp:
        if in_place and not direct:
            os.chmod(tmp, source_path.stat().st_mode)
        with NWBHDF5IO(str(tmp), "a", load_namespaces=True) as io:
            nwbfile = io.read()
            # A builder makes objects that link to objects of the file being written (a link into
            # the source would be an external link, which DANDI refuses).
            built = objects(nwbfile) if callable(objects) else objects
            add_results(nwbfile, [o for o in built if o is not None], node_table, module_name, module_description)
            if not in_place and "source_file" not in nwbfile.lab_meta_data:
                # A copy says what it was copied from, so that `validate` can tell the problems it
                # inherited from those its writing introduced (a reference already there names the
                # file this one's contents came from first, and stays).
                from ..schema import SourceFileReference

                nwbfile.add_lab_meta_data(SourceFileReference(
                    description="the file this one is a copy of, with nwb_tavrnn's results added",
                    source_identifier=nwbfile.identifier, source_object_id=nwbfile.object_id,
                    source_path=os.path.abspath(source_path)))
            io.write(nwbfile, cache_spec=True)
        if fill is not None:
            fill(tmp)
    log.info("wrote %s", destination)
    return Path(destination)
