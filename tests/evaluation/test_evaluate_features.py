"""The evaluation's protocol on window features held as arrays (evaluation.protocol.evaluate_features):
features that carry the label are decoded and those that do not are not; the evaluation of an NWB
file's embeddings is that same function on the file's features; the parameters are declared once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sklearn")

from nwb_tavrnn.errors import ParameterError  # noqa: E402
from nwb_tavrnn.evaluation.protocol import evaluate_features  # noqa: E402
from nwb_tavrnn.evaluation.settings import EvaluationConfig  # noqa: E402

#: Cheap enough for the default suite, still a valid block-permutation test (12 label blocks).
CHEAP = dict(seeds=2, n_permutations=99, n_boot=200)


def _session(n_blocks: int = 12, per_block: int = 10, seed: int = 0):
    """Back-to-back 10 s windows in label blocks alternating a/b; features with the label (a shift
    of 3 noise SDs on 3 of 6 columns) and without it (noise alone)."""
    rng = np.random.default_rng(seed)
    labels = [("a", "b")[k % 2] for k in range(n_blocks) for _ in range(per_block)]
    starts = np.arange(len(labels)) * 10.0
    y = np.array([c == "b" for c in labels], float)
    noise = rng.normal(size=(len(labels), 6))
    signal = noise + 3.0 * np.outer(y, [1, 1, 1, 0, 0, 0])
    return labels, starts, starts + 10.0, signal, rng.normal(size=(len(labels), 6))


def _scores(report, method: str) -> pd.Series:
    s = report.scores
    return s[s.method == method].set_index(["analysis", "metric"])["value"]


def test_features_with_the_label_are_decoded_and_without_it_are_not():
    labels, starts, stops, signal, noise = _session()
    report = evaluate_features({"signal": signal, "noise": noise}, labels, starts, stops, EvaluationConfig(**CHEAP))
    with_label, without = _scores(report, "signal"), _scores(report, "noise")
    assert with_label[("classification", "accuracy")] >= 0.95
    assert with_label[("label_permutation", "p_value")] <= 0.05
    assert with_label[("classification", "accuracy_ci_low")] >= 0.85
    assert 0.3 <= without[("classification", "accuracy")] <= 0.7  # chance: two balanced classes
    assert without[("label_permutation", "p_value")] > 0.1
    assert report.protocol["label_test"] == "valid" and "12 label blocks" in report.protocol["label_null"]
    head = report.headline().set_index("method")
    assert list(head.index) == ["signal", "noise"] and head.loc["signal", "n"] == len(labels)
    assert np.isnan(report.alignment).all() and len(report.alignment) == len(labels)


def test_shuffled_features_callables_kinds_and_skipped_methods():
    labels, starts, stops, signal, noise = _session()
    called, done = [], []

    def later():
        called.append(True)
        return signal.astype(np.float32)  # the dtype is kept, as the model's baselines keep theirs

    report = evaluate_features([("model", later), ("missing", lambda: None), ("model", signal)], labels, starts,
                               stops, EvaluationConfig(**{**CHEAP, "n_permutations": 0}), kinds={"model": None},
                               shuffled={"model": [noise, noise[::-1]]}, on_scored=done.append)
    assert called == [True]
    assert done == ["model scored", "missing skipped", "model scored", "time_shuffle scored"]
    s = report.scores
    assert set(s.method) == {"model"} and not (s.analysis == "label_permutation").any()
    shuffle = s[s.analysis == "time_shuffle"]
    assert sorted(set(shuffle.seed)) == [0, 1]
    assert shuffle[shuffle.metric == "accuracy"]["value"].max() < 0.75
    with pytest.raises(ParameterError, match="one row per window"):
        evaluate_features({"short": signal[:-1]}, labels, starts, stops, EvaluationConfig(**CHEAP))
    with pytest.raises(ParameterError, match="kinds"):
        evaluate_features({"x": signal}, labels, starts, stops, EvaluationConfig(**CHEAP), kinds={"x": "flat"})


def test_score_features_is_one_method_of_evaluate_features():
    from nwb_tavrnn.evaluation.report import score_features

    labels, starts, stops, signal, _ = _session()
    cfg = EvaluationConfig(**CHEAP)
    scores, protocol = score_features(signal, labels, starts, stops, cfg, method="m")
    report = evaluate_features({"m": signal}, labels, starts, stops, cfg)
    pd.testing.assert_frame_equal(scores, report.scores, check_exact=True)
    assert protocol == report.protocol


def test_every_baseline_is_registered_and_the_light_constants_agree():
    from nwb_tavrnn.evaluation import metrics
    from nwb_tavrnn.evaluation.registry import REGISTRY
    from nwb_tavrnn.evaluation.settings import BASELINES, CLASSIFIERS, OPTIONAL_BASELINES

    assert list(REGISTRY) == [*BASELINES, *OPTIONAL_BASELINES]
    assert CLASSIFIERS == metrics.CLASSIFIERS


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    from nwb_tavrnn.connectivity import ConnectivityParams
    from nwb_tavrnn.connectivity.step import run_connectivity
    from nwb_tavrnn.models import TAVRNN
    from nwb_tavrnn.simulate import SimulationConfig, write_simulation
    from nwb_tavrnn.steps.model import fit_file

    pytest.importorskip("torch")
    folder = tmp_path_factory.mktemp("features")
    sim = write_simulation(folder / "sim.nwb", SimulationConfig.small(gameplay_minutes=10.0), seed=1)
    graphs = run_connectivity(sim, folder / "graphs.nwb", ConnectivityParams.preset("dishbrain", window=20.0, step=10.0))
    return fit_file(graphs, folder / "fitted.nwb", TAVRNN(epochs=2, seed=0, patience=None)).path


def test_the_file_evaluation_is_evaluate_features_on_the_files_features(fitted):
    """Bitwise: the scores of a file's embeddings and baselines are those of evaluate_features on
    the same window features read from the file."""
    from nwb_tavrnn.connectivity.nodes import read_graph_nodes
    from nwb_tavrnn.evaluation import features as feats
    from nwb_tavrnn.evaluation.report import check_window_labels, evaluate_file
    from nwb_tavrnn.io import open_nwb
    from nwb_tavrnn.io.read import read_one
    from nwb_tavrnn.schema import NodeEmbeddings

    cfg = EvaluationConfig(seeds=2, n_permutations=20, baselines=("raw_correlation", "population_rates"),
                           time_shuffle=False, figures=False)
    from_file = evaluate_file(fitted, "epochs:state", config=cfg)
    with open_nwb(fitted) as nwbfile:
        emb = read_one(nwbfile, NodeEmbeddings)
        starts, stops = np.asarray(emb.window_start_times[:]), np.asarray(emb.window_stop_times[:])
        labels = check_window_labels(nwbfile, "epochs:state", starts, stops, cfg.min_purity)
        trains = read_graph_nodes(nwbfile, emb.connectivity)
        features = {"tavrnn": feats.embedding_features(np.asarray(emb.mean[()]), cfg.feature_mode),
                    # the stored r is signed; the baseline reads it as the preset weighs edges, |r|
                    "raw_correlation": feats.correlation_features(np.abs(np.asarray(emb.connectivity.correlation[()],
                                                                                    dtype=np.float32))),
                    "population_rates": feats.rate_features(trains, starts, stops)}
    report = evaluate_features(features, labels, starts, stops, cfg, kinds={"tavrnn": "embedding"})
    scores = from_file.scores[from_file.scores.analysis != "alignment"].reset_index(drop=True)
    pd.testing.assert_frame_equal(scores, report.scores, check_exact=True)
    assert scores["value"].to_numpy().tobytes() == report.scores["value"].to_numpy().tobytes()
    assert from_file.protocol == report.protocol
    assert (from_file.scores.analysis == "alignment").any()  # added by the file's evaluation alone


def test_command_line_options_come_from_the_declaration():
    from nwb_tavrnn.cli.main import build_parser
    from nwb_tavrnn.params import flag_message, given

    parser = build_parser()
    base = ["evaluate", "in.nwb", "--labels", "epochs:state"]
    args = parser.parse_args(base)
    assert EvaluationConfig(**given(args, EvaluationConfig)) == EvaluationConfig()  # no default repeated
    args = parser.parse_args([*base, "--jobs", "2", "--features", "node_mean", "--baselines", "--no-time-shuffle",
                              "--no-figures", "--permutations", "7", "--window-features", "node_mean_sd"])
    cfg = EvaluationConfig(**given(args, EvaluationConfig))
    assert (cfg.n_jobs, cfg.feature_mode, cfg.baselines, cfg.time_shuffle, cfg.figures, cfg.n_permutations) == (
        2, "node_mean_sd", (), False, False, 7)
    args = parser.parse_args([*base, "--n-splits", "1"])
    with pytest.raises(ParameterError) as err:
        EvaluationConfig(**given(args, EvaluationConfig))
    assert flag_message(err.value, args._flags) == "--n-splits must be >= 2, got 1"
    args = parser.parse_args([*base, "--split", "label_blocks", "--null", "iid"])
    with pytest.raises(ParameterError) as err:
        EvaluationConfig(**given(args, EvaluationConfig))
    assert flag_message(err.value, args._flags).startswith("--split='label_blocks'")
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--classifier", "svm"])  # choices from the declaration


def test_configuration_keys_keep_their_messages():
    with pytest.raises(ParameterError, match=r"unknown baselines \['cebr'\]"):
        EvaluationConfig(baselines=["cebr"])
    with pytest.raises(ParameterError, match=r"min_purity must be in \(0.5, 1\], got 0.5"):
        EvaluationConfig(min_purity=0.5)
    assert EvaluationConfig(baselines=["vgae"]).baselines == ("vgae",)
