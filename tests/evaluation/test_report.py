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
    from nwb_tavrnn.steps.model import fit_file
    from nwb_tavrnn.simulate import SimulationConfig, write_simulation

    folder = tmp_path_factory.mktemp("eval")
    # 10 one-minute blocks of gameplay and a rest block: 11 label blocks, enough for a block-permutation test
    sim = write_simulation(folder / "sim.nwb", SimulationConfig.small(gameplay_minutes=10.0), seed=1)
    graphs = run_connectivity(sim, folder / "graphs.nwb", ConnectivityParams.preset("dishbrain", window=20.0, step=10.0))
    return fit_file(graphs, folder / "fitted.nwb", TAVRNN(epochs=40, seed=0, patience=None)).path


@pytest.mark.slow  # 31 s: the default suite stays under 10 minutes on 2 cores
def test_regimes_classified_and_nulls_at_chance(fitted, tmp_path):
    cfg = EvaluationConfig(seeds=2, n_permutations=99, baseline_epochs=15, time_shuffle_repeats=2)
    report = evaluate_file(fitted, "epochs:state", tmp_path / "scored.nwb", report_dir=tmp_path / "report", config=cfg)
    head = report.headline().set_index(["method", "analysis"])
    model = head.loc[("tavrnn", "classification")]
    scores = report.scores.set_index(["method", "analysis", "metric"])["value"]
    # 'rest' is one block at the end: blocked folds never train on it when it is tested, so its
    # windows cannot be right and the ceiling is about 0.85
    assert model["mean"] >= 0.7
    assert model["ci_low"] <= model["mean"] <= model["ci_high"] <= 1.0
    # the p-value belongs to the accuracy the headline shows, and every method has one
    assert scores[("tavrnn", "label_permutation", "accuracy")] == model["mean"]
    assert model["p_value"] <= 0.05
    assert scores[("tavrnn", "label_permutation", "null_accuracy_mean")] < 0.7
    assert head.loc[("tavrnn", "time_shuffle"), "mean"] < model["mean"] - 0.2
    # every default baseline is reported beside the model, with its own p-value (CEBRA runs only when asked for)
    methods = {m for m, a in head.index if a == "classification"}
    assert methods == {"tavrnn", "raw_correlation", "population_rates", "vgae", "vgrnn"}
    assert all(np.isfinite(head.loc[(m, "classification"), "p_value"]) for m in methods)
    # 20 s windows every 10 s: the folds purge the neighbours of every test window, and say so
    assert "blocked" in report.protocol["split"] and "purged" in report.protocol["split"]
    assert "11 label blocks" in report.protocol["label_null"] and report.protocol["label_test"] == "valid"
    assert "transductive" in report.protocol["transductive"]
    # the scores live in the NWB file, readable and valid, with the protocol in their parameters
    with open_nwb(tmp_path / "scored.nwb") as nwbfile:
        table = read_one(nwbfile, EvaluationScores)
        df = table.to_dataframe()
        assert table.labels == "epochs:state"
        params = json.loads(table.parameters)
        assert params["seeds"] == 2 and params["split"] == "blocked" and params["null"] == "block_permutation"
        assert "purged" in params["protocol"]["split"]
        assert len(df) == len(report.scores)
        np.testing.assert_allclose(df["value"].to_numpy(float), report.scores["value"].to_numpy(float))
        assert ((df.method == "tavrnn") & (df.analysis == "label_permutation") & (df.metric == "p_value")).sum() == 1
    assert validate_file(tmp_path / "scored.nwb").ok
    names = {p.name for p in (tmp_path / "report").iterdir()}
    assert {"scores.csv", "summary.json", "scores.png", "scores.pdf", "embeddings.png", "attention.png",
            "connectivity.png", "alignment.png"} <= names
    assert json.loads((tmp_path / "report" / "summary.json").read_text())["protocol"]["label_test"] == "valid"


@pytest.mark.slow  # three TAVRNN refits (25 s): the default suite stays under 10 minutes on 2 cores
def test_time_shuffle_refit_runs_the_identical_pipeline(fitted):
    """Without shuffling, the null's refit reproduces the real embeddings exactly: same graphs, same
    |r| features and history-node row, same training settings and seed."""
    from nwb_tavrnn.connectivity import ConnectivityParams
    from nwb_tavrnn.evaluation.baselines import null_embeddings
    from nwb_tavrnn.io.read import read_spike_trains
    from nwb_tavrnn.schema import DynamicConnectivity, NodeEmbeddings

    with open_nwb(fitted) as nwbfile:
        emb = read_one(nwbfile, NodeEmbeddings)
        conn = read_one(nwbfile, DynamicConnectivity)
        real = np.asarray(emb.mean[()])
        trains = read_spike_trains(nwbfile).select(ids=np.asarray(conn.node_ids[:]).tolist())
        params = ConnectivityParams.from_dict({k: v for k, v in conn.parameters_dict.items()
                                               if k in ConnectivityParams.__dataclass_fields__})
        windows = (np.asarray(conn.window_start_times[:]), np.asarray(conn.window_stop_times[:]))
        again = null_embeddings(trains, params, windows, emb.model.model_name, emb.model.hyperparameters_dict,
                                shuffle=False)
        shuffled = null_embeddings(trains, params, windows, emb.model.model_name, emb.model.hyperparameters_dict,
                                   seed=3, boundaries=np.concatenate(windows))
    np.testing.assert_array_equal(again, real)
    assert np.abs(shuffled - real).max() > 1e-2  # and the shuffle does change them


def test_alignment_is_higher_in_the_aligned_regime(fitted):
    cfg = EvaluationConfig(seeds=2, n_permutations=0, baselines=(), time_shuffle=False, figures=False)
    report = evaluate_file(fitted, "epochs:state", config=cfg)
    rows = report.summary.query("analysis == 'alignment'").set_index("metric")["mean"]
    assert rows["mean_alignment[aligned]"] > rows["mean_alignment[unaligned]"]


def test_cli_evaluate_and_bad_labels(fitted, tmp_path, capsys):
    code = main(["evaluate", str(fitted), "--labels", "trials:hit:top_bottom=2", "--kmeans-restarts", "2", "--permutations", "0",
                 "--baselines", "--no-time-shuffle", "--no-figures", "--report", str(tmp_path / "r")])
    assert code == 0
    out = capsys.readouterr().out
    assert "tavrnn" in out and "classification" in out
    assert main(["evaluate", str(fitted), "--labels", "nope:state"]) == 2
    assert "no intervals table 'nope'" in capsys.readouterr().err
    assert main(["evaluate", str(fitted), "--labels", "epochs:state:median"]) == 2
    assert "unknown rule 'median'" in capsys.readouterr().err


def test_nodes_group_by_brain_area_before_electrode_group():
    """A tetrode or probe file has many electrode groups of a few units each (DANDI 000207: 19
    groups, 2 areas): the alignment score and figures group by area unless asked otherwise."""
    from types import SimpleNamespace

    from nwb_tavrnn.evaluation.report import node_grouping

    probe = SimpleNamespace(node_locations=np.array(["CA1", "CA1", "AMY", "AMY"]),
                            node_groups=np.array(["w1", "w2", "w3", "w4"]))
    assert list(node_grouping(probe)) == ["CA1", "CA1", "AMY", "AMY"]
    assert list(node_grouping(probe, "group")) == ["w1", "w2", "w3", "w4"]
    culture = SimpleNamespace(node_locations=np.array(["in vitro"] * 4),  # one area: its groups mean more
                              node_groups=np.array(["sensory", "sensory", "motor", "motor"]))
    assert list(node_grouping(culture)) == ["sensory", "sensory", "motor", "motor"]
    assert list(node_grouping(culture, "location")) == ["in vitro"] * 4
    assert node_grouping(SimpleNamespace(node_locations=None, node_groups=None)) is None
