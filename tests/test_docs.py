"""The reference pages build from the code (the API from its docstrings, the options from the
parameters' declarations), and the flat namespace is complete and light."""

from __future__ import annotations

import importlib.util
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _builder():
    spec = importlib.util.spec_from_file_location("build_reference", ROOT / "docs" / "build_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_import_is_light_and_every_public_name_resolves():
    code = ("import sys, nwb_tavrnn as nt; heavy = [m for m in ('torch', 'spikeinterface', 'dandi', 'sklearn') "
            "if m in sys.modules]; print(heavy); print(sorted(set(nt.__all__) - set(dir(nt))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]", f"import nwb_tavrnn loaded {out[0]}"
    assert out[1] == "[]"


def test_api_reference_documents_every_public_name(tmp_path):
    import nwb_tavrnn as nt

    api, options = _builder().build(tmp_path)
    text = api.read_text()
    undocumented = []
    for name in nt.__all__:
        if name.startswith("__") or name == "NAMESPACE":
            continue
        obj = getattr(nt, name)
        assert f"## `{name}`" in text
        if not (inspect.getdoc(obj) or "").strip():
            undocumented.append(name)
    assert not undocumented, f"public names without a docstring: {undocumented}"


def test_options_reference_lists_every_key_and_its_help(tmp_path):
    from nwb_tavrnn.config import section_keys, sections
    from nwb_tavrnn.params import parameters
    from nwb_tavrnn.steps import load_steps

    text = _builder().build(tmp_path)[1].read_text()
    estimator_keys = {"model": "tavrnn", "nnpoisson": "nnpoisson", "seq2seq": "seq2seq"}
    for section in sections():
        for key in section_keys(section):
            if f"`{section}.{key}`" not in text:  # only an estimator's own argument may be left to its docstring
                import inspect as _inspect

                from nwb_tavrnn.models import get_model

                assert section in estimator_keys, f"{section}.{key} is not documented"
                assert key in _inspect.signature(get_model(estimator_keys[section])).parameters
    for step in load_steps().values():
        for p in parameters(step.Params):
            assert p.help.strip(), f"{step.name}.{p.name} has no help"


@pytest.mark.slow
def test_readme_python_section_runs(tmp_path, monkeypatch):
    """The README's Python section does the whole pipeline without the command line, as written."""
    import re

    block = re.search(r"## Python API.*?```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})
    assert (tmp_path / "session_tavrnn.nwb").is_file() and (tmp_path / "report").is_dir()


def test_readme_config_example_loads_and_fits_the_quick_start_session(simulated_session, tmp_path, capsys):
    """The README's configuration file, copied as it is: ``run --show-config`` takes it (its
    unquoted ``null:`` key is the evaluation's null, not YAML's nothing), and its windows pass the
    pre-flight checks on the Quick start's session (every regime in two or more windows)."""
    import re

    from nwb_tavrnn.cli.main import main
    from nwb_tavrnn.config import load_config
    from nwb_tavrnn.io.files import open_nwb
    from nwb_tavrnn.steps.chain import check_inputs

    block = re.search(r"A config file has one section per step.*?```yaml\n(.*?)```", (ROOT / "README.md").read_text(),
                      re.S).group(1)
    path = tmp_path / "analysis.yaml"
    path.write_text(block)
    assert main(["run", "--show-config", "--config", str(path)]) == 0
    assert "\n  'null': block_permutation\n" in capsys.readouterr().out
    config = load_config(path)
    assert config.evaluation["null"] == "block_permutation"
    session = simulated_session("culture", seed=0, gameplay_minutes=8.0, rest_minutes=4.0)  # `simulate --small ...`
    with open_nwb(session) as nwbfile:
        check_inputs(nwbfile, config.resolve())  # raises InputFileError when a class has < 2 windows
