"""Track segments from position: linearization, segment labels and stays, on a synthetic track."""

from __future__ import annotations

import numpy as np
import pytest
from pynwb.testing.mock.file import mock_NWBFile

from nwb_tavrnn.errors import InputFileError
from nwb_tavrnn.io.segments import (
    add_position_segments,
    linearize,
    position_segment_intervals,
    segment_of,
)


def _laps(n_laps: int = 4, run_s: float = 6.0, dwell_s: float = 4.0, rate: float = 50.0, angle: float = 0.6):
    """A track 300 px long at ``angle`` rad: dwell at one end, run to the other, dwell, run back...

    Returns timestamps, 2-D position and the true position along the track (0..1)."""
    rng = np.random.default_rng(0)
    pieces = []
    for lap in range(n_laps):
        start = lap % 2
        pieces.append(np.full(int(dwell_s * rate), float(start)))
        ramp = np.linspace(0, 1, int(run_s * rate), endpoint=False)
        pieces.append(ramp if start == 0 else 1 - ramp)
    s = np.concatenate(pieces)
    t = np.arange(len(s)) / rate
    direction = np.array([np.cos(angle), np.sin(angle)])
    xy = 100 + 300 * s[:, None] * direction[None, :] + rng.normal(0, 1.0, (len(s), 2))
    return t, xy, s


def test_linearize_recovers_the_position_along_a_tilted_track():
    _t, xy, s = _laps()
    x = linearize(xy)
    assert np.corrcoef(x, s)[0, 1] > 0.99
    assert x.min() == 0.0 and x.max() == 1.0
    # the end where the recording starts is 0, whatever the sign the SVD picks
    assert np.allclose(linearize(xy[:, ::-1]), x)
    assert x[0] < 0.05


def test_linearize_keeps_missing_samples_missing_and_rejects_a_still_animal():
    _t, xy, _s = _laps()
    xy[10] = np.nan
    x = linearize(xy)
    assert np.isnan(x[10]) and np.isfinite(np.delete(x, 10)).all()
    with pytest.raises(InputFileError, match="does not change"):
        linearize(np.ones((100, 2)))


def test_segment_of_cuts_the_track_into_equal_lengths():
    x = np.array([0.0, 0.1, 0.33, 0.34, 0.5, 0.66, 0.67, 0.99, 1.0, np.nan])
    assert segment_of(x, 3).tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, -1]
    with pytest.raises(InputFileError, match="at least 2 segments"):
        segment_of(x, 1)


def test_stays_follow_the_laps():
    t, xy, _s = _laps(n_laps=4, run_s=6.0, dwell_s=4.0)
    df = position_segment_intervals(t, xy, 3, min_duration=1.0)
    # each lap: a dwell of 4 s plus the first third of the run in the start segment, 2 s in the
    # middle, then the last third of the run merges with the next dwell at the other end
    assert df["segment"].tolist() == ["s1", "s2", "s3", "s2", "s1", "s2", "s3", "s2", "s1"]
    durations = (df["stop_time"] - df["start_time"]).to_numpy()
    assert durations[0] == pytest.approx(6.0, abs=0.1)
    assert np.allclose(durations[1::2], 2.0, atol=0.1)
    assert np.allclose(durations[2:-1:2], 8.0, atol=0.1)
    assert df["mean_position"].iloc[1] == pytest.approx(0.5, abs=0.02)
    # stays shorter than min_duration are dropped, and a time range keeps only its samples
    assert set(position_segment_intervals(t, xy, 3, min_duration=3.0)["segment"]) == {"s1", "s3"}
    late = position_segment_intervals(t, xy, 3, min_duration=1.0, ranges=[(20.0, t[-1] + 1)])
    assert late["start_time"].min() >= 20.0


def test_segments_table_in_nwb_and_bad_input():
    t, xy, _ = _laps()
    nwbfile = mock_NWBFile()
    table = add_position_segments(nwbfile, t, xy, 3)
    assert table.name == "position_segments"
    assert nwbfile.intervals["position_segments"]["segment"][:][:3] == ["s1", "s2", "s3"]
    with pytest.raises(InputFileError, match="samples but"):
        position_segment_intervals(t[:-1], xy, 3)
    with pytest.raises(InputFileError, match="no stay"):
        add_position_segments(mock_NWBFile(), t, xy, 3, min_duration=1e6)


def test_ranges_cut_stays_at_their_edges():
    t, xy, _ = _laps(n_laps=4, run_s=6.0, dwell_s=4.0)
    # two ranges with a gap: no stay crosses the gap, and nothing before the first range counts
    df = position_segment_intervals(t, xy, 3, min_duration=0.5, ranges=[(5.0, 15.0), (25.0, 35.0)])
    inside = ((df["start_time"] >= 5.0) & (df["stop_time"] <= 15.0)) | (
        (df["start_time"] >= 25.0) & (df["stop_time"] <= 35.0))
    assert inside.all() and len(df) >= 4
    with pytest.raises(InputFileError, match="inside the given time ranges"):
        position_segment_intervals(t, xy, 3, ranges=[(1e5, 2e5)])


def test_segments_command_adds_the_table_to_a_copy(tmp_path, capsys):
    from nwb_tavrnn.cli.main import main
    from nwb_tavrnn.io import open_nwb, write_nwbfile
    from nwb_tavrnn.io.read import read_behavior, read_intervals
    from nwb_tavrnn.testing import mock_source_nwbfile
    from nwb_tavrnn.validation import validate_file

    from ..conftest import sha256

    source = write_nwbfile(mock_source_nwbfile(duration=60.0), tmp_path / "session.nwb")
    before = sha256(source)
    out = tmp_path / "with_segments.nwb"
    assert main(["segments", str(source), str(out), "--segments", "2", "--min-duration", "0.5",
                 "--restrict-to", "epochs:tags=task"]) == 0
    assert "stays in table 'position_segments'" in capsys.readouterr().out
    with open_nwb(out) as nwbfile:
        table = read_intervals(nwbfile)["position_segments"]
        position = read_behavior(nwbfile)["behavior/position"]
        expected = position_segment_intervals(position.timestamps, position.data, 2, min_duration=0.5,
                                              ranges=[(30.0, 60.0)])
    assert table["segment"].tolist() == expected["segment"].tolist() and len(table) >= 2
    np.testing.assert_allclose(table["start_time"], expected["start_time"])
    assert table["start_time"].min() >= 30.0
    with open_nwb(out) as nwbfile:
        assert "ecephys" not in nwbfile.processing  # no empty results module
    assert sha256(source) == before
    assert validate_file(out).ok
    # bad input: one line, exit code 2, nothing written
    assert main(["segments", str(source), str(tmp_path / "x.nwb"), "--series", "speed"]) == 2
    assert "no behavioural series 'speed'; the file has: behavior/position" in capsys.readouterr().err
    assert main(["segments", str(out), str(tmp_path / "y.nwb")]) == 2
    assert "already has an intervals table 'position_segments'" in capsys.readouterr().err
    assert not (tmp_path / "x.nwb").exists() and not (tmp_path / "y.nwb").exists()


def test_stays_split_at_range_edges_without_losing_time():
    from nwb_tavrnn.io.segments import merge_ranges

    # the animal sits in the middle segment from 8 s to 14 s of a 40 s recording at 50 Hz
    t = np.arange(0, 40, 0.02)
    x = np.where(t < 8, 0.0, np.where(t < 14, 0.5, 1.0))
    one = position_segment_intervals(t, x, 3, min_duration=0.5, ranges=[(0, 40)])
    split = position_segment_intervals(t, x, 3, min_duration=0.5, ranges=[(0, 10), (10, 40)])
    assert one.reset_index(drop=True).equals(split.reset_index(drop=True))  # touching ranges are one range
    assert one.loc[one.segment == "s2", "stop_time"].iloc[0] == pytest.approx(14.0)
    # no samples between two ranges: the stay before the gap ends at its range's end, the stay
    # after it starts with the next range
    gap = (t < 10) | (t >= 20)
    x = np.where(t < 5, 0.0, np.where(t < 25, 0.5, 1.0))[gap]
    df = position_segment_intervals(t[gap], x, 3, min_duration=0.5, ranges=[(0, 10), (20, 30)])
    middle = df[df.segment == "s2"]
    assert middle[["start_time", "stop_time"]].to_numpy().round(2).tolist() == [[5.0, 10.0], [20.0, 25.0]]
    assert merge_ranges([(5, 6), (0, 2), (2, 3), (2.5, 4)]).tolist() == [[0, 4], [5, 6]]


def test_two_series_of_one_name_must_be_told_apart():
    from pynwb import TimeSeries

    from nwb_tavrnn.io.read import read_behavior_series
    from nwb_tavrnn.testing import mock_source_nwbfile

    nwbfile = mock_source_nwbfile()
    nwbfile.add_acquisition(TimeSeries(name="position", data=np.zeros(5), unit="m", rate=1.0))
    with pytest.raises(InputFileError, match="2 behavioural series are named 'position'; give one path"):
        read_behavior_series(nwbfile, "position")
    assert read_behavior_series(nwbfile, "behavior/position").data.shape == (600,)
