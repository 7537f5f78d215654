"""Bad input gets a clear one-line error, and the source file's bytes never change."""

from __future__ import annotations

import shutil

import pytest

from nwb_tavrnn.cli.main import main
from nwb_tavrnn.errors import InputFileError
from nwb_tavrnn.io import open_nwb, write_nwbfile
from nwb_tavrnn.io.read import read_spike_trains
from nwb_tavrnn.testing import mock_source_nwbfile

from .conftest import sha256


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


def test_text_file_named_nwb(tmp_path, capsys):
    path = tmp_path / "notes.nwb"
    path.write_text("this is not an NWB file\n")
    before = sha256(path)
    with pytest.raises(InputFileError, match="not an HDF5 file"):
        with open_nwb(path):
            pass
    assert main(["inspect", str(path)]) == 2
    assert "not an HDF5 file" in _one_line_error(capsys)
    assert sha256(path) == before


def test_truncated_hdf5_file(source_file, tmp_path, capsys):
    truncated = tmp_path / "truncated.nwb"
    data = source_file.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    before = sha256(truncated)
    with pytest.raises(InputFileError, match="truncated or corrupt|not readable as NWB|unreadable"):
        with open_nwb(truncated) as nwbfile:
            read_spike_trains(nwbfile)
    assert main(["validate", str(truncated)]) == 2
    _one_line_error(capsys)
    assert sha256(truncated) == before


def test_hdf5_that_is_not_nwb(tmp_path):
    import h5py

    path = tmp_path / "plain.nwb"
    with h5py.File(path, "w") as f:
        f["x"] = [1, 2, 3]
    with pytest.raises(InputFileError, match="not an NWB file"):
        with open_nwb(path):
            pass


def test_missing_file_and_folder(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nope.nwb")]) == 2
    assert "no such file" in _one_line_error(capsys)
    assert main(["inspect", str(tmp_path)]) == 2
    assert "is a folder" in _one_line_error(capsys)


def test_file_without_units_table(tmp_path, capsys):
    path = write_nwbfile(mock_source_nwbfile(with_units=False), tmp_path / "no_units.nwb")
    before = sha256(path)
    with open_nwb(path) as nwbfile, pytest.raises(InputFileError, match="no Units table"):
        read_spike_trains(nwbfile)
    assert main(["inspect", str(path)]) == 0  # inspecting it is fine, and says so
    assert "units: none" in capsys.readouterr().out
    assert sha256(path) == before


def test_read_only_source_is_readable(source_file, tmp_path):
    copy = tmp_path / "ro.nwb"
    shutil.copyfile(source_file, copy)
    copy.chmod(0o444)
    with open_nwb(copy) as nwbfile:
        assert len(read_spike_trains(nwbfile)) == 6
