"""Calcium-imaging segmentations (suite2p, CaImAn, our writer) → NWB, checked against independent
reads of the inputs (numpy, h5py) and of the outputs (plain pynwb), and against both validators."""

from __future__ import annotations

import datetime
import hashlib
import logging
import sys
import uuid
from pathlib import Path

import h5py
import numpy as np
import pytest
from pynwb import NWBHDF5IO, NWBFile
from pynwb.file import Subject

from nwb_tavrnn.errors import InputFileError, ParameterError
from nwb_tavrnn.importers import IMPORTERS, recognise
from nwb_tavrnn.io import write_nwbfile
from nwb_tavrnn.ophys.write import add_ophys_module
from nwb_tavrnn.validation import validate_file

from ..conftest import SHARED_DATA

from ..cli_run import run_quiet

SUITE2P = SHARED_DATA / "ophys" / "suite2p_plane0"
CAIMAN = SHARED_DATA / "ophys" / "neuroconv_testing" / "caiman_analysis.hdf5"


def _clean(path: Path) -> None:
    report = validate_file(path)
    assert report.ok, [str(f) for f in report.problems]


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def _ophys(nwbfile):
    return nwbfile.processing["ophys"]


def _rois_cover_all_rows(series, seg) -> None:
    assert series.rois.table is seg
    assert list(series.rois.data[:]) == list(range(len(seg)))
    assert series.data.shape[1] == len(seg)


# --- suite2p, the real bare plane folder (no ops.npy) ---------------------------------------------

@pytest.fixture(scope="module")
def suite2p_file(tmp_path_factory):
    if not (SUITE2P / "F.npy").is_file():
        pytest.skip("shared suite2p data absent")
    from nwb_tavrnn.importers.suite2p import suite2p_nwbfile

    before = _hashes(SUITE2P)
    path = write_nwbfile(suite2p_nwbfile(SUITE2P, rate=30.0), tmp_path_factory.mktemp("s2p") / "s2p.nwb")
    assert _hashes(SUITE2P) == before
    return path


def test_suite2p_plane_traces_masks_and_classification(suite2p_file):
    stat = np.load(SUITE2P / "stat.npy", allow_pickle=True)
    iscell = np.load(SUITE2P / "iscell.npy")
    with NWBHDF5IO(str(suite2p_file), "r") as nwb_io:
        nwbfile = nwb_io.read()
        ophys = _ophys(nwbfile)
        seg = ophys["ImageSegmentation"]["PlaneSegmentation"]
        assert len(seg) == 219 and list(seg.id[:]) == list(range(219))
        for name, npy in (("RoiResponseSeries", "F.npy"), ("Neuropil", "Fneu.npy"), ("Deconvolved", "spks.npy")):
            series = ophys["Fluorescence"][name]
            expected = np.load(SUITE2P / npy).T
            assert series.data.dtype == np.float32 and series.data.shape == (2000, 219)
            np.testing.assert_array_equal(series.data[:], expected)
            assert series.rate == 30.0 and series.unit == "n.a."
            _rois_cover_all_rows(series, seg)
        assert "DfOverF" not in ophys.data_interfaces
        for i in (0, 7, 218):
            mask = np.asarray(seg["pixel_mask"][i])
            np.testing.assert_array_equal(mask["x"], stat[i]["xpix"])
            np.testing.assert_array_equal(mask["y"], stat[i]["ypix"])
            np.testing.assert_array_equal(mask["weight"], stat[i]["lam"].astype(np.float32))
            centre = seg["RoiCentroid"][i]
            assert centre == pytest.approx([np.average(stat[i]["ypix"], weights=stat[i]["lam"]),
                                            np.average(stat[i]["xpix"], weights=stat[i]["lam"])])
        accepted = np.asarray(seg["Accepted"][:])
        assert accepted.dtype == bool and accepted.sum() == 20
        np.testing.assert_array_equal(accepted, iscell[:, 0].astype(bool))
        np.testing.assert_array_equal(seg["iscell_probability"][:], iscell[:, 1])
        plane = seg.imaging_plane
        assert plane.imaging_rate == 30.0 and plane.name == "ImagingPlane"
        # the synthetic ops.npy: the smallest field of view holding every ROI
        height = max(s["ypix"].max() for s in stat) + 1
        width = max(s["xpix"].max() for s in stat) + 1
        assert plane.description.startswith(f"Field of view of {height} x {width} pixels")
        assert "suite2p" in nwbfile.session_description and "modification time" in nwbfile.session_description
        assert nwbfile.session_start_time == datetime.datetime.fromtimestamp(
            int((SUITE2P / "F.npy").stat().st_mtime), tz=datetime.timezone.utc)


def test_suite2p_file_is_validator_clean(suite2p_file):
    _clean(suite2p_file)


def test_suite2p_without_ops_or_rate_is_one_line():
    if not (SUITE2P / "F.npy").is_file():
        pytest.skip("shared suite2p data absent")
    from nwb_tavrnn.importers.suite2p import suite2p_nwbfile

    with pytest.raises(InputFileError, match="has no ops.npy, so its frame rate is unknown; give the `rate`") as err:
        suite2p_nwbfile(SUITE2P)
    assert "\n" not in str(err.value)


# --- suite2p, a synthetic root with two planes and ops.npy -----------------------------------------

def _plane(folder: Path, seed: int, n_rois: int = 4, frames: int = 50, ly: int = 12, lx: int = 20, fs=15.0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for name in ("F", "Fneu", "spks"):
        np.save(folder / f"{name}.npy", rng.random((n_rois, frames), dtype=np.float32))
    stat = np.array([{"ypix": np.array([i, i, i + 1]), "xpix": np.array([lx - 1 - i, lx - 2 - i, lx - 1 - i]),
                      "lam": np.array([1.0, 0.5, 0.25], dtype=np.float32)} for i in range(n_rois)], dtype=object)
    np.save(folder / "stat.npy", stat, allow_pickle=True)
    np.save(folder / "iscell.npy", np.column_stack([np.arange(n_rois) % 2, np.linspace(0, 1, n_rois)]))
    np.save(folder / "ops.npy", np.array({"fs": fs, "nframes": frames, "Ly": ly, "Lx": lx}, dtype=object))
    return folder


def test_suite2p_root_with_two_planes(tmp_path, caplog):
    from nwb_tavrnn.importers.suite2p import suite2p_nwbfile

    root = tmp_path / "suite2p"
    _plane(root / "plane0", 0)
    _plane(root / "plane1", 1, n_rois=3)
    (root / "combined").mkdir()
    assert recognise(root) == "suite2p" and recognise(root / "plane1") == "suite2p"
    before = _hashes(root)
    path = write_nwbfile(suite2p_nwbfile(root), tmp_path / "two.nwb")
    with caplog.at_level(logging.WARNING):
        one = suite2p_nwbfile(root, rate=20.0, plane="plane1")
    assert "overrides the frame rate in ops.npy" in caplog.text
    assert _hashes(root) == before
    with NWBHDF5IO(str(path), "r") as nwb_io:
        ophys = _ophys(nwb_io.read())
        segs = ophys["ImageSegmentation"].plane_segmentations
        assert sorted(segs) == ["PlaneSegmentation_plane0", "PlaneSegmentation_plane1"]
        for name, n in (("plane0", 4), ("plane1", 3)):
            seg = segs[f"PlaneSegmentation_{name}"]
            assert len(seg) == n and seg.imaging_plane.name == f"ImagingPlane_{name}"
            assert seg.imaging_plane.imaging_rate == 15.0
            assert seg.imaging_plane.description.startswith("Field of view of 12 x 20 pixels")
            raw = ophys["Fluorescence"][f"RoiResponseSeries_{name}"]
            np.testing.assert_array_equal(raw.data[:], np.load(root / name / "F.npy").T)
            _rois_cover_all_rows(raw, seg)
            mask = np.asarray(seg["pixel_mask"][0])  # NWB x is the column (xpix), y the row (ypix)
            assert list(mask["x"]) == [19, 18, 19] and list(mask["y"]) == [0, 0, 1]
    seg = _ophys(one)["ImageSegmentation"]["PlaneSegmentation"]
    assert len(seg) == 3 and seg.imaging_plane.imaging_rate == 20.0
    assert _ophys(one)["Fluorescence"]["RoiResponseSeries"].rate == 20.0
    _clean(path)


def test_suite2p_errors_are_one_line(tmp_path):
    from nwb_tavrnn.importers.suite2p import suite2p_nwbfile

    _plane(tmp_path / "s2p" / "plane0", 0)
    cases = [(tmp_path, InputFileError, "no suite2p plane here"),
             (tmp_path / "s2p" / "missing", InputFileError, "not a folder")]
    for folder, error, words in cases:
        with pytest.raises(error, match=words) as err:
            suite2p_nwbfile(folder)
        assert "\n" not in str(err.value)
    with pytest.raises(ParameterError, match="no plane3"):
        suite2p_nwbfile(tmp_path / "s2p", plane=3)
    with pytest.raises(ParameterError, match="rate must be > 0"):
        suite2p_nwbfile(tmp_path / "s2p", rate=0.0)
    np.save(tmp_path / "s2p" / "plane0" / "Fneu.npy", np.zeros((4, 49), dtype=np.float32))
    with pytest.raises(InputFileError, match="plane0: traces must all be"):
        suite2p_nwbfile(tmp_path / "s2p")


# --- CaImAn -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def caiman_file(tmp_path_factory):
    if not CAIMAN.is_file():
        pytest.skip("shared CaImAn data absent")
    from nwb_tavrnn.importers.caiman import caiman_nwbfile

    return write_nwbfile(caiman_nwbfile(CAIMAN), tmp_path_factory.mktemp("caiman") / "caiman.nwb")


def _dense_footprints(group) -> np.ndarray:
    """CaImAn's sparse A (pixels × components, CSC) as a dense array, read with h5py alone."""
    data, indices, indptr = group["data"][:], group["indices"][:], group["indptr"][:]
    dense = np.zeros(tuple(group["shape"][:]))
    for k in range(len(indptr) - 1):
        dense[indices[indptr[k]:indptr[k + 1]], k] = data[indptr[k]:indptr[k + 1]]
    return dense


def test_caiman_traces_and_masks(caiman_file):
    with h5py.File(CAIMAN, "r") as f:
        est = {k: f["estimates"][k][:] for k in ("C", "YrA", "F_dff", "S")}
        footprints = _dense_footprints(f["estimates/A"])
        height, width = f["params/data/dims"][:]
    with NWBHDF5IO(str(caiman_file), "r") as nwb_io:
        ophys = _ophys(nwb_io.read())
        seg = ophys["ImageSegmentation"]["PlaneSegmentation"]
        assert len(seg) == 72
        fluorescence = ophys["Fluorescence"]
        # roiextractors: raw = C + YrA (denoised + residual), denoised = C, deconvolved = S
        for series, expected in ((fluorescence["RoiResponseSeries"], est["C"] + est["YrA"]),
                                 (fluorescence["Denoised"], est["C"]), (fluorescence["Deconvolved"], est["S"]),
                                 (ophys["DfOverF"]["RoiResponseSeries"], est["F_dff"])):
            assert series.data.shape == (1000, 72) and series.rate == 30.0
            np.testing.assert_array_equal(series.data[:], expected.T.astype(np.float32))
            _rois_cover_all_rows(series, seg)
        assert "Neuropil" not in fluorescence.roi_response_series
        masks = seg["image_mask"].data[:]
        assert masks.shape == (72, height, width)
        # CaImAn flattens each footprint in Fortran order (pixel = row + column * height)
        expected = footprints.T.reshape(72, width, height).transpose(0, 2, 1)
        np.testing.assert_array_equal(masks, np.reshape(footprints, (height, width, 72), order="F").transpose(2, 0, 1))
        np.testing.assert_array_equal(masks, expected)
        assert not np.array_equal(masks, footprints.T.reshape(72, height, width))  # C order differs
        assert np.asarray(seg["Accepted"][:]).all()  # no idx_components in the file: all accepted


def test_caiman_file_is_validator_clean(caiman_file):
    _clean(caiman_file)


def _write_caiman(path: Path, footprints: np.ndarray, dims: tuple[int, int], frames: int = 40):
    """A minimal CaImAn-layout HDF5 file (the fields roiextractors reads)."""
    from scipy.sparse import csc_matrix

    rng = np.random.default_rng(0)
    n = footprints.shape[1]
    a = csc_matrix(footprints)
    with h5py.File(path, "w") as f:
        est = f.create_group("estimates")
        for k, v in (("data", a.data), ("indices", a.indices), ("indptr", a.indptr), ("shape", np.array(a.shape))):
            est[f"A/{k}"] = v
        for k in ("C", "YrA", "S", "F_dff"):
            est[k] = rng.random((n, frames))
        est["idx_components"] = np.array([1])
        f["params/data/dims"] = np.array(dims)
        f["params/data/fr"] = 30.0


def test_caiman_masks_on_a_wide_field_of_view(tmp_path, caplog):
    """Non-square, so row and column cannot be confused: a footprint at row 1, column 7 of a 4 x 9 image."""
    from nwb_tavrnn.importers.caiman import caiman_nwbfile

    height, width = 4, 9
    footprints = np.zeros((height * width, 2))
    footprints[1 + 7 * height, 0] = 1.0  # Fortran order: row + column * height
    footprints[[3 + 0 * height, 3 + 1 * height], 1] = [0.5, 1.5]
    path = tmp_path / "cm.hdf5"
    _write_caiman(path, footprints, (height, width))
    assert recognise(path) == "caiman"
    nwbfile = caiman_nwbfile(path, rate=12.5)
    assert "stored frame rate" not in caplog.text
    seg = _ophys(nwbfile)["ImageSegmentation"]["PlaneSegmentation"]
    masks = np.asarray(seg["image_mask"].data)
    assert masks.shape == (2, height, width)
    assert masks[0, 1, 7] == 1.0 and masks[0].sum() == 1.0
    assert seg["RoiCentroid"].data[0] == pytest.approx([1.0, 7.0])
    assert seg["RoiCentroid"].data[1] == pytest.approx([3.0, 0.75])
    assert list(seg["Accepted"].data) == [False, True]
    assert seg.imaging_plane.imaging_rate == 12.5
    with caplog.at_level(logging.WARNING):
        caiman_nwbfile(path)
    assert "stored frame rate 30 Hz" in caplog.text


def test_caiman_errors_are_one_line(tmp_path):
    from nwb_tavrnn.importers.caiman import caiman_nwbfile

    (tmp_path / "x.hdf5").write_bytes(b"not hdf5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["data"] = np.zeros(3)
    for path, words in ((tmp_path / "none.hdf5", "no such file"), (tmp_path / "x.hdf5", "not a CaImAn HDF5 file"),
                        (tmp_path / "other.h5", "no 'estimates' group")):
        with pytest.raises(InputFileError, match=words) as err:
            caiman_nwbfile(path)
        assert "\n" not in str(err.value)


# --- the writer on synthetic arrays ----------------------------------------------------------------

def _nwbfile() -> NWBFile:
    nwbfile = NWBFile(session_description="synthetic ophys", identifier=str(uuid.uuid4()),
                      session_start_time=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))
    nwbfile.subject = Subject(subject_id="r1", species="Rattus norvegicus", sex="U", age="P90D")
    return nwbfile


def _synthetic(frames: int = 300, rois: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    traces = {"raw": rng.random((frames, rois)), "neuropil": rng.random((frames, rois)), "dff": rng.random((frames, rois)),
              "deconvolved": None}
    masks = [np.array([[i, 2, 1.0], [i + 1, 3, 3.0]]) for i in range(rois)]
    return traces, masks


def test_writer_two_planes_timestamps_and_layout(tmp_path):
    traces, masks = _synthetic()
    nwbfile = _nwbfile()
    seg0 = add_ophys_module(nwbfile, traces=traces, image_shape=(8, 10), rate=10.0, starting_time=2.0,
                            pixel_masks=masks, roi_ids=[10, 11, 12, 13, 14, 15], accepted=np.arange(6) < 2,
                            columns={"quality": ("a score", np.linspace(0, 1, 6))},
                            suffix="_plane0", plane_name="ImagingPlane0")
    stamps = np.arange(300) / 5.0 + np.random.default_rng(1).uniform(0, 0.01, 300)  # irregular frames
    image = np.zeros((4, 8, 10))
    image[np.arange(4), np.arange(4), 9 - np.arange(4)] = 2.0
    seg1 = add_ophys_module(nwbfile, traces={"raw": traces["raw"][:, :4]}, image_shape=(8, 10), timestamps=stamps,
                            image_masks=image, suffix="_plane1", plane_name="ImagingPlane1")
    assert seg0.name == "PlaneSegmentation_plane0" and seg1.name == "PlaneSegmentation_plane1"
    path = write_nwbfile(nwbfile, tmp_path / "two.nwb")
    _clean(path)
    with NWBHDF5IO(str(path), "r") as nwb_io:
        ophys = _ophys(nwb_io.read())
        assert sorted(ophys["Fluorescence"].roi_response_series) == [
            "Neuropil_plane0", "RoiResponseSeries_plane0", "RoiResponseSeries_plane1"]
        assert sorted(ophys["DfOverF"].roi_response_series) == ["RoiResponseSeries_plane0"]
        raw0 = ophys["Fluorescence"]["RoiResponseSeries_plane0"]
        assert raw0.rate == 10.0 and raw0.starting_time == 2.0 and raw0.data.dtype == np.float32
        np.testing.assert_array_equal(raw0.data[:], traces["raw"].astype(np.float32))
        seg = ophys["ImageSegmentation"]["PlaneSegmentation_plane0"]
        assert list(seg.id[:]) == [10, 11, 12, 13, 14, 15]
        assert list(seg["Accepted"][:]) == [True, True, False, False, False, False]
        assert seg["RoiCentroid"][0] == pytest.approx([2.75, 0.75])  # (row, column): y weighted 1:3, x 0 and 1
        assert seg.imaging_plane.imaging_rate == 10.0
        _rois_cover_all_rows(raw0, seg)
        _rois_cover_all_rows(ophys["DfOverF"]["RoiResponseSeries_plane0"], seg)
        raw1 = ophys["Fluorescence"]["RoiResponseSeries_plane1"]
        np.testing.assert_array_equal(raw1.timestamps[:], stamps)
        seg = ophys["ImageSegmentation"]["PlaneSegmentation_plane1"]
        assert seg.imaging_plane.imaging_rate == pytest.approx(1 / np.median(np.diff(stamps)))
        assert seg["RoiCentroid"][3] == pytest.approx([3.0, 6.0])
        np.testing.assert_array_equal(seg["image_mask"].data[:], image)
        _rois_cover_all_rows(raw1, seg)


def test_writer_regular_timestamps_become_a_rate_and_large_data_is_compressed(tmp_path):
    rng = np.random.default_rng(2)
    traces = {"raw": rng.random((3000, 100))}  # 1.2 MB as float32
    nwbfile = _nwbfile()
    add_ophys_module(nwbfile, traces=traces, image_shape=(100, 4), timestamps=5.0 + np.arange(3000) / 20.0,
                     pixel_masks=[np.array([[1, i, 1.0]]) for i in range(100)])
    path = write_nwbfile(nwbfile, tmp_path / "big.nwb")
    with h5py.File(path, "r") as f:
        data = f["processing/ophys/Fluorescence/RoiResponseSeries/data"]
        assert data.compression == "gzip" and data.dtype == np.float32
        assert "timestamps" not in f["processing/ophys/Fluorescence/RoiResponseSeries"]
    with NWBHDF5IO(str(path), "r") as nwb_io:
        series = _ophys(nwb_io.read())["Fluorescence"]["RoiResponseSeries"]
        assert series.rate == pytest.approx(20.0) and series.starting_time == 5.0
    _clean(path)


@pytest.mark.parametrize("change, words", [
    ({"traces": {"raw": np.zeros((10, 3)), "dff": np.zeros((10, 4))}}, "of one shape"),
    ({"traces": {"raw": None}}, "no traces given"),
    ({"traces": {"spikes": np.zeros((10, 3))}}, "unknown trace name"),
    ({"pixel_masks": [np.array([[0, 0, 1.0]])] * 2}, "2 pixel masks for 3 ROIs"),
    ({"pixel_masks": None, "image_masks": np.zeros((2, 5, 5))}, r"must be \(3, height, width\)"),
    ({"pixel_masks": [np.array([[5, 0, 1.0]])] * 3}, "outside the 5x5 field of view"),
    ({"image_masks": np.zeros((3, 5, 5))}, "exactly one of pixel_masks and image_masks"),
    ({"rate": None, "timestamps": np.r_[0.0, np.nan, np.arange(2, 10.0)]}, "timestamps must be finite"),
    ({"rate": None, "timestamps": np.r_[0.0, 2.0, 1.0, np.arange(3, 10.0)]}, "strictly increasing"),
    ({"rate": None, "timestamps": np.arange(9.0)}, r"must be \(10,\)"),
    ({"rate": 0.0}, "rate must be a finite number > 0"),
    ({"rate": -3.0}, "rate must be a finite number > 0"),
    ({"timestamps": np.arange(10.0)}, "exactly one of rate and timestamps"),
    ({"roi_ids": [1, 1, 2]}, "3 distinct integers"),
    ({"accepted": np.ones(2, bool)}, "'Accepted' has 2 values for 3 ROIs"),
])
def test_writer_errors_are_one_line(change, words):
    kwargs = {"traces": {"raw": np.zeros((10, 3))}, "image_shape": (5, 5), "rate": 10.0,
              "pixel_masks": [np.array([[0, 0, 1.0]])] * 3, **change}
    nwbfile = _nwbfile()
    with pytest.raises(ParameterError, match=words) as err:
        add_ophys_module(nwbfile, **kwargs)
    assert "\n" not in str(err.value)
    assert "ophys" not in nwbfile.processing or not _ophys(nwbfile).data_interfaces  # nothing half-written


def test_writer_refuses_a_second_plane_with_the_same_suffix():
    traces, masks = _synthetic()
    nwbfile = _nwbfile()
    add_ophys_module(nwbfile, traces=traces, image_shape=(8, 10), rate=10.0, pixel_masks=masks)
    with pytest.raises(ParameterError, match="already holds ImageSegmentation/PlaneSegmentation; give each plane"):
        add_ophys_module(nwbfile, traces=traces, image_shape=(8, 10), rate=10.0, pixel_masks=masks)
    with pytest.raises(ParameterError, match="'RoiCentroid' is written by add_ophys_module itself"):
        add_ophys_module(nwbfile, traces=traces, image_shape=(8, 10), rate=10.0, pixel_masks=masks, suffix="_b",
                         columns={"RoiCentroid": ("x", np.zeros(6))})
    # a series of that name from elsewhere: refused before anything is added
    from pynwb.ophys import Fluorescence, RoiResponseSeries

    other = _nwbfile()
    seg = add_ophys_module(other, traces={"dff": traces["dff"]}, image_shape=(8, 10), rate=10.0, pixel_masks=masks,
                           suffix="_a")
    fluorescence = Fluorescence()
    _ophys(other).add(fluorescence)
    fluorescence.add_roi_response_series(RoiResponseSeries(
        name="Neuropil", data=traces["neuropil"], rate=10.0, unit="n.a.",
        rois=seg.create_roi_table_region(description="all", region=list(range(6)))))
    with pytest.raises(ParameterError, match="already holds Fluorescence/Neuropil; give each plane"):
        add_ophys_module(other, traces=traces, image_shape=(8, 10), rate=10.0, pixel_masks=masks)
    assert list(_ophys(other)["ImageSegmentation"].plane_segmentations) == ["PlaneSegmentation_a"]


# --- registry, recognise and the command line -------------------------------------------------------

def test_recognise_does_not_need_roiextractors(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "roiextractors", None)  # any import of it would raise
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    assert recognise(tmp_path / "empty") is None and recognise(tmp_path / "notes.txt") is None
    assert recognise(tmp_path / "missing") is None
    bare = _plane(tmp_path / "bare", 0)
    assert recognise(bare) == "suite2p"
    assert set(IMPORTERS) >= {"linear-track", "suite2p", "caiman"}
    if (SHARED_DATA / "hippocampus_linear_track" / "spikes.mat").is_file():
        assert recognise(SHARED_DATA / "hippocampus_linear_track") == "linear-track"




def test_cli_imports_suite2p_and_never_writes_the_source(tmp_path):
    if not (SUITE2P / "F.npy").is_file():
        pytest.skip("shared suite2p data absent")
    before = _hashes(SUITE2P)
    rc, err = run_quiet(["import", "suite2p", str(SUITE2P), str(tmp_path / "no_rate.nwb")])
    assert rc == 2 and "--rate" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "no_rate.nwb").exists()
    rc, err = run_quiet(["import", "suite2p", str(SUITE2P), str(tmp_path / "out.nwb"), "--rate", "30"])
    assert rc == 0, err
    with NWBHDF5IO(str(tmp_path / "out.nwb"), "r") as nwb_io:
        assert _ophys(nwb_io.read())["Fluorescence"]["RoiResponseSeries"].rate == 30.0
    assert _hashes(SUITE2P) == before


def test_cli_rate_is_checked_and_refused_where_it_does_not_apply(tmp_path):
    _plane(tmp_path / "s2p" / "plane0", 0)
    for argv, words in ((["suite2p", str(tmp_path / "s2p"), "--rate", "0"], "--rate must be a frame rate > 0"),
                        (["linear-track", str(tmp_path / "s2p"), "--rate", "30"], "--rate does not apply to linear-track"),
                        (["caiman", str(tmp_path / "s2p"), "--plane", "plane0"], "--plane does not apply to caiman")):
        rc, err = run_quiet(["import", argv[0], argv[1], str(tmp_path / "o.nwb"), *argv[2:]])
        assert rc == 2 and words in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o.nwb").exists()
    rc, err = run_quiet(["import", "suite2p", str(tmp_path / "s2p"), str(tmp_path / "o.nwb"), "--plane", "plane0"])
    assert rc == 0, err
