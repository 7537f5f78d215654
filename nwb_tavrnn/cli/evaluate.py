"""``nwb-tavrnn evaluate INPUT --labels SPEC``: score a file's embeddings against behaviour.

Labels: ``TABLE:COLUMN`` (the label covering most of each window), ``TABLE:COLUMN:top_bottom=K``
(a numeric column averaged per window; the K highest windows "High", the K lowest "Low", as in the
paper), ``TABLE:COLUMN:quantile=Q``, ``behavior:SERIES[:quantile=Q][:column=C|:norm]``, or
``spans:TABLE1,TABLE2`` (the table whose span covers most of the window: task periods kept as
separate trial tables). Cross-validated over contiguous blocks of windows, purged so that no
training window shares time with a test window; each method's accuracy has a block-bootstrap
interval and a p-value from a label null that permutes whole label blocks (no p-value where too
few blocks allow a valid test). Methods: the model and the baselines (raw correlations, population
rates + PCA, a per-window VGAE, VGRNN without attention; CEBRA-Time on request, with the ``cebra``
package installed); a time-shuffle null refits the model on shuffled spike trains. Learned features
are fitted without labels on all windows (transductive). Written to OUTPUT (a copy of INPUT with an
EvaluationScores table) or in place, and to --report DIR (CSV, JSON, PNG and PDF figures).
"""

from __future__ import annotations

import argparse
import sys

from ._options import add_command


def register(subparsers) -> None:
    from ..evaluation.settings import FEATURE_MODES, EvaluationConfig
    from ..params import add_arguments

    p = add_command(subparsers, "evaluate", "relate embeddings to behaviour, with baselines and nulls", __doc__, run)
    p.add_argument("input", help="NWB file with NodeEmbeddings (from `nwb-tavrnn fit`)")
    p.add_argument("output", nargs="?", help="write a copy of INPUT with the scores table added")
    p.add_argument("--labels", required=True, metavar="SPEC", help="where window labels come from (see above)")
    p.add_argument("--report", metavar="DIR", help="folder for CSV/JSON scores and figures")
    p.add_argument("--in-place", action="store_true", help="add the scores table to INPUT itself (atomically)")
    p.add_argument("--embeddings", metavar="NAME", help="which NodeEmbeddings, if the file holds several")
    # The evaluation's parameters, from their declaration: a flag left out keeps the parameter's default.
    flags = add_arguments(p, EvaluationConfig)
    # older spellings, hidden
    p.add_argument("--jobs", dest="n_jobs", type=int, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument("--features", dest="feature_mode", choices=FEATURE_MODES, default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT and the report folder if they exist")
    p.set_defaults(_flags=flags)


def run(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from ..evaluation.report import EvaluationConfig, evaluate_file
    from ..params import given

    if args.in_place and args.output:
        raise UsageError("--in-place writes into INPUT; give no OUTPUT")
    config = EvaluationConfig(**given(args, EvaluationConfig))
    report = evaluate_file(args.input, args.labels, args.output, in_place=args.in_place, overwrite=args.overwrite,
                           report_dir=args.report, embeddings=args.embeddings, config=config,
                           progress=not args.quiet and sys.stderr.isatty())
    print(report.format_headline())
    if report.path:
        print(f"wrote {report.path}")
    if report.report_dir:
        print(f"report: {report.report_dir}")
    return 0
