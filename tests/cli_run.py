"""Run the command line in-process, as a user would call it, and keep what it said on stderr."""

from __future__ import annotations

import contextlib
import io


def run_quiet(argv: list) -> tuple[int, str]:
    """``nwb-tavrnn --quiet ARGV...`` through ``main``: (exit code, stderr); stdout is discarded."""
    from nwb_tavrnn.cli.main import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(["--quiet", *map(str, argv)])
        except SystemExit as exit_:
            rc = exit_.code
    return rc, err.getvalue()
