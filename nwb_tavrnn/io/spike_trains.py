"""The in-memory form of a set of spike trains: what connectivity and simulation exchange."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np


def selection(nodes, groups: Sequence[str] | None = None, locations: Sequence[str] | None = None,
              ids: Sequence[int] | None = None, what: str = "node") -> np.ndarray:
    """Which of ``nodes`` (anything with ``groups``, ``locations`` and ``ids``) have a group, location
    and id among those given (``None`` keeps all).

    Raises
    ------
    ValueError
        If none is left, naming the labels that exist.

    Shapes
    ------
    return : (nodes,) bool
    """
    keep = np.ones(len(nodes.ids), dtype=bool)
    for values, have, label in ((groups, nodes.groups, "group"), (locations, nodes.locations, "location"),
                                (ids, nodes.ids, "id")):
        if values is not None:
            keep &= np.isin(have, np.asarray(list(values), dtype=have.dtype))
            if not keep.any():
                known = ", ".join(map(str, sorted(set(have.tolist()))[:20]))
                raise ValueError(f"no {what} has the requested {label}(s) {list(values)}; known: {known}")
    return keep


@dataclass
class SpikeTrains:
    """Spike times of a set of nodes (sorted units or per-electrode event trains).

    Parameters
    ----------
    times
        One sorted float64 array of spike times (seconds) per node.
    ids
        Identifier of each node: its Units id, or electrodes id in per-electrode mode.
    groups, locations
        Label of each node's electrode group (or subregion) and its location; "" if unknown.
    t_start, t_stop
        The observed span in seconds; defaults to the first and last spike.
    node_table
        "units" or "electrodes": which table of the source file the ids refer to.

    Shapes
    ------
    times : nodes x (spikes_i,)
    ids, groups, locations : (nodes,)
    """

    times: list[np.ndarray]
    ids: np.ndarray
    groups: np.ndarray = field(default=None)
    locations: np.ndarray = field(default=None)
    t_start: float | None = None
    t_stop: float | None = None
    node_table: str = "units"

    #: What the nodes are (see :func:`is_traces`): ``"spikes"`` here, ``"traces"`` for ROI traces.
    kind: ClassVar[str] = "spikes"

    def __post_init__(self) -> None:
        n = len(self.times)
        self.times = [np.asarray(t, dtype=np.float64).ravel() for t in self.times]
        self.ids = np.asarray(self.ids, dtype=np.int64).ravel()
        if len(self.ids) != n:
            raise ValueError(f"SpikeTrains: {n} spike trains but {len(self.ids)} ids")
        if len(np.unique(self.ids)) != n:
            raise ValueError("SpikeTrains: node ids must be unique")
        for name in ("groups", "locations"):
            value = getattr(self, name)
            value = np.full(n, "", dtype=object) if value is None else np.asarray(value, dtype=object).ravel()
            if len(value) != n:
                raise ValueError(f"SpikeTrains: {n} spike trains but {len(value)} {name}")
            setattr(self, name, value)
        for i, t in enumerate(self.times):
            if t.size and not np.isfinite(t).all():
                raise ValueError(f"SpikeTrains: node {self.ids[i]} has NaN or infinite spike times")
            if t.size > 1 and np.any(np.diff(t) < 0):
                self.times[i] = np.sort(t)
        if self.node_table not in ("units", "electrodes"):
            raise ValueError(f"SpikeTrains.node_table must be 'units' or 'electrodes', got {self.node_table!r}")
        nonempty = [t for t in self.times if t.size]
        if self.t_start is None:
            self.t_start = float(min(t[0] for t in nonempty)) if nonempty else 0.0
        if self.t_stop is None:
            self.t_stop = float(max(t[-1] for t in nonempty)) if nonempty else 0.0
        if self.t_stop < self.t_start:
            raise ValueError(f"SpikeTrains: t_stop {self.t_stop} is before t_start {self.t_start}")

    def __len__(self) -> int:
        return len(self.times)

    @property
    def duration(self) -> float:
        return float(self.t_stop - self.t_start)

    @property
    def spike_counts(self) -> np.ndarray:
        return np.array([t.size for t in self.times], dtype=np.int64)

    @property
    def rates(self) -> np.ndarray:
        """Mean firing rate of each node over [t_start, t_stop], in Hz."""
        return self.spike_counts / self.duration if self.duration > 0 else np.zeros(len(self))

    def subset(self, index: Sequence[int] | np.ndarray) -> SpikeTrains:
        """Return the nodes at positions ``index`` (an integer or boolean array)."""
        index = np.arange(len(self))[np.asarray(index)]
        return SpikeTrains(
            times=[self.times[i] for i in index],
            ids=self.ids[index],
            groups=self.groups[index],
            locations=self.locations[index],
            t_start=self.t_start,
            t_stop=self.t_stop,
            node_table=self.node_table,
        )

    def select(
        self,
        groups: Sequence[str] | None = None,
        locations: Sequence[str] | None = None,
        ids: Sequence[int] | None = None,
    ) -> SpikeTrains:
        """Keep nodes whose group, location and id are among those given (``None`` keeps all).

        Raises
        ------
        ValueError
            If no node is left, naming the labels that exist.
        """
        return self.subset(np.flatnonzero(selection(self, groups, locations, ids)))

    def restrict(self, t_start: float, t_stop: float) -> SpikeTrains:
        """Keep only spikes in [t_start, t_stop)."""
        if t_stop <= t_start:
            raise ValueError(f"restrict: t_stop {t_stop} must be after t_start {t_start}")
        times = [t[np.searchsorted(t, t_start): np.searchsorted(t, t_stop)] for t in self.times]
        return SpikeTrains(times, self.ids, self.groups, self.locations, float(t_start), float(t_stop), self.node_table)


@runtime_checkable
class NodeSource(Protocol):
    """What every kind of graph node offers the steps: units' spike trains (:class:`SpikeTrains`)
    and ROIs' traces (:class:`~nwb_tavrnn.ophys.traces.RoiTraces`). Code that needs no more than
    this handles both; where binning differs, :func:`is_traces` tells them apart (one place).

    Shapes
    ------
    ids, groups, locations : (nodes,)
    """

    kind: ClassVar[str]
    ids: np.ndarray
    groups: np.ndarray
    locations: np.ndarray
    node_table: str

    def __len__(self) -> int: ...

    @property
    def duration(self) -> float: ...

    def subset(self, index: Sequence[int] | np.ndarray) -> NodeSource: ...

    def select(self, groups: Sequence[str] | None = None, locations: Sequence[str] | None = None,
               ids: Sequence[int] | None = None) -> NodeSource: ...

    def restrict(self, t_start: float, t_stop: float) -> NodeSource: ...


def is_traces(nodes: Any) -> bool:
    """Whether graph nodes are sampled traces (:class:`~nwb_tavrnn.ophys.traces.RoiTraces`, which
    bin themselves on their frames) rather than spike times (a :class:`SpikeTrains` or a list of
    spike-time arrays): the one place that tells the two node kinds apart."""
    return getattr(nodes, "kind", "spikes") == "traces"
