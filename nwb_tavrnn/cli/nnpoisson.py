"""``nwb-tavrnn nnpoisson INPUT OUTPUT``: fit NNPoisson (stimulus → regional spiking → choice and RT)
on a file's trials, score it on held-out trials against baselines, and write the results to a copy.

OUTPUT is INPUT plus ``processing/nnpoisson``: the ModelProvenance (weights, settings, loss
curves), the fitted per-neuron intensity of every region for every stimulus condition, per-trial
predictions (choice probabilities, median RT, log-likelihoods, split) aligned to the trials table,
and the EvaluationScores of the model and its baselines on the test trials.

Example (DANDI 000207, recognition trials; RT is measured from the image's offset):

  nwb-tavrnn nnpoisson sub-4_ses-4.nwb out.nwb --trials recognition_table --stimulus stimuli_type \\
      --choice old_new --rt RT --rt-from stop_time --no-response 0 --regions location --response-window 4 \\
      --late censor --invalid drop
"""

from __future__ import annotations

import argparse
import logging

from .step import add_step_command, build, execute

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..steps.nnpoisson import NNPoissonStep

    groups = add_step_command(subparsers, NNPoissonStep, run, __doc__, "NWB file with Units and a trials table",
                              ("trials", "model", "evaluation", "output"))
    groups["model"].add_argument("--preset", dest="preset", choices=["corrected", "faithful"],
                                 default=argparse.SUPPRESS, help=argparse.SUPPRESS)  # as fit spells it
    out = groups["output"]
    out.add_argument("--checkpoint-dir", metavar="DIR", help="write DIR/checkpoint.pt while training")
    out.add_argument("--resume", action="store_true", help="continue from the checkpoint in --checkpoint-dir")
    out.add_argument("--save-model", metavar="PATH", help="also save the fitted model (torch file) to PATH")


def run(args: argparse.Namespace) -> int:
    from ..steps.nnpoisson import NNPoissonStep

    step, model = build(args, NNPoissonStep)
    if args.save_model:  # checked before any work: never the input or the output, a folder that exists
        from ..errors import UsageError
        from ..io.files import check_writable, refuse_source_as_destination, same_file

        refuse_source_as_destination(args.input, args.save_model, in_place_hint=False)
        if same_file(args.output, args.save_model) or str(args.output) == str(args.save_model):
            raise UsageError(f"--save-model {args.save_model}: is the output file; choose another path")
        check_writable(args.save_model, overwrite=args.overwrite)
    result = execute(args, step, model, checkpoint_dir=args.checkpoint_dir, resume=args.resume)
    if args.save_model:
        model.save(args.save_model)
    data = result.data
    print(f"wrote {result.path}: NNPoisson ({step.params.preset}) on {data.n_trials} trials, regions "
          f"{', '.join(data.regions)}; {len(result.split.train)} train / {len(result.split.test)} test trials; "
          f"{model.n_epochs_} epochs; {result.seconds:.1f} s for the fits and scores. Held-out scores:\n"
          f"{result.summary()}")
    if result.report_dir is not None:
        print(f"report: {result.report_dir}")
    return 0
