"""Batch runs on a real local Dask cluster: one bad file is reported, the others finish, nothing is lost."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .conftest import sha256

pytest.importorskip("distributed")
pytest.importorskip("torch")

FAST = {
    "connectivity": {"preset": "dishbrain", "window": 30.0, "step": 15.0},
    "model": {"epochs": 3, "patience": None, "seed": 0, "device": "cpu"},
    "evaluation": {"labels": "epochs:state", "seeds": 1, "n_permutations": 0, "baselines": [],
                   "time_shuffle": False, "figures": False},
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def cli(argv: list[str]) -> int:
    """``nwb-tavrnn ARGV`` through the real entry point."""
    from nwb_tavrnn.cli.main import main

    return main(argv)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, simulated_session) -> Path:
    """A folder of three .nwb files: two small simulations (seeds 0 and 1) and one corrupt file."""
    folder = tmp_path_factory.mktemp("inputs")
    shutil.copyfile(simulated_session("culture", seed=0), folder / "culture_a.nwb")
    shutil.copyfile(simulated_session("culture", seed=1), folder / "culture_b.nwb")
    (folder / "culture_c.nwb").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)  # a header, then nothing
    return folder


@pytest.mark.slow  # default suite under 10 min; CI runs it with -m slow
def test_batch_on_a_local_cluster_reports_the_bad_file_and_finishes_the_others(inputs, tmp_path, capsys):
    before = {p.name: sha256(p) for p in inputs.iterdir()}
    config = tmp_path / "fast.yaml"
    config.write_text(yaml.safe_dump(FAST))
    out = tmp_path / "results" / "run1"  # made by the batch, as the Quick start's `--output results/` needs
    code = cli(["--quiet", "batch", str(inputs), "--output", f"{out}/", "--workers", "2", "--config", str(config)])
    printed = capsys.readouterr().out
    assert code == 2  # the one failure is a bad input
    table = pd.read_csv(out / "batch_summary.csv", keep_default_na=False)
    assert list(table.columns) == ["file", "status", "seconds", "output", "error", "warnings"]
    assert [Path(f).name for f in table.file] == ["culture_a.nwb", "culture_b.nwb", "culture_c.nwb"]
    assert list(table.status) == ["ok", "ok", "failed"]
    bad = table.iloc[2]
    assert "culture_c.nwb" in bad.error and "HDF5" in bad.error and bad.output == ""
    for row in table.iloc[:2].itertuples():
        assert Path(row.output).is_file() and row.seconds > 0
    # Nothing lost, nothing partial: inputs unchanged, exactly the expected outputs.
    assert {p.name: sha256(p) for p in inputs.iterdir()} == before
    assert sorted(p.name for p in out.iterdir()) == [
        "batch_summary.csv", "culture_a_tavrnn.nwb", "culture_a_tavrnn_report", "culture_b_tavrnn.nwb",
        "culture_b_tavrnn_report"]
    assert "culture_c.nwb" in printed and f"2 of 3 files succeeded; summary: {out / 'batch_summary.csv'}\n" in printed
    # The two outputs differ (different seeds of the simulation) and hold the whole pipeline's results.
    import h5py

    with h5py.File(out / "culture_a_tavrnn.nwb", "r") as f:
        assert {"DynamicConnectivity", "NodeEmbeddings", "EvaluationScores"} <= set(f["processing/ecephys"])


def test_expanding_inputs_and_naming_outputs(inputs, tmp_path):
    from nwb_tavrnn.batch import expand_inputs, plan_batch

    (tmp_path / "x").mkdir()
    shutil.copyfile(inputs / "culture_a.nwb", tmp_path / "x" / "culture_a.nwb")

    def lister(url):  # what dandi's client would list for a dandiset
        return [("sub-1/sub-1_ecephys.nwb", "https://example.org/a"), ("sub-2/sub-2_ecephys.nwb",
                                                                        "https://example.org/b")]

    items = plan_batch([str(inputs), str(tmp_path / "x" / "culture_a.nwb"), "dandi://000207"], tmp_path / "o", lister)
    assert [i.output.name for i in items] == ["culture_a_tavrnn.nwb", "culture_b_tavrnn.nwb", "culture_c_tavrnn.nwb",
                                              "culture_a_tavrnn-2.nwb", "sub-1_ecephys_tavrnn.nwb",
                                              "sub-2_ecephys_tavrnn.nwb"]
    assert items[-1].source == "https://example.org/b" and items[-1].file == "sub-2/sub-2_ecephys.nwb"
    from nwb_tavrnn.errors import InputFileError

    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="holds no .nwb file"):
        expand_inputs([str(tmp_path / "empty")])


def test_batch_output_folder_checked_before_it_is_made(inputs, tmp_path, capsys):
    """A missing output folder is made, but only once the settings and inputs have passed their
    checks; a file in its place, or a parent nobody may write, is refused before anything."""
    missing = tmp_path / "results" / "run1"
    assert cli(["batch", str(inputs), "--output", str(missing), "--epochs", "0"]) == 2  # a bad setting
    assert not (tmp_path / "results").exists()
    (tmp_path / "empty").mkdir()
    assert cli(["batch", str(tmp_path / "empty"), "--output", str(missing)]) == 2  # no inputs
    assert not (tmp_path / "results").exists()
    capsys.readouterr()
    (tmp_path / "a_file").write_text("")
    assert cli(["batch", str(inputs), "--output", str(tmp_path / "a_file")]) == 3
    assert "exists and is not a folder" in capsys.readouterr().err
    assert cli(["batch", str(inputs), "--output", str(tmp_path / "a_file" / "out")]) == 3  # under a file
    assert "cannot create the output folder" in capsys.readouterr().err
    report_inside = tmp_path / "made" / "out"  # the report folder inside the output folder it makes
    assert cli(["batch", str(inputs), "--output", str(report_inside), "--report", str(tmp_path / "elsewhere" / "r"),
                "--epochs", "1"]) == 3  # a report folder whose parent is missing: nothing made
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "made").exists()
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        if not os.access(locked, os.W_OK):  # root may write anywhere
            assert cli(["batch", str(inputs), "--output", str(locked / "out")]) == 3
            assert "cannot create the output folder" in capsys.readouterr().err
            assert not (locked / "out").exists()
    finally:
        locked.chmod(0o700)
