"""The evaluation step end to end on a small simulated session: planted regimes are found, nulls are not."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from nwb_tavrnn.cli.main import main  # noqa: E402
from nwb_tavrnn.evaluation.report import EvaluationConfig, evaluate_file  # noqa: E402
from nwb_tavrnn.io import open_nwb  # noqa: E402
from nwb_tavrnn.io.read import read_one  # noqa: E402
from nwb_tavrnn.schema import EvaluationScores  # noqa: E402
from nwb_tavrnn.validation import validate_file  # noqa: E402


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    from nwb_tavrnn.connectivity import ConnectivityParams
    from nwb_tavrnn.connectivity.step import run_connectivity
    from nwb_tavrnn.models import TAVRNN
    from nwb_tavrnn.models.step import fit_file
    from nwb_tavrnn.simulate import SimulationConfig, write_simulation

    folder = tmp_path_factory.mktemp("eval")
    sim = write_simulation(folder / "sim.nwb", SimulationConfig.small(), seed=1)
    graphs = run_connectivity(sim, folder / "graphs.nwb", ConnectivityParams.preset("dishbrain", window=20.0, step=10.0))
    return fit_file(graphs, folder / "fitted.nwb", TAVRNN(epochs=40, seed=0, patience=None)).path


def test_regimes_classified_and_nulls_at_chance(fitted, tmp_path):
    cfg = EvaluationConfig(seeds=2, n_permutations=9, baseline_epochs=15)
    report = evaluate_file(fitted, "epochs:state", tmp_path / "scored.nwb", report_dir=tmp_path / "report", config=cfg)
    head = report.headline().set_index(["method", "analysis"])["mean"]
    chance = report.summary.query("analysis == 'label_permutation' and metric == 'null_accuracy_mean'")["mean"].iloc[0]
    p_value = report.summary.query("analysis == 'label_permutation' and metric == 'p_value'")["mean"].iloc[0]
    assert head[("tavrnn", "classification")] >= 0.8
    assert p_value <= 0.1  # 1/10 is the smallest p-value 9 permutations can give
    assert head[("tavrnn", "time_shuffle")] < head[("tavrnn", "classification")] - 0.2
    assert chance < 0.7
    # every baseline is reported beside the model
    # every default baseline is reported beside the model (CEBRA runs only when asked for)
    assert {m for m, a in head.index if a == "classification"} == {
        "tavrnn", "raw_correlation", "population_rates", "vgae", "vgrnn"}
    # the scores live in the NWB file, readable and valid
    with open_nwb(tmp_path / "scored.nwb") as nwbfile:
        table = read_one(nwbfile, EvaluationScores)
        df = table.to_dataframe()
        assert table.labels == "epochs:state"
        assert json.loads(table.parameters)["seeds"] == 2
        assert len(df) == len(report.scores)
        np.testing.assert_allclose(df["value"].to_numpy(float), report.scores["value"].to_numpy(float))
    assert validate_file(tmp_path / "scored.nwb").ok
    names = {p.name for p in (tmp_path / "report").iterdir()}
    assert {"scores.csv", "summary.json", "scores.png", "scores.pdf", "embeddings.png", "attention.png",
            "connectivity.png", "alignment.png"} <= names


def test_alignment_is_higher_in_the_aligned_regime(fitted):
    cfg = EvaluationConfig(seeds=2, n_permutations=0, baselines=(), time_shuffle=False, figures=False)
    report = evaluate_file(fitted, "epochs:state", config=cfg)
    rows = report.summary.query("analysis == 'alignment'").set_index("metric")["mean"]
    assert rows["mean_alignment[aligned]"] > rows["mean_alignment[unaligned]"]


def test_cli_evaluate_and_bad_labels(fitted, tmp_path, capsys):
    code = main(["evaluate", str(fitted), "--labels", "trials:hit:top_bottom=2", "--seeds", "2", "--permutations", "0",
                 "--baselines", "--no-time-shuffle", "--no-figures", "--report", str(tmp_path / "r")])
    assert code == 0
    out = capsys.readouterr().out
    assert "tavrnn" in out and "classification" in out
    assert main(["evaluate", str(fitted), "--labels", "nope:state"]) == 2
    assert "no intervals table 'nope'" in capsys.readouterr().err
    assert main(["evaluate", str(fitted), "--labels", "epochs:state:median"]) == 2
    assert "unknown rule 'median'" in capsys.readouterr().err
