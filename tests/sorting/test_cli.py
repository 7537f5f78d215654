"""``nwb-tavrnn sort`` through its own argparse subparsers (``register``)."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from nwb_tavrnn.cli import sort as sort_cli
from nwb_tavrnn.errors import NwbTavrnnError
from nwb_tavrnn.io.files import open_nwb


def _parse(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--quiet", action="store_true")
    sub = parser.add_subparsers(dest="command")
    sort_cli.register(sub)
    return parser.parse_args(["sort", *argv])


def test_hdmea_on_binary_file(tmp_path, capsys):
    from nwb_tavrnn.sorting.adapter import generate_channel_events

    recording, truth = generate_channel_events(num_channels=4, duration=3.0, seed=1)
    raw = tmp_path / "rec.raw"
    (recording.get_traces() * 10).astype(np.int16).tofile(raw)  # 0.1 uV per unit
    args = _parse([str(raw), str(tmp_path / "out.nwb"), "--format", "binary", "--sampling-frequency", "20000",
                   "--num-channels", "4", "--dtype", "int16", "--gain-to-uv", "0.1", "--hdmea", "--detect-threshold", "6",
                   "--subject-id", "culture-1", "--species", "Rattus norvegicus", "--sex", "U", "--age", "P21D"])
    assert args.func(args) == 0
    assert "4 electrodes" in capsys.readouterr().out
    with open_nwb(tmp_path / "out.nwb") as nwbfile:
        assert nwbfile.subject.species == "Rattus norvegicus"
        assert len(nwbfile.units) == 4
        assert np.all(np.asarray(nwbfile.units["noise_level"].data[:]) > 1)  # in uV, via the gain


def test_options_map_to_params(capsys):
    args = _parse(["in.nwb", "out.nwb", "--sorter", "spykingcircus2", "--curation", '{"snr": {"greater": 5}}',
                   "--label-only", "--bandpass", "250", "5000", "--reference", "none", "--bad-channels", "none"])
    params = sort_cli.params_from_args(args)
    assert params.sorter == "spykingcircus2"
    assert params.curation == {"snr": {"greater": 5}}
    assert params.curation_action == "label"
    assert params.preprocessing.bandpass == (250.0, 5000.0)
    assert params.preprocessing.common_reference is None and params.preprocessing.bad_channels is None
    with pytest.raises(SystemExit) as exit_:  # refused while the options are read, as argparse refuses
        _parse(["in.nwb", "out.nwb", "--curation", "{snr"])
    assert exit_.value.code == 2 and "argument --curation: not valid JSON" in capsys.readouterr().err
    with pytest.raises(NwbTavrnnError, match="--bandpass or --no-bandpass"):
        sort_cli.params_from_args(_parse(["in.nwb", "out.nwb", "--bandpass", "1", "2", "--no-bandpass"]))
    hdmea = sort_cli.params_from_args(_parse(["in.nwb", "out.nwb", "--hdmea", "--threshold", "6", "--no-bandpass"]))
    assert hdmea.detect_threshold == 6.0 and hdmea.preprocessing.bandpass is None  # the older spelling still works
    assert hdmea.preprocessing.bad_channels is None  # the mode's own default, not the sorter's


def test_bad_input_exit_code(tmp_path):
    args = _parse([str(tmp_path / "missing.nwb"), str(tmp_path / "out.nwb")])
    with pytest.raises(NwbTavrnnError) as err:
        args.func(args)
    assert err.value.exit_code == 2
    assert not (tmp_path / "out.nwb").exists()
