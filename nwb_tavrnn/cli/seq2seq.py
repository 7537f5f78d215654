"""``nwb-tavrnn seq2seq INPUT OUTPUT --source SPEC --target SPEC``: translate one region's spiking into
another's through low-dimensional latents, score the prediction on held-out segments against
baselines, decode behaviour from the latents against a random forest, an MLP and the majority class,
and write the results to a copy of INPUT.

OUTPUT is INPUT plus ``processing/seq2seq``: the ModelProvenance (weights, settings, loss curves),
the latent trajectory and the predicted target rates as TimeSeries (one sample per bin, with
timestamps), and the EvaluationScores (bits/spike against history and PSTH baselines; balanced
accuracy of every decoder on latents, source rates and source+target rates with block-bootstrap
intervals and label-null p-values; paired sign-flip tests of their differences).

Region SPEC: ``location:NAME``, ``group:NAME``, ``ids:1,2,3``, ``column:COL=VALUE`` or a bare NAME
(the Units ``region`` column, else the location); ``|`` joins names.

Example (DANDI 000207, recognition trials, hippocampus -> amygdala, the old/new answer):

  nwb-tavrnn seq2seq sub-4_ses-4.nwb out.nwb --source location:hippocampus_right \\
      --target location:amygdala_right --trials recognition_table --window 0 1.5 --labels old_new
"""

from __future__ import annotations

import argparse
import logging

from ._options import add_patience, patience_value
from ._progress import EpochBar

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "seq2seq",
        help="translate one region's spiking into another's through latents; decode behaviour from them",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", metavar="INPUT.nwb", help="NWB file with Units of both regions")
    parser.add_argument("output", metavar="OUTPUT.nwb", help="file to create: a copy of INPUT with the results")
    data = parser.add_argument_group("segments")
    data.add_argument("--source", required=True, metavar="SPEC", help="the region whose spiking is the input")
    data.add_argument("--target", required=True, metavar="SPEC", help="the region whose spiking is predicted")
    data.add_argument("--bin-size", type=float, default=0.02, help="bin width in seconds (0.02)")
    data.add_argument("--trials", metavar="TABLE", help="one segment per row of this intervals table (else continuous)")
    data.add_argument("--event", default="start_time", metavar="COL", help="the trials' alignment column (start_time)")
    data.add_argument("--window", type=float, nargs=2, default=(0.0, 1.0), metavar=("START", "STOP"),
                      help="trial-aligned segments: seconds around the event (0 1)")
    data.add_argument("--segment-duration", type=float, default=2.0,
                      help="continuous segments: their length in seconds (2)")
    data.add_argument("--labels", metavar="SPEC",
                      help="behaviour per segment: a column of --trials, or TABLE:COLUMN for continuous segments")
    data.add_argument("--exclude-labels", metavar="VALUES", default="",
                      help="label values whose segments are left out, e.g. a no-response code (missing labels "
                           "always are)")
    model = parser.add_argument_group("model")
    model.add_argument("--latent-dim", type=int, help="latent dimension (4)")
    model.add_argument("--hidden", type=int, help="GRU state size (64)")
    model.add_argument("--lag", type=float,
                       help="seconds the target lags the source, a whole number of bins (default: one bin, so the "
                            "source precedes the target; 0 predicts a bin from the same bin: co-firing)")
    model.add_argument("--epochs", type=int, help="maximum epochs (300)")
    model.add_argument("--lr", type=float, help="Adam learning rate (0.005)")
    add_patience(model, default=25)
    model.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    model.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N")
    ev = parser.add_argument_group("evaluation")
    ev.add_argument("--test-fraction", type=float, default=0.2,
                    help="share of segments held out for the target's prediction, as contiguous blocks (0.2)")
    ev.add_argument("--n-splits", type=int, default=5, help="blocked folds of the behaviour decoding (5)")
    ev.add_argument("--latent-features", default="means,dynamics", metavar="KINDS",
                    help="what the decoders read of each segment's latents, comma-separated: means (chunk means), "
                         "covariances (lagged auto/cross-covariances), dynamics (eigenvalues of a linear dynamics "
                         "fit), spectrum (band power); default means,dynamics")
    ev.add_argument("--null", choices=["block_permutation", "circular_shift", "iid"], default="circular_shift",
                    help="label null of every decoder: circular_shift (default: keeps the labels' autocorrelation), "
                         "block_permutation (label blocks permuted), iid (single trials permuted: only for a "
                         "randomised trial design)")
    ev.add_argument("--permutations", type=int, default=100,
                    help="labellings of the label null (100; 0 = no test)")
    ev.add_argument("--n-jobs", type=int, metavar="N",
                    help="threads refitting the label null's labellings (default: one per core)")
    ev.add_argument("--report", metavar="DIR", help="write scores.csv and the figures to DIR")
    out = parser.add_argument_group("output")
    out.add_argument("--name-prefix", default="", help="prefix for the names of the objects written")
    out.add_argument("--overwrite", action="store_true", help="replace OUTPUT (and the report) if they exist")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from ..errors import require
    from ..models.seq2seq.step import DecodingOptions, SegmentOptions, make_estimator, seq2seq_file

    options = SegmentOptions(source=args.source, target=args.target, bin_size=args.bin_size, trials=args.trials,
                             event=args.event, window=tuple(args.window), segment_duration=args.segment_duration,
                             labels=args.labels, exclude_labels=args.exclude_labels).validate()
    require(0 < args.test_fraction < 1, f"--test-fraction must be in (0, 1), got {args.test_fraction}")
    require(args.n_splits >= 2, f"--n-splits must be >= 2, got {args.n_splits}")
    require(args.permutations >= 0, f"--permutations must be >= 0, got {args.permutations}")
    require(args.n_jobs is None or args.n_jobs >= 1, f"--n-jobs must be >= 1, got {args.n_jobs}")
    decoding = DecodingOptions(n_splits=args.n_splits, latent_features=args.latent_features, null=args.null,
                               n_permutations=args.permutations, n_jobs=args.n_jobs)
    try:
        decoding.validate()
    except ValueError as err:
        raise type(err)(str(err).replace("latent_features", "--latent-features")) from None
    overrides = {"latent_dim": args.latent_dim, "hidden": args.hidden, "lag": args.lag, "epochs": args.epochs,
                 "lr": args.lr, "seed": args.seed, "device": args.device}
    if args.patience is not None:
        overrides["patience"] = patience_value(args.patience)
    model = make_estimator(**overrides)
    model.lag_bins(args.bin_size)  # one line naming the valid lags before anything is read
    with EpochBar("seq2seq", model.epochs, args, log) as bar:
        result = seq2seq_file(args.input, args.output, model, options, test_fraction=args.test_fraction,
                              decoding=decoding, report_dir=args.report, overwrite=args.overwrite,
                              name_prefix=args.name_prefix, callback=bar.progress, on_step=bar.step)
    data = result.data
    print(f"wrote {result.path}: Seq2seq {data.source_name} ({data.n_source} units) -> {data.target_name} "
          f"({data.n_target} units), {data.n_segments} segments; {len(result.split[0])} train / "
          f"{len(result.split[1])} test; {result.seconds:.1f} s for the fits and scores. Held-out:\n{result.summary()}")
    if result.report_dir is not None:
        print(f"report: {result.report_dir}")
    return 0
