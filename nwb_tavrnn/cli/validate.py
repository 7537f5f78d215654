"""``nwb-tavrnn validate FILE...``: pynwb's schema validator and nwbinspector (DANDI configuration).

Exit code 0 when every file passes (no schema errors, no CRITICAL or BEST_PRACTICE_VIOLATION
messages), 4 when any file has problems or a validator could not run as intended.
"""

from __future__ import annotations

import argparse
import json

from ..validation import FAILING_IMPORTANCE


def register(subparsers) -> None:
    parser = subparsers.add_parser("validate", help="validate NWB files (pynwb + nwbinspector)",
                                   description=__doc__.split(":", 1)[1].strip())
    parser.add_argument("files", nargs="+", help="NWB files")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    parser.add_argument("--all", action="store_true", help="also list best-practice suggestions")
    parser.set_defaults(func=run)


def _collapse(findings):
    """Group findings of the same check at the same place, so 90 missing video files read as one line."""
    groups: dict[tuple, list] = {}
    for finding in findings:
        key = (finding.source, finding.importance, finding.check, finding.location)
        groups.setdefault(key, []).append(finding)
    return [(items[0], len(items)) for items in groups.values()]


def run(args: argparse.Namespace) -> int:
    from ..validation import validate_file

    reports = [validate_file(path) for path in args.files]
    if args.json:
        print(json.dumps([r.to_dict() for r in reports], indent=2))
    else:
        for report in reports:
            shown = report.findings if args.all else report.problems
            status = "OK" if report.ok else f"{len(report.problems)} problem(s)"
            print(f"{report.path}: {status}")
            for note in report.notes:
                print(f"  note: {note}")
            for finding, count in _collapse(shown):
                repeat = f" (and {count - 1} more like it)" if count > 1 else ""
                print(f"  {finding.source} {finding}{repeat}")
            hidden = len(report.findings) - len(shown)
            if hidden:
                print(f"  ({hidden} suggestion(s) below {'/'.join(FAILING_IMPORTANCE)} not shown; --all shows them)")
    return 0 if all(r.ok for r in reports) else 4
