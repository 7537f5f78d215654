"""Spike trains and ROI traces are one kind of thing to the steps (io.spike_trains.NodeSource):
the same selection, subsetting and restriction, with the same meaning."""

from __future__ import annotations

import numpy as np

from nwb_tavrnn.io.spike_trains import NodeSource, SpikeTrains, is_traces
from nwb_tavrnn.ophys.traces import RoiTraces


def _sources():
    ids, groups, locations = np.array([3, 5, 8]), np.array(["a", "b", "a"]), np.array(["CA1", "CA1", "DG"])
    trains = SpikeTrains([np.array([0.5, 1.5, 9.0]), np.array([2.0]), np.array([4.0, 6.0])], ids, groups,
                         locations, t_start=0.0, t_stop=10.0)
    traces = RoiTraces(np.arange(30.0).reshape(10, 3), columns=np.arange(3), ids=ids, rate=1.0, groups=groups,
                       locations=locations)
    return trains, traces


def test_both_node_kinds_offer_the_same_interface():
    for nodes in _sources():
        assert isinstance(nodes, NodeSource)
        kept = nodes.select(groups=["a"])
        assert kept.ids.tolist() == [3, 8] and kept.locations.tolist() == ["CA1", "DG"]
        assert nodes.subset([1]).ids.tolist() == [5] and len(nodes.subset([0, 2])) == 2
        assert nodes.duration == 10.0
        part = nodes.restrict(2.0, 6.0)
        assert len(part) == 3 and part.duration == 4.0
    trains, traces = _sources()
    assert (is_traces(trains), is_traces(traces), is_traces([np.array([1.0])])) == (False, True, False)
