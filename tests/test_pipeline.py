"""The one-command pipeline: configuration, the ``run``/``demo`` commands, streaming, raw voltage, notebooks."""

from __future__ import annotations

import re
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
import yaml

from nwb_tavrnn.config import ConfigError, PipelineConfig, load_config

from .conftest import sha256
from .http_server import serve_folder

pytest.importorskip("torch")
pytest.importorskip("sklearn")

#: A few epochs and a minimal evaluation: these tests check the plumbing, not the science.
FAST = {
    "connectivity": {"preset": "dishbrain", "window": 30.0, "step": 15.0},
    "model": {"epochs": 4, "patience": None, "seed": 0, "device": "cpu"},
    "evaluation": {"seeds": 2, "n_permutations": 5, "baselines": [], "time_shuffle": False, "figures": False},
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def cli(argv: list[str]) -> int:
    """``nwb-tavrnn ARGV`` through the real entry point."""
    from nwb_tavrnn.cli.main import main

    return main(argv)


@pytest.fixture(scope="module")
def simulated(simulated_session) -> Path:
    """The small simulated culture (60 nodes, 5 min, epochs with a ``state`` column), shared: the
    tests that write in place work on a copy."""
    return simulated_session("culture", seed=0)


@pytest.fixture
def fast_config(tmp_path) -> Path:
    path = tmp_path / "fast.yaml"
    path.write_text(yaml.safe_dump(FAST))
    return path


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".partial" in p.name]


def _objects(path: Path) -> dict[str, str]:
    """neurodata_type of every object in processing/ecephys."""
    import h5py

    with h5py.File(path, "r") as f:
        group = f["processing/ecephys"]
        return {k: group[k].attrs["neurodata_type"] for k in group}


# -- configuration ------------------------------------------------------------------------------------
def test_config_file_then_set_then_options(tmp_path):
    import argparse

    from nwb_tavrnn.cli.run import config_from_args, register

    (tmp_path / "c.yaml").write_text(yaml.safe_dump({
        "connectivity": {"preset": "dishbrain", "window": 60.0, "step": 30.0},
        "model": {"epochs": 7, "h_dim": 16},
        "evaluation": {"labels": "epochs:state", "seeds": 3},
    }))
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["run", "in.nwb", "out.nwb", "--config", str(tmp_path / "c.yaml"),
                              "--set", "model.epochs=9", "--set", "connectivity.step=20", "--step", "10",
                              "--kmeans-restarts", "4", "--set", "connectivity.binary=false"])
    cfg = config_from_args(args)
    assert cfg.connectivity == {"preset": "dishbrain", "window": 60.0, "step": 10.0, "binary": False}
    assert cfg.model == {"epochs": 9, "h_dim": 16}  # --set beats the file
    assert cfg.evaluation == {"labels": "epochs:state", "seeds": 4}  # an option beats the file
    resolved = cfg.resolve()
    assert resolved.connectivity_params.threshold == 0.6 and resolved.connectivity_params.step == 10.0
    assert resolved.make_model().epochs == 9 and resolved.evaluation.seeds == 4


def test_toml_config_and_show_config(tmp_path, capsys):
    (tmp_path / "c.toml").write_text('[connectivity]\npreset = "dishbrain"\nwindow = 60.0\n\n[model]\nepochs = 5\n')
    assert load_config(tmp_path / "c.toml").connectivity == {"preset": "dishbrain", "window": 60.0}
    assert cli(["run", "--config", str(tmp_path / "c.toml"), "--epochs", "6", "--show-config"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    # every setting in effect: the preset's own values, the file's, the option's, and the defaults
    assert shown["connectivity"]["preset"] == "dishbrain" and shown["connectivity"]["window"] == 60.0
    assert shown["connectivity"]["bin_size"] == 0.05 and shown["connectivity"]["threshold_mode"] == "fixed"
    assert shown["model"]["epochs"] == 6 and shown["model"]["h_dim"] == 32 and shown["model"]["name"] == "tavrnn"
    assert shown["evaluation"]["n_permutations"] == 200 and shown["sorting"]["sorter"] == "lupin"
    # and it is a valid configuration that gives the same run
    (tmp_path / "shown.yaml").write_text(yaml.safe_dump(shown))
    assert cli(["run", "--config", str(tmp_path / "shown.yaml"), "--show-config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == shown


@pytest.mark.parametrize("document, message", [
    ({"connectivity": {"windwo": 60}}, "unknown key 'windwo' in section 'connectivity' (did you mean 'window'?)"),
    ({"modle": {"epochs": 5}}, "unknown section 'modle'"),
    ({"model": {"epochs": 0}}, "model: epochs"),
    ({"evaluation": {"labels": "epochs:state", "baselines": ["cebr"]}}, "unknown baselines"),
    ({"sorting": {"method": "sort", "detect_threshold": 4}}, "applies only with sorting.method: hdmea"),
])
def test_bad_config_is_one_clear_line_and_exit_2(tmp_path, simulated, capsys, document, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(document))
    assert cli(["run", str(simulated), str(tmp_path / "out.nwb"), "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out.nwb").exists()


def test_config_api_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "c.json").write_text("{}")
    with pytest.raises(ConfigError, match="use .yaml, .yml or .toml"):
        load_config(tmp_path / "c.json")
    (tmp_path / "broken.yaml").write_text("model: [epochs\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "broken.yaml")
    from nwb_tavrnn.config import parse_assignment

    with pytest.raises(ConfigError, match="SECTION.KEY=VALUE"):
        parse_assignment("epochs=5")
    assert parse_assignment("evaluation.baselines=[vgae, vgrnn]") == ("evaluation", "baselines", ["vgae", "vgrnn"])


def test_config_keys_are_the_declared_parameters_and_reach_the_steps():
    """Each section's keys are the fields of the objects it builds (declared once, nowhere
    listed by hand), and a value given reaches the object the step runs with."""
    import dataclasses
    import inspect

    from nwb_tavrnn import config as c
    from nwb_tavrnn.connectivity import ConnectivityParams
    from nwb_tavrnn.connectivity.nodes import NodeOptions
    from nwb_tavrnn.connectivity.step import ConnectivityOptions
    from nwb_tavrnn.evaluation.report import EvaluationConfig
    from nwb_tavrnn.models import TAVRNN, NNPoisson, Seq2seq
    from nwb_tavrnn.sorting import DetectionParams, SortingParams
    from nwb_tavrnn.steps.nnpoisson import NNPoissonParams
    from nwb_tavrnn.steps.seq2seq import Seq2seqParams

    def fields(*classes):
        return {f.name for cls in classes for f in dataclasses.fields(cls)}

    def arguments(cls):
        return set(inspect.signature(cls.__init__).parameters) - {"self", "warm_start"}

    expected = {
        "importer": {"rate", "plane", "segments"},
        "sorting": fields(c.SortingSection, SortingParams, DetectionParams),
        "connectivity": {"preset"} | fields(ConnectivityParams, NodeOptions, ConnectivityOptions) - {"preset_name"},
        "model": fields(c.ModelSection) | arguments(TAVRNN),
        "evaluation": {"labels", "report_dir"} | fields(EvaluationConfig),
        "nnpoisson": fields(NNPoissonParams) | arguments(NNPoisson),
        "seq2seq": fields(Seq2seqParams) | arguments(Seq2seq),
    }
    assert set(c.sections()) == set(expected)
    for name, keys in expected.items():
        assert set(c.section_keys(name)) == keys, name
    shown = c.effective_config(c.PipelineConfig.from_mapping({
        "connectivity": {"threshold_mode": "top_k", "top_k": 7, "groups": "g1", "neuropil": 0.0},
        "model": {"h_dim": 12, "checkpoint_every": 5}, "evaluation": {"n_boot": 9, "labels": "epochs:state"},
        "nnpoisson": {"stimulus": "s", "choice": "c", "rt": "rt", "neural_size": 8, "test_fraction": 0.3},
        "seq2seq": {"source": "a", "target": "b", "chunks": 3, "hidden": 16}}))
    assert (shown["connectivity"]["top_k"], shown["connectivity"]["groups"]) == (7, ["g1"])
    assert (shown["model"]["h_dim"], shown["model"]["checkpoint_every"]) == (12, 5)
    assert (shown["evaluation"]["n_boot"], shown["evaluation"]["labels"]) == (9, "epochs:state")
    assert (shown["nnpoisson"]["neural_size"], shown["nnpoisson"]["test_fraction"]) == (8, 0.3)
    assert (shown["seq2seq"]["chunks"], shown["seq2seq"]["hidden"]) == (3, 16)


# -- run ----------------------------------------------------------------------------------------------
def test_run_writes_one_self_contained_evaluated_file(simulated, fast_config, tmp_path, capsys):
    from nwb_tavrnn.io import open_nwb
    from nwb_tavrnn.validation import validate_file

    before = sha256(simulated)
    out = tmp_path / "result.nwb"
    code = cli(["--quiet", "run", str(simulated), str(out), "--config", str(fast_config), "--labels", "epochs:state",
                "--set", "evaluation.figures=true"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert sha256(simulated) == before
    types = _objects(out)
    assert {"DynamicConnectivity", "NodeEmbeddings", "TemporalAttention", "ModelProvenance",
            "EvaluationScores"} <= set(types.values())
    assert "ground_truth_coupling" not in types  # derived: our results, not the input's processing
    with open_nwb(out) as nwbfile:
        ref = next(m for m in nwbfile.lab_meta_data.values() if type(m).__name__ == "SourceFileReference")
        assert ref.source_path == str(simulated)
        assert len(nwbfile.units) == 60 and nwbfile.epochs is not None
    report = validate_file(out)
    assert report.ok, [str(p) for p in report.problems]
    report_dir = tmp_path / "result_report"
    assert (report_dir / "summary.csv").is_file() and list(report_dir.glob("*.png"))
    assert f"wrote {out}" in printed and "block bootstrap" in printed and "tavrnn" in printed
    assert _leftovers(tmp_path) == []


def test_report_without_labels_draws_the_graphs_and_embeddings(simulated, fast_config, tmp_path, capsys):
    """``--report DIR`` without labels: the figures of the graphs and embeddings, nothing scored."""
    import json

    from nwb_tavrnn.plots import legible_groups

    out, report_dir = tmp_path / "result.nwb", tmp_path / "figures"
    code = cli(["--quiet", "run", str(simulated), str(out), "--config", str(fast_config), "--report", str(report_dir),
                "--set", "evaluation.figures=true"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "EvaluationScores" not in set(_objects(out).values())
    names = {p.name for p in report_dir.iterdir()}
    assert {"embeddings.png", "connectivity.png", "attention.png", "alignment.png", "summary.json"} <= names
    assert not {"scores.png", "scores.csv", "summary.csv"} & names
    summary = json.loads((report_dir / "summary.json").read_text())
    assert summary["labels"] is None and len(summary["alignment"]) == len(summary["window_start_times"]) == 19
    assert "nothing scored" in printed
    # without --report, no report folder is made
    assert cli(["--quiet", "run", str(simulated), str(tmp_path / "plain.nwb"), "--config", str(fast_config)]) == 0
    assert not (tmp_path / "plain_report").exists()
    # many small groups (a probe's wires): nine largest by colour, the rest as one
    groups = np.array([f"wire{i:02d}" for i in range(19) for _ in range(1 + (i == 3) + 2 * (i == 7))])
    shown = legible_groups(groups)
    assert len(set(shown)) == 10 and "other (10 groups)" in set(shown)
    assert {"wire03", "wire07"} <= set(shown) and (shown == "wire07").sum() == 3


def test_failure_late_in_the_pipeline_leaves_nothing(simulated, fast_config, tmp_path, capsys):
    out = tmp_path / "result.nwb"
    before = sha256(simulated)
    # The label column is checked by the evaluation, after the graphs and the model are done.
    code = cli(["run", str(simulated), str(out), "--config", str(fast_config), "--labels", "epochs:no_such_column"])
    assert code == 2
    assert "no_such_column" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "result_report").exists()
    assert _leftovers(tmp_path) == [] and sha256(simulated) == before


def test_existing_output_is_refused_before_any_work(simulated, fast_config, tmp_path, capsys):
    out = tmp_path / "result.nwb"
    out.write_bytes(b"keep me")
    assert cli(["run", str(simulated), str(out), "--config", str(fast_config)]) == 3
    assert "already exists" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"
    assert cli(["run", str(simulated), "--config", str(fast_config)]) == 2  # neither OUTPUT nor --in-place


def test_in_place_adds_results_atomically_and_keeps_permissions(simulated, fast_config, tmp_path):
    from nwb_tavrnn.pipeline import run_pipeline

    target = tmp_path / "session.nwb"
    shutil.copyfile(simulated, target)
    target.chmod(0o640)
    config = load_config(fast_config)
    result = run_pipeline(target, None, config, in_place=True)
    assert result.output == target and result.report is None  # no labels: no evaluation
    types = _objects(target)
    assert "ground_truth_coupling" in types and "NodeEmbeddings" in types  # the input's objects are kept
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert _leftovers(tmp_path) == []
    # A second run collides with the first one's objects: a clear error, the file unchanged.
    before = sha256(target)
    assert cli(["run", str(target), "--in-place", "--config", str(fast_config)]) == 3
    assert sha256(target) == before and _leftovers(tmp_path) == []


@pytest.fixture(scope="module")
def drifting(simulated_session) -> dict[str, Path]:
    """Two 48-min sessions of 16 units whose network drifts slowly, in 12 label blocks (random
    order): in one the label strengthens a group's shared input, in the other it changes nothing."""
    return {"planted": simulated_session("drift", seed=7, effect=1.0), "none": simulated_session("drift", seed=8)}


def _evaluation_rows(path: Path):
    from nwb_tavrnn.io import open_nwb
    from nwb_tavrnn.io.read import read_one
    from nwb_tavrnn.schema import EvaluationScores

    with open_nwb(path) as nwbfile:
        return read_one(nwbfile, EvaluationScores).to_dataframe().set_index(["method", "analysis", "metric"])["value"]


# both in the slow suite (46 s each): the default suite stays under 10 minutes on 2 cores
@pytest.mark.parametrize("effect", [pytest.param("planted", marks=pytest.mark.slow),
                                    pytest.param("none", marks=pytest.mark.slow)])
def test_default_run_finds_a_planted_label_effect_and_not_drift(drifting, effect, tmp_path, capsys):
    """``run FILE OUT --labels TABLE:COLUMN`` with the default evaluation (120 s windows every 60 s,
    blocked purged folds, block-permutation null); fewer epochs and one time-shuffle refit for time.
    One seeded session each: the rate over many sessions is tests/evaluation/test_calibration.py."""
    out = tmp_path / "out.nwb"
    code = cli(["--quiet", "run", str(drifting[effect]), str(out), "--labels", "blocks:condition",
                "--set", "model.epochs=80", "--set", "evaluation.time_shuffle_repeats=1",
                "--set", "evaluation.figures=false"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    rows = _evaluation_rows(out)
    accuracy = rows[("tavrnn", "classification", "accuracy")]
    p_value = rows[("tavrnn", "label_permutation", "p_value")]
    assert rows[("tavrnn", "label_permutation", "accuracy")] == accuracy  # the p-value is of the headline figure
    if effect == "planted":
        assert p_value < 0.05 and accuracy >= 0.8, (p_value, accuracy)
    else:
        assert p_value >= 0.05, (p_value, accuracy)
    assert "p = " in printed and "12 label blocks" in printed


def test_demo_small_through_the_cli(tmp_path, capsys, monkeypatch):
    import nwb_tavrnn.config

    cheap = PipelineConfig(**{**FAST, "evaluation": {**FAST["evaluation"], "labels": "epochs:state",
                                                      "figures": True}})
    monkeypatch.setattr(nwb_tavrnn.config, "demo_config", lambda: cheap)  # the real one trains for longer
    folder = tmp_path / "demo"
    assert cli(["--quiet", "demo", "--small", "--output", str(folder)]) == 0
    printed = capsys.readouterr().out
    assert (folder / "simulated_culture.nwb").is_file() and (folder / "demo_tavrnn.nwb").is_file()
    assert list((folder / "demo_tavrnn_report").glob("*.png"))
    assert "block bootstrap" in printed and "demo_tavrnn_report" in printed
    # A second run does not silently replace the first.
    assert cli(["demo", "--small", "--output", str(folder)]) == 3


# -- streaming ----------------------------------------------------------------------------------------
@pytest.mark.slow  # default suite under 10 min; CI runs it with -m slow
def test_pipeline_streams_a_dandi_file_over_http(dandi_file, tmp_path):
    pytest.importorskip("remfile")
    from nwb_tavrnn.io import open_nwb
    from nwb_tavrnn.pipeline import run_pipeline
    from nwb_tavrnn.validation import validate_file

    served = tmp_path / "served"
    served.mkdir()
    shutil.copyfile(dandi_file, served / "sub-4_ses-4_ecephys+image.nwb")
    before = sha256(served / "sub-4_ses-4_ecephys+image.nwb")
    config = PipelineConfig(
        connectivity={"windows_from": "recognition_table"},  # one window per recognition trial
        model={"epochs": 3, "patience": None, "seed": 0, "device": "cpu"},
        evaluation={"labels": "recognition_table:stimuli_type", "seeds": 2, "n_permutations": 5, "baselines": [],
                    "time_shuffle": False, "figures": False},
    )
    out = tmp_path / "derived.nwb"
    with serve_folder(served) as (base, counter):
        url = f"{base}/sub-4_ses-4_ecephys+image.nwb"
        result = run_pipeline(url, out, config)
        assert counter.requests > 0  # it did stream
    assert sha256(served / "sub-4_ses-4_ecephys+image.nwb") == before
    assert result.n_windows == 180 and result.n_nodes == 35
    summary = result.report.summary
    assert set(result.report.labels.labels) == {0, 1}
    assert ((summary.method == "tavrnn") & (summary.metric == "accuracy")).any()
    with open_nwb(out) as nwbfile:
        ref = next(m for m in nwbfile.lab_meta_data.values() if type(m).__name__ == "SourceFileReference")
        assert ref.source_path == url
        assert "recognition_table" in nwbfile.intervals
    report = validate_file(out)
    assert report.ok, [str(p) for p in report.problems]
    assert _leftovers(tmp_path) == []


def test_in_place_refuses_urls(simulated, fast_config, tmp_path, capsys):
    with serve_folder(simulated.parent) as (base, _):
        assert cli(["run", f"{base}/{simulated.name}", "--in-place", "--config", str(fast_config)]) == 3
    assert "needs a local file" in capsys.readouterr().err


# -- raw voltage --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def raw_recording(tmp_path_factory) -> Path:
    """20 s of simulated raw voltage on 16 electrodes (two motor subregions), as an NWB ElectricalSeries."""
    pytest.importorskip("spikeinterface")
    import numpy as np

    from nwb_tavrnn.simulate import SimulationConfig, simulate_network, simulate_recording
    from nwb_tavrnn.sorting import write_recording_nwb

    sim = simulate_network(SimulationConfig.small(rate=8.0), seed=1)
    nodes = np.flatnonzero(np.isin(sim.spikes.groups, ["right-down", "right-up"]))[:16]
    recording, _ = simulate_recording(sim, duration=20.0, nodes=nodes, noise_level=3.0)
    return write_recording_nwb(recording, tmp_path_factory.mktemp("raw") / "raw.nwb")


def test_raw_voltage_goes_through_event_detection(raw_recording, tmp_path):
    from nwb_tavrnn.pipeline import needs_sorting, run_pipeline

    assert needs_sorting(raw_recording)
    config = PipelineConfig(sorting={"method": "hdmea"}, connectivity={"window": 5.0, "step": 2.5},
                            model={"epochs": 3, "patience": None, "device": "cpu"})
    result = run_pipeline(raw_recording, tmp_path / "out.nwb", config)
    assert result.sorted and result.n_nodes == 16 and result.n_windows == 7
    assert {"sorting", "connectivity", "model"} == set(result.timings)
    assert _leftovers(tmp_path) == []


@pytest.mark.slow
def test_raw_voltage_goes_through_spike_sorting(raw_recording, tmp_path, capsys):
    out = tmp_path / "sorted.nwb"
    code = cli(["--quiet", "run", str(raw_recording), str(out), "--window", "5", "--step", "2.5", "--epochs", "3",
                "--set", "sorting.curation={}", "--set", "model.device=cpu"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "spike-sorted first" in printed.out
    types = _objects(out)
    assert "NodeEmbeddings" in types.values()


# -- notebooks ----------------------------------------------------------------------------------------
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _execute_notebook(name: str, folder: Path, timeout: int):
    """Run a notebook top to bottom in a fresh kernel, working in ``folder``; return it executed."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}}).execute()
    return notebook


@pytest.mark.slow
def test_pynapple_notebook_executes(tmp_path, monkeypatch):
    """Graphs and embeddings beside pynapple's tuning curves of the same (real) file, node for node
    (the notebook asserts that the graphs' node ids are the TsGroup's keys)."""
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (shared / "hippocampus_linear_track").is_dir():
        pytest.skip("needs ../shared/data")
    pytest.importorskip("pynapple")
    monkeypatch.setenv("NWB_TAVRNN_SHARED_DATA", str(shared))
    outputs = _outputs_with_figures(_execute_notebook("07_pynapple.ipynb", tmp_path, timeout=600))
    text = "".join(o.get("text", "") for o in outputs)
    near, far = (float(v) for v in re.search(r"within 3 bins: ([\d.]+); further apart: ([\d.]+)", text).groups())
    assert 0 < near < 1 and 0 < far < 1, text  # mean |r| of real units: small, never 0 or 1


def _outputs_with_figures(notebook) -> list:
    """The executed notebook's outputs, checked: no cell raised, and some figure was shown."""
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    return outputs


@pytest.mark.slow
def test_tutorial_notebook_executes(tmp_path):
    _outputs_with_figures(_execute_notebook("01_tutorial_demo.ipynb", tmp_path, timeout=300))


def test_dandi_notebook_makes_no_network_call_by_default(tmp_path):
    """The DANDI notebook runs top to bottom in CI without the network: its calls are guarded."""
    _execute_notebook("02_your_dandi_dataset.ipynb", tmp_path, timeout=120)  # raises on any cell error


@pytest.mark.slow
def test_nnpoisson_notebook_executes(tmp_path):
    _outputs_with_figures(_execute_notebook("03_nnpoisson.ipynb", tmp_path, timeout=600))
    assert (tmp_path / "decision_nnpoisson.nwb").is_file()


@pytest.mark.slow
def test_seq2seq_notebook_executes(tmp_path):
    _outputs_with_figures(_execute_notebook("04_seq2seq.ipynb", tmp_path, timeout=900))
    assert (tmp_path / "two_region_seq2seq.nwb").is_file()


@pytest.mark.slow
def test_online_monitoring_notebook_executes(tmp_path):
    outputs = _outputs_with_figures(_execute_notebook("05_online_monitoring.ipynb", tmp_path, timeout=600))
    text = "".join(o.get("text", "") for o in outputs)
    assert "largest difference from the offline embeddings: 0.0" in text or "e-0" in text


@pytest.mark.slow
def test_calcium_imaging_notebook_executes(tmp_path):
    outputs = _outputs_with_figures(_execute_notebook("06_calcium_imaging.ipynb", tmp_path, timeout=600))
    assert "PlaneSegmentation" in "".join(o.get("text", "") for o in outputs)
