"""A step added through the registry (nwb_tavrnn.steps) appears in configuration files,
``--show-config``, ``run`` and the command line, without touching any of them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest

from nwb_tavrnn.cli.main import main
from nwb_tavrnn.config import ConfigError, PipelineConfig, effective_config, sections
from nwb_tavrnn.params import param, positive
from nwb_tavrnn.steps import STEPS, Step, register_step


@dataclass
class ToyParams:
    scale: float = param(1.0, help="factor applied to every spike count", check=positive())
    label: str = param("toy", help="name of the table written", group="output")


class ToyStep(Step):
    """Spike counts per unit, times a factor, as a scores table."""

    name = "toy"
    Params = ToyParams
    help = "count spikes per unit (a toy step for the registry's test)"
    weight = 0.1

    def check(self, nwbfile):
        if nwbfile.units is None:
            from nwb_tavrnn.errors import InputFileError

            raise InputFileError("toy: the file has no Units table")

    def run(self, work: Path, report_dir: Path, progress):
        import pandas as pd

        from nwb_tavrnn.io.files import open_nwb
        from nwb_tavrnn.io.write import append_results
        from nwb_tavrnn.schema import EvaluationScores

        with open_nwb(work) as nwbfile:
            counts = [len(nwbfile.units["spike_times"][i]) for i in range(len(nwbfile.units))]
        frame = pd.DataFrame({"method": "toy", "analysis": "counts", "metric": [f"unit{i}" for i in
                              range(len(counts))], "seed": -1, "value": self.params.scale * np.array(counts, float)})
        table = EvaluationScores.from_frame(frame, name=self.params.label, description="toy counts",
                                            labels="none", parameters={"scale": self.params.scale})
        append_results(work, [table], None, in_place=True, module_name="toy", module_description="toy step")
        figures = []
        if report_dir is not None:
            report_dir.mkdir(parents=True, exist_ok=True)
            frame.to_csv(report_dir / "counts.csv", index=False)
            figures = [report_dir / "counts.csv"]
        progress(1.0, "counted")
        return ToyResult(counts, work, report_dir, figures)


@dataclass
class ToyResult:
    counts: list
    path: Path
    report_dir: Path | None
    figures: list


@pytest.fixture
def toy():
    register_step(ToyStep)
    yield ToyStep
    STEPS.pop("toy", None)


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    from nwb_tavrnn.simulate import SimulationConfig, write_simulation

    path = tmp_path_factory.mktemp("toy") / "session.nwb"
    return write_simulation(path, SimulationConfig.small(gameplay_minutes=2.0, rest_minutes=1.0), seed=0)


def test_section_keys_and_checks_come_from_the_declaration(toy):
    assert "toy" in sections()
    config = PipelineConfig.from_mapping({"toy": {"scale": 2.0}})
    assert config.to_dict() == {"toy": {"scale": 2.0}}
    assert effective_config(config)["toy"] == {"scale": 2.0, "label": "toy"}
    with pytest.raises(ConfigError, match=r"unknown key 'scal' in section 'toy' \(did you mean 'scale'\?\)"):
        PipelineConfig.from_mapping({"toy": {"scal": 2.0}})
    with pytest.raises(ConfigError, match="toy: scale must be positive, got -1"):
        PipelineConfig.from_mapping({"toy": {"scale": -1}}).resolve()


def test_run_runs_a_registered_step(toy, session, tmp_path):
    from nwb_tavrnn.pipeline import run_pipeline

    config = PipelineConfig.from_mapping({"connectivity": {"window": 30.0, "step": 30.0},
                                          "model": {"epochs": 2, "h_dim": 8, "z_dim": 4},
                                          "toy": {"scale": 3.0, "label": "Counts"}})
    result = run_pipeline(session, tmp_path / "out.nwb", config)
    with h5py.File(tmp_path / "out.nwb", "r") as f:
        units = len(f["units/id"])
        values = f["processing/toy/Counts/value"][()]
        assert "DynamicConnectivity" in f["processing/ecephys"]  # beside the core steps' results
    toy_result = result.steps["toy"]
    assert len(toy_result.counts) == units and np.allclose(values, 3.0 * np.array(toy_result.counts))
    assert list(result.timings) == ["connectivity", "model", "toy"] and result.timings["toy"] >= 0
    assert toy_result.path == tmp_path / "out.nwb"
    assert toy_result.figures == [tmp_path / "out_report" / "toy" / "counts.csv"] and toy_result.figures[0].is_file()


def test_run_takes_the_chain_then_the_registered_steps(toy):
    """``run`` loops over one plan: the core chain's steps that apply to this input, then each
    registered step the configuration has a section for."""
    from nwb_tavrnn.steps.chain import RunContext, plan

    def names(values, **ctx):
        resolved = PipelineConfig.from_mapping(values).resolve()
        return [step.name for step in plan(RunContext("in.nwb", "in.nwb", None, None, resolved, **ctx))]

    labelled = {"evaluation": {"labels": "epochs:state"}, "toy": {"scale": 2.0}}
    assert names(labelled) == ["connectivity", "model", "evaluation", "toy"]
    assert names(labelled, imported="suite2p") == ["import", "connectivity", "model", "evaluation", "toy"]
    assert names(labelled, sort_first=True) == ["sorting", "connectivity", "model", "evaluation", "toy"]
    assert names({}) == ["connectivity", "model"]  # no labels, no evaluation; no section, no toy


def test_a_step_runs_alone_file_to_file(toy, session, tmp_path):
    from nwb_tavrnn.errors import OutputFileError

    step = ToyStep.from_mapping({"scale": 2.0})
    result = step.run_file(session, tmp_path / "alone.nwb", report_dir=tmp_path / "alone_report")
    assert result.path == tmp_path / "alone.nwb" and result.report_dir == tmp_path / "alone_report"
    assert (tmp_path / "alone_report" / "counts.csv").is_file()
    with h5py.File(tmp_path / "alone.nwb", "r") as f:
        assert np.allclose(f["processing/toy/toy/value"][()], 2.0 * np.array(result.counts))
    with pytest.raises(OutputFileError):  # an existing output is refused, before any work
        step.run_file(session, tmp_path / "alone.nwb")
    plain = step.run_file(session, tmp_path / "plain.nwb")  # no report folder: none is claimed
    assert plain.report_dir is None and plain.figures == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alone.nwb", "alone_report", "plain.nwb"]


def test_command_line_has_the_step_and_its_flags(toy, session, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["toy", "--help"])
    text = capsys.readouterr().out
    assert "--scale" in text and "--label" in text and "factor applied to every spike count" in text
    assert main(["toy", str(session), str(tmp_path / "t.nwb"), "--scale", "-2"]) == 2
    assert "toy: error: --scale must be positive, got -2.0" in capsys.readouterr().err
    assert not (tmp_path / "t.nwb").exists()
    assert main(["toy", str(session), str(tmp_path / "t.nwb"), "--scale", "2"]) == 0
    with h5py.File(tmp_path / "t.nwb", "r") as f:
        assert f["processing/toy/toy/value"].shape == (len(f["units/id"]),)
    assert main(["run", "--show-config", "--set", "toy.scale=5"]) == 0
    shown = capsys.readouterr().out
    assert "toy:\n  scale: 5\n  label: toy" in shown
