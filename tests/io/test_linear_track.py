"""The rat linear-track example (MatClust + Trodes files) imports into a valid NWB file."""

from __future__ import annotations

import numpy as np
import pytest

from nwb_tavrnn.errors import InputFileError
from nwb_tavrnn.io import open_nwb, write_nwbfile
from nwb_tavrnn.importers.linear_track import linear_track_nwbfile, read_trodes_position
from nwb_tavrnn.io.read import read_behavior, read_intervals, read_spike_trains
from nwb_tavrnn.validation import validate_file

from ..conftest import SHARED_DATA

FOLDER = SHARED_DATA / "hippocampus_linear_track"


@pytest.fixture
def folder():
    if not (FOLDER / "spikes.mat").is_file():
        pytest.skip("shared linear-track data absent")
    return FOLDER


def test_linear_track_imports_units_position_and_epochs(folder, tmp_path):
    path = write_nwbfile(linear_track_nwbfile(folder), tmp_path / "rat.nwb")
    with open_nwb(path) as nwbfile:
        trains = read_spike_trains(nwbfile)
        behavior = read_behavior(nwbfile)
        epochs = read_intervals(nwbfile)["epochs"]
    assert len(trains) == 31
    assert 4397.0 <= min(t[0] for t in trains.times if t.size) and max(t[-1] for t in trains.times) <= 6366.0
    assert set(trains.locations) == {"CA1"}
    position = behavior["behavior/position"]
    assert position.data.shape == (118965, 2)
    assert position.timestamps[0] == pytest.approx(4397.0317, abs=1e-4)
    assert list(epochs["state"]) == ["run", "rest"]
    assert epochs["stop_time"].iloc[0] - epochs["start_time"].iloc[0] == pytest.approx(900.0)
    # the animal moves during the run epoch and barely at rest
    speed = behavior["behavior/speed"]
    run = speed.timestamps < epochs["stop_time"].iloc[0]
    assert np.median(speed.data[run]) > 3 * np.median(speed.data[~run])
    # stays in the 3 track segments while running: both ends (long dwells) and the middle (short runs)
    with open_nwb(path) as nwbfile:
        segments = read_intervals(nwbfile)["position_segments"]
    counts = segments["segment"].value_counts().to_dict()
    assert counts == {"s2": 53, "s3": 29, "s1": 24}
    durations = segments["stop_time"] - segments["start_time"]
    assert durations.min() >= 1.0
    assert durations[segments["segment"] == "s2"].median() < durations[segments["segment"] != "s2"].median() / 3
    assert segments["stop_time"].max() <= epochs["stop_time"].iloc[0]
    assert validate_file(path).ok


def test_not_a_trodes_file(tmp_path):
    bad = tmp_path / "x.videoPositionTracking"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(InputFileError, match="no Trodes settings header"):
        read_trodes_position(bad)
