"""``nwb-tavrnn nnpoisson`` and the ``nnpoisson`` section of ``run``: real files written and read back,
one-line errors with exit code 2 before any work, the input never modified."""

from __future__ import annotations

import contextlib
import hashlib
import io
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from nwb_tavrnn.cli.main import main  # noqa: E402
from nwb_tavrnn.io.files import open_nwb  # noqa: E402

COLUMNS = ["--stimulus", "stimulus", "--choice", "choice", "--rt", "rt"]


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["--quiet", *argv])
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def decision(simulated_session):
    """60 trials, 3 units a region, mixed tuning (units of a region disagree); shared: copy to write."""
    return simulated_session("decision", seed=2, n_trials=60, neurons=(3, 3, 3), tuning="mixed")


def test_nnpoisson_command_writes_results_beside_the_data(decision, tmp_path):
    before = hashlib.sha256(Path(decision).read_bytes()).hexdigest()
    out, report = tmp_path / "out.nwb", tmp_path / "report"
    rc, stdout, err = _run(["nnpoisson", str(decision), str(out), *COLUMNS, "--epochs", "3", "--report", str(report)])
    assert rc == 0, err
    assert "Held-out scores" in stdout and "psth" in stdout and "glm" in stdout
    assert hashlib.sha256(Path(decision).read_bytes()).hexdigest() == before
    with open_nwb(out) as f:
        proc = f.processing["nnpoisson"]
        assert set(proc.data_interfaces) == {"ModelProvenance", "intensities", "unit_intensities",
                                              "trial_predictions", "EvaluationScores"}
        units = proc["unit_intensities"].to_dataframe()
        assert len(units) == 9 * len(np.unique(f.trials["stimulus"][:]))  # every unit x condition
        assert set(units["unit_id"]) == set(f.units.id.data[:])
        preds = proc["trial_predictions"].to_dataframe()
        assert len(preds) == len(f.trials)
        assert set(preds["split"]) <= {"train", "validation", "test", "excluded"} and (preds["split"] == "test").any()
        # each prediction row points at its trial
        rows = proc["trial_predictions"]["trial"].data[:]
        np.testing.assert_array_equal(np.asarray(f.trials.id.data[:])[rows], preds["trial_id"])
        scores = proc["EvaluationScores"].to_dataframe()
        assert {"nnpoisson", "nnpoisson_neural_only", "psth", "psth_unit", "glm", "glm_unit", "ceiling"} <= set(
            scores["method"])
        assert "bits_per_spike[sensory]" in set(scores["metric"])
        per_unit = scores[(scores["analysis"] == "neural_heldout_unit") & (scores["method"] == "nnpoisson")]
        assert {f"bits_per_spike[unit {u}]" for u in f.units.id.data[:]} <= set(per_unit["metric"])
        behaviour = scores[(scores["analysis"] == "behaviour_heldout") & (scores["method"] == "nnpoisson")]
        behaviour = behaviour.set_index("metric")["value"]
        assert behaviour["choice_accuracy_low"] <= behaviour["choice_accuracy"] <= behaviour["choice_accuracy_high"]
        assert 0 <= behaviour["choice_accuracy_p_vs_psth"] <= 1
        assert len(proc["ModelProvenance"].training_loss[:]) == 3
    assert {p.name for p in report.iterdir()} >= {"scores.csv", "intensities.png", "rt_distributions.png",
                                                  "time_rescaling_ks.png"}


@pytest.mark.parametrize("extra, words", [
    (["--stimulus", "contrast"], "no column 'contrast'"),
    (["--response-window", "0.3"], "--late censor"),
    (["--regions", "depth"], "no column 'depth'"),
    (["--keep-regions", "striatum"], "no units in region"),
    (["--trials", "epochs"], "no intervals table 'epochs'"),
    (["--epochs", "0"], "epochs must be >= 1"),
    (["--components", "0"], "components must be a whole number >= 1"),
    (["--components", "4"], "only 3 unit(s)"),
    (["--test-fraction", "0.05"], "scores need at least 10"),  # a handful of test trials, scored as if enough
])
def test_bad_trial_settings_exit_2_with_one_line(decision, tmp_path, extra, words):
    out = tmp_path / "out.nwb"
    argv = ["nnpoisson", str(decision), str(out), *COLUMNS, *extra]
    rc, _, err = _run(argv)
    assert rc == 2 and words in err, err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.slow  # the whole pipeline before the step
def test_run_config_reaches_the_nnpoisson_step(decision, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("connectivity:\n  window: 20\n  step: 20\nmodel:\n  epochs: 2\n  device: cpu\n"
                      "nnpoisson:\n  stimulus: stimulus\n  choice: choice\n  rt: rt\n  epochs: 2\n  baselines: false\n")
    out = tmp_path / "run.nwb"
    rc, _, err = _run(["run", str(decision), str(out), "--config", str(config)])
    assert rc == 0, err
    with open_nwb(out) as f:
        assert "NodeEmbeddings" in f.processing["ecephys"].data_interfaces
        assert "trial_predictions" in f.processing["nnpoisson"].data_interfaces
    assert (tmp_path / "run_report" / "nnpoisson" / "scores.csv").is_file()
    # a bad column fails before any work, naming the section's setting
    config.write_text("connectivity:\n  window: 20\n  step: 20\nnnpoisson:\n  stimulus: contrast\n  choice: choice\n"
                      "  rt: rt\n")
    rc, _, err = _run(["run", str(decision), str(tmp_path / "run2.nwb"), "--config", str(config)])
    assert rc == 2 and "contrast" in err, err


def test_dandi_recognition_trials_by_electrode_location(dandi_file):
    from nwb_tavrnn.io.trials import read_trial_spikes

    with open_nwb(dandi_file) as f:
        kwargs = dict(trials="recognition_table", rt_reference="stop_time", no_response=["0"], window=4.0)
        with pytest.raises(Exception, match="negative|after the 4 s window"):
            read_trial_spikes(f, ["stimuli_type"], "old_new", "RT", **kwargs)
        data = read_trial_spikes(f, ["stimuli_type"], "old_new", "RT", late="censor", invalid="drop", **kwargs)
    assert data.regions == ["amygdala_right", "hippocampus_right"]
    assert data.neurons.tolist() == [10, 25]  # units by their electrode's location
    assert data.actions == ["1", "2"]  # new, old
    # RT from the image onset = RT from the image's offset + the image's duration (~1.53 s)
    assert np.nanmin(data.rt) > 0 and np.nanmax(data.rt) < 4.0
    assert 150 < data.n_trials <= 180


def test_a_unit_silent_in_every_training_trial_is_refused(tmp_path):
    """The per-unit read-out cannot fit a unit that never fired in training: one line, exit 2, no
    output; pooling the region's units (--readout region) fits."""
    from pynwb.testing.mock.file import mock_NWBFile

    from nwb_tavrnn.io.files import write_nwbfile

    rng = np.random.default_rng(0)
    f = mock_NWBFile()
    f.add_unit_column("region", "brain region")
    for _ in range(2):
        f.add_unit(spike_times=np.sort(rng.uniform(0, 120, 1200)), region="CA1")
    f.add_unit(spike_times=np.array([119.5]), region="CA1")  # one spike, in the last (test) trial
    f.add_trial_column("contrast", "stimulus")
    f.add_trial_column("choice", "response")
    f.add_trial_column("rt", "reaction time")
    for j in range(60):  # 12 test trials: enough to score
        f.add_trial(start_time=2.0 * j, stop_time=2.0 * j + 1, contrast=float(j % 2), choice=["a", "b"][j % 2],
                    rt=0.3)
    source = write_nwbfile(f, tmp_path / "silent.nwb")
    out = tmp_path / "out.nwb"
    argv = ["nnpoisson", str(source), str(out), "--stimulus", "contrast", "--choice", "choice", "--rt", "rt",
            "--response-window", "1.5", "--epochs", "2", "--components", "1", "--no-baselines"]
    rc, _, err = _run(argv)
    assert rc == 2 and "no spike in any training trial" in err and "--readout region" in err, err
    assert len(err.strip().splitlines()) == 1 and not out.exists()
    rc, _, err = _run([*argv, "--readout", "region"])
    assert rc == 0, err


def test_save_model_never_replaces_the_input(decision, tmp_path):
    before = hashlib.sha256(Path(decision).read_bytes()).hexdigest()
    rc, _, err = _run(["nnpoisson", str(decision), str(tmp_path / "o.nwb"), *COLUMNS, "--save-model", str(decision),
                       "--overwrite"])
    assert rc == 2 and "is the input file" in err, err
    assert hashlib.sha256(Path(decision).read_bytes()).hexdigest() == before
    assert not (tmp_path / "o.nwb").exists()


def test_choice_codes_and_censoring(tmp_path):
    """-1 is a choice unless listed (Steinmetz codes right choices -1); missing values never are; a
    window that censors every response is refused."""
    from pynwb.testing.mock.file import mock_NWBFile

    from nwb_tavrnn.errors import InputFileError
    from nwb_tavrnn.io.trials import read_trial_spikes

    f = mock_NWBFile()
    f.add_unit_column("region", "brain region")
    f.add_unit(spike_times=np.sort(np.random.default_rng(0).uniform(0, 40, 400)), region="CA1")
    f.add_trial_column("contrast", "stimulus")
    f.add_trial_column("response", "choice: +1 left, -1 right, 0 nogo, nan missing")
    f.add_trial_column("rt", "reaction time")
    codes = [1, -1, 0, np.nan] * 5
    for j, code in enumerate(codes):
        f.add_trial(start_time=2.0 * j, stop_time=2.0 * j + 1, contrast=float(j % 3), response=code,
                    rt=0.3 if code in (1, -1) else np.nan)
    data = read_trial_spikes(f, ["contrast"], "response", "rt", no_response=["0"], window=1.0)
    assert data.actions == ["-1", "1"]
    assert (data.choice == -1).sum() == 10  # the 0s and the NaNs
    with pytest.raises(InputFileError, match="no trial .* has a response within"):
        read_trial_spikes(f, ["contrast"], "response", "rt", no_response=["0"], window=0.2,
                          late="censor")


def test_run_refuses_a_test_split_too_small_before_any_training(decision, tmp_path, capsys):
    """Inside ``run`` the NNPoisson step's test split is checked with the other pre-flight checks:
    nothing trains (not TAVRNN either) when its scores could say nothing."""
    import time

    import yaml

    from nwb_tavrnn.cli.main import main

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"nnpoisson": {"stimulus": "stimulus", "choice": "choice", "rt": "rt",
                                                    "test_fraction": 0.05}}))
    started = time.perf_counter()
    assert main(["run", str(decision), str(tmp_path / "o.nwb"), "--config", str(config), "--epochs", "500",
                 "--window", "5", "--step", "5"]) == 2
    err = capsys.readouterr().err
    assert "nnpoisson.test_fraction gives" in err and "scores need at least 10" in err, err
    assert time.perf_counter() - started < 30 and not (tmp_path / "o.nwb").exists()
