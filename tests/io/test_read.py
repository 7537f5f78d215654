"""Readers return what is in the file, on a mock session with known contents and on real DANDI data."""

from __future__ import annotations

import numpy as np
import pytest

from nwb_tavrnn.errors import InputFileError
from nwb_tavrnn.io import SpikeTrains, open_nwb, write_nwbfile
from nwb_tavrnn.io.read import read_behavior, read_electrodes, read_intervals, read_spike_trains
from nwb_tavrnn.testing import mock_source_nwbfile


def test_units_read_with_ids_groups_locations(source_file):
    expected = mock_source_nwbfile()
    with open_nwb(source_file) as nwbfile:
        trains = read_spike_trains(nwbfile)
    assert list(trains.ids) == [100, 101, 102, 103, 104, 105]
    assert list(trains.groups) == ["shank0", "shank1"] * 3
    assert list(trains.locations) == ["CA1", "DG"] * 3
    assert trains.node_table == "units"
    for got, want in zip(trains.times, expected.units["spike_times"][:]):
        np.testing.assert_array_equal(got, want)
    assert trains.spike_counts[-1] == 0  # the silent unit is kept, not dropped
    assert 3.5 < trains.rates[:-1].mean() < 6.5


def test_intervals_electrodes_behaviour(source_file):
    with open_nwb(source_file) as nwbfile:
        intervals = read_intervals(nwbfile)
        electrodes = read_electrodes(nwbfile)
        behavior = read_behavior(nwbfile)
    assert set(intervals) == {"epochs", "trials"}
    assert list(intervals["epochs"]["tags"].map(list)) == [["rest"], ["task"]]
    assert intervals["trials"]["outcome"].tolist() == [0, 1, 1, 0, 1, 1]
    assert list(electrodes["group"]) == ["shank0", "shank1"] * 3
    assert list(electrodes["channel_name"]) == [f"ch{i}" for i in range(6)]
    (path, series), = behavior.items()
    assert path == "behavior/position"
    assert series.data.shape == (600,) and series.timestamps[1] == pytest.approx(0.1)


def test_file_without_units_is_a_clear_error(tmp_path):
    path = write_nwbfile(mock_source_nwbfile(with_units=False), tmp_path / "no_units.nwb")
    with open_nwb(path) as nwbfile, pytest.raises(InputFileError, match="has no Units table; sort"):
        read_spike_trains(nwbfile)


def test_spike_trains_select_and_restrict():
    trains = SpikeTrains([[0.5, 1.5, 2.5], [1.0], []], ids=[7, 8, 9], groups=["a", "b", "a"],
                         t_start=0.0, t_stop=3.0)
    sub = trains.select(groups=["a"])
    assert list(sub.ids) == [7, 9]
    cut = trains.restrict(1.0, 2.0)
    assert [list(t) for t in cut.times] == [[1.5], [1.0], []]
    assert cut.duration == 1.0
    with pytest.raises(ValueError, match="known: a, b"):
        trains.select(groups=["zz"])
    with pytest.raises(ValueError, match="NaN"):
        SpikeTrains([[0.1, np.nan]], ids=[1])
    with pytest.raises(ValueError, match="unique"):
        SpikeTrains([[0.1], [0.2]], ids=[1, 1])


def test_real_dandi_file_units_and_trial_tables(dandi_file):
    with open_nwb(dandi_file) as nwbfile:
        trains = read_spike_trains(nwbfile)
        intervals = read_intervals(nwbfile)
    assert len(trains) == 35
    assert trains.spike_counts.sum() == 214278
    assert set(trains.locations) >= {"hippocampus_right", "amygdala_right"}
    assert all(g.startswith("NLX-microwires-") for g in trains.groups)
    assert {k: len(v) for k, v in intervals.items()} == {
        "encoding_table": 90, "recognition_table": 180, "timediscrimination_table": 180}
    assert 2800 < trains.t_stop < 2830


def test_inspect_lists_where_the_units_are(dandi_file, capsys):
    """The brain areas a region spec or node grouping can name, with how many units each holds."""
    from nwb_tavrnn.cli.main import main

    assert main(["inspect", str(dandi_file)]) == 0
    text = capsys.readouterr().out
    assert "  locations (electrodes): hippocampus_right (25), amygdala_right (10)\n" in text
    assert "  electrode groups: " in text and "NLX-microwires-184 (1)" in text
