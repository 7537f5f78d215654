"""The stored correlation is signed r under every preset; the weights follow the preset; files
written before (|r| stored) still read, validate and evaluate to the same scores."""

from __future__ import annotations

import json
import shutil
import warnings

import h5py
import numpy as np
import pytest

from nwb_tavrnn.connectivity import ConnectivityParams, bin_spike_trains
from nwb_tavrnn.connectivity.step import run_connectivity
from nwb_tavrnn.io import open_nwb
from nwb_tavrnn.io.read import read_one, read_spike_trains
from nwb_tavrnn.schema import DynamicConnectivity
from nwb_tavrnn.validation import validate_file

WINDOW = 30.0


def _pearson(x: np.ndarray) -> np.ndarray:
    """r from its definition, for nodes that vary (rows of x are nodes)."""
    centred = x - x.mean(axis=1, keepdims=True)
    cov = centred @ centred.T
    sd = np.sqrt(np.diag(cov))
    return cov / np.outer(sd, sd)


@pytest.fixture(scope="module")
def graphs(simulated_session, tmp_path_factory):
    out = tmp_path_factory.mktemp("signed") / "graphs.nwb"
    params = ConnectivityParams.preset("default", window=WINDOW, step=WINDOW)
    return run_connectivity(simulated_session("culture", seed=0), out, params), params


@pytest.mark.parametrize("preset", ["default", "dishbrain"])  # hippocampus: mp surrogates, 75 s
def test_every_preset_stores_signed_r_and_weights_as_it_says(simulated_session, tmp_path, preset):
    source = simulated_session("culture", seed=0)
    params = ConnectivityParams.preset(preset, window=WINDOW, step=WINDOW)
    out = run_connectivity(source, tmp_path / "g.nwb", params)
    with open_nwb(out) as nwbfile:
        conn = read_one(nwbfile, DynamicConnectivity)
        corr, weights, inactive = conn.correlation[()], conn.data[()], conn.inactive_mask[()]
        conn_start = float(conn.window_start_times[0])
    with open_nwb(source) as nwbfile:
        trains = read_spike_trains(nwbfile)
    # the first window's r, from its definition on the binned trains
    # (binning has its own tests; r here is from its definition, not the package's sums)
    counts, _ = bin_spike_trains(trains.times, conn_start, conn_start + WINDOW, params.bin_size, binary=params.binary)
    x = counts.astype(float)
    active = ~inactive[0]
    expected = _pearson(x[active])
    np.testing.assert_allclose(corr[0][np.ix_(active, active)], expected, atol=1e-5)
    assert (corr < -0.01).any(), "a culture's correlations are not all positive: the sign must survive"
    # weights: |r| on kept edges (every preset weighs by |r|), zero elsewhere
    off = ~np.eye(corr.shape[1], dtype=bool)[None]
    kept = (weights != 0) & off
    assert kept.any()
    np.testing.assert_allclose(weights[kept], np.abs(corr[kept]), atol=1e-6)


def test_signed_weights_when_asked(simulated_session, tmp_path):
    params = ConnectivityParams.preset("default", window=WINDOW, step=WINDOW, absolute=False, threshold_mode="none")
    out = run_connectivity(simulated_session("culture", seed=0), tmp_path / "g.nwb", params)
    with open_nwb(out) as nwbfile:
        conn = read_one(nwbfile, DynamicConnectivity)
        corr, weights = conn.correlation[()], conn.data[()]
    kept = (weights != 0) & ~np.eye(corr.shape[1], dtype=bool)[None]
    np.testing.assert_array_equal(weights[kept], corr[kept])
    assert (weights[kept] < 0).any()


@pytest.mark.slow  # two fits and evaluations (about 20 s)
def test_a_file_written_with_abs_r_still_reads_validates_and_evaluates_the_same(graphs, tmp_path):
    """Before signed storage, ``correlation`` held |r| under every preset: a copy rewritten that way
    (exactly what the earlier code wrote) validates, and fits and evaluates to identical scores."""
    from nwb_tavrnn.evaluation.report import EvaluationConfig, evaluate_file
    from nwb_tavrnn.models import TAVRNN
    from nwb_tavrnn.steps.model import fit_file

    new, _ = graphs
    old = tmp_path / "old.nwb"
    shutil.copyfile(new, old)
    with h5py.File(old, "r+") as f:
        (path,) = [p for p in _datasets(f) if p.endswith("DynamicConnectivity/correlation")]
        f[path][...] = np.abs(f[path][()])
        _cache_as_version(f, "0.2.0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the older cached schema is compatible: no notice about it
        with open_nwb(old) as nwbfile:
            assert (read_one(nwbfile, DynamicConnectivity).correlation[()] >= 0).all()
    assert validate_file(old).ok
    cfg = EvaluationConfig(seeds=1, n_permutations=19, baselines=("raw_correlation",), time_shuffle=False)
    scores = []
    for name, graphs_file in (("new", new), ("old", old)):
        fitted = fit_file(graphs_file, tmp_path / f"{name}_fit.nwb", TAVRNN(epochs=5, seed=0, patience=None)).path
        report = evaluate_file(fitted, "epochs:state", tmp_path / f"{name}_scored.nwb", config=cfg)
        scores.append(report.scores.sort_values(["method", "analysis", "metric"]).reset_index(drop=True))
        assert validate_file(tmp_path / f"{name}_scored.nwb").ok
    assert len(scores[0]) > 0
    np.testing.assert_array_equal(scores[0]["value"].to_numpy(float), scores[1]["value"].to_numpy(float))


def _datasets(f: h5py.File) -> list[str]:
    found: list[str] = []
    f.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) else None)
    return found


def _cache_as_version(f: h5py.File, version: str) -> None:
    """Make the file's cached ndx-dynamic-graphs namespace say ``version``, as an older writer's did."""
    group = f["specifications/ndx-dynamic-graphs"]
    (current,) = list(group)
    group.move(current, version)
    text = json.loads(group[version]["namespace"][()])
    text["namespaces"][0]["version"] = version
    del group[version]["namespace"]
    group[version]["namespace"] = json.dumps(text)
