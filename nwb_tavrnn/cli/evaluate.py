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


def register(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="relate embeddings to behaviour, with baselines and nulls",
                              description=__doc__.split(":", 1)[1].strip(),
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="NWB file with NodeEmbeddings (from `nwb-tavrnn fit`)")
    p.add_argument("output", nargs="?", help="write a copy of INPUT with the scores table added")
    p.add_argument("--labels", required=True, metavar="SPEC", help="where window labels come from (see above)")
    p.add_argument("--report", metavar="DIR", help="folder for CSV/JSON scores and figures")
    p.add_argument("--in-place", action="store_true", help="add the scores table to INPUT itself (atomically)")
    p.add_argument("--embeddings", metavar="NAME", help="which NodeEmbeddings, if the file holds several")
    p.add_argument("--split", choices=["blocked", "label_blocks", "stratified"], default="blocked",
                   help="cross-validation folds: contiguous blocks of windows (default), whole label blocks, or "
                        "shuffled stratified (neighbouring windows then sit in training)")
    p.add_argument("--n-splits", type=int, default=5, help="folds (5)")
    p.add_argument("--purge-gap", type=float, default=0.0, metavar="S",
                   help="also drop training windows within S seconds of a test window (overlapping ones always are)")
    p.add_argument("--classifier", choices=["ridge", "logistic"], default="ridge",
                   help="linear classifier on standardised window features (ridge, default)")
    p.add_argument("--null", choices=["block_permutation", "circular_shift", "iid"], default="block_permutation",
                   help="label null: labels permuted across label blocks (default), circular shift, or single "
                        "windows shuffled (ignores blocks)")
    p.add_argument("--seeds", type=int, default=10, help="k-means restarts of the clustering scores (10)")
    p.add_argument("--permutations", type=int, default=200, help="labellings of the label null (200)")
    p.add_argument("--time-shuffle-repeats", type=int, default=3, help="time-shuffle refits (3)")
    p.add_argument("--n-jobs", dest="jobs", type=int, metavar="N",
                   help="processes for the learned baselines and time-shuffle refits (default: one per core)")
    p.add_argument("--jobs", dest="jobs", type=int, help=argparse.SUPPRESS)  # older spelling
    p.add_argument("--baselines", nargs="*", default=None,
                   help="any of raw_correlation population_rates vgae vgrnn (default: these four) and cebra "
                        "(CEBRA-Time; needs the cebra package)")
    p.add_argument("--no-time-shuffle", action="store_true", help="skip the time-shuffle null (it refits the model)")
    p.add_argument("--time-shuffle-mode", choices=["within_windows", "whole_recording"], default="within_windows",
                   help="rotate spike trains inside each piece between window edges (rate-matched, default) "
                        "or over the whole recording")
    p.add_argument("--window-features", dest="features", choices=["flatten", "node_mean", "node_mean_sd"],
                   default="flatten", help="window features from node embeddings (default flatten, with PCA inside folds)")
    p.add_argument("--features", dest="features", choices=["flatten", "node_mean", "node_mean_sd"],
                   help=argparse.SUPPRESS)  # older spelling
    p.add_argument("--baseline-epochs", type=int, help="epochs for learned baselines and the time-shuffle refit")
    p.add_argument("--no-figures", action="store_true", help="scores only, no figures")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT and the report folder if they exist")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from ..evaluation.report import BASELINES, EvaluationConfig, evaluate_file

    if args.in_place and args.output:
        raise UsageError("--in-place writes into INPUT; give no OUTPUT")
    config = EvaluationConfig(
        split=args.split, n_splits=args.n_splits, purge_gap=args.purge_gap, classifier=args.classifier,
        null=args.null, seeds=args.seeds, n_permutations=args.permutations,
        time_shuffle_repeats=args.time_shuffle_repeats, n_jobs=args.jobs,
        baselines=tuple(BASELINES if args.baselines is None else args.baselines),
        time_shuffle=not args.no_time_shuffle, time_shuffle_mode=args.time_shuffle_mode, feature_mode=args.features,
        baseline_epochs=args.baseline_epochs, figures=not args.no_figures,
    )
    report = evaluate_file(args.input, args.labels, args.output, in_place=args.in_place, overwrite=args.overwrite,
                           report_dir=args.report, embeddings=args.embeddings, config=config,
                           progress=not args.quiet and sys.stderr.isatty())
    print(report.format_headline())
    if report.path:
        print(f"wrote {report.path}")
    if report.report_dir:
        print(f"report: {report.report_dir}")
    return 0
