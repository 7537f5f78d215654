"""Both validators on our files, our own nwbinspector checks, and a messy real file reported plainly."""

from __future__ import annotations

import numpy as np
import pytest
from pynwb import NWBHDF5IO

from nwb_tavrnn.cli.main import main
from nwb_tavrnn.io import open_nwb
from nwb_tavrnn.io.write import write_derived
from nwb_tavrnn.testing import mock_dynamic_connectivity
from nwb_tavrnn.validation import validate_file

from .conftest import sha256


def _write_raw(tmp_path, conn, name="raw.nwb"):
    """Write a file bypassing our constructors' checks' protection of what lands on disk."""
    from nwb_tavrnn.testing import mock_source_nwbfile

    nwbfile = mock_source_nwbfile()
    nwbfile.create_processing_module("ecephys", "graphs").add(conn)
    path = tmp_path / name
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return path


def _checks(report):
    return {f.check for f in report.problems}


def test_asymmetric_undirected_graph_is_flagged(tmp_path):
    conn = mock_dynamic_connectivity(n_nodes=6, node_ids=np.arange(6), window_start_times=np.arange(4.0),
                                     window_stop_times=np.arange(4.0) + 10)
    data = conn.to_dense()
    data[2, 0, 1] += 0.3
    bad = mock_dynamic_connectivity(n_nodes=6, node_ids=np.arange(6), data=data,
                                    window_start_times=np.arange(4.0), window_stop_times=np.arange(4.0) + 10)
    report = validate_file(_write_raw(tmp_path, bad))
    assert "check_undirected_connectivity_is_symmetric" in _checks(report)
    assert any("window 2" in f.message for f in report.problems)
    ok = validate_file(_write_raw(tmp_path, conn, "ok.nwb"))
    assert ok.ok, [str(f) for f in ok.problems]


def test_windows_outside_session_are_flagged(tmp_path):
    conn = mock_dynamic_connectivity(n_nodes=6, node_ids=np.arange(6))  # windows up to 300 s; session 60 s
    report = validate_file(_write_raw(tmp_path, conn))
    assert "check_connectivity_windows_inside_session" in _checks(report)


def test_directed_graphs_may_be_asymmetric(tmp_path):
    conn = mock_dynamic_connectivity(n_nodes=6, node_ids=np.arange(6), window_start_times=np.arange(4.0),
                                     window_stop_times=np.arange(4.0) + 10)
    data = conn.to_dense()
    data[:, 0, 1] = 0.9
    directed = mock_dynamic_connectivity(n_nodes=6, node_ids=np.arange(6), data=data, directed=True,
                                         window_start_times=np.arange(4.0), window_stop_times=np.arange(4.0) + 10)
    assert validate_file(_write_raw(tmp_path, directed)).ok


def test_cli_validate_exit_codes(source_file, tmp_path, capsys):
    out = tmp_path / "derived.nwb"
    starts = np.arange(4) * 10.0
    with open_nwb(source_file) as source:
        write_derived(source, out, [mock_dynamic_connectivity(n_nodes=6, node_ids=np.arange(100, 106),
                                                              window_start_times=starts,
                                                              window_stop_times=starts + 20)])
    assert main(["validate", str(out)]) == 0
    assert f"{out}: OK" in capsys.readouterr().out
    bad = _write_raw(tmp_path, mock_dynamic_connectivity(n_nodes=6, node_ids=np.arange(6)), "bad.nwb")
    assert main(["validate", str(out), str(bad)]) == 4
    text = capsys.readouterr().out
    assert "bad.nwb: 1 problem(s)" in text and "check_connectivity_windows_inside_session" in text


def test_messy_real_file_is_reported_plainly(dandi_file, capsys):
    before = sha256(dandi_file)
    report = validate_file(dandi_file)
    cached = [f for f in report.findings if f.check == "cached_schema"]
    assert len(cached) == 1 and "experimental.yaml" in cached[0].message
    assert any("re-run against the schemas installed" in n for n in report.notes)
    # the inspector still ran: the file's missing stimulus videos are real findings
    assert any(f.check == "check_image_series_external_file_valid" for f in report.findings)
    assert not report.ok
    assert main(["validate", str(dandi_file)]) == 4
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    assert "could not use the schema cached in the file" in out.out
    assert sha256(dandi_file) == before


def test_a_copy_with_results_tells_inherited_problems_from_introduced(dandi_file, tmp_path, capsys):
    """A copy of a messy real file with our results added: every problem is the source's (found by
    itself through the copy's SourceFileReference); one we then break in our own object is the only
    one introduced."""
    import h5py
    import pandas as pd

    from nwb_tavrnn.io.write import append_results
    from nwb_tavrnn.schema import EvaluationScores

    scores = EvaluationScores.from_frame(pd.DataFrame({"method": ["m"], "analysis": ["a"], "metric": ["x"],
                                                       "value": [1.0], "seed": [0]}),
                                         description="d", labels="epochs:state", parameters={})
    copy = append_results(dandi_file, [scores], tmp_path / "copy.nwb")
    source = validate_file(dandi_file)
    report = validate_file(copy)
    assert report.source == str(dandi_file.resolve()) or report.source == str(dandi_file)
    assert len(source.problems) > 50 and len(report.problems) == len(source.problems)
    assert report.introduced == [] and len(report.inherited) == len(source.problems)
    assert validate_file(copy, compare=False).source is None
    assert main(["validate", str(copy)]) == 4  # the file as a whole is still not valid
    text = capsys.readouterr().out
    assert f"{len(source.problems)} problem(s): 0 introduced by this file's writing, {len(source.problems)} inherited" in text
    # a copy whose added graphs lie far outside the session: that problem is the writing's own
    late = np.arange(4) * 10.0 + 1e10
    broken = append_results(dandi_file, [mock_dynamic_connectivity(n_nodes=6, node_ids=np.arange(6),
                                                                   window_start_times=late,
                                                                   window_stop_times=late + 20)],
                            tmp_path / "broken.nwb")
    report = validate_file(broken, dandi_file)
    assert len(report.inherited) == len(source.problems)
    assert [f.check for f in report.introduced] == ["check_connectivity_windows_inside_session"]
    assert main(["validate", str(broken), "--derived-from", str(dandi_file)]) == 4
    text = capsys.readouterr().out
    assert "1 introduced by this file's writing" in text
    assert "check_connectivity_windows_inside_session" in text.split("inherited from")[1]  # listed first


@pytest.mark.parametrize("flag", [[], ["--json"]])
def test_cli_inspect_lists_units_intervals_and_our_types(source_file, tmp_path, capsys, flag):
    import json

    out = tmp_path / "derived.nwb"
    starts = np.arange(4) * 10.0
    with open_nwb(source_file) as source:
        write_derived(source, out, [mock_dynamic_connectivity(n_nodes=6, node_ids=np.arange(100, 106),
                                                              window_start_times=starts,
                                                              window_stop_times=starts + 20)])
    assert main(["inspect", str(out), *flag]) == 0
    text = capsys.readouterr().out
    if flag:
        summary = json.loads(text)
        assert summary["units"]["count"] == 6 and summary["units"]["silent_units"] == 1
        assert summary["intervals"]["trials"]["rows"] == 6
        assert summary["nwb_tavrnn"]["ecephys/DynamicConnectivity"]["shapes"]["data"] == [4, 6, 6]
    else:
        assert "units: 6" in text and "1 silent" in text
        assert "trials: 6 rows" in text
        assert "ecephys/DynamicConnectivity (DynamicConnectivity): data (4, 6, 6)" in text


def test_import_is_light():
    import subprocess
    import sys

    code = ("import sys, nwb_tavrnn, nwb_tavrnn.io.read, nwb_tavrnn.io.write;"
            "print([m for m in ('torch', 'spikeinterface', 'torch_geometric', 'dandi', 'nwbinspector',"
            " 'matplotlib', 'sklearn') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-1000:]
    assert result.stdout.strip() == "[]"
