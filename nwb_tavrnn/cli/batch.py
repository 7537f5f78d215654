"""``nwb-tavrnn batch INPUT... --output DIR``: the whole pipeline on many files, in parallel on Dask.

INPUT may be NWB files, local folders (their .nwb files), http(s) URLs, DANDI assets, or whole
dandisets (dandi://000207, https://dandiarchive.org/dandiset/000207: every .nwb asset). Files run
on a local Dask cluster of --workers single-threaded processes, or on an existing cluster
(--scheduler ADDRESS). Each file's output is DIR/<name>_tavrnn.nwb (and its report folder when
labels are given). A failed file is reported and does not stop the others; nothing partial is
left for it, nor for any file when the batch is interrupted (Ctrl-C, SIGTERM). At the end a table
(file, status, seconds, output, error) is printed and written to DIR/batch_summary.csv, with each
file's warnings in a last column.

Exit codes: 0 every file succeeded; otherwise the failed files' exit code when they agree (2 bad
input, 3 output not writable), else 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._options import add_command


def register(subparsers) -> argparse.ArgumentParser:
    from .run import add_pipeline_options

    p = add_command(subparsers, "batch", "the whole pipeline on many files (or a dandiset) on Dask", __doc__, run)
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="files, folders, URLs, DANDI assets or dandisets")
    p.add_argument("--output", "-o", metavar="DIR", help="folder for the outputs and batch_summary.csv")
    p.add_argument("--workers", type=int, help="local cluster: worker processes (default: CPU count, at most 4)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="use this running Dask scheduler instead of a local cluster")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    add_pipeline_options(p)
    return p


def run(args: argparse.Namespace) -> int:
    from ..batch import COLUMNS, SUMMARY_NAME, exit_code, run_batch
    from ..errors import InputFileError
    from .run import config_unless_shown

    config = config_unless_shown(args)
    if config is None:
        return 0
    if not args.inputs:
        raise InputFileError("give at least one INPUT")
    if not args.output:
        raise InputFileError("give the output folder: --output DIR")
    quiet = getattr(args, "quiet", False)

    def report(row: dict) -> None:
        if not quiet:  # one line per finished file, so a long batch shows it is alive
            what = row["output"] if row["status"] == "ok" else row["error"]
            said = row.get("warnings") or ""
            warned = f"  [{said.count(' | ') + 1} warning(s): see {SUMMARY_NAME}]" if said else ""
            print(f"{row['status']:>6}  {row['file']}  ({row['seconds']:.1f} s)  {what}{warned}", file=sys.stderr)

    table = run_batch(args.inputs, args.output, config, scheduler=args.scheduler, n_workers=args.workers,
                      overwrite=args.overwrite, on_result=report)
    import pandas as pd

    with pd.option_context("display.max_colwidth", 80, "display.width", 200):
        print(table[[c for c in COLUMNS if c != "warnings"]].to_string(index=False))  # those are in the CSV
    n_failed = int((table["status"] != "ok").sum())
    print(f"{len(table) - n_failed} of {len(table)} files succeeded; summary: {Path(args.output) / SUMMARY_NAME}")
    return exit_code(table)
