"""``nwb-tavrnn nnpoisson INPUT OUTPUT``: fit NNPoisson (stimulus → regional spiking → choice and RT)
on a file's trials, score it on held-out trials against baselines, and write the results to a copy.

OUTPUT is INPUT plus ``processing/nnpoisson``: the ModelProvenance (weights, settings, loss
curves), the fitted per-neuron intensity of every region for every stimulus condition, per-trial
predictions (choice probabilities, median RT, log-likelihoods, split) aligned to the trials table,
and the EvaluationScores of the model and its baselines on the test trials.

Example (DANDI 000207, recognition trials; RT is measured from the image's offset):

  nwb-tavrnn nnpoisson sub-4_ses-4.nwb out.nwb --trials recognition_table --stimulus stimuli_type \\
      --choice old_new --rt RT --rt-from stop_time --no-response 0 --regions location --window 4 \\
      --late censor --invalid drop
"""

from __future__ import annotations

import argparse
import logging

from ._options import add_patience, patience_value
from ._progress import EpochBar

log = logging.getLogger(__name__)


def _columns(value: str) -> tuple[str, ...]:
    items = tuple(v.strip() for v in value.split(",") if v.strip())
    if not items:
        raise argparse.ArgumentTypeError("expected one or more comma-separated names")
    return items


def _components(value: str) -> int | str:
    if value.strip().lower() == "auto":
        return "auto"
    try:
        return int(value)  # the estimator checks the range, in one line
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1 or 'auto', got {value!r}") from None


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "nnpoisson",
        help="fit NNPoisson (stimulus -> regional spiking -> choice and RT) on trials; score it against baselines",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", metavar="INPUT.nwb", help="NWB file with Units and a trials table")
    parser.add_argument("output", metavar="OUTPUT.nwb", help="file to create: a copy of INPUT with the results")
    data = parser.add_argument_group("trials")
    data.add_argument("--trials", default="trials", metavar="TABLE", help="intervals table of the trials (trials)")
    data.add_argument("--stimulus", type=_columns, required=True, metavar="COL[,COL]",
                      help="stimulus feature columns (numbers used as given, text one-hot encoded)")
    data.add_argument("--choice", required=True, metavar="COL", help="response column; its values are the actions")
    timing = data.add_mutually_exclusive_group(required=True)
    timing.add_argument("--rt", metavar="COL", help="reaction time column (s, from the onset or --rt-from)")
    timing.add_argument("--response-time", metavar="COL", help="session time of the response (s)")
    data.add_argument("--onset", default="start_time", metavar="COL",
                      help="stimulus onset column: time zero of each trial (start_time)")
    data.add_argument("--rt-from", dest="rt_reference", metavar="COL",
                      help="the column --rt is measured from, when not the onset")
    data.add_argument("--no-response", type=_columns, metavar="VALUES",
                      help="choice values meaning no response (default: none, nan, timeout, -1, empty)")
    data.add_argument("--regions", default="auto", metavar="SPEC",
                      help="where a unit's region comes from: auto (a Units 'region' column, else the electrodes' "
                           "location), location, group, or a Units column name")
    data.add_argument("--keep-regions", type=_columns, metavar="A[,B]", help="only these regions, in this order")
    data.add_argument("--window", type=float, default=1.0, metavar="W",
                      help="response window after onset, s (1.0): spikes and responses in [0, W) are modelled")
    data.add_argument("--late", choices=["error", "censor"], default="error",
                      help="responses after the window: an error (default), or no response within it")
    data.add_argument("--invalid", choices=["error", "drop"], default="error",
                      help="trials with a negative or missing RT, or no spike at all: an error (default), or left out")
    model = parser.add_argument_group("model")
    model.add_argument("--model-preset", dest="preset", choices=["corrected", "faithful"], default="corrected",
                       help="'faithful': the reference's network, time warp and loss; 'corrected' (default): no warp, "
                            "exact likelihood, competing risks for choice and RT")
    model.add_argument("--preset", dest="preset", choices=["corrected", "faithful"], help=argparse.SUPPRESS)  # as fit
    model.add_argument("--readout", choices=["unit", "region"],
                       help="'unit' (corrected default): each unit's intensity a non-negative mix of its region's "
                            "components, with its own gain; 'region' (faithful): one intensity shared by a region's "
                            "units")
    model.add_argument("--components", type=_components, metavar="J|auto",
                       help="components per region of the per-unit read-out (2), or 'auto': chosen by the "
                            "likelihood of the validation block among 1-4")
    model.add_argument("--objective", choices=["joint", "neural", "behaviour"],
                       help="fit both terms (joint, default), the neural term only, or behaviour only")
    model.add_argument("--epochs", type=int, help="maximum epochs (corrected 400, faithful 2000)")
    model.add_argument("--lr", type=float, help="Adam learning rate (corrected 0.01, faithful 1e-4)")
    add_patience(model, default=40)
    model.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    model.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N")
    ev = parser.add_argument_group("evaluation")
    ev.add_argument("--test-fraction", type=float, default=0.2,
                    help="share of trials held out, as contiguous blocks spread over the session (0.2)")
    ev.add_argument("--no-baselines", dest="baselines", action="store_false",
                    help="skip the PSTH and raised-cosine GLM baselines (per region and per unit)")
    ev.add_argument("--compare-objectives", action="store_true",
                    help="also fit a behaviour-only model and score it (the neural-only fit is always made)")
    ev.add_argument("--report", metavar="DIR", help="write scores.csv and the figures to DIR")
    out = parser.add_argument_group("output")
    out.add_argument("--checkpoint-dir", metavar="DIR", help="write DIR/checkpoint.pt while training")
    out.add_argument("--resume", action="store_true", help="continue from the checkpoint in --checkpoint-dir")
    out.add_argument("--save-model", metavar="PATH", help="also save the fitted model (torch file) to PATH")
    out.add_argument("--name-prefix", default="", help="prefix for the names of the objects written")
    out.add_argument("--overwrite", action="store_true", help="replace OUTPUT (and the report) if they exist")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from ..models.nnpoisson.step import TrialOptions, make_estimator, nnpoisson_file

    options = TrialOptions(stimulus=args.stimulus, choice=args.choice, rt=args.rt, response_time=args.response_time,
                           trials=args.trials, onset=args.onset, rt_reference=args.rt_reference, regions=args.regions,
                           keep_regions=args.keep_regions, window=args.window, no_response=args.no_response,
                           late=args.late, invalid=args.invalid).validate()
    overrides = {"epochs": args.epochs, "lr": args.lr, "objective": args.objective, "seed": args.seed,
                 "device": args.device, "readout": args.readout, "components": args.components}
    if args.patience is not None:
        overrides["patience"] = patience_value(args.patience)
    model = make_estimator(args.preset, **overrides)
    if args.save_model:  # checked before any work: never the input or the output, a folder that exists
        from ..errors import UsageError
        from ..io.files import check_writable, refuse_source_as_destination, same_file

        refuse_source_as_destination(args.input, args.save_model, in_place_hint=False)
        if same_file(args.output, args.save_model) or str(args.output) == str(args.save_model):
            raise UsageError(f"--save-model {args.save_model}: is the output file; choose another path")
        check_writable(args.save_model, overwrite=args.overwrite)
    with EpochBar("nnpoisson", model.epochs, args, log) as bar:
        result = nnpoisson_file(args.input, args.output, model, options, test_fraction=args.test_fraction,
                                baselines=args.baselines, objectives=args.compare_objectives, report_dir=args.report,
                                overwrite=args.overwrite, checkpoint_dir=args.checkpoint_dir, resume=args.resume,
                                name_prefix=args.name_prefix, callback=bar.progress, on_step=bar.step)
    if args.save_model:
        model.save(args.save_model)
    data = result.data
    print(f"wrote {result.path}: NNPoisson ({args.preset}) on {data.n_trials} trials, regions "
          f"{', '.join(data.regions)}; {len(result.split.train)} train / {len(result.split.test)} test trials; "
          f"{model.n_epochs_} epochs; {result.seconds:.1f} s for the fits and scores. Held-out scores:\n{result.summary()}")
    if result.report_dir is not None:
        print(f"report: {result.report_dir}")
    return 0
