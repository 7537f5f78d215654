"""Real segmentation outputs through ``run``: suite2p (219 ROIs, iscell) and CaImAn CNMF-E (72
components) become validator-clean derived files whose graphs equal a numpy recomputation on the
traces read straight from the lab's files."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from pynwb import NWBHDF5IO

from nwb_tavrnn.cli.main import main
from nwb_tavrnn.validation import validate_file

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "ophys"
SUITE2P = SHARED / "suite2p_plane0"
CAIMAN = SHARED / "neuroconv_testing" / "caiman_analysis.hdf5"
NEUROCONV = SHARED / "neuroconv_testing" / "nwb_test.nwb"


def _run(source: Path, output: Path, *extra: str) -> None:
    rc = main(["--quiet", "run", str(source), str(output), "--window", "10", "--step", "5", "--threshold-mode", "none",
               "--set", "model.epochs=2", *extra])
    assert rc == 0


def _graphs(path: Path):
    with NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
        f = io.read()
        conn = f.processing["ophys"]["DynamicConnectivity"]
        emb = f.processing["ophys"]["NodeEmbeddings"]
        return (np.asarray(conn.correlation[()]), np.asarray(conn.window_start_times[:]),
                np.asarray(conn.window_stop_times[:]), np.asarray(conn.node_ids[:]),
                np.asarray(conn.node_region.data[:]), np.asarray(emb.mean[()]))


def _expected(traces: np.ndarray, starts, stops, rate: float, frames_per_bin: int) -> np.ndarray:
    """Signed r per window of the traces averaged over consecutive frames, with np.corrcoef."""
    out = []
    for a, b in zip(starts, stops):
        x = traces[int(round(a * rate)):int(round(b * rate))]
        x = x.reshape(-1, frames_per_bin, x.shape[1]).mean(axis=1)
        out.append(np.corrcoef(x.T))
    return np.array(out)


@pytest.mark.skipif(not SUITE2P.exists(), reason="needs ../shared/data")
def test_suite2p_plane_through_run(tmp_path):
    _run(SUITE2P, tmp_path / "s2p.nwb", "--rate", "30")
    corr, starts, stops, ids, rows, mean = _graphs(tmp_path / "s2p.nwb")
    with NWBHDF5IO(str(tmp_path / "s2p.nwb"), "r", load_namespaces=True) as io:  # provenance: what was given
        reference = next(iter(io.read().lab_meta_data.values()))
        assert reference.source_path == str(SUITE2P)
    iscell = np.load(SUITE2P / "iscell.npy")[:, 0].astype(bool)
    assert list(ids) == list(np.flatnonzero(iscell)) and len(ids) == 20  # iscell respected
    assert list(rows) == list(np.flatnonzero(iscell))  # rows of the full 219-ROI PlaneSegmentation
    F = np.load(SUITE2P / "F.npy").T.astype(np.float64)[:, iscell]  # (frames, cells), as suite2p wrote it
    np.testing.assert_allclose(corr, _expected(F, starts, stops, 30.0, 3), atol=5e-6)
    assert np.isfinite(mean).all() and mean.shape[:2] == (len(starts), 20)
    report = validate_file(tmp_path / "s2p.nwb")
    assert not report.problems, report.problems


@pytest.mark.skipif(not CAIMAN.exists(), reason="needs ../shared/data")
def test_caiman_components_through_run(tmp_path):
    _run(CAIMAN, tmp_path / "cm.nwb")
    corr, starts, stops, ids, rows, mean = _graphs(tmp_path / "cm.nwb")
    with h5py.File(CAIMAN, "r") as f:  # CaImAn's raw trace: denoised C plus residual YrA
        raw = (np.asarray(f["estimates/C"]) + np.asarray(f["estimates/YrA"])).T
    assert len(ids) == 72 and raw.shape == (1000, 72)
    np.testing.assert_allclose(corr, _expected(raw.astype(np.float32).astype(np.float64), starts, stops, 30.0, 3),
                               atol=5e-6)
    report = validate_file(tmp_path / "cm.nwb")
    assert not report.problems, report.problems


@pytest.mark.skipif(not NEUROCONV.exists(), reason="needs ../shared/data")
def test_neuroconv_nwb_through_run(tmp_path, capsys):
    _run(NEUROCONV, tmp_path / "nc.nwb", "--rois", "all")
    corr, starts, stops, ids, rows, mean = _graphs(tmp_path / "nc.nwb")
    assert len(ids) == 15 and corr.shape[0] == len(starts) == 4  # 25 s: windows at 0, 5, 10, 15 s
    report = validate_file(tmp_path / "nc.nwb")
    assert not report.problems, report.problems
    # online monitoring replays spikes: a model over ROIs is refused in one line, not half-run
    rc = main(["--quiet", "monitor", str(NEUROCONV), "--model", str(tmp_path / "nc.nwb")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "ROIs" in err[0]


@pytest.mark.skipif(not SUITE2P.exists(), reason="needs ../shared/data")
def test_suite2p_without_rate_is_one_line(tmp_path, capsys):
    rc = main(["--quiet", "run", str(SUITE2P), str(tmp_path / "x.nwb")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--rate" in err[0]
    assert not any(tmp_path.iterdir())


@pytest.mark.skipif(not SUITE2P.exists(), reason="needs ../shared/data")
def test_batch_takes_a_suite2p_folder_as_one_input(tmp_path):
    """A folder an importer reads is one input of batch (run imports it), not a folder of .nwb files."""
    from nwb_tavrnn.batch import expand_inputs

    assert expand_inputs([str(SUITE2P), str(NEUROCONV)]) == [(str(SUITE2P), str(SUITE2P)),
                                                             (str(NEUROCONV), str(NEUROCONV))]
