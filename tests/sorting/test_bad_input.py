"""Bad input gives one-line errors of our own types, and nothing at the destination."""

from __future__ import annotations

import numpy as np
import pytest

from nwb_tavrnn.errors import InputFileError, NwbTavrnnError, OutputFileError
from nwb_tavrnn.sorting import ParamsError, SortingParams, detect_events, sort


def _no_leftovers(folder):
    return [p.name for p in folder.iterdir()]


def test_nwb_without_electrical_series(source_file, tmp_path):
    out = tmp_path / "out.nwb"
    with pytest.raises(InputFileError, match="no ElectricalSeries"):
        sort(source_file, out)
    assert not out.exists()
    assert _no_leftovers(tmp_path) == ["source.nwb"]


def test_zero_channels_and_zero_duration(tmp_path):
    from spikeinterface.core import NumpyRecording

    out = tmp_path / "out.nwb"
    with pytest.raises(InputFileError, match="no channels"):
        detect_events(NumpyRecording([np.zeros((100, 0), np.float32)], 1000.0), out)
    with pytest.raises(InputFileError, match="zero duration"):
        detect_events(NumpyRecording([np.zeros((0, 4), np.float32)], 1000.0), out)
    empty = tmp_path / "empty.raw"
    empty.write_bytes(b"")
    with pytest.raises(InputFileError, match="zero duration"):
        sort(empty, out, format="binary",
             reader_options={"sampling_frequency": 1000.0, "num_channels": 4, "dtype": "int16"})
    with pytest.raises(ParamsError, match="num_channels"):  # a parameter out of range: exit code 2 too
        sort(empty, out, format="binary", reader_options={"sampling_frequency": 1000.0, "num_channels": 0,
                                                          "dtype": "int16"})
    assert not out.exists()


def test_unknown_sorter_and_format(tmp_path):
    out = tmp_path / "out.nwb"
    raw = tmp_path / "x.raw"
    raw.write_bytes(np.zeros(4000, np.int16).tobytes())
    with pytest.raises(ParamsError, match="unknown sorter 'no-such-sorter'"):
        sort(raw, out, SortingParams(sorter="no-such-sorter"), format="binary",
             reader_options={"sampling_frequency": 1000.0, "num_channels": 4, "dtype": "int16"})
    assert isinstance(ParamsError("x"), NwbTavrnnError)
    with pytest.raises(InputFileError, match="unknown recording format"):
        detect_events(raw, out, format="no-such-format")
    with pytest.raises(InputFileError, match="needs"):
        detect_events(raw, out, format="binary")
    with pytest.raises(InputFileError, match="no such file"):
        detect_events(tmp_path / "missing.raw", out, format="binary")
    assert _no_leftovers(tmp_path) == ["x.raw"]


def test_existing_output_is_refused_before_work(tmp_path):
    out = tmp_path / "out.nwb"
    out.write_bytes(b"keep")
    with pytest.raises(OutputFileError, match="already exists"):
        sort(tmp_path / "missing.raw", out)
    assert out.read_bytes() == b"keep"


def test_params_validation_and_round_trip():
    with pytest.raises(ParamsError):
        SortingParams(curation={"snr": {"bigger": 3}})
    with pytest.raises(ParamsError):
        SortingParams(curation_action="drop")
    p = SortingParams(sorter="spykingcircus2", sorter_params={"seed": 1})
    assert SortingParams.from_json(p.to_json()) == p


def test_import_is_light():
    import subprocess
    import sys

    code = "import sys, nwb_tavrnn, nwb_tavrnn.sorting; print('spikeinterface' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
