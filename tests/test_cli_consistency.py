"""The command line as a newcomer meets it: one vocabulary, help on every option, exit code 2 for
every value that cannot work (before any work is done), and the input never overwritten."""

from __future__ import annotations

import argparse
import re
import contextlib
import hashlib
import io
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from nwb_tavrnn.cli.main import build_parser, main

from .cli_run import run_quiet

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
BIOCAM = SHARED / "hdmea_biocam" / "biocam_hw3.0_fw1.6.brw"

#: A value each numeric option must refuse (exit code 2). A new numeric option must be added here.
INVALID = {
    "--bin-size": ["0"], "--window": ["-5"], "--step": ["0"], "--threshold": ["5"], "--density": ["1.5"],
    "--time-range": ["100", "50"], "--epochs": ["0"], "--patience": ["-1"], "--seed": ["-1"], "--kmeans-restarts": ["0"],
    "--permutations": ["-1"], "--n-jobs": ["0"], "--sort-jobs": ["0"], "--workers": ["0"], "--n-sensory": ["0"], "--n-motor": ["0"],
    "--gameplay-minutes": ["-1"], "--rest-minutes": ["-1"], "--block-minutes": ["0"], "--rate": ["-1"],
    "--segment": ["-1"], "--sampling-frequency": ["0"], "--num-channels": ["0"], "--gain-to-uv": ["0"],
    "--offset-to-uv": ["nan"], "--bandpass": ["3000", "300"], "--waveform-channels": ["0"],
    "--detect-threshold": ["0"], "--dead-time-ms": ["-1"], "--segments": ["1"], "--min-duration": ["-1"],
    "--top-k": ["0"], "--n-surrogates": ["0"], "--lr": ["0"], "--h-dim": ["0"], "--z-dim": ["0"],
    "--clip-grad-norm": ["0"], "--checkpoint-every": ["0"], "--n-splits": ["1"], "--purge-gap": ["-1"],
    "--time-shuffle-repeats": ["0"], "--baseline-epochs": ["0"], "--trials": ["0"], "--n-trials": ["0"], "--firing-rate": ["-1"], "--response-window": ["0"], "--trial-window": ["1", "0"], "--test-fraction": ["1.5"],
    "--segment-duration": ["0"], "--latent-dim": ["0"], "--hidden": ["0"], "--lag": ["-1"],
    "--event-threshold": ["0"], "--baseline-window": ["0"], "--neuropil": ["-1"], "--frame-rate": ["0"], "--chunks": ["0"],
}

NNPOISSON_COLUMNS = ["--stimulus", "stimulus", "--choice", "choice", "--rt", "rt"]

#: Spellings of one setting: only the first may be a visible option of any command.
SYNONYMS = [("--permutations", "--n-permutations"), ("--report", "--report-dir"), ("--model-preset", "--preset"),
            ("--n-jobs", "--jobs"), ("--detect-threshold", "--threshold")]


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _options(sub: argparse.ArgumentParser):
    return [a for a in sub._actions if a.option_strings and a.dest != "help" and a.help != argparse.SUPPRESS]


def _run(argv: list[str]) -> tuple[int, str]:
    return run_quiet(argv)


#: The small simulated culture the CLI tests run on (shared with tests/test_online.py): 8 min,
#: 1-min aligned/unaligned blocks and 2 min of rest.
CULTURE = {"gameplay_minutes": 6.0, "rest_minutes": 2.0}
#: The decision session of tests/models/test_nnpoisson_cli.py (only refused or read here).
DECISION = {"seed": 2, "n_trials": 60, "neurons": (3, 3, 3), "tuning": "mixed"}


@pytest.fixture(scope="module")
def files(tmp_path_factory, simulated_session):
    """A small simulated session, its graphs and a 2-epoch fit; a decision session. Shared: a test
    that writes works on a copy."""
    from nwb_tavrnn.connectivity import ConnectivityParams
    from nwb_tavrnn.connectivity.step import run_connectivity
    from nwb_tavrnn.models import TAVRNN
    from nwb_tavrnn.steps.model import fit_file

    folder = tmp_path_factory.mktemp("cli")
    session = simulated_session("culture", seed=0, **CULTURE)
    graphs = run_connectivity(session, folder / "graphs.nwb", ConnectivityParams.preset("default", window=60, step=60))
    fitted = fit_file(graphs, folder / "fitted.nwb", TAVRNN(epochs=2, device="cpu")).path
    decision = simulated_session("decision", **DECISION)
    return {"session": Path(session), "graphs": Path(graphs), "fitted": Path(fitted), "folder": folder,
            "decision": Path(decision)}


def test_every_option_has_help_and_one_spelling():
    seen: dict[str, set[str]] = {}
    choices: dict[str, dict[str, tuple]] = {}
    for name, sub in _subparsers().items():
        for action in _options(sub):
            assert action.help and action.help.strip(), f"{name} {action.option_strings} has no help"
            for opt in action.option_strings:
                seen.setdefault(opt, set()).add(name)
                if action.choices:
                    choices.setdefault(opt, {})[name] = tuple(action.choices)
    for preferred, *others in SYNONYMS:
        for other in others:
            if other == "--preset":  # the connectivity preset keeps the plain name; the model's is --model-preset
                assert "fit" not in seen.get(other, set())
                continue
            if other == "--threshold":  # |r| threshold of the graphs; the event threshold is --detect-threshold
                assert "sort" not in seen.get(other, set())
                continue
            assert other not in seen, f"{other} is spelled {preferred} elsewhere; used by {sorted(seen[other])}"
    for opt, per_command in choices.items():  # one option, one set of values wherever it appears
        if opt == "--model-preset":  # each model has its own presets (TAVRNN improved, NNPoisson corrected)
            continue
        assert len(set(per_command.values())) == 1, (opt, per_command)


def test_one_option_one_grammar_across_commands():
    """An option name means one thing: wherever it appears it takes the same number of values,
    shown the same way (--window is a length in seconds; a trial window is --trial-window)."""
    shown: dict[str, dict[str, list[str]]] = {}
    for name, sub in _subparsers().items():
        formatter = sub._get_formatter()
        for action in _options(sub):
            for opt in (o for o in action.option_strings if o.startswith("--")):
                invocation = next(part for part in formatter._format_action_invocation(action).split(", ")
                                  if part.split(" ")[0] == opt)
                if opt == "--model-preset":  # each model has its own presets (TAVRNN improved, NNPoisson corrected)
                    invocation = re.sub(r"\{.*\}", "{PRESET}", invocation)
                shown.setdefault(opt, {}).setdefault(invocation, []).append(name)
    mixed = {opt: forms for opt, forms in shown.items() if len(forms) > 1}
    assert not mixed, mixed


@pytest.mark.parametrize("argv, old, new", [
    (["seq2seq", "in.nwb", "out.nwb", "--source", "a", "--target", "b", "--window", "0", "2"], "--window",
     "--trial-window"),
    (["nnpoisson", "in.nwb", "out.nwb", "--stimulus", "s", "--choice", "c", "--rt", "r", "--window", "2"], "--window",
     "--response-window"),
    (["evaluate", "in.nwb", "--labels", "epochs:state", "--seeds", "3"], "--seeds", "--kmeans-restarts"),
    (["simulate", "out.nwb", "--trials", "5"], "--trials", "--n-trials"),
    (["monitor", "in.nwb", "--model", "m.nwb", "--output", "o.nwb"], "--output", "--record"),
])
def test_renamed_options_still_work_and_say_their_new_name(argv, old, new, tmp_path, capsys):
    """The earlier spelling of a renamed option sets the same value, is hidden from --help, and
    warns with the current name (on stderr, through the real entry point)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    assert args._renamed == [f"{old} is now {new}; the old spelling will go"]
    assert main([a.replace("in.nwb", str(tmp_path / "missing.nwb")) for a in argv]) != 0  # fails on the input
    assert f"{old} is now {new}" in capsys.readouterr().err
    dest = next(a.dest for a in _subparsers()[argv[0]]._actions if new in a.option_strings)
    assert getattr(args, dest) == parser.parse_args([new if a == old else a for a in argv]).__dict__[dest]
    assert old not in _subparsers()[argv[0]].format_help().replace(new, "")


def test_help_reads_as_plain_text_and_metavars_name_their_option(capsys):
    """No docstring markup (``x``, :func:`x`) reaches a terminal, and a generated metavar is named
    after the option it follows (--permutations PERMUTATIONS, not N_PERMUTATIONS)."""
    for name, sub in _subparsers().items():
        text = sub.format_help()
        assert "``" not in text and ":func:" not in text and ":class:" not in text, name
        for action in _options(sub):
            flag = next((o for o in action.option_strings if o.startswith("--")), None)
            if flag is None or not isinstance(action.metavar, str) or action.dest in (flag[2:].replace("-", "_"),):
                continue
            assert action.metavar != action.dest.upper(), f"{name} {flag} shows {action.metavar}"
    assert "--permutations PERMUTATIONS" in _subparsers()["evaluate"].format_help()


def test_every_invalid_value_exits_2_before_any_work(files, tmp_path):
    os.chdir(tmp_path)
    (tmp_path / "batch_out").mkdir()

    def base(command: str) -> list[str]:
        u = uuid.uuid4().hex[:8]
        return {"run": [str(files["session"]), f"o{u}.nwb"],
                "batch": [str(files["session"]), "--output", "batch_out"],
                "simulate": [f"sim{u}.nwb"], "sort": [str(BIOCAM), f"sort{u}.nwb"],
                "segments": [str(files["session"]), f"seg{u}.nwb"],
                "connectivity": [str(files["session"]), f"c{u}.nwb"], "fit": [str(files["graphs"]), f"f{u}.nwb"],
                "evaluate": [str(files["fitted"]), "--labels", "epochs:state"],
                "import": ["linear-track", str(SHARED / "hippocampus_linear_track"), f"imp{u}.nwb"],
                "nnpoisson": [str(files["decision"]), f"n{u}.nwb", *NNPOISSON_COLUMNS],
                "seq2seq": [str(files["decision"]), f"q{u}.nwb", "--source", "sensory", "--target", "left"]}[command]

    checked, failures = 0, []
    for command, sub in _subparsers().items():
        for action in _options(sub):
            if action.type not in (int, float):
                continue
            opt = action.option_strings[0]
            assert opt in INVALID, f"{command} {opt}: add a value it must refuse to INVALID"
            if command == "sort" and not BIOCAM.exists():
                continue
            mode = ["--hdmea"] if command == "sort" and action.dest in ("threshold", "dead_time_ms") else []
            started = time.perf_counter()
            rc, err = _run([command, *base(command), *mode, opt, *INVALID[opt]])
            checked += 1
            if rc != 2 or time.perf_counter() - started > 20:
                failures.append(f"{command} {opt} {INVALID[opt]}: rc {rc}: {err.strip()[-200:]}")
    assert not failures, "\n".join(failures)
    assert checked >= 60
    assert not list(tmp_path.glob("*.nwb")), "a refused command left a file"


@pytest.mark.parametrize("link", ["same", "symlink", "hardlink"])
def test_no_writing_command_overwrites_its_input(files, tmp_path, link):
    commands = {"connectivity": files["session"], "segments": files["session"], "run": files["session"],
                "fit": files["graphs"], "evaluate": files["fitted"], "sort": files["session"],
                "nnpoisson": files["decision"], "seq2seq": files["decision"]}
    for command, source in commands.items():
        src = tmp_path / f"{command}.nwb"
        src.write_bytes(Path(source).read_bytes())
        target = {"same": src, "symlink": tmp_path / f"{command}_link.nwb",
                  "hardlink": tmp_path / f"{command}_hard.nwb"}[link]
        if link == "symlink":
            target.symlink_to(src)
        elif link == "hardlink":
            os.link(src, target)
        before = hashlib.sha256(src.read_bytes()).hexdigest()
        extra = {"evaluate": ["--labels", "epochs:state"], "nnpoisson": NNPOISSON_COLUMNS,
                 "seq2seq": ["--source", "sensory", "--target", "left"]}.get(command, [])
        rc, err = _run([command, str(src), str(target), "--overwrite", *extra])
        assert rc == 2, (command, err)
        assert "is the input file" in err, (command, err)
        assert hashlib.sha256(src.read_bytes()).hexdigest() == before, command


def test_labels_that_cannot_fit_fail_before_any_work(files, tmp_path):
    out = tmp_path / "out.nwb"
    started = time.perf_counter()
    rc, err = _run(["run", str(files["session"]), str(out), "--labels", "epochs:state"])  # 60 s epochs, 120 s windows
    assert rc == 2 and time.perf_counter() - started < 30
    assert "shorter than the 120 s windows" in err and "windows_from (--windows-from) epochs:state" in err
    assert not out.exists() and not list(tmp_path.glob(".*partial*"))
    for spec, words in (("nope:state", "no intervals table 'nope'"), ("epochs:nope", "no column 'nope'")):
        rc, err = _run(["run", str(files["session"]), str(out), "--labels", spec])
        assert rc == 2 and words in err, err


def test_a_time_range_past_the_recording_is_refused(files, tmp_path):
    rc, err = _run(["run", str(files["session"]), str(tmp_path / "o.nwb"), "--time-range", "5000", "6000"])
    assert rc == 2 and "holds no spikes" in err


@pytest.mark.slow  # a real sort (38 s): the default suite stays under 10 minutes on 2 cores
@pytest.mark.skipif(not BIOCAM.exists(), reason="the shared BioCam recording is absent")
def test_sorting_a_recording_where_no_unit_passes_curation(tmp_path):
    out = tmp_path / "b.nwb"
    rc, err = _run(["sort", str(BIOCAM), str(out)])
    assert rc == 2 and "none kept by curation" in err and "--hdmea" in err and "--label-only" in err
    assert not out.exists()


def test_options_of_the_other_sorting_mode_are_refused(tmp_path):
    for argv, words in ((["--detect-threshold", "6"], "--hdmea only"), (["--hdmea", "--sorter", "lupin"], "not --hdmea")):
        rc, err = _run(["sort", str(BIOCAM), str(tmp_path / "x.nwb"), *argv])
        assert rc == 2 and words in err, err


def _writing(folder: Path, pattern: str) -> bool:
    """Whether a work folder matching ``pattern`` in ``folder`` holds a file (its run is writing)."""
    for work in folder.glob(pattern):
        with contextlib.suppress(OSError):  # removed meanwhile, or not a folder
            if any(work.iterdir()):
                return True
    return False


def test_a_closed_pipe_ends_quietly(files):
    code = ("import sys; from nwb_tavrnn.cli.main import main; "
            f"sys.exit(main(['inspect', {str(files['fitted'])!r}]))")
    proc = subprocess.run(f"{sys.executable} -c \"{code}\" | head -1", shell=True, capture_output=True, text=True)
    assert "BrokenPipeError" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_sigterm_cleans_up_like_ctrl_c(files, tmp_path):
    """A terminated run leaves neither its output nor its hidden work folder behind.

    The signal is sent once the work folder holds a file: the run is then inside its write (the
    steps create files in it only there), whatever the machine's load; the 100 000 epochs keep it
    there until the signal comes."""
    import signal

    out = tmp_path / "out.nwb"
    proc = subprocess.Popen([sys.executable, "-m", "nwb_tavrnn.cli.main", "run", str(files["session"]), str(out),
                             "--window", "60", "--step", "60", "--epochs", "100000", "--patience", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not _writing(tmp_path, ".out.*.partial"):
        time.sleep(0.01)
    if not _writing(tmp_path, ".out.*.partial"):
        proc.kill()
        pytest.fail(f"the run never wrote into its work folder: {proc.communicate()[1][-2000:]}")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert not out.exists() and not list(tmp_path.glob(".*partial*")), list(tmp_path.iterdir())


def test_report_folder_checked_before_work_and_scores_listed(files, tmp_path):
    rc, err = _run(["evaluate", str(files["fitted"]), "--labels", "epochs:state", "--report",
                    str(tmp_path / "missing" / "report")])
    assert rc == 3 and "does not exist; create it first" in err and not (tmp_path / "missing").exists()
    out = tmp_path / "scored.nwb"
    rc, err = _run(["evaluate", str(files["fitted"]), str(out), "--labels", "epochs:state", "--baselines",
                    "--no-time-shuffle", "--no-figures", "--permutations", "20"])
    assert rc == 0, err
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        assert main(["inspect", str(out)]) == 0
    assert "EvaluationScores" in text.getvalue() and "methods tavrnn" in text.getvalue()


@pytest.mark.slow  # default suite under 10 min; CI runs it with -m slow
def test_long_steps_report_progress_when_piped(files, tmp_path):
    """Not a terminal: every step and every evaluation sub-step is a plain log line on stderr."""
    out = tmp_path / "out.nwb"
    proc = subprocess.run([sys.executable, "-m", "nwb_tavrnn.cli.main", "run", str(files["session"]), str(out),
                           "--window", "60", "--step", "60", "--epochs", "3", "--labels", "epochs:state",
                           "--baselines", "raw_correlation", "--no-time-shuffle", "--no-figures",
                           "--permutations", "20"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    for line in ("step 1/3: connectivity", "step 2/3: model", "step 3/3: evaluation",
                 "evaluation: tavrnn scored (1 of 2 steps)", "evaluation: raw_correlation scored (2 of 2 steps)"):
        assert line in proc.stderr, (line, proc.stderr[-2000:])


def test_progress_bar_moves_within_the_evaluation(files, tmp_path, monkeypatch):
    """On a terminal the one bar advances inside the evaluation step, not only at its end."""
    from nwb_tavrnn import pipeline
    from nwb_tavrnn.config import load_config

    seen: list[tuple[str, float]] = []
    original = pipeline._Progress.fraction

    def spy(self, step, done, note=""):
        seen.append((step, done))
        return original(self, step, done, note)

    monkeypatch.setattr(pipeline._Progress, "fraction", spy)
    config = load_config(None, {"connectivity": {"window": 60, "step": 60}, "model": {"epochs": 2},
                                "evaluation": {"labels": "epochs:state", "baselines": ["raw_correlation"],
                                               "time_shuffle": False, "figures": False, "n_permutations": 20}})
    pipeline.run_pipeline(files["session"], tmp_path / "o.nwb", config)
    within = [d for s, d in seen if s == "evaluation"]
    assert within == [0.5, 1.0]


def test_run_takes_the_raw_reading_options_of_sort(tmp_path, capsys):
    import yaml

    assert main(["run", "--show-config", "--format", "binary", "--sampling-frequency", "30000", "--num-channels", "4",
                 "--dtype", "int16", "--gain-to-uv", "0.195", "--reader-option", "time_axis=0"]) == 0
    sorting = yaml.safe_load(capsys.readouterr().out)["sorting"]
    assert sorting["format"] == "binary"
    assert sorting["reader_options"] == {"sampling_frequency": 30000.0, "num_channels": 4, "dtype": "int16",
                                         "gain_to_uV": 0.195, "time_axis": 0}
    sort_parser, run_parser = _subparsers()["sort"], _subparsers()["run"]
    reading = {o for a in _options(sort_parser) for o in a.option_strings if a.container.title == "reading"}
    assert reading - {"--segment"} <= {o for a in _options(run_parser) for o in a.option_strings}


def test_import_route_for_the_linear_track(tmp_path):
    folder = SHARED / "hippocampus_linear_track"
    if not folder.exists():
        pytest.skip("the shared linear-track data are absent")
    out = tmp_path / "rat.nwb"
    rc, err = _run(["import", "linear-track", str(folder), str(out)])
    assert rc == 0, err
    from nwb_tavrnn.io import open_nwb

    with open_nwb(out) as nwbfile:
        assert len(nwbfile.units) > 10 and "position_segments" in nwbfile.intervals
    rc, err = _run(["import", "linear-track", str(tmp_path), str(tmp_path / "x.nwb")])
    assert rc == 2 and "spikes.mat" in err


def test_a_report_folder_never_holds_or_clears_the_data(files, tmp_path):
    os.chdir(tmp_path)
    src = tmp_path / "in.nwb"
    src.write_bytes(files["session"].read_bytes())
    keep = tmp_path / "unrelated.txt"
    keep.write_text("mine")
    for report in (".", str(tmp_path), "o.nwb"):
        rc, err = _run(["run", "in.nwb", "o.nwb", "--labels", "epochs:state", "--window", "60", "--step", "60",
                        "--report", report, "--overwrite"])
        assert rc == 2 and "report folder would hold" in err, (report, err)
    assert src.exists() and keep.read_text() == "mine" and not (tmp_path / "o.nwb").exists()


def test_batch_never_overwrites_an_input(files, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "s.nwb").write_bytes(files["session"].read_bytes())
    (folder / "s_tavrnn.nwb").write_bytes(files["session"].read_bytes())
    before = hashlib.sha256((folder / "s_tavrnn.nwb").read_bytes()).hexdigest()
    rc, err = _run(["batch", str(folder), "--output", str(folder), "--overwrite", "--epochs", "2"])
    assert rc == 2 and "would overwrite the input" in err, err
    assert hashlib.sha256((folder / "s_tavrnn.nwb").read_bytes()).hexdigest() == before


def test_in_place_through_a_symlink_writes_the_file_and_keeps_the_link(files, tmp_path):
    target = tmp_path / "real.nwb"
    target.write_bytes(files["session"].read_bytes())
    link = tmp_path / "link.nwb"
    link.symlink_to(target)
    rc, err = _run(["connectivity", str(link), "--in-place", "--window", "60", "--step", "60"])
    assert rc == 0, err
    assert link.is_symlink() and os.path.samefile(link, target)
    from nwb_tavrnn.io import open_nwb

    with open_nwb(target) as nwbfile:
        assert "DynamicConnectivity" in nwbfile.processing["ecephys"].data_interfaces


@pytest.mark.parametrize("argv, words", [
    (["connectivity", "{session}", "{out}", "--threshold", "0.5"], "applies to threshold mode fixed only"),
    (["fit", "{graphs}", "{out}", "--device", "tpu"], "not a device"),
    (["sort", str(BIOCAM), "{out}", "--curation", "[1]"], "curation must be a mapping"),
    (["sort", str(BIOCAM), "{out}", "--chunk-duration", "abc"], "--chunk-duration must be like 1s"),
    (["evaluate", "{fitted}", "--labels", "trials:hit:top_bottom=0"], "needs K >= 1"),
    (["run", "{session}", "{out}", "--set", "evaluation.min_purity=3"], "min_purity"),
    (["run", "{session}", "{out}", "--set", "connectivity.binary=maybe"], "binary must be true or false"),
    # one graph: the model would finish having learnt nothing (refused before any work)
    (["run", "{session}", "{out}", "--window", "480", "--step", "480"],
     "1 window(s) of 480 s every 480 s on this input; the model needs at least 2: use a shorter window (--window)"),
])
def test_values_that_cannot_work_exit_2(files, tmp_path, argv, words):
    values = {"session": files["session"], "graphs": files["graphs"], "fitted": files["fitted"], "out": tmp_path / "o.nwb"}
    rc, err = _run([a.format(**values) for a in argv])
    assert rc == 2 and words in err, err
    assert not (tmp_path / "o.nwb").exists()


def test_show_config_normalises_like_a_run(capsys):
    import yaml

    assert main(["run", "--show-config", "--set", "evaluation.baselines=vgae"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["evaluation"]["baselines"] == ["vgae"]
