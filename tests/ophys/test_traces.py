"""ROI traces as graph nodes: reading, binning, signals, graphs against numpy, and the derived file."""

from __future__ import annotations

import datetime
import hashlib
import uuid
from pathlib import Path

import numpy as np
import pytest
from pynwb import NWBHDF5IO, NWBFile

from nwb_tavrnn.connectivity import ConnectivityParams
from nwb_tavrnn.connectivity.step import run_connectivity
from nwb_tavrnn.errors import InputFileError, ParameterError
from nwb_tavrnn.io.files import write_nwbfile
from nwb_tavrnn.ophys.read import read_roi_traces
from nwb_tavrnn.ophys.signals import block_noise, maximin_baseline
from nwb_tavrnn.ophys.traces import RoiTraces
from nwb_tavrnn.ophys.write import add_ophys_module

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "ophys"
NEUROCONV = SHARED / "neuroconv_testing" / "nwb_test.nwb"


def _nwbfile() -> NWBFile:
    return NWBFile(session_description="test", identifier=str(uuid.uuid4()),
                   session_start_time=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))


def _discs(n: int, shape=(32, 32)) -> np.ndarray:
    masks = np.zeros((n, *shape), dtype=np.float32)
    for i in range(n):
        r, c = 4 + (i * 7) % (shape[0] - 8), 4 + (i * 5) % (shape[1] - 8)
        masks[i, r - 2:r + 3, c - 2:c + 3] = 1.0
    return masks


def write_traces(path: Path, traces: np.ndarray, *, rate: float | None = 20.0, timestamps=None, planes: int = 1,
                 accepted=None, groups=None) -> Path:
    """An NWB file holding ``traces`` (frames, rois) as the raw fluorescence of ``planes`` planes."""
    nwbfile = _nwbfile()
    for p in range(planes):
        columns = {"group": ("planted group", list(groups))} if groups is not None else None
        add_ophys_module(nwbfile, traces={"raw": traces}, image_shape=(32, 32), rate=rate, timestamps=timestamps,
                         image_masks=_discs(traces.shape[1]), accepted=accepted, columns=columns,
                         plane_name=f"ImagingPlane{p}" if planes > 1 else "ImagingPlane",
                         suffix=f"_plane{p}" if planes > 1 else "")
    return write_nwbfile(nwbfile, path)


def naive_window_r(x: np.ndarray, times: np.ndarray, starts, stops, bin_size: float, origin: float) -> np.ndarray:
    """Independent recomputation: average frames into bins by their times, then np.corrcoef per window."""
    out = []
    for a, b in zip(starts, stops):
        n = int(round((b - a) / bin_size))
        cols = []
        for k in range(n):
            lo = a + k * bin_size
            sel = (times >= lo - 1e-9) & (times < lo + bin_size - 1e-9)
            cols.append(x[sel].mean(axis=0))
        out.append(np.corrcoef(np.array(cols).T))
    return np.array(out)


def _stored(path: Path):
    with NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
        f = io.read()
        conn = f.processing["ophys"]["DynamicConnectivity"]
        return (np.asarray(conn.correlation[()]), np.asarray(conn.window_start_times[:]),
                np.asarray(conn.window_stop_times[:]), np.asarray(conn.node_ids[:]), conn.parameters_dict,
                np.asarray(conn.node_region.data[:]), conn.node_region.table.name,
                None if conn.node_positions is None else np.asarray(conn.node_positions[()]))


def test_graphs_of_averaged_bins_equal_numpy(tmp_path):
    """30 Hz traces with a large offset (raw fluorescence), 0.1 s bins of 3 frames: the stored
    correlation equals the independent per-window recomputation."""
    rng = np.random.default_rng(0)
    frames, rois = 30 * 40, 6
    shared = rng.normal(size=(frames, 1))
    x = 1000.0 + 20 * (shared * np.linspace(0.2, 1.5, rois) + rng.normal(size=(frames, rois)))
    src = write_traces(tmp_path / "t.nwb", x.astype(np.float32), rate=30.0)
    params = ConnectivityParams.preset("ophys", window=10.0, step=5.0, threshold_mode="none")
    run_connectivity(src, tmp_path / "g.nwb", params, chunk_windows=2)
    corr, starts, stops, ids, parameters, rows, table, positions = _stored(tmp_path / "g.nwb")
    times = np.arange(frames) / 30.0
    expected = naive_window_r(x.astype(np.float32).astype(np.float64), times, starts, stops, 0.1, 0.0)
    assert corr.shape == (7, rois, rois)
    np.testing.assert_allclose(corr, expected, atol=2e-5)
    assert parameters["nodes"] == "rois" and parameters["signal"] == "raw" and parameters["frame_rate"] == 30.0
    assert table == "PlaneSegmentation" and list(rows) == list(range(rois))
    centres = np.array([[4 + (i * 7) % 24, 4 + (i * 5) % 24] for i in range(rois)], dtype=float)
    np.testing.assert_allclose(positions, centres)


def test_irregular_timestamps_are_binned_by_time(tmp_path):
    """Jittered frame times with a dropped frame: bins hold the frames whose times fall in them,
    and the empty bin is interpolated."""
    rng = np.random.default_rng(1)
    n = 400
    ts = np.arange(n) * 0.05 + rng.uniform(-0.01, 0.01, n)
    ts = np.delete(ts, 100)
    x = rng.normal(size=(n - 1, 3)) + 5
    path = write_traces(tmp_path / "j.nwb", x.astype(np.float32), rate=None, timestamps=ts)
    with NWBHDF5IO(str(path), "r") as io:
        t = read_roi_traces(io.read())
        assert t.timestamps is not None and t.rate == pytest.approx(20.0, rel=0.01)
        binned = t.bin_range(float(ts[0]), 0.1, 0, 100)
    xf = x.astype(np.float32).astype(np.float64)
    for k in (3, 40, 77):
        lo = ts[0] + 0.1 * k
        sel = (ts >= lo) & (ts < lo + 0.1)
        np.testing.assert_allclose(binned[:, k], xf[sel].mean(axis=0), rtol=1e-6)


def test_dff_and_events_do_not_depend_on_chunking():
    """The baseline is read with a margin, so any stretch equals the same stretch of the whole."""
    rng = np.random.default_rng(2)
    rate, frames = 10.0, 3000
    x = 200 + 10 * np.sin(np.arange(frames)[:, None] / 400.0 + np.arange(4)) + rng.normal(size=(frames, 4))
    x[1000:1010, 1] += 60  # a transient
    for signal in ("dff", "events"):
        t = RoiTraces(data=x, columns=np.arange(4), ids=np.arange(4), rate=rate, signal=signal, baseline_window=20.0)
        whole = t.values(0, frames)
        for a, b in ((0, 700), (950, 1200), (2500, 3000)):
            np.testing.assert_array_equal(t.values(a, b), whole[a:b])
    events = RoiTraces(data=x, columns=np.arange(4), ids=np.arange(4), rate=rate, signal="events",
                       baseline_window=20.0).values(0, frames)
    assert events[1000:1010, 1].all() and events[:, 1].sum() <= 10 + 0.01 * frames


def test_maximin_baseline_matches_a_loop():
    """suite2p's maximin written as plain loops (no smoothing): running min then running max."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(120, 2)) + 10
    w = 9  # frames
    got = maximin_baseline(x, rate=1.0, window=float(w), sigma=0)
    pad = np.pad(x, ((w // 2, w // 2), (0, 0)), mode="symmetric")
    low = np.array([pad[i:i + w].min(axis=0) for i in range(len(x))])
    padl = np.pad(low, ((w // 2, w // 2), (0, 0)), mode="symmetric")
    expected = np.array([padl[i:i + w].max(axis=0) for i in range(len(x))])
    np.testing.assert_allclose(got, expected)


def test_noise_level_of_white_noise():
    x = np.random.default_rng(4).normal(scale=3.0, size=(20000, 2)) + np.linspace(0, 50, 20000)[:, None]
    assert block_noise(x) == pytest.approx([3.0, 3.0], rel=0.05)


def test_accepted_rois_groups_and_planes(tmp_path):
    x = np.random.default_rng(5).normal(size=(200, 5)).astype(np.float32) + 10
    path = write_traces(tmp_path / "a.nwb", x, accepted=np.array([1, 0, 1, 1, 0], bool),
                        groups=["a", "a", "b", "b", "b"])
    with NWBHDF5IO(str(path), "r") as io:
        f = io.read()
        t = read_roi_traces(f)
        assert list(t.ids) == [0, 2, 3] and list(t.groups) == ["a", "b", "b"]
        assert len(read_roi_traces(f, rois="all")) == 5
    two = write_traces(tmp_path / "two.nwb", x, planes=2)
    with NWBHDF5IO(str(two), "r") as io:
        f = io.read()
        with pytest.raises(InputFileError, match="2 imaging planes.*`series`"):
            read_roi_traces(f)
        assert read_roi_traces(f, "RoiResponseSeries_plane1").series_name.endswith("RoiResponseSeries_plane1")
        with pytest.raises(InputFileError, match="no ROI series named 'nope'.*RoiResponseSeries_plane0"):
            read_roi_traces(f, "nope")


def test_bad_inputs_fail_with_one_line(tmp_path):
    x = np.random.default_rng(6).normal(size=(400, 4)).astype(np.float32) + 10
    x[50, 2] = np.nan
    src = write_traces(tmp_path / "nan.nwb", x, rate=10.0)
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    with pytest.raises(InputFileError, match="ROI 2 has a NaN"):
        run_connectivity(src, tmp_path / "out.nwb", ConnectivityParams.preset("ophys", window=10, step=10))
    assert not (tmp_path / "out.nwb").exists()
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before
    good = write_traces(tmp_path / "ok.nwb", np.nan_to_num(x, nan=10.0), rate=10.0)
    with pytest.raises(ParameterError, match="shorter than one imaging frame"):
        run_connectivity(good, tmp_path / "o.nwb", ConnectivityParams.preset("ophys", bin_size=0.05, window=10,
                                                                              step=10))
    with pytest.raises(ParameterError, match="binary bins"):
        run_connectivity(good, tmp_path / "o.nwb", ConnectivityParams.preset("dishbrain", bin_size=0.1, window=10,
                                                                              step=10))
    with pytest.raises(InputFileError, match="ΔF/F needs a positive baseline"):
        negative = write_traces(tmp_path / "neg.nwb", np.nan_to_num(x, nan=0.0) - 20, rate=10.0)
        run_connectivity(negative, tmp_path / "o.nwb", ConnectivityParams.preset("ophys", window=10, step=10),
                         nodes={"signal": "dff"})
    assert not (tmp_path / "o.nwb").exists()


def test_slow_imaging_takes_one_frame_per_bin(tmp_path):
    """At 2.2 Hz a frame lasts 0.4545... s: the ophys preset's 0.1 s bin becomes one frame, a bin
    typed as 0.4545 is one frame (the graphs equal those of the exact frame), and a bin really
    shorter than a frame is refused with the exact frame to give."""
    from nwb_tavrnn.io.read import read_one
    from nwb_tavrnn.schema import DynamicConnectivity

    rate = 2.2
    x = np.random.default_rng(9).normal(size=(660, 5)).astype(np.float32) + 10  # 300 s
    src = write_traces(tmp_path / "slow.nwb", x, rate=rate)

    def graphs(name: str, **overrides) -> tuple[float, np.ndarray]:
        run_connectivity(src, tmp_path / name, ConnectivityParams.preset("ophys", window=60, step=60, **overrides))
        with NWBHDF5IO(str(tmp_path / name), "r") as io:
            conn = read_one(io.read(), DynamicConnectivity)
            return float(conn.parameters_dict["bin_size"]), np.asarray(conn.correlation[()])

    preset_bin, preset_r = graphs("preset.nwb")
    typed_bin, typed_r = graphs("typed.nwb", bin_size=0.4545)
    exact_bin, exact_r = graphs("exact.nwb", bin_size=1 / rate)
    assert preset_bin == typed_bin == exact_bin == 1 / rate
    np.testing.assert_array_equal(preset_r, exact_r)
    np.testing.assert_array_equal(typed_r, exact_r)
    with pytest.raises(ParameterError, match=r"use a `bin_size` of 0\.4545454545 \(one frame\)"):
        graphs("short.nwb", bin_size=0.3)
    with pytest.raises(ParameterError, match="shorter than one imaging frame"):  # chosen, though the preset's value
        graphs("chosen.nwb", bin_size=0.1)


@pytest.mark.skipif(not NEUROCONV.exists(), reason="needs ../shared/data")
def test_neuroconv_file_end_to_end(tmp_path):
    """The neuroconv testing file (15 ROIs, 10 Hz): graphs of all ROIs equal np.corrcoef per window,
    the derived file carries the plane and the series and passes both validators."""
    from nwb_tavrnn.validation import validate_file

    out = run_connectivity(NEUROCONV, tmp_path / "g.nwb",
                           ConnectivityParams.preset("ophys", window=5.0, step=2.5, threshold_mode="none"),
                           nodes={"rois": "all"})
    corr, starts, stops, ids, parameters, rows, table, positions = _stored(out)
    with NWBHDF5IO(str(NEUROCONV), "r") as io:
        src = io.read()
        raw = np.asarray(src.processing["ophys"]["Fluorescence"]["RoiResponseSeries"].data[()], dtype=np.float64)
        centroid = np.asarray(src.processing["ophys"]["ImageSegmentation"]["PlaneSegmentation"]["RoiCentroid"].data[()])
    assert corr.shape == (9, 15, 15) and list(ids) == list(range(15))
    for w, (a, b) in enumerate(zip(starts, stops)):
        np.testing.assert_allclose(corr[w], np.corrcoef(raw[int(round(a * 10)):int(round(b * 10))].T),
                                   atol=2e-5)
    np.testing.assert_allclose(positions, centroid)
    report = validate_file(out)
    assert not report.problems, report.problems
    with NWBHDF5IO(str(out), "r", load_namespaces=True) as io:
        f = io.read()
        np.testing.assert_array_equal(f.processing["ophys"]["Fluorescence"]["RoiResponseSeries"].data[()], raw)
        assert f.subject is not None  # a placeholder: the source has none, and the validator asks for one
    from nwb_tavrnn.io.summary import format_summary, summarize

    with NWBHDF5IO(str(NEUROCONV), "r") as io:  # inspect lists the series --series takes
        text = format_summary(summarize(io.read()))
    assert "ophys/Fluorescence/RoiResponseSeries: (250, 15) frames x ROIs, 10 Hz, plane ImagingPlane, 7 accepted" \
        in text
    accepted = run_connectivity(NEUROCONV, tmp_path / "acc.nwb", ConnectivityParams.preset("ophys", window=5.0,
                                                                                             step=2.5))
    assert list(_stored(accepted)[3]) == [0, 1, 2, 5, 7, 9, 10]  # the file's Accepted column


def test_chunking_does_not_change_graphs_or_the_data():
    """In-memory traces: any chunking gives the same graphs, and the caller's array is left as it was
    (the centring and the overlap cache work on copies)."""
    from nwb_tavrnn.connectivity import compute_dynamic_connectivity

    x = (np.random.default_rng(7).normal(size=(3000, 5)) + 100).astype(np.float32)
    before = x.copy()
    t = RoiTraces(data=x, columns=np.arange(5), ids=np.arange(5), rate=10.0)
    params = ConnectivityParams(bin_size=0.1, window=20.0, step=10.0, threshold_mode="none")
    results = [compute_dynamic_connectivity(t, params, chunk_windows=k).correlation for k in (1, 2, 7)]
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(results[0], results[1], atol=1e-6)
    np.testing.assert_allclose(results[0], results[2], atol=1e-6)
    np.testing.assert_allclose(results[0][10], np.corrcoef(before[1000:1200].astype(np.float64).T), atol=2e-5)


def test_bleaching_baseline_costs_no_precision():
    """Raw fluorescence around 2,000 a.u. decaying by half over the hour (photobleaching) with noise
    of SD 1: float32 products on block-centred data keep r within 1e-5 of float64 numpy, where
    products on the raw values (or on values centred once over a long span) lose ~1e-2."""
    from nwb_tavrnn.connectivity import compute_dynamic_connectivity

    rng = np.random.default_rng(8)
    rate, frames, rois = 10.0, 36000, 4
    t = np.arange(frames) / rate
    shared = rng.normal(size=frames)
    x = 2000.0 * np.exp(-t / 5200.0)[:, None] * np.linspace(0.8, 1.2, rois) \
        + 0.5 * shared[:, None] + rng.normal(size=(frames, rois))
    x = x.astype(np.float32)
    traces = RoiTraces(data=x, columns=np.arange(rois), ids=np.arange(rois), rate=rate)
    params = ConnectivityParams(bin_size=0.1, window=60.0, step=30.0, threshold_mode="none")
    result = compute_dynamic_connectivity(traces, params)
    xf = x.astype(np.float64)
    worst = 0.0
    for w, (a, b) in enumerate(zip(result.window_start_times, result.window_stop_times)):
        expected = np.corrcoef(xf[int(round(a * rate)):int(round(b * rate))].T)
        worst = max(worst, float(np.abs(result.correlation[w] - expected).max()))
    assert worst < 1e-5, worst


def naive_bins(x: np.ndarray, ts: np.ndarray, origin: float, bin_size: float, n_bins: int) -> np.ndarray:
    """Reference binner written from the rule: a bin is the mean of the frames sampled in it; an
    empty bin is linear in the bin index between the nearest non-empty bins (constant past the ends)."""
    means = np.full((n_bins, x.shape[1]), np.nan)
    for k in range(n_bins):
        sel = (ts >= origin + k * bin_size - 1e-9) & (ts < origin + (k + 1) * bin_size - 1e-9)
        if sel.any():
            means[k] = x[sel].mean(axis=0)
    full = np.flatnonzero(~np.isnan(means[:, 0]))
    for j in range(x.shape[1]):
        means[:, j] = np.interp(np.arange(n_bins), full, means[full, j])
    return means.T


def test_gaps_are_interpolated_the_same_whatever_the_range():
    """Jittered 20 Hz frames with two gaps (0.5 s and 2 s): every range of bins equals the same bins
    of the reference binner over the whole recording, and the one-frame-per-bin fast path is taken
    only where each bin really holds one frame."""
    rng = np.random.default_rng(9)
    ts = np.arange(2400) * 0.05 + rng.uniform(-0.012, 0.012, 2400)
    ts = ts[(ts < 30.0) | (ts > 30.5)]
    ts = ts[(ts < 61.0) | (ts > 63.0)]
    x = rng.normal(size=(ts.size, 3)) + 10
    t = RoiTraces(data=x, columns=np.arange(3), ids=np.arange(3), rate=20.0, timestamps=ts)
    for bin_size in (0.05, 0.1):
        n = int((ts[-1] - ts[0]) / bin_size)
        reference = naive_bins(x, ts, ts[0], bin_size, n)
        np.testing.assert_allclose(t.bin_range(ts[0], bin_size, 0, n, dtype=np.float64), reference, atol=1e-9)
        for first, count in ((0, 50), (590, 40), (1215, 30), (n - 37, 37), (600, 20)):
            first = min(first, n - count)
            np.testing.assert_allclose(t.bin_range(ts[0], bin_size, first, count, dtype=np.float64),
                                       reference[:, first:first + count], atol=1e-9,
                                       err_msg=f"bins {first}..{first + count} of {bin_size} s")


def test_append_and_in_place_on_traces(tmp_path):
    """The graphs are filled after the reader's handle is closed: the traces are read again from
    the (unchanged) source. Append writes a copy with the graphs; in place adds them to the file."""
    x = np.random.default_rng(10).normal(size=(600, 4)).astype(np.float32) + 50
    src = write_traces(tmp_path / "src.nwb", x, rate=10.0)
    params = ConnectivityParams.preset("ophys", window=20.0, step=10.0, threshold_mode="none")
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    appended = run_connectivity(src, tmp_path / "appended.nwb", params, mode="append")
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before
    run_connectivity(src, None, params, mode="in_place")
    for path in (appended, src):
        corr, starts, stops, *_ = _stored(path)
        np.testing.assert_allclose(corr[1], np.corrcoef(x[100:300].astype(np.float64).T), atol=2e-5)


def test_series_in_acquisition_keeps_its_path(tmp_path):
    """A RoiResponseSeries kept in /acquisition is copied to the same path of the derived file, so the
    graphs' node_region and the stored series name still find it."""
    from pynwb.ophys import RoiResponseSeries

    x = np.random.default_rng(11).normal(size=(400, 3)).astype(np.float32) + 20
    nwbfile = _nwbfile()
    table = add_ophys_module(nwbfile, traces={"raw": x}, image_shape=(32, 32), rate=10.0, image_masks=_discs(3))
    region = table.create_roi_table_region(description="all", region=[0, 1, 2])
    nwbfile.add_acquisition(RoiResponseSeries(name="AcqRois", data=x * 2, rois=region, unit="n.a.", rate=10.0))
    src = write_nwbfile(nwbfile, tmp_path / "acq.nwb")
    out = run_connectivity(src, tmp_path / "g.nwb", ConnectivityParams.preset("ophys", window=20.0, step=10.0),
                           nodes={"series": "acquisition/AcqRois"})
    with NWBHDF5IO(str(out), "r", load_namespaces=True) as io:
        f = io.read()
        np.testing.assert_array_equal(f.acquisition["AcqRois"].data[()], x * 2)
        conn = f.processing["ophys"]["DynamicConnectivity"]
        assert conn.parameters_dict["series"] == "acquisition/AcqRois"
        assert conn.node_region.table.name == "PlaneSegmentation"


def test_population_activity_of_traces():
    """The evaluation's population baseline on raw traces: mean ΔF/F per window when the baseline is
    positive (not mean F, which follows F0 and bleaching), the window's SD where ΔF/F is undefined."""
    from nwb_tavrnn.evaluation.features import rate_features

    rng = np.random.default_rng(12)
    x = (200 + rng.normal(size=(2000, 3))).astype(np.float32)
    x[500:520, 1] += 100  # a transient in the first window
    starts, stops = np.array([0.0, 100.0]), np.array([100.0, 200.0])
    traces = RoiTraces(data=x, columns=np.arange(3), ids=np.arange(3), rate=10.0, baseline_window=20.0)
    base = maximin_baseline(x.astype(np.float64), 10.0, 20.0, 10.0)
    dff = (x - base) / base
    np.testing.assert_allclose(rate_features(traces, starts, stops),
                               [dff[:1000].mean(axis=0), dff[1000:].mean(axis=0)], rtol=1e-5, atol=1e-7)
    centred = RoiTraces(data=x - 200, columns=np.arange(3), ids=np.arange(3), rate=10.0)
    np.testing.assert_allclose(rate_features(centred, starts, stops),
                               [(x - 200)[:1000].std(axis=0), (x - 200)[1000:].std(axis=0)], rtol=1e-5)


def test_neuropil_correction(tmp_path):
    """--neuropil K: the graphs of F - K*Fneu, with the plane's Neuropil series; recorded, and refused
    in one line where the file has no neuropil series."""
    rng = np.random.default_rng(13)
    shared = rng.normal(size=(600, 1))
    fneu = 100 + 5 * shared + rng.normal(size=(600, 4))  # neuropil shared by all ROIs
    cells = rng.normal(size=(600, 4))
    f = (cells + 0.7 * fneu).astype(np.float32)
    nwbfile = _nwbfile()
    add_ophys_module(nwbfile, traces={"raw": f, "neuropil": fneu.astype(np.float32)}, image_shape=(32, 32),
                     rate=10.0, image_masks=_discs(4))
    src = write_nwbfile(nwbfile, tmp_path / "np.nwb")
    params = ConnectivityParams.preset("ophys", window=20.0, step=20.0, threshold_mode="none")
    raw = _stored(run_connectivity(src, tmp_path / "raw.nwb", params))[0]
    corrected, *_, parameters, _, _, _ = _stored(run_connectivity(src, tmp_path / "c.nwb", params,
                                                                  nodes={"neuropil": 0.7}))
    expected = np.corrcoef((f.astype(np.float64) - 0.7 * fneu.astype(np.float32))[:200].T)
    np.testing.assert_allclose(corrected[0], expected, atol=2e-5)
    assert raw[0][0, 1] > 0.5 > corrected[0][0, 1]  # the shared neuropil made the ROIs look coupled
    assert parameters["neuropil_factor"] == 0.7
    with pytest.raises(InputFileError, match="no neuropil series"):
        run_connectivity(write_traces(tmp_path / "none.nwb", f), tmp_path / "x.nwb", params, nodes={"neuropil": 0.7})
