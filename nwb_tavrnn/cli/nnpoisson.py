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

from ._options import step_options
from ._progress import EpochBar

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from ..steps.nnpoisson import NNPoissonStep

    parser = subparsers.add_parser(
        "nnpoisson", help=NNPoissonStep.help,
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", metavar="INPUT.nwb", help="NWB file with Units and a trials table")
    parser.add_argument("output", metavar="OUTPUT.nwb", help="file to create: a copy of INPUT with the results")
    groups = step_options(parser, NNPoissonStep, ("trials", "model", "evaluation", "output"))
    groups["model"].add_argument("--preset", dest="preset", choices=["corrected", "faithful"],
                                 default=argparse.SUPPRESS, help=argparse.SUPPRESS)  # as fit spells it
    groups["evaluation"].add_argument("--report", metavar="DIR", help="write scores.csv and the figures to DIR")
    out = groups["output"]
    out.add_argument("--checkpoint-dir", metavar="DIR", help="write DIR/checkpoint.pt while training")
    out.add_argument("--resume", action="store_true", help="continue from the checkpoint in --checkpoint-dir")
    out.add_argument("--save-model", metavar="PATH", help="also save the fitted model (torch file) to PATH")
    out.add_argument("--overwrite", action="store_true", help="replace OUTPUT (and the report) if they exist")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from ..params import given
    from ..steps.nnpoisson import ModelOptions, NNPoissonParams, NNPoissonStep

    step = NNPoissonStep(NNPoissonParams(**given(args, NNPoissonParams)), given(args, ModelOptions)).validate()
    model = step.make_model()
    if args.save_model:  # checked before any work: never the input or the output, a folder that exists
        from ..errors import UsageError
        from ..io.files import check_writable, refuse_source_as_destination, same_file

        refuse_source_as_destination(args.input, args.save_model, in_place_hint=False)
        if same_file(args.output, args.save_model) or str(args.output) == str(args.save_model):
            raise UsageError(f"--save-model {args.save_model}: is the output file; choose another path")
        check_writable(args.save_model, overwrite=args.overwrite)
    p = step.params
    with EpochBar("nnpoisson", model.epochs, args, log) as bar:
        result = step.write(args.input, args.output, model, report_dir=args.report, overwrite=args.overwrite,
                            checkpoint_dir=args.checkpoint_dir, resume=args.resume, callback=bar.progress,
                            on_step=bar.step)
    if args.save_model:
        model.save(args.save_model)
    data = result.data
    print(f"wrote {result.path}: NNPoisson ({p.preset}) on {data.n_trials} trials, regions "
          f"{', '.join(data.regions)}; {len(result.split.train)} train / {len(result.split.test)} test trials; "
          f"{model.n_epochs_} epochs; {result.seconds:.1f} s for the fits and scores. Held-out scores:\n"
          f"{result.summary()}")
    if result.report_dir is not None:
        print(f"report: {result.report_dir}")
    return 0
