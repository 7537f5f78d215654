"""Every shell example of the README and of each command's ``--help`` text, as written.

Default suite: each one parses, option by option, with today's command line (a renamed or removed
option, a value of the wrong grammar fails here). ``pytest -m extended``: each one runs, in order,
in one folder, on simulated sessions and the shared real files standing in for the user's own
(``yours.nwb``, ``FILE.nwb``, ``suite2p/`` ...), and exits 0. That takes about 40 minutes on 2 cores
(NNPoisson on 600 trials alone takes several), which CI's 90-minute budget cannot hold beside the
slow suite.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nwb_tavrnn.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
DANDI = DATA / "nwb" / "dandi000207_sub-4_ses-4_ecephys+image.nwb"


def _commands(text: str) -> list[str]:
    """The ``nwb-tavrnn`` commands of shell text: continuation lines joined, comments dropped,
    ``&&`` chains split."""
    joined = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        for part in line.split("&&"):
            part = part.strip()
            if part.startswith("nwb-tavrnn "):
                found.append(part)
    return found


def readme_examples() -> list[str]:
    """The commands of the README's fenced ``bash`` blocks (``demo`` aside: the install command runs it)."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return [c for block in blocks for c in _commands(block) if c != "nwb-tavrnn demo"]


def help_examples() -> list[tuple[str, str]]:
    """(command, example) for every example in a command's ``--help`` text."""
    parser = build_parser()
    out = []
    for action in parser._subparsers._group_actions:
        for name, sub in action.choices.items():
            text = "\n".join(filter(None, (sub.description, sub.epilog)))
            out += [(name, c) for c in _commands(text)]
    return out


#: What stands in for the user's own files in the examples (run in the order the README gives them).
STAND_INS = {
    "yours.nwb": "trials_session.nwb",  # a file with a trials table: the two-region simulation
    "FILE.nwb": str(DANDI),
    "FILE": str(DANDI),
    "sub-4_ses-4.nwb": str(DANDI),
    "suite2p/": str(DATA / "ophys" / "suite2p_plane0") + "/",
    "caiman_analysis.hdf5": str(DATA / "ophys" / "neuroconv_testing" / "caiman_analysis.hdf5"),
    "session_ophys.nwb": "imaging_session.nwb",
    "culture.nwb": "session.nwb",
    "trials:COLUMN": "trials:choice",
}


def _argv(command: str) -> list[str]:
    argv = shlex.split(command)[1:]
    return [STAND_INS.get(a, a) for a in argv]


def test_the_examples_are_found():
    readme, helps = readme_examples(), help_examples()
    assert len(readme) >= 15 and any(c.startswith("nwb-tavrnn run ") for c in readme)
    assert {name for name, _ in helps} >= {"nnpoisson", "seq2seq"}


@pytest.mark.parametrize("command", readme_examples() + [c for _, c in help_examples()])
def test_every_example_parses_with_todays_options(command, capsys):
    parser = build_parser()
    argv = _argv(command)
    if any("*" in a for a in argv):  # a shell glob: its files are whatever the shell finds
        argv = [a for a in argv if "*" not in a] + ["x.nwb"]
    try:
        args = parser.parse_args(argv)
    except SystemExit as err:
        pytest.fail(f"{command}: {capsys.readouterr().err.strip()} (exit {err.code})")
    assert getattr(args, "func", None) is not None, command
    assert not getattr(args, "_renamed", []), f"{command} uses an old spelling: {args._renamed}"


@pytest.mark.extended  # every example as written: about 40 minutes on 2 cores
def test_every_example_runs(tmp_path, simulated_session):
    for path in ("ophys/suite2p_plane0", "ophys/neuroconv_testing/caiman_analysis.hdf5"):
        if not (DATA / path).exists() or not DANDI.exists():
            pytest.skip("needs ../shared/data")
    # what the examples expect to find: an imaging session, and files for `batch data/*.nwb`
    shutil.copyfile(simulated_session("ophys", seed=0), tmp_path / "imaging_session.nwb")
    # 60 trials: one window per trial, as the example asks, without an hour of evaluation
    shutil.copyfile(simulated_session("two_region", seed=0, n_trials=60), tmp_path / "trials_session.nwb")
    (tmp_path / "data").mkdir()
    for seed in (0, 1):
        shutil.copyfile(simulated_session("culture", seed=seed), tmp_path / "data" / f"culture_{seed}.nwb")
    (tmp_path / "analysis.yaml").write_text(_readme_config())
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    failures = []
    for command in readme_examples() + [c for _, c in help_examples()]:
        argv = [a for arg in _argv(command) for a in (sorted(glob.glob(arg, root_dir=tmp_path)) if "*" in arg else [arg])]
        argv = _fresh_outputs(argv, tmp_path)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "nwb_tavrnn.cli.main", *argv], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=1200)
        print(f"{time.perf_counter() - started:6.1f} s  exit {done.returncode}  {command}")
        if done.returncode != 0:
            failures.append(f"{command}\n  exit {done.returncode}: {done.stderr.strip()[-600:]}")
    assert not failures, "\n".join(failures)


def _readme_config() -> str:
    text = (ROOT / "README.md").read_text()
    return re.search(r"A config file has one section per step.*?```yaml\n(.*?)```", text, re.S).group(1)


def _fresh_outputs(argv: list[str], folder: Path) -> list[str]:
    """Examples that write the same OUTPUT (``out.nwb`` in several) each get the file anew."""
    command = argv[0]
    if command in ("run", "nnpoisson", "seq2seq", "connectivity", "fit", "evaluate", "sort", "segments") and \
            len(argv) > 2 and argv[2].endswith(".nwb") and not argv[2].startswith("-"):
        target = folder / argv[2]
        if target.exists():
            target.unlink()
            report = folder / f"{target.stem}_report"
            shutil.rmtree(report, ignore_errors=True)
    return argv
