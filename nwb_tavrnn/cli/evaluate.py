"""``nwb-tavrnn evaluate INPUT --labels SPEC``: score a file's embeddings against behaviour.

Labels: ``TABLE:COLUMN`` (the label covering most of each window), ``TABLE:COLUMN:top_bottom=K``
(a numeric column averaged per window; the K highest windows "High", the K lowest "Low", as in the
paper), ``TABLE:COLUMN:quantile=Q``, ``behavior:SERIES[:quantile=Q]``, or ``spans:TABLE1,TABLE2``
(the table whose span covers most of the window: task periods kept as separate trial tables). Scores for the model and
the baselines (raw correlations, population rates + PCA, a per-window VGAE, VGRNN without
attention; CEBRA-Time on request, with the ``cebra`` package installed), a label-permutation null and a time-shuffle null; written to OUTPUT (a copy of INPUT
with an EvaluationScores table) or in place, and to --report DIR (CSV, JSON, PNG and PDF figures).
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
    p.add_argument("--seeds", type=int, default=10, help="repetitions of each cross-validated score (10)")
    p.add_argument("--permutations", type=int, default=200, help="label permutations of the null (200)")
    p.add_argument("--baselines", nargs="*", default=None,
                   help="any of raw_correlation population_rates vgae vgrnn (default: these four) and cebra "
                        "(CEBRA-Time; needs the cebra package)")
    p.add_argument("--no-time-shuffle", action="store_true", help="skip the time-shuffle null (it refits the model)")
    p.add_argument("--time-shuffle-mode", choices=["within_windows", "whole_recording"], default="within_windows",
                   help="rotate spike trains inside each piece between window edges (rate-matched, default) "
                        "or over the whole recording")
    p.add_argument("--features", choices=["flatten", "node_mean", "node_mean_sd"], default="flatten",
                   help="window features from node embeddings (default flatten, with PCA inside folds)")
    p.add_argument("--baseline-epochs", type=int, help="epochs for learned baselines and the time-shuffle refit")
    p.add_argument("--no-figures", action="store_true")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import NwbTavrnnError
    from ..evaluation.report import BASELINES, EvaluationConfig, evaluate_file

    if args.in_place and args.output:
        raise NwbTavrnnError("--in-place writes into INPUT; give no OUTPUT")
    config = EvaluationConfig(
        seeds=args.seeds, n_permutations=args.permutations,
        baselines=tuple(BASELINES if args.baselines is None else args.baselines),
        time_shuffle=not args.no_time_shuffle, time_shuffle_mode=args.time_shuffle_mode, feature_mode=args.features,
        baseline_epochs=args.baseline_epochs, figures=not args.no_figures,
    )
    report = evaluate_file(args.input, args.labels, args.output, in_place=args.in_place, overwrite=args.overwrite,
                           report_dir=args.report, embeddings=args.embeddings, config=config,
                           progress=not args.quiet and sys.stderr.isatty())
    print(report.headline().to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    perm = report.summary[(report.summary.analysis == "label_permutation") & (report.summary.metric == "p_value")]
    if len(perm):
        print(f"label-permutation p-value: {float(perm['mean'].iloc[0]):.4f}")
    if report.path:
        print(f"wrote {report.path}")
    if report.report_dir:
        print(f"report: {report.report_dir}")
    return 0
