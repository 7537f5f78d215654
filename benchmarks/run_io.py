"""What ``run`` writes to disk and how much memory it holds, against the size of what it produces.

Run: ``PYTHONPATH=. python benchmarks/run_io.py [--input FILE] [--tree DIR ...] [--out DIR]``

Each measured tree (this checkout by default; ``--tree`` adds another checkout of the package, e.g.
a ``git worktree`` of an earlier commit, the named peer) runs the same ``nwb-tavrnn run`` in its own
process on the same input: DANDI 000207 (encoding vs recognition, 30 s windows, a short fit and a
small evaluation) unless ``--input`` names another file. The child reports the bytes it wrote
(block output operations of the process and of the workers it waited for, ``ru_oublock``: what
reached the file system, after the page cache) and its peak resident memory (and its workers'
largest); the benchmark prints them beside the output's size and the ratio bytes written / output
size (1.0: the output written once, nothing else).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DANDI_FILE = ROOT.parent / "shared" / "data" / "nwb" / "dandi000207_sub-4_ses-4_ecephys+image.nwb"

#: The child: run the pipeline, then report what this process wrote and held.
CHILD = """
import json, resource, sys
import nwb_tavrnn
print("TREE " + nwb_tavrnn.__file__, file=sys.stderr)
from nwb_tavrnn.cli.main import main
rc = main(sys.argv[1:])
own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print("IO " + json.dumps({"rc": rc, "write_bytes": 512 * (own.ru_oublock + workers.ru_oublock),
                         "peak_rss": 1024 * own.ru_maxrss, "peak_rss_workers": 1024 * workers.ru_maxrss}))
"""


def measure(tree: Path, source: Path, folder: Path, extra: list[str]) -> dict:
    output = folder / "out.nwb"
    argv = ["run", str(source), str(output), "--labels", "spans:encoding_table,recognition_table", "--window", "30",
            "--step", "30", "--epochs", "60", "--seeds", "3", "--permutations", "20", "--overwrite", *extra]
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_WAIT_POLICY": "PASSIVE"}
    # cwd: with -c the current folder comes first on sys.path; a checkout there would shadow ``tree``
    done = subprocess.run([sys.executable, "-c", CHILD, *argv], env=env, capture_output=True, text=True, check=False,
                          cwd=folder)
    line = next((x for x in done.stdout.splitlines() if x.startswith("IO ")), None)
    if line is None:
        raise SystemExit(f"{tree}: the run failed:\n{done.stderr[-2000:]}")
    values = json.loads(line[3:])
    values["output_bytes"] = output.stat().st_size
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=DANDI_FILE)
    parser.add_argument("--tree", type=Path, action="append", default=[], help="another checkout to measure")
    parser.add_argument("--out", type=Path, default=None, help="folder for the outputs (default: a temporary one)")
    args = parser.parse_args()
    if not args.input.is_file():
        raise SystemExit(f"{args.input}: absent")
    out = args.out or Path(tempfile.mkdtemp(prefix="run_io_"))
    print(f"## run on {args.input.name}: bytes written and peak memory")
    print("| tree | output MB | written MB | written / output | peak RSS MB (largest worker) |")
    print("|---|---|---|---|---|")
    for k, tree in enumerate([ROOT, *args.tree]):
        folder = out / f"tree{k}"
        folder.mkdir(parents=True, exist_ok=True)
        v = measure(tree.resolve(), args.input, folder, [])
        print(f"| {tree} | {v['output_bytes'] / 1e6:.2f} | {v['write_bytes'] / 1e6:.2f} | "
              f"{v['write_bytes'] / v['output_bytes']:.2f} | {v['peak_rss'] / 1e6:.0f} "
              f"({v['peak_rss_workers'] / 1e6:.0f}) |")


if __name__ == "__main__":
    main()
