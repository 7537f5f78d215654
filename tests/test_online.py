"""The online embedder against the offline steps: same graphs, embeddings and attention (1e-5) for
spike batches of random sizes that do not line up with the windows."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("torch")

from nwb_tavrnn.connectivity import ConnectivityParams  # noqa: E402
from nwb_tavrnn.connectivity.compute import compute_dynamic_connectivity  # noqa: E402
from nwb_tavrnn.models import TAVRNN  # noqa: E402
from nwb_tavrnn.online import OnlineEmbedder  # noqa: E402
from nwb_tavrnn.simulate import SimulationConfig, simulate_network  # noqa: E402


@pytest.mark.parametrize("attention", ["full", 3])
def test_online_windows_equal_the_offline_steps(attention):
    config = dataclasses.replace(SimulationConfig.small(), gameplay_minutes=6.0, rest_minutes=2.0)
    trains = simulate_network(config, seed=0).spikes
    params = ConnectivityParams.preset("default", window=40, step=20, threshold_mode="top_k", top_k=5)
    offline = compute_dynamic_connectivity(trains, params)
    model = TAVRNN(epochs=3, attention=attention, device="cpu", seed=0).fit(offline)
    emb = model.transform(offline)
    times = np.concatenate(trains.times)
    ids = np.concatenate([np.full(len(t), u) for t, u in zip(trains.times, trains.ids)])
    order = np.argsort(times, kind="stable")
    times, ids = times[order], ids[order]
    online = OnlineEmbedder(model, params, trains.ids, t_start=float(trains.t_start or 0.0), groups=trains.groups)
    rng = np.random.default_rng(1)
    results, i = [], 0
    while i < len(times):  # batches of random sizes, unaligned with bins and windows
        j = min(len(times), i + int(rng.integers(1, 4000)))
        results += online.push(times[i:j], ids[i:j])
        i = j
    results += online.flush(float(trains.t_stop))
    assert len(results) == offline.adjacency.shape[0] > 5
    for k, res in enumerate(results):
        assert res.start == pytest.approx(offline.window_start_times[k]) and res.stop == pytest.approx(offline.window_stop_times[k])
        np.testing.assert_allclose(res.adjacency, offline.adjacency[k], atol=1e-6)
        np.testing.assert_allclose(res.correlation, offline.correlation[k], atol=1e-6)
        np.testing.assert_allclose(res.mean, emb.mean[k], atol=1e-5, rtol=1e-5)
        attended = emb.attention[k, k - len(res.attention) + 1:k + 1]
        np.testing.assert_allclose(res.attention, attended, atol=1e-5)
    from nwb_tavrnn.evaluation.metrics import subregion_alignment

    np.testing.assert_allclose([r.alignment for r in results], subregion_alignment(emb.mean, trains.groups),
                               atol=1e-4)
    # what is kept stays bounded by one window's bins
    assert len(online._bins) <= online.window_bins + online.step_bins


@pytest.fixture(scope="module")
def fitted_run(tmp_path_factory, simulated_session):
    """The session of the test above (written once, shared: only read here) and a 3-epoch run."""
    from nwb_tavrnn.cli.main import main

    folder = tmp_path_factory.mktemp("monitor")
    session = simulated_session("culture", seed=0, gameplay_minutes=6.0, rest_minutes=2.0)
    assert main(["--quiet", "run", str(session), str(folder / "fitted.nwb"), "--window", "40", "--step", "20",
                 "--set", "model.epochs=3"]) == 0
    return folder, session, folder / "fitted.nwb"


@pytest.mark.slow  # default suite under 10 min; CI runs it with -m slow
def test_monitor_writes_the_offline_embeddings_progressively(fitted_run, capsys):
    from nwb_tavrnn.cli.main import main
    from nwb_tavrnn.io.files import open_nwb
    from nwb_tavrnn.validation import validate_file

    folder, session, fitted = fitted_run
    out = folder / "mon.nwb"
    assert main(["monitor", str(session), "--model", str(fitted), "--record", str(out), "--figure",
                 str(folder / "live.png")]) == 0
    assert (folder / "live.png").stat().st_size > 1000
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("window ")]
    with open_nwb(out) as a, open_nwb(fitted) as b:
        online = a.processing["ecephys"]["OnlineNodeEmbeddings"].mean[()]
        offline = b.processing["ecephys"]["NodeEmbeddings"].mean[()]
        np.testing.assert_allclose(online, offline, atol=1e-5)
        np.testing.assert_allclose(a.processing["ecephys"]["OnlineConnectivity"].data[()],
                                   b.processing["ecephys"]["DynamicConnectivity"].data[()], atol=1e-6)
    assert len(lines) == offline.shape[0]
    assert validate_file(out).ok


@pytest.mark.slow  # a real process, killed
def test_killing_monitor_keeps_every_completed_window(fitted_run):
    import signal
    import subprocess
    import sys
    import time

    from nwb_tavrnn.io.files import open_nwb
    from nwb_tavrnn.validation import validate_file

    folder, session, fitted = fitted_run
    out = folder / "killed.nwb"
    proc = subprocess.Popen([sys.executable, "-m", "nwb_tavrnn.cli.main", "monitor", str(session), "--model",
                             str(fitted), "--record", str(out), "--speed", "40"], stdout=subprocess.PIPE, text=True)
    import selectors

    seen = 0
    deadline = time.monotonic() + 120
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    while seen < 3 and time.monotonic() < deadline:
        if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
            break  # a hung child must not hang the test
        line = proc.stdout.readline()
        if not line:
            break
        seen += line.startswith("window ")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert seen >= 3
    with open_nwb(out) as f:
        conn = f.processing["ecephys"]["OnlineConnectivity"]
        n = conn.data.shape[0]
        assert n >= seen and len(conn.window_start_times[()]) == n
        assert f.processing["ecephys"]["OnlineNodeEmbeddings"].mean.shape[0] == n
    assert n < 23  # it was killed before the end
    assert validate_file(out).ok


def test_a_recording_streamed_chunk_by_chunk_gives_the_one_shot_crossings():
    pytest.importorskip("spikeinterface")
    from nwb_tavrnn.online.monitor import recording_source
    from nwb_tavrnn.sorting.adapter import channel_noise, detect_events, generate_ground_truth
    from nwb_tavrnn.sorting.params import DetectionParams

    rec, _ = generate_ground_truth(duration=6.0, num_channels=8, num_units=5)
    one_shot = detect_events(rec, DetectionParams(), {"progress_bar": False}, noise=channel_noise(rec, {"progress_bar": False}))
    batches = list(recording_source(rec, chunk_seconds=1.0))
    times = np.concatenate([b[0] for b in batches])
    channels = np.concatenate([b[1] for b in batches])
    assert np.all(np.diff(times) >= 0)  # batches in time order, as the embedder needs
    for c, expected in enumerate(one_shot.event_times):
        np.testing.assert_allclose(np.sort(times[channels == c]), expected)


def test_a_crash_inside_a_window_write_is_repaired_to_the_complete_windows(fitted_run, tmp_path):
    """Some datasets one window longer than others (a kill between two appends) make the file
    unreadable; `monitor --repair` trims it to the windows the counter says were completed."""
    import h5py

    from nwb_tavrnn.cli.main import main
    from nwb_tavrnn.io.files import open_nwb
    from nwb_tavrnn.validation import validate_file

    folder, session, fitted = fitted_run
    out = tmp_path / "partial.nwb"
    assert main(["--quiet", "monitor", str(session), "--model", str(fitted), "--record", str(out)]) == 0
    with h5py.File(out, "r+") as f:  # window 23 half written: times and graph in, the rest not, counter not moved
        conn = f["processing/ecephys/OnlineConnectivity"]
        for name in ("window_start_times", "window_stop_times", "data"):
            conn[name].resize(conn[name].shape[0] + 1, axis=0)
    with pytest.raises(Exception):
        with open_nwb(out) as nwbfile:
            nwbfile.processing["ecephys"]["OnlineConnectivity"]
    assert main(["--quiet", "monitor", str(out), "--repair"]) == 0
    with open_nwb(out) as f:
        assert f.processing["ecephys"]["OnlineConnectivity"].data.shape[0] == 23
        assert f.processing["ecephys"]["OnlineNodeEmbeddings"].mean.shape[0] == 23
    assert validate_file(out).ok


def test_monitor_refuses_before_touching_the_output(fitted_run, tmp_path):
    from nwb_tavrnn.cli.main import main

    folder, session, fitted = fitted_run
    keep = tmp_path / "keep.nwb"
    keep.write_bytes(b"precious")
    assert main(["--quiet", "monitor", str(session), "--model", str(session), "--record", str(keep),
                 "--overwrite"]) == 2  # no model in it
    assert keep.read_bytes() == b"precious"
    assert main(["--quiet", "monitor", str(session), "--model", str(fitted), "--figure",
                 str(tmp_path / "nofolder" / "f.png")]) == 2
    assert main(["--quiet", "monitor", str(session), "--model", str(fitted), "--record", str(fitted)]) == 2
