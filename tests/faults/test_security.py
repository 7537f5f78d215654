"""Inputs that try to run code or write outside the output folder are refused, and nothing runs.

Config files are parsed with ``yaml.safe_load`` / ``tomllib``; saved models and checkpoints are read
with ``torch.load(weights_only=True)``; weights in an NWB file are numbers read with numpy, never
unpickled. Names taken from options, config files or DANDI asset paths become one path component
inside the output folder, or are refused. Each attack below would create a marker file if it ran.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import h5py
import numpy as np
import pytest

from nwb_tavrnn.errors import InputFileError

from ._generated import Case, run_cli, write_source

PACKAGE = Path(__file__).resolve().parents[2] / "nwb_tavrnn"


class _Payload:
    """Unpickling this runs ``touch MARKER``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def source(tmp_path):
    return write_source(Case(n_units=4, duration=24.0), tmp_path / "source.nwb")


@pytest.fixture
def connectivity(source, tmp_path):
    out = tmp_path / "conn.nwb"
    assert run_cli(["connectivity", source, out, "--window", "4", "--step", "4"])[0] == 0
    return out


# -- configuration files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("show", [True, False])
def test_yaml_with_python_tags_is_refused_and_never_runs(source, tmp_path, show):
    marker = tmp_path / "pwned"
    config = tmp_path / "evil.yaml"
    config.write_text(f"model: !!python/object/apply:os.system ['touch {marker}']\n"
                      f"connectivity: {{window: !!python/object/apply:os.system ['touch {marker}']}}\n")
    argv = ["run", source, tmp_path / "out.nwb", "--config", config] + (["--show-config"] if show else [])
    code, _, err, _ = run_cli(argv)
    assert code == 2 and "not valid YAML" in _one_line(err)
    assert not marker.exists() and not (tmp_path / "out.nwb").exists()


def test_set_value_with_python_tag_is_refused_and_never_runs(source, tmp_path):
    marker = tmp_path / "pwned"
    code, _, err, _ = run_cli(["run", source, tmp_path / "out.nwb", "--show-config",
                               "--set", f"model.epochs=!!python/object/apply:os.system ['touch {marker}']"])
    assert code == 2, err
    _one_line(err)
    assert not marker.exists()


# -- model weights ----------------------------------------------------------------------------------------


def test_saved_model_with_code_is_refused_and_never_runs(tmp_path):
    torch = pytest.importorskip("torch")
    from nwb_tavrnn.models import TAVRNN

    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    torch.save({"model_name": "tavrnn", "params": "{}", "meta": "{}", "state_dict": _Payload(marker)}, path)
    with pytest.raises(InputFileError, match="refused to load") as info:
        TAVRNN.load(path)
    assert len(str(info.value).splitlines()) == 1
    assert not marker.exists()


def test_checkpoint_with_code_never_runs(connectivity, tmp_path):
    torch = pytest.importorskip("torch")

    marker = tmp_path / "pwned"
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    torch.save({"state": _Payload(marker)}, checkpoints / "checkpoint.pt")
    code, *_ = run_cli(["fit", connectivity, tmp_path / "fit.nwb", "--epochs", "2",
                        "--checkpoint-dir", checkpoints, "--resume"])
    assert code != 0 and not marker.exists()
    assert not (tmp_path / "fit.nwb").exists()


def test_checkpoint_with_code_is_one_line(connectivity, tmp_path):
    torch = pytest.importorskip("torch")

    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    torch.save({"state": _Payload(tmp_path / "pwned")}, checkpoints / "checkpoint.pt")
    code, _, err, _ = run_cli(["fit", connectivity, tmp_path / "fit.nwb", "--epochs", "2",
                               "--checkpoint-dir", checkpoints, "--resume"])
    assert code == 2
    _one_line(err)


def test_provenance_weights_holding_a_pickle_are_refused(connectivity, tmp_path):
    pytest.importorskip("torch")
    import pickle

    from nwb_tavrnn.io import open_nwb
    from nwb_tavrnn.io.read import read_one
    from nwb_tavrnn.models import TAVRNN
    from nwb_tavrnn.schema import ModelProvenance

    fitted = tmp_path / "fit.nwb"
    assert run_cli(["fit", connectivity, fitted, "--epochs", "1", "--patience", "0"])[0] == 0
    marker = tmp_path / "pwned"
    blob = pickle.dumps(_Payload(marker))
    with h5py.File(fitted, "r+") as h5:
        group = h5["processing/ecephys/ModelProvenance"]
        attrs = dict(group["weights"].attrs)
        del group["weights"]
        group.create_dataset("weights", data=np.void(blob))  # opaque bytes where float32 belong
        for key, value in attrs.items():
            group["weights"].attrs[key] = value
    # refused on reading the file, or on rebuilding the model
    with pytest.raises(Exception) as info, open_nwb(fitted) as nwbfile:
        TAVRNN.from_provenance(read_one(nwbfile, ModelProvenance))
    assert "not numbers" in str(info.value) or "not readable" in str(info.value), info.value
    assert not marker.exists()


def test_package_never_unpickles_untrusted_data():
    """Every pickle-capable loader in the package is safe, except suite2p's own stat.npy format."""
    allowed = {("importers/suite2p.py", "allow_pickle=True")}  # suite2p writes a pickled list of dicts
    found = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            for pattern in ("allow_pickle=True", "pickle.load", "pickle.loads", "yaml.load(", "unsafe_load",
                            "yaml.Loader", "FullLoader", "UnsafeLoader", "dill.load", "joblib.load"):
                if pattern in code and (rel, pattern) not in allowed:
                    found.append(f"{rel}:{number}: {line.strip()}")
            if "torch.load(" in code and "weights_only=True" not in code:
                found.append(f"{rel}:{number}: {line.strip()}")
            if re.search(r"(?<![.\w])(eval|exec)\(", code):  # builtins, not torch's module.eval()
                found.append(f"{rel}:{number}: {line.strip()}")
    assert found == []


# -- paths ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../evil", "/tmp/evil", "a/b", "x:y", ".."])
def test_object_name_with_path_components_is_refused(source, tmp_path, name):
    code, _, err, _ = run_cli(["connectivity", source, tmp_path / "out.nwb", "--window", "4", "--name", name])
    assert code == 2 and "--name" in _one_line(err)
    assert not (tmp_path / "out.nwb").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source.nwb"]


def test_name_prefix_with_path_components_is_one_line(connectivity, tmp_path):
    pytest.importorskip("torch")
    code, _, err, _ = run_cli(["fit", connectivity, tmp_path / "fit.nwb", "--epochs", "1", "--name-prefix", "../x/"])
    assert code == 2
    _one_line(err)


@pytest.mark.parametrize("asset", ["../../etc/evil.nwb", "/abs/path/evil.nwb", "sub-1/../../../x.nwb",
                                   "..", "sub-1/ses-1_ecephys.nwb?../../y"])
def test_dandi_asset_paths_stay_inside_the_output_folder(tmp_path, asset):
    from nwb_tavrnn.batch import plan_batch

    output = tmp_path / "results"
    items = plan_batch(["dandi://000000/whatever"], output, lister=lambda url: [(asset, "https://example/x")])
    for item in items:
        resolved = Path(os.path.abspath(item.output))
        assert resolved.parent == Path(os.path.abspath(output)), item.output
        assert re.fullmatch(r"[A-Za-z0-9._+-]+\.nwb", resolved.name), resolved
