"""Streaming over HTTP from a real local server: the units are read without downloading the file."""

from __future__ import annotations

import shutil

import pytest

from nwb_tavrnn.errors import InputFileError
from nwb_tavrnn.io import open_nwb
from nwb_tavrnn.io.read import read_intervals, read_spike_trains

from ..http_server import serve_folder

pytest.importorskip("remfile")


def test_units_stream_over_http_reading_only_what_is_needed(dandi_file, tmp_path):
    shutil.copyfile(dandi_file, tmp_path / "sub-4.nwb")
    size = dandi_file.stat().st_size
    with serve_folder(tmp_path) as (base, counter):
        with open_nwb(f"{base}/sub-4.nwb") as nwbfile:
            ids = nwbfile.units.id[:]
            intervals = read_intervals(nwbfile)
            metadata_bytes = counter.bytes_sent
            trains = read_spike_trains(nwbfile)
        all_bytes = counter.bytes_sent
    assert len(ids) == 35 and len(intervals["recognition_table"]) == 180
    assert len(trains) == 35 and trains.spike_counts.sum() == 214278
    # Opening the file and reading unit ids and trial tables touches a small part of it; the spike
    # times (1.7 MB of this 2 MB file) are fetched only when asked for.
    assert 0 < metadata_bytes < 0.25 * size, f"read {metadata_bytes} of {size} bytes"
    assert counter.full_requests <= 1  # at most the size probe
    assert all_bytes >= 214278 * 8  # the spike times themselves did come over the wire


def test_missing_url_and_non_nwb_url_are_clear_errors(tmp_path):
    (tmp_path / "notes.nwb").write_text("not hdf5")
    with serve_folder(tmp_path) as (base, _):
        with pytest.raises(InputFileError, match="cannot read as a remote HDF5 file"):
            with open_nwb(f"{base}/missing.nwb"):
                pass
        with pytest.raises(InputFileError, match="cannot read as a remote HDF5 file"):
            with open_nwb(f"{base}/notes.nwb"):
                pass
