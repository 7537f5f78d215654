"""The library's messages name parameters as Python and configuration files spell them; the command
line names their flags (:func:`nwb_tavrnn.params.flag_message`, :func:`nwb_tavrnn.cli.main.command_flags`)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "nwb_tavrnn"

#: (module, flag) where library text may name a flag, and why.
ALLOWED = {("config/files.py", "--set"): "parse_assignment reads the text of a --set option, and says so",
           ("config/sections.py", "--set"): "the options reference (documentation) says how to set any key",
           ("config/sections.py", "--show-config"): "the options reference says how to print every setting",
           ("params.py", "--no-"): "where a negated flag is derived from its parameter"}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _declarations(tree: ast.AST) -> set[int]:
    """Strings that declare a command-line option (its flag, help, metavar) rather than say something."""
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", ""))
        declared = list(node.args) if name == "add_argument" else []
        declared += [k.value for k in node.keywords
                     if k.arg in ("flag", "help", "metavar", "renamed") or name == "add_argument"]
        for value in declared:
            found.update(id(n) for n in ast.walk(value))
    return found


def flags_named(source: str, where: str = "") -> list[str]:
    """``where:line: --flag`` for each flag a message in ``source`` names (docstrings and option
    declarations are not messages)."""
    tree = ast.parse(source)
    skip = _docstrings(tree) | _declarations(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            for flag in re.findall(r"(?<![\w-])--[a-z][a-z-]+", node.value):
                if (where, flag) not in ALLOWED:
                    found.append(f"{where}:{node.lineno}: {flag}")
    return found


def test_no_library_message_names_a_flag():
    """Outside ``cli/``, a message names the parameter (``use a shorter `window```), never a flag: a
    configuration-file or Python user has no ``--window`` to change."""
    offending = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] != "cli":
            offending += flags_named(path.read_text(), rel.as_posix())
    assert not offending, "library messages naming a flag instead of the parameter:\n" + "\n".join(offending)


def test_the_scan_finds_a_flag():
    """The scan above is not vacuous: a flag in an f-string message is found, one in a docstring
    or an option's declaration is not."""
    source = ('def f(x):\n    """Uses --doc."""\n    p.add_argument("--opt", help="see --other")\n'
              '    raise ValueError(f"{x}: use a longer --step")\n')
    assert flags_named(source, "m.py") == ["m.py:4: --step"]


def test_run_names_the_key_and_flag_of_a_hand_written_option(tmp_path, capsys):
    """``run``'s reading options are written by hand (their destinations are bare names), yet an
    error of the sorting step naming them names their flags; a setting with no flag is named in full."""
    from nwb_tavrnn.cli.main import main

    raw = tmp_path / "recording.bin"
    raw.write_bytes(b"\0" * 400)
    assert main(["run", str(raw), str(tmp_path / "o.nwb"), "--format", "binary"]) == 2
    err = capsys.readouterr().err
    assert ("a headerless binary file needs sampling_frequency (--sampling-frequency), num_channels "
            "(--num-channels), dtype (--dtype)") in err, err
    assert "`" not in err and not (tmp_path / "o.nwb").exists()


def test_one_remedy_in_each_users_words(simulated_session, tmp_path, capsys):
    """The same refusal says ``window`` to Python, ``--window`` to ``connectivity`` and
    ``window (--window)`` to ``run`` (whose value may come from a configuration file)."""
    from nwb_tavrnn import ConnectivityParams, run_connectivity
    from nwb_tavrnn.cli.main import main
    from nwb_tavrnn.errors import InputFileError

    session = simulated_session("culture")
    with pytest.raises(InputFileError) as err:
        run_connectivity(session, tmp_path / "a.nwb", ConnectivityParams(window=1e4, step=1e4))
    assert "use a shorter `window`" in str(err.value) and "--" not in str(err.value)
    assert main(["connectivity", str(session), str(tmp_path / "b.nwb"), "--window", "10000", "--step", "10000"]) == 2
    assert "; use a shorter --window\n" in capsys.readouterr().err
    assert main(["run", str(session), str(tmp_path / "c.nwb"), "--window", "10000", "--step", "10000"]) == 2
    assert "; use a shorter window (--window)\n" in capsys.readouterr().err
    assert not any(tmp_path.glob("*.nwb"))


def test_a_warning_names_the_flags_of_what_it_suggests(simulated_session, tmp_path, capsys):
    from nwb_tavrnn.cli.main import main

    session = simulated_session("culture")
    assert main(["connectivity", str(session), str(tmp_path / "g.nwb"), "--threshold-mode", "fixed",
                 "--threshold", "0.999"]) == 0
    err = capsys.readouterr().err
    assert "warning: connectivity graphs are (almost) empty" in err
    assert "Try --threshold-mode density with --density 0.1, --threshold-mode fixed with --threshold" in err, err


def test_a_hand_written_command_names_its_flags(tmp_path, capsys):
    """``sort``'s options are written by hand: an option's destination names the parameter
    (``--format`` sets ``format``), and where they differ the command says so (``--segment``)."""
    from nwb_tavrnn.cli.main import main

    recording = tmp_path / "recording.xyz"
    recording.write_bytes(b"\0" * 64)
    assert main(["sort", str(recording), str(tmp_path / "units.nwb")]) == 2
    err = capsys.readouterr().err
    assert "cannot tell the recording format from the name; give the --format (one of" in err, err
    assert len(err.strip().splitlines()) == 1
