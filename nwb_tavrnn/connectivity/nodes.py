"""What a graph's nodes are: units' spike trains, or ROIs' traces from calcium imaging.

:class:`NodeOptions` says which, and how to read them; its settings are stored with the graphs
(their ``parameters``), so every later step (the evaluation's baselines and time-shuffled
controls) reads exactly the nodes the graphs were computed on: :meth:`NodeOptions.from_parameters`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..errors import InputFileError
from ..ophys.read import ROI_SELECTIONS
from ..ophys.signals import SIGNALS
from ..params import between, check, param, positive

__all__ = ["NODE_KINDS", "NodeOptions", "read_graph_nodes"]

#: ``auto``: a Units table with units if the file has one, else ROI traces.
NODE_KINDS = ("auto", "units", "rois")


@dataclass
class NodeOptions:
    """Which nodes a graph has and how their values are read.

    Parameters
    ----------
    nodes
        ``auto`` (Units when the file has units, else ROI traces), ``units`` or ``rois``.
    series
        ROIs: the RoiResponseSeries (path or unambiguous tail; see :mod:`nwb_tavrnn.ophys.read`).
    rois
        ROIs: ``accepted`` (the segmentation's accepted cells, where it says) or ``all``.
    signal
        ROIs: ``raw`` (as stored), ``dff`` (ΔF/F) or ``events`` (see :mod:`nwb_tavrnn.ophys.signals`).
    event_threshold
        ROIs, ``events``: noise levels above the baseline that make an event.
    baseline_window
        ROIs, ``dff``/``events``: seconds of the running baseline filters.
    neuropil
        ROIs: k of the neuropil correction F − k·Fneu with the plane's ``Neuropil`` series (0: none;
        suite2p's own analyses use 0.7).
    """

    nodes: str = param("auto", choices=NODE_KINDS, group="nodes",
                       help="units' spike trains or ROI traces (auto: the units when the file has any, else the ROIs)")
    series: str | None = param(None, metavar="PATH", group="nodes",
                               help="ROIs: the RoiResponseSeries, e.g. Fluorescence/RoiResponseSeries (default: the "
                                    "only plane's raw fluorescence)")
    rois: str = param("accepted", choices=ROI_SELECTIONS, group="nodes",
                      help="ROIs: the segmentation's accepted cells (where it says) or all")
    signal: str = param("raw", choices=SIGNALS, group="nodes",
                        help="ROIs: the trace as stored, dF/F on suite2p's maximin baseline, or 0/1 events")
    event_threshold: float = param(2.5, check=positive(), group="nodes",
                                   help="ROIs, events: noise levels above the baseline")
    baseline_window: float = param(60.0, check=positive(), group="nodes",
                                   help="ROIs, dff/events: baseline filter length in seconds")
    neuropil: float = param(0.0, metavar="K", group="nodes", check=between(0, 2, closed=True),
                            help="ROIs: subtract K x the plane's Neuropil series (suite2p uses 0.7; 0: none)")

    def __post_init__(self) -> None:
        check(self)
        if self.nodes == "units" and self.trace_options_given:
            raise InputFileError(f"{', '.join(self.trace_options_given)}: options of ROI traces, and nodes are "
                                 "units (use nodes: rois)")

    @property
    def trace_options_given(self) -> list[str]:
        """The trace options that differ from their defaults (meaningless for units)."""
        default = NodeOptions()
        return [f.name for f in dataclasses.fields(self) if f.name != "nodes"
                and getattr(self, f.name) != getattr(default, f.name)]

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> NodeOptions:
        """From the connectivity options of a config or command line (unknown keys ignored)."""
        values = values or {}
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names and v is not None})

    @classmethod
    def from_parameters(cls, parameters: dict[str, Any]) -> NodeOptions:
        """The options a DynamicConnectivity's stored ``parameters`` were computed with."""
        if parameters.get("nodes") != "rois":
            return cls(nodes="units")
        return cls(nodes="rois", series=parameters.get("series"), rois="all", signal=parameters.get("signal", "raw"),
                   event_threshold=parameters.get("event_threshold", 2.5),
                   baseline_window=parameters.get("baseline_window", 60.0),
                   neuropil=parameters.get("neuropil_factor", 0.0))

    def wants_rois(self, nwbfile) -> bool:
        if self.nodes != "auto":
            return self.nodes == "rois"
        if self.trace_options_given:
            return True
        units = nwbfile.units
        if units is not None and len(units) > 0:
            return False
        from ..io.roi_series import has_roi_series

        return has_roi_series(nwbfile)

    def read(self, nwbfile):
        """The nodes: :class:`~nwb_tavrnn.io.spike_trains.SpikeTrains` or :class:`~nwb_tavrnn.ophys.traces.RoiTraces`."""
        if self.wants_rois(nwbfile):
            from ..ophys.read import read_roi_traces

            return read_roi_traces(nwbfile, self.series, rois=self.rois, signal=self.signal,
                                   event_threshold=float(self.event_threshold),
                                   baseline_window=float(self.baseline_window), neuropil=float(self.neuropil))
        from ..io.read import read_spike_trains

        return read_spike_trains(nwbfile)


def read_graph_nodes(nwbfile, connectivity) -> Any:
    """The nodes of a stored DynamicConnectivity, read as its graphs were computed, in node order."""
    import numpy as np

    options = NodeOptions.from_parameters(connectivity.parameters_dict)
    nodes = options.read(nwbfile)
    return nodes.select(ids=np.asarray(connectivity.node_ids[:]).tolist())
