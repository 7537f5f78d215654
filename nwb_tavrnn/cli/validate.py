"""``nwb-tavrnn validate FILE...``: pynwb's schema validator and nwbinspector (DANDI configuration).

A file derived from another (the output of run, nnpoisson, seq2seq, evaluate) carries its
source's problems with its contents. Its source is validated too (the one it records, while it is
where it was, or the file given with --derived-from), and each problem is listed as introduced by
the file's writing or inherited from the source (present there too).

Exit code 0 when every file passes (no schema errors, no CRITICAL or BEST_PRACTICE_VIOLATION
messages), 4 when any file has problems (inherited ones included: the file as a whole is not
valid) or a validator could not run as intended.
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
    parser.add_argument("--derived-from", metavar="FILE",
                        help="the file these were derived from: its problems are listed as inherited, apart from "
                             "those the writing introduced (default: the source a file records, when readable)")
    parser.set_defaults(func=run)


def _collapse(findings):
    """Group findings of the same check at the same place, so 90 missing video files read as one line."""
    groups: dict[tuple, list] = {}
    for finding in findings:
        key = (finding.source, finding.importance, finding.check, finding.location)
        groups.setdefault(key, []).append(finding)
    return [(items[0], len(items)) for items in groups.values()]


def _parts(report, shown) -> list[tuple[str, list]]:
    """The findings to list, split into introduced and inherited when there was a source."""
    if report.source is None:
        return [("", shown)]
    return [(heading, part) for heading, part in (
        ("introduced by this file's writing", [f for f in shown if not f.inherited]),
        (f"inherited from {report.source}", [f for f in shown if f.inherited])) if part]


def _holds_our_results(path: str) -> bool:
    import h5py

    from ..schema.namespace import NAMESPACE

    ours = (NAMESPACE, NAMESPACE.encode())
    with h5py.File(path, "r") as f:  # visititems stops at the first object that returns a value
        return bool(f.visititems(lambda name, obj: True if obj.attrs.get("namespace") in ours else None))


def run(args: argparse.Namespace) -> int:
    from ..validation import validate_file

    reports = [validate_file(path, args.derived_from) for path in args.files]
    if args.json:
        print(json.dumps([r.to_dict() for r in reports], indent=2))
    else:
        for report in reports:
            shown = report.findings if args.all else report.problems
            status = "OK" if report.ok else f"{len(report.problems)} problem(s)"
            if report.source is not None and not report.ok:
                status += (f": {len(report.introduced)} introduced by this file's writing, {len(report.inherited)} "
                           f"inherited from {report.source} (present there too)")
            print(f"{report.path}: {status}")
            for note in report.notes:
                print(f"  note: {note}")
            if report.source is None and not report.ok and _holds_our_results(report.path):
                print("  note: this file holds nwb_tavrnn results; give the file it was derived from with --derived-from "
                      "to tell the problems it inherited from those its writing introduced")
            for heading, part in _parts(report, shown):
                if heading:
                    print(f"  {heading}:")
                for finding, count in _collapse(part):
                    repeat = f" (and {count - 1} more like it)" if count > 1 else ""
                    print(f"  {'  ' if heading else ''}{finding.source} {finding}{repeat}")
            hidden = len(report.findings) - len(shown)
            if hidden:
                print(f"  ({hidden} suggestion(s) below {'/'.join(FAILING_IMPORTANCE)} not shown; --all shows them)")
    return 0 if all(r.ok for r in reports) else 4
