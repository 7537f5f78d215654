"""Seq2seq: binning against an independent histogram, causality of the latents, the Poisson loss
against scipy, NWB round trips, the CLI; recovery of a planted latent (slow). Save/load, parameters
and determinism: tests/test_estimator_contract.py, for every model."""

from __future__ import annotations

import contextlib
import hashlib
import io
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nwb_tavrnn.cli.main import main  # noqa: E402
from nwb_tavrnn.io.files import open_nwb  # noqa: E402
from nwb_tavrnn.io.region_pairs import read_region_pair  # noqa: E402
from nwb_tavrnn.models.seq2seq import Seq2seq, Seq2seqNet, poisson_nll  # noqa: E402
from nwb_tavrnn.simulate.two_region import (  # noqa: E402
    TwoRegionConfig,
    simulate_two_region,
    two_region_nwbfile,
)


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["--quiet", *argv])
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def small():
    session = simulate_two_region(TwoRegionConfig(n_trials=40, n_source=12, n_target=8), seed=1)
    data = read_region_pair(two_region_nwbfile(session), "hippocampus", "prefrontal", trials="trials",
                            window=(0.0, 2.0), labels="choice", bin_size=0.05)
    return session, data


def test_streamed_bins_equal_an_independent_histogram(small):
    session, data = small
    src, tgt = data.batch([0, 7, 39])
    for row, seg in enumerate([0, 7, 39]):
        edges = data.starts[seg] + np.arange(data.n_bins + 1) * data.bin_size
        for u in range(data.n_source):
            np.testing.assert_array_equal(src[row, :, u], np.histogram(data.source.times[u], edges)[0])
        for u in range(data.n_target):
            np.testing.assert_array_equal(tgt[row, :, u], np.histogram(data.target.times[u], edges)[0])
    assert data.labels.tolist() == session.labels.tolist()


def test_region_specs_and_their_errors(small):
    from nwb_tavrnn.errors import InputFileError

    session, _ = small
    f = two_region_nwbfile(session)
    by_location = read_region_pair(f, "location:hippocampus", "location:prefrontal", min_segments=2,
                                   segment_duration=5.0)
    assert by_location.n_source == 12 and by_location.n_target == 8
    ids = read_region_pair(f, "ids:0,1,2", "column:region=prefrontal", segment_duration=5.0)
    assert ids.n_source == 3
    for spec, words in (("location:striatum", "no units"), ("shape:round", "unknown kind"), ("ids:999", "no unit")):
        with pytest.raises(InputFileError, match=words):
            read_region_pair(f, spec, "prefrontal")
    with pytest.raises(InputFileError, match="share"):
        read_region_pair(f, "hippocampus", "ids:0,1")
    with pytest.raises(InputFileError, match="no intervals table"):
        read_region_pair(f, "hippocampus", "prefrontal", trials="epochs")
    with pytest.raises(InputFileError, match="at least"):
        read_region_pair(f, "hippocampus", "prefrontal", trials="trials", min_segments=100)


def test_latents_are_causal_and_the_loss_is_poisson():
    from scipy.stats import poisson

    torch.manual_seed(0)
    net = Seq2seqNet(5, 3, latent_dim=2, hidden=8).double()
    x = torch.poisson(torch.full((2, 30, 5), 2.0, dtype=torch.float64))
    z1, r1 = net(x)
    x2 = x.clone()
    x2[:, 20:] += 5.0  # change only the future of bin 19
    z2, r2 = net(x2)
    torch.testing.assert_close(z1[:, :20], z2[:, :20])
    torch.testing.assert_close(r1[:, :20], r2[:, :20])
    assert not torch.allclose(z1[:, 20:], z2[:, 20:])
    y = torch.poisson(torch.full((2, 30, 3), 1.5, dtype=torch.float64))
    lag = 4
    ours = poisson_nll(r1, y, lag).detach().numpy()
    rate = np.exp(r1.detach().numpy()[:, :-lag])
    counts = y.numpy()[:, lag:]
    # our loss leaves out log y!: add it back to compare with scipy's full log-pmf
    from scipy.special import gammaln

    expected = -(poisson.logpmf(counts, rate)).sum(1) - gammaln(counts + 1).sum(1)
    np.testing.assert_allclose(ours, expected, rtol=1e-10)


def test_fit_and_nwb_round_trip(small, tmp_path):
    from nwb_tavrnn.schema import ModelProvenance

    session, data = small
    model = Seq2seq(latent_dim=2, hidden=16, epochs=3, lag=0.1, device="cpu", threads=1).fit(data)
    assert model.meta_["lag_bins"] == 2 and len(model.loss_curve_) == 3
    latents = model.transform(data)
    assert latents.shape == (data.n_segments, data.n_bins, 2)
    rates = model.predict(data)
    assert np.isnan(rates[:, :2]).all() and np.isfinite(rates[:, 2:]).all()
    f = two_region_nwbfile(session)
    module = f.create_processing_module("seq2seq", "results")
    for obj in model.to_nwb(data, latents):
        module.add(obj)
    from nwb_tavrnn.io.files import write_nwbfile

    path = write_nwbfile(f, tmp_path / "o.nwb")
    with open_nwb(path) as nwb:
        proc = nwb.processing["seq2seq"]
        series = proc["latents"]
        assert series.data.shape == (data.n_segments * data.n_bins, 2)
        np.testing.assert_allclose(series.timestamps[: data.n_bins], data.bin_times(int(np.argmin(data.starts))))
        assert isinstance(proc["ModelProvenance"], ModelProvenance)
        rebuilt = Seq2seq.from_provenance(proc["ModelProvenance"], device="cpu")
        np.testing.assert_allclose(rebuilt.transform(data), latents, rtol=1e-5, atol=1e-6)


#: The two-region session the command tests read (``TwoRegionConfig(**TWO_REGION)``, seed 0).
TWO_REGION = {"n_trials": 30, "n_source": 10, "n_target": 6}


def test_seq2seq_command(tmp_path, simulated_session):
    path = simulated_session("two_region", **TWO_REGION)
    before = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    out = tmp_path / "out.nwb"
    argv = ["seq2seq", str(path), str(out), "--source", "hippocampus", "--target", "prefrontal", "--trials", "trials",
            "--trial-window", "0", "2", "--labels", "choice", "--epochs", "2", "--hidden", "8", "--n-splits", "3",
            "--bin-size", "0.05", "--report", str(tmp_path / "rep"), "--permutations", "9"]
    rc, stdout, err = _run(argv)
    assert rc == 0, err
    for name in ("linear_latents", "random_forest_source_rates", "mlp_source_target_rates", "history_glm",
                 "target_history_glm", "source_target_history_glm", "psth", "condition_psth_oracle"):
        assert name in stdout, name
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == before
    with open_nwb(out) as f:
        proc = f.processing["seq2seq"]
        assert {"ModelProvenance", "latents", "predicted_target_rates", "EvaluationScores"} <= set(proc.data_interfaces)
        scores = proc["EvaluationScores"].to_dataframe()
        assert {"balanced_accuracy", "p_value", "binomial_p_value_iid", "mcnemar_p_value_iid",
                "balanced_accuracy_difference", "bits_per_spike"} <= set(scores["metric"])
    assert (tmp_path / "rep" / "latents.png").is_file() and (tmp_path / "rep" / "decoding.png").is_file()
    rc, _, err = _run(["seq2seq", str(path), str(tmp_path / "x.nwb"), "--source", "striatum", "--target", "prefrontal"])
    assert rc == 2 and "no units" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.nwb").exists()
    # a lag that is not a whole number of bins: one line naming the nearest valid lags, nothing written
    rc, _, err = _run(["seq2seq", str(path), str(tmp_path / "x.nwb"), "--source", "hippocampus", "--target",
                       "prefrontal", "--bin-size", "0.02", "--lag", "0.03"])
    assert rc == 2 and "0.02 and 0.04 s" in err and len(err.strip().splitlines()) == 1, err
    rc, _, err = _run(["seq2seq", str(path), str(tmp_path / "x.nwb"), "--source", "hippocampus", "--target",
                       "prefrontal", "--latent-features", "means,velocity"])
    assert rc == 2 and "--latent-features" in err and len(err.strip().splitlines()) == 1, err
    # a held-out split too small to score: refused before any training, naming the flag and the minimum
    rc, _, err = _run(["seq2seq", str(path), str(tmp_path / "x.nwb"), "--source", "hippocampus", "--target",
                       "prefrontal", "--trials", "trials", "--trial-window", "0", "2", "--test-fraction", "0.05"])
    assert rc == 2 and "--test-fraction gives" in err and "at least 5" in err, err
    assert not (tmp_path / "x.nwb").exists()


@pytest.mark.slow  # the whole pipeline before the step
def test_run_config_reaches_the_seq2seq_step(tmp_path, simulated_session):
    path = simulated_session("two_region", **TWO_REGION)
    config = tmp_path / "config.yaml"
    config.write_text("connectivity:\n  window: 15\n  step: 15\nmodel:\n  epochs: 2\n  device: cpu\n"
                      "seq2seq:\n  source: hippocampus\n  target: prefrontal\n  trials: trials\n  window: [0, 2]\n"
                      "  bin_size: 0.05\n  epochs: 2\n  hidden: 8\n")
    out = tmp_path / "run.nwb"
    rc, _, err = _run(["run", str(path), str(out), "--config", str(config)])
    assert rc == 0, err
    with open_nwb(out) as f:
        assert "NodeEmbeddings" in f.processing["ecephys"].data_interfaces
        assert "latents" in f.processing["seq2seq"].data_interfaces
    assert (tmp_path / "run_report" / "seq2seq" / "scores.csv").is_file()
    config.write_text("connectivity:\n  window: 15\n  step: 15\nseq2seq:\n  source: hippocampus\n  target: striatum\n")
    rc, _, err = _run(["run", str(path), str(tmp_path / "run2.nwb"), "--config", str(config)])
    assert rc == 2 and "striatum" in err, err


def test_edges_masks_silent_units_and_labels():
    from nwb_tavrnn.errors import InputFileError
    from nwb_tavrnn.io.region_pairs import RegionPairSegments
    from nwb_tavrnn.io.spike_trains import SpikeTrains

    # a spike exactly on a bin edge opens the next bin, as in np.histogram
    src = SpikeTrains([np.array([0.6, 0.3, 0.95])], np.array([0]), t_start=0.0, t_stop=2.0)
    tgt = SpikeTrains([np.array([0.5])], np.array([1]), t_start=0.0, t_stop=2.0)
    data = RegionPairSegments(src, tgt, np.array([0.3, 1.0]), 7, 0.1, labels=np.array(["a", "b"]))
    np.testing.assert_array_equal(data.batch([0])[0][0, :, 0], np.histogram([0.3, 0.6, 0.95], 0.3 + np.arange(8) * 0.1)[0])
    assert data.subset(data.labels == "b").n_segments == 1  # a mask, not indices 0 and 1
    # a target unit silent in training: bits/spike would reward any rate; refused
    with pytest.raises(ValueError, match="no spike in the training"):
        Seq2seq(epochs=1, device="cpu", validation_fraction=0.0).fit(
            RegionPairSegments(src, SpikeTrains([np.array([1.9])], np.array([1])), np.array([0.0, 0.7]), 7, 0.1))
    # missing labels are left out, not a class; windows must be whole bins
    session = simulate_two_region(TwoRegionConfig(n_trials=12, n_source=3, n_target=2), seed=3)
    f = two_region_nwbfile(session)
    f.trials.choice.data[0] = "nan"
    part = read_region_pair(f, "hippocampus", "prefrontal", trials="trials", window=(0, 2), labels="choice",
                            min_segments=2, bin_size=0.05)
    assert part.n_segments == 11 and "nan" not in set(part.labels)
    dropped = read_region_pair(f, "hippocampus", "prefrontal", trials="trials", window=(0, 2), labels="choice",
                               exclude_labels=["A"], min_segments=1, bin_size=0.05)
    assert set(dropped.labels) == {"B"} and dropped.n_segments == int((session.labels[1:] == "B").sum())
    with pytest.raises(InputFileError, match="whole number"):
        read_region_pair(f, "hippocampus", "prefrontal", trials="trials", window=(0, 0.01), bin_size=0.05)
