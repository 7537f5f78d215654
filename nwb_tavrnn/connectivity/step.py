"""The connectivity step end to end: spike trains or ROI traces from an NWB file → DynamicConnectivity in NWB.

Windows are sliding by default, or taken from an intervals table (one per row, or one per run of
rows sharing a label, as in the paper's rat analysis), optionally restricted to some intervals.
Graphs are streamed into compressed, chunked datasets as they are computed, so memory depends on
the chunk and the node count, not on the recording length. The step's parameters (and how nodes
and windows were chosen) are stored beside the results, in the object's ``parameters`` attribute.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputFileError, NwbTavrnnError, require
from ..io.files import PathLike, check_writable, open_nwb
from ..io.intervals import intervals_table, label_run_windows, parse_table_spec, restriction_spec_ranges
from ..io.read import read_intervals
from ..io.spike_trains import SpikeTrains, is_traces
from ..io.write import append_results, module_for, write_derived
from ..params import Check, at_least, check, param
from .compute import ConnectivityParams, check_params_for_nodes, iter_dynamic_connectivity, plan_windows
from .nodes import NodeOptions
from .windows import Windows, sliding_windows_in_ranges

log = logging.getLogger(__name__)

#: Target size of one HDF5 chunk of the graph datasets (DESIGN: chunks of ~1-10 MB).
CHUNK_BYTES = 4 * 1024 * 1024


def _time_range(value: Any) -> bool:
    return value is None or (isinstance(value, (list, tuple)) and len(value) == 2
                             and float(value[1]) > float(value[0]))


@dataclass
class ConnectivityOptions:
    """How the connectivity step chooses its windows and nodes, and names what it writes (the
    keyword arguments of :func:`run_connectivity` beside the parameters and the nodes)."""

    windows_from: str | None = param(None, metavar="TABLE[:COLUMN]", group="binning and windows",
                                     help="one window per interval of TABLE, or per run of equal COLUMN values")
    restrict_to: str | None = param(None, metavar="TABLE[:COLUMN=VALUE]", group="binning and windows",
                                    help="slide windows only inside these intervals")
    time_range: tuple[float, float] | None = param(
        None, parse=float, nargs=2, metavar=("START", "STOP"), group="binning and windows",
        check=Check(_time_range, "must be [start, stop] seconds with stop after start"),
        help="use only this part of the recording, in seconds")
    groups: tuple[str, ...] | None = param(None, parse=str, nargs="+", group="nodes",
                                           help="keep nodes of these electrode groups")
    locations: tuple[str, ...] | None = param(None, parse=str, nargs="+", group="nodes",
                                              help="keep nodes at these locations")
    name: str = param("DynamicConnectivity", group="output", help="name of the result in the file")
    store_correlation: bool = param(True, flag="--no-correlation", negate=True, group="output",
                                    help="do not store the unthresholded correlation (the model's features need it)")
    chunk_windows: int | None = param(None, flag=None, check=at_least(1), help="windows computed per chunk (memory)")

    def __post_init__(self) -> None:
        for key in ("groups", "locations"):
            if isinstance(getattr(self, key), str):  # one name given without a list
                setattr(self, key, [getattr(self, key)])
        check(self)
        if self.time_range is not None:
            self.time_range = (float(self.time_range[0]), float(self.time_range[1]))


@dataclass
class WindowPlan:
    """The windows a run will compute, and where they came from.

    Shapes
    ------
    windows : Windows of W windows
    labels : (W,) labels when windows come from a labelled intervals table, else None
    """

    windows: Windows
    labels: list | None = None
    source: dict[str, Any] = field(default_factory=dict)


#: More windows than this is a corrupt time axis (or a step far too small), not an analysis: even
#: 2 nodes would make a million graphs.
MAX_WINDOWS = 1_000_000


def _check_window_count(spans: np.ndarray, params: ConnectivityParams, what: str) -> None:
    """Refuse, before any array is allocated, a plan of more than :data:`MAX_WINDOWS` windows."""
    count = float(np.sum(np.maximum(spans - params.window, 0.0) / params.step + 1.0)) if spans.size else 0.0
    if not np.isfinite(count) or count > MAX_WINDOWS:
        raise InputFileError(f"{what} would give {count:.3g} windows of {params.window:g} s every {params.step:g} s "
                             f"(at most {MAX_WINDOWS:,}); use a longer `step` or a `time_range`",
                             ("step", "time_range"))


def _check_spike_span(trains: SpikeTrains) -> None:
    """Refuse a time axis stretched by a few stray spikes far from all the others.

    A handful of spikes at, say, 10^5 s in a 40 s session (a corrupt timestamp, a clock reset)
    would make sliding windows cover ten thousand empty windows, and the model then train for
    hours on them. They are refused when the largest gap between consecutive spikes is more than
    ten times the span of the spikes on its other side, and that side holds under 0.1 % of them.
    """
    flat = np.sort(np.concatenate([t for t in trains.times if t.size] or [np.zeros(0)]))
    if flat.size < 2:
        return
    gaps = np.diff(flat)
    k = int(np.argmax(gaps))
    before, after = flat[: k + 1], flat[k + 1:]
    stray, rest = (after, before) if after.size <= before.size else (before, after)
    rest_span = max(float(rest[-1] - rest[0]), 1e-9)
    if stray.size <= max(1, flat.size // 1000) and gaps[k] > 10 * rest_span:
        raise InputFileError(
            f"{stray.size} spike time(s) lie at {stray[0]:.6g} s, far from all the others ({rest[0]:.6g} to "
            f"{rest[-1]:.6g} s): corrupt timestamps? analyse the part with data: `time_range` {rest[0]:.6g} "
            f"{rest[-1]:.6g}", "time_range")


def plan_step_windows(
    trains: SpikeTrains, params: ConnectivityParams, intervals: dict[str, pd.DataFrame],
    windows_from: str | None = None, restrict_to: str | None = None,
) -> WindowPlan:
    """Decide the windows: sliding over the recording (or over ``restrict_to``'s intervals), or
    from the intervals table ``windows_from`` (``TABLE`` or ``TABLE:LABEL_COLUMN``)."""
    if windows_from and restrict_to:
        raise NwbTavrnnError("give either windows from an intervals table or a restriction, not both")
    if windows_from:
        table, column, _ = parse_table_spec(windows_from)
        starts, stops, labels = label_run_windows(intervals_table(intervals, table), table, column)
        keep = (stops - starts) >= params.bin_size
        if not keep.any():
            raise InputFileError(f"every interval of {table!r} is shorter than one bin ({params.bin_size} s)")
        labels = [lab for lab, k in zip(labels, keep) if k] if labels is not None else None
        return WindowPlan(plan_windows(trains, params, (starts[keep], stops[keep])), labels,
                          {"windows_from": windows_from})
    if restrict_to:
        ranges = restriction_spec_ranges(intervals, restrict_to)
        _check_window_count(ranges[:, 1] - ranges[:, 0], params, f"the intervals of {restrict_to!r}")
        win = sliding_windows_in_ranges(ranges[:, 0], ranges[:, 1], params.bin_size, params.window, params.step,
                                        origin=float(trains.t_start))
        if len(win.start_bins) == 0:
            raise InputFileError(f"no {params.window} s window fits inside the intervals of {restrict_to!r}; "
                                 "use a shorter `window`", "window")
        return WindowPlan(win, None, {"restrict_to": restrict_to})
    if not is_traces(trains):  # ROI traces have frames, no stray spikes
        _check_spike_span(trains)
    _check_window_count(np.array([trains.duration]), params, f"the recording ({trains.duration:.6g} s)")
    win = plan_windows(trains, params)
    if len(win.start_bins) == 0:
        raise InputFileError(f"the recording ({trains.duration:.1f} s) is shorter than one window "
                             f"({params.window} s); use a shorter `window`", "window")
    return WindowPlan(win, None, {})


def _chunks(n_windows: int, n_nodes: int, itemsize: int) -> tuple[int, ...]:
    per_window = n_nodes * n_nodes * itemsize
    if per_window <= CHUNK_BYTES:
        return (max(1, min(n_windows, CHUNK_BYTES // per_window)), n_nodes, n_nodes)
    return (1, max(1, min(n_nodes, CHUNK_BYTES // (n_nodes * itemsize))), n_nodes)


#: HDF5 filters of each dataset, chosen by measurement (``benchmarks/storage.py``; 128 units x 1 h,
#: 10 ms bins, 10 s windows, 23.6 MB per array). Only deflate, which every HDF5 reader opens without
#: plugins. The weights are ~90 % zeros: deflate level 1 without the shuffle filter writes them 3.5x
#: faster than level 4 with it, and smaller (0.67x). Signed r is close to incompressible: deflate
#: saved 20 % of its size for 60x its write time, more than computing the graphs took, so it is
#: stored as it is (chunked).
STORAGE: dict[str, dict[str, Any]] = {
    "data": {"compression": "gzip", "compression_opts": 1},
    "correlation": {},
    "inactive_mask": {"compression": "gzip", "compression_opts": 1},
}


def _empty(shape: tuple[int, ...], dtype, name: str) -> Any:
    """A dataset created empty at write time and filled chunk by chunk afterwards."""
    from hdmf.backends.hdf5 import H5DataIO

    chunks = _chunks(shape[0], shape[1], np.dtype(dtype).itemsize) if len(shape) == 3 else (
        min(shape[0], 1024), shape[1])
    return H5DataIO(data=None, shape=shape, dtype=dtype, chunks=chunks, **STORAGE[name])


def build_container(trains: SpikeTrains, params: ConnectivityParams, plan: WindowPlan, name: str,
                    selection: dict[str, Any], store_correlation: bool = True):
    """The DynamicConnectivity object, with its graph datasets left empty to be streamed in."""
    from ..schema import DynamicConnectivity

    w, n = len(plan.windows.start_bins), len(trains)
    traces = is_traces(trains)
    parameters = {**params.to_dict(), **plan.source, **selection, **(trains.settings() if traces else {})}
    if plan.labels is not None:
        parameters["window_labels"] = plan.labels
    sliding = not plan.source.get("windows_from")
    if traces:
        what = {"raw": "ROI traces", "dff": "ROI ΔF/F traces", "events": "ROI events (0/1)"}[trains.signal]
        how = "the maximum (any event)" if trains.binary else "the mean"
        what = f"{what} of {trains.series_name} ({trains.rate:g} Hz frames; {how} of the frames)"
    else:
        what = f"{'binary' if params.binary else 'count'} spike trains"
    description = (
        f"Zero-lag Pearson correlation of {what} in {params.bin_size * 1000:g} ms bins, "
        + (f"{params.window:g} s windows every {params.step:g} s" if sliding else
           f"one window per {'run of ' + plan.source['windows_from'] if ':' in plan.source['windows_from'] else 'interval of ' + plan.source['windows_from']}")
        + f"; edges by threshold mode '{params.threshold_mode}'"
        + ("; weights |r|" if params.absolute else "; weights signed r")
        + ". Inactive (silent or constant) nodes have weight 0 in a window."
    )
    return DynamicConnectivity(
        name=name,
        description=description,
        method="pearson",
        directed=False,
        bin_size=float(params.bin_size),
        window_start_times=plan.windows.start_times,
        window_stop_times=plan.windows.stop_times,
        node_ids=trains.ids,
        node_groups=np.asarray(trains.groups, dtype=str),
        node_locations=np.asarray(trains.locations, dtype=str),
        node_positions=getattr(trains, "positions", None),
        data=_empty((w, n, n), np.float32, "data"),
        correlation=_empty((w, n, n), np.float32, "correlation") if store_correlation else None,
        inactive_mask=_empty((w, n), bool, "inactive_mask"),
        threshold_mode=params.threshold_mode,
        threshold=params.threshold_value,
        window_duration=float(params.window) if sliding else None,
        window_step=float(params.step) if sliding else None,
        parameters=parameters,
    )


def _filler(trains: SpikeTrains, params: ConnectivityParams, plan: WindowPlan, name: str,
            store_correlation: bool, chunk_windows: int | None, progress: bool):
    """Return the function that computes the graphs and writes them into the temporary file."""

    def fill(path: Path) -> None:
        import h5py

        with h5py.File(path, "r+") as f:
            group = f[f"processing/{module_for(trains.node_table)}/{name}"]
            for chunk in iter_dynamic_connectivity(trains, params, plan.windows, chunk_windows=chunk_windows,
                                                   progress=progress):
                group["data"][chunk.index] = chunk.adjacency
                group["inactive_mask"][chunk.index] = chunk.inactive_mask
                if store_correlation:
                    group["correlation"][chunk.index] = chunk.correlation

    return fill


def params_for_nodes(params, nodes) -> ConnectivityParams:
    """The parameters for these nodes, checked against them.

    ``params`` may be None (the ``ophys`` preset for ROI traces, ``default`` for spike trains) or a
    function of whether the nodes are ROIs.

    Raises
    ------
    ParameterError
        A bin shorter than an imaging frame, or binary bins of continuous traces.
    """
    rois = is_traces(nodes)
    if params is None:
        params = ConnectivityParams.preset("ophys" if rois else "default")
    elif callable(params):
        params = params(rois)
    if rois:
        params = frame_bins(params, nodes.rate)
    check_params_for_nodes(params, nodes)
    return params


#: A bin within this fraction of one imaging frame is one frame (``0.4545`` at 2.2 Hz).
FRAME_TOLERANCE = 1e-3


def frame_bins(params: ConnectivityParams, rate: float) -> ConnectivityParams:
    """The parameters with bins of whole imaging frames where that is what they mean: a bin within
    :data:`FRAME_TOLERANCE` of one frame becomes exactly one frame, and a preset's own bin (one
    :meth:`ConnectivityParams.preset` was not given) shorter than a frame becomes one frame, since
    no bin can hold less; a bin the caller chose is never lengthened.

    Shapes
    ------
    rate : frames per second (scalar)
    """
    import dataclasses

    frame = 1.0 / float(rate)
    ratio = params.bin_size / frame
    chosen = "bin_size" in getattr(params, "given", {"bin_size"})  # parameters not from preset(): the caller's
    if ratio != 1.0 and abs(ratio - 1.0) <= FRAME_TOLERANCE:
        log.info("bin_size %g s taken as one imaging frame (%.10g s at %g Hz)", params.bin_size, frame, rate)
    elif ratio < 1.0 and not chosen:
        log.info("the %s preset's %g s bin is shorter than one imaging frame at %g Hz: one frame (%.10g s) per bin",
                 params.preset_name, params.bin_size, rate, frame)
    else:
        return params
    return dataclasses.replace(params, bin_size=frame)


def select_nodes(trains: SpikeTrains, groups=None, locations=None, drop_silent: bool = False) -> SpikeTrains:
    """Restrict to the requested groups/locations; optionally drop units with no spike at all."""
    try:
        trains = trains.select(groups=groups, locations=locations)
    except ValueError as err:
        raise InputFileError(str(err)) from None
    if drop_silent and hasattr(trains, "spike_counts"):
        keep = trains.spike_counts > 0
        if not keep.any():
            raise InputFileError("every selected node is silent (no spikes)")
        trains = trains.subset(np.flatnonzero(keep))
    if len(trains) < 2:
        raise InputFileError(f"a graph needs at least 2 nodes; {len(trains)} selected")
    return trains


def restrict_to_range(trains: SpikeTrains, time_range: Sequence[float]) -> SpikeTrains:
    """The spikes in ``[start, stop)``; a range that misses the recording's spikes is refused.

    Raises
    ------
    ParameterError
        ``stop <= start``, or no spike of any node falls in the range (a range past the
        recording would otherwise give windows with no spikes at all).
    """
    start, stop = float(time_range[0]), float(time_range[1])
    require(stop > start, f"time range: stop must be after start, got [{start:g}, {stop:g}]")
    if is_traces(trains):  # ROI traces: the range must overlap the frames
        require(start < trains.t_stop and stop > trains.t_start,
                f"time range [{start:g}, {stop:g}] s holds no imaging frames; the frames span "
                f"{trains.t_start:g} to {trains.t_stop:g} s")
        return trains.restrict(start, stop)
    restricted = trains.restrict(start, stop)
    require(sum(len(t) for t in restricted.times) > 0,
            f"time range [{start:g}, {stop:g}] s holds no spikes; the recording's spikes span "
            f"{trains.t_start:g} to {trains.t_stop:g} s")
    return restricted


def run_connectivity(
    source: PathLike, destination: PathLike | None = None, params: ConnectivityParams | None = None, *,
    windows_from: str | None = None, restrict_to: str | None = None, groups=None, locations=None,
    time_range: tuple[float, float] | None = None, name: str = "DynamicConnectivity", mode: str = "derived",
    overwrite: bool = False, store_correlation: bool = True, chunk_windows: int | None = None,
    progress: bool = False, nodes: NodeOptions | dict | None = None, source_label: str | None = None,
    nwbfile: Any = None,
) -> Path:
    """Read spike trains from ``source``, compute dynamic connectivity, and write it to NWB.

    Parameters
    ----------
    source
        NWB file (path or URL) with a Units table, or ROI traces (``processing/ophys``).
    destination
        Output file; required unless ``mode="in_place"``.
    params
        Step parameters, or a function of whether the nodes are ROIs returning them (to default by
        modality); default the ``ophys`` preset for ROI traces, ``default`` for spike trains.
    windows_from
        ``TABLE`` (one window per interval) or ``TABLE:COLUMN`` (one per run of equal labels).
    restrict_to
        ``TABLE`` or ``TABLE:COLUMN=VALUE``: sliding windows only inside those intervals.
    groups, locations
        Keep only nodes of these electrode groups / locations.
    time_range
        ``(start, stop)`` in seconds: use only this part of the recording.
    mode
        ``"derived"`` (a new self-contained file), ``"append"`` (a copy of the source with the
        result added) or ``"in_place"`` (the source itself, atomically).
    nodes
        :class:`~nwb_tavrnn.connectivity.nodes.NodeOptions` (or its fields as a dict): units or ROI traces,
        which series and signal. Default: the Units when the file has units, else its ROI traces.
    source_label
        What a derived file records as its source, when ``source`` stands for another input (an
        NWB file imported from a suite2p folder, say); default ``source``.
    nwbfile
        ``source`` already open (its reader stays the caller's to close): ``run`` opens its input
        once for its checks and this step.

    Returns
    -------
    Path of the written file.
    """
    nodes = nodes if isinstance(nodes, NodeOptions) else NodeOptions.from_mapping(nodes)
    # An object name is one path component of the file: '../x' or 'a/b' would be refused by hdmf
    # only when writing, after the work, as an unexpected error.
    require(bool(name) and "/" not in name and ":" not in name and name not in (".", ".."),
            f"name {name!r}: a name of an object in the file, without '/' or ':' (e.g. DynamicConnectivity)", "name")
    if time_range is not None:
        require(len(time_range) == 2 and time_range[1] > time_range[0],
                f"time range: stop must be after start, got {list(time_range)}")
    if mode not in ("derived", "append", "in_place"):
        raise NwbTavrnnError(f"mode must be 'derived', 'append' or 'in_place', got {mode!r}")
    if mode != "in_place":
        if destination is None:
            raise NwbTavrnnError("give an output path (or use in-place mode)")
        check_writable(destination, overwrite)  # fail before any work
    with nullcontext(nwbfile) if nwbfile is not None else open_nwb(source) as nwbfile:
        trains = select_nodes(nodes.read(nwbfile), groups, locations)
        params = params_for_nodes(params, trains)
        if time_range is not None:
            trains = restrict_to_range(trains, time_range)
        plan = plan_step_windows(trains, params, read_intervals(nwbfile), windows_from, restrict_to)
        selection = {"groups": list(groups) if groups else None, "locations": list(locations) if locations else None,
                     "time_range": list(time_range) if time_range else None}
        container = build_container(trains, params, plan, name, selection, store_correlation)
        fill = _filler(trains, params, plan, name, store_correlation, chunk_windows, progress)
        log.info("%d nodes, %d windows of %s", len(trains), len(plan.windows.start_bins), source)
        if mode == "derived":
            return write_derived(nwbfile, destination, [container], source_path=source_label or str(source),
                                 node_table=trains.node_table, overwrite=overwrite, fill=fill)
    module = module_for(trains.node_table)
    if mode == "append":
        return append_results(source, [container], destination, node_table=trains.node_table,
                              overwrite=overwrite, fill=fill, module_name=module)
    return append_results(source, [container], in_place=True, node_table=trains.node_table, fill=fill,
                          module_name=module)
