"""The README's numbers against the output of the command it names for them.

Default suite: every results table of the README names, within the paragraphs before it, the
command (or benchmark, or test) that regenerates it. ``pytest -m extended``: the NNPoisson table
on DANDI 000207 is regenerated with the README's own command (about 4 minutes) and every cell is
compared with the scores, at the precision the README prints.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DANDI = ROOT.parent / "shared" / "data" / "nwb" / "dandi000207_sub-4_ses-4_ecephys+image.nwb"

#: Tables that are settings or inventories, not measurements (their first header cell).
NOT_RESULTS = {"extra", "setting", "command", "type"}

#: How far above a table its command may be named (lines).
REACH = 40


def _tables(text: str) -> list[tuple[int, list[list[str]]]]:
    """(line of the header, rows of cells) of every Markdown table."""
    lines = [line.strip() for line in text.splitlines()]  # tables inside list items too
    out, i = [], 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and re.match(r"^\|[-| :]+\|$", lines[i + 1]):
            start, rows = i, []
            while i < len(lines) and lines[i].startswith("|"):
                if i != start + 1:
                    rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
                i += 1
            out.append((start, rows))
        i += 1
    return out


def test_every_results_table_names_the_command_that_regenerates_it():
    text = (ROOT / "README.md").read_text()
    lines = text.splitlines()
    unnamed = []
    for start, rows in _tables(text):
        if rows[0][0].strip("*` ").lower() in NOT_RESULTS or not any(re.search(r"\d", c) for r in rows[1:] for c in r):
            continue
        before = "\n".join(lines[max(0, start - REACH):start])
        # named, not merely mentioned: "Command: ...", a benchmark script, or the test that measures it
        if not re.search(r"([Cc]ommand:? `|benchmarks/\w+\.py|pytest [^`]*tests/|`tests/[\w/]+\.py`)", before):
            unnamed.append(f"line {start + 1}: {' | '.join(rows[0])[:80]}")
    assert not unnamed, "results tables without the command that makes them:\n" + "\n".join(unnamed)


def _nnpoisson_command(text: str) -> list[str]:
    found = re.search(r"Command: `(nwb-tavrnn nnpoisson FILE [^`]*)`", text.replace("\n", " "))
    assert found, "the README's NNPoisson DANDI command"
    argv = shlex.split(re.sub(r"\s+", " ", found.group(1)))[1:]
    return [str(DANDI) if a == "FILE" else a for a in argv]


#: The DANDI NNPoisson table's columns (methods) and rows (analysis, metric), as the scores name them.
METHODS = ["nnpoisson", "nnpoisson_neural_only", "nnpoisson_behaviour_only", "psth", "psth_unit", "glm", "glm_unit"]
ROWS = {
    "bits/spike pooled, hippocampus": [("neural_heldout", "bits_per_spike[hippocampus_right]")],
    "bits/spike pooled, amygdala": [("neural_heldout", "bits_per_spike[amygdala_right]")],
    "bits/spike per unit, hippocampus": [("neural_heldout_unit", "bits_per_spike[hippocampus_right]")],
    "bits/spike per unit, amygdala": [("neural_heldout_unit", "bits_per_spike[amygdala_right]")],
    "KS per unit (pooled per region), hippocampus / amygdala": [
        ("goodness_of_fit_unit", "ks_statistic[hippocampus_right]"),
        ("goodness_of_fit_unit", "ks_statistic[amygdala_right]")],
    "choice accuracy [95 % interval]": [("behaviour_heldout", "choice_accuracy"),
                                        ("behaviour_heldout", "choice_accuracy_low"),
                                        ("behaviour_heldout", "choice_accuracy_high")],
    "paired test against the PSTH, p": [("behaviour_heldout", "choice_accuracy_p_vs_psth")],
    "RT KS distance": [("behaviour_heldout", "rt_ks_statistic")],
}


def _numbers(cell: str) -> list[str]:
    return re.findall(r"-?\d+(?:\.\d+)?", cell.replace("−", "-").replace("*", ""))


def compare_nnpoisson_table(table: list[list[str]], scores) -> list[str]:
    """Every number of the README's table against the scores, rounded as the README prints it."""
    value = scores.set_index(["method", "analysis", "metric"])["value"]
    wrong = []
    for row in table[1:]:
        keys = ROWS[row[0]]
        for method, cell in zip(METHODS, row[1:]):
            shown = _numbers(cell)
            for (analysis, metric), text in zip(keys, shown):
                decimals = len(text.split(".")[1]) if "." in text else 0
                measured = float(value[(method, analysis, metric)])
                if f"{measured:.{decimals}f}".replace("-0." + "0" * decimals, "0." + "0" * decimals) != \
                        text.replace("-0." + "0" * decimals, "0." + "0" * decimals):
                    wrong.append(f"{row[0]}, {method}: README {text}, measured {measured:.{decimals + 2}f}")
    return wrong


@pytest.mark.extended  # the README's NNPoisson command on DANDI 000207: about 4 minutes on 2 cores
def test_the_nnpoisson_dandi_table_is_what_its_command_gives(tmp_path):
    import pandas as pd

    if not DANDI.exists():
        pytest.skip("needs ../shared/data")
    text = (ROOT / "README.md").read_text()
    argv = _nnpoisson_command(text)
    done = subprocess.run([sys.executable, "-m", "nwb_tavrnn.cli.main", "--quiet", *argv], cwd=tmp_path,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-2000:]
    report = tmp_path / argv[argv.index("--report") + 1]
    scores = pd.read_csv(report / "scores.csv")
    (start, table), = [(s, t) for s, t in _tables(text) if t[0][1:3] == ["NNPoisson (joint)", "neural only"]]
    assert not compare_nnpoisson_table(table, scores), "\n".join(compare_nnpoisson_table(table, scores))
