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

from ._options import step_options
from ._progress import EpochBar

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from ..steps.seq2seq import Seq2seqStep

    parser = subparsers.add_parser(
        "seq2seq", help=Seq2seqStep.help,
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", metavar="INPUT.nwb", help="NWB file with Units of both regions")
    parser.add_argument("output", metavar="OUTPUT.nwb", help="file to create: a copy of INPUT with the results")
    groups = step_options(parser, Seq2seqStep, ("segments", "model", "evaluation", "output"))
    groups["evaluation"].add_argument("--report", metavar="DIR", help="write scores.csv and the figures to DIR")
    groups["output"].add_argument("--overwrite", action="store_true",
                                  help="replace OUTPUT (and the report) if they exist")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from ..params import given
    from ..steps.seq2seq import ModelOptions, Seq2seqParams, Seq2seqStep

    step = Seq2seqStep(Seq2seqParams(**given(args, Seq2seqParams)), given(args, ModelOptions)).validate()
    model = step.make_model()  # one line naming the valid lags before anything is read
    with EpochBar("seq2seq", model.epochs, args, log) as bar:
        result = step.write(args.input, args.output, model, report_dir=args.report, overwrite=args.overwrite,
                            callback=bar.progress, on_step=bar.step)
    data = result.data
    print(f"wrote {result.path}: Seq2seq {data.source_name} ({data.n_source} units) -> {data.target_name} "
          f"({data.n_target} units), {data.n_segments} segments; {len(result.split[0])} train / "
          f"{len(result.split[1])} test; {result.seconds:.1f} s for the fits and scores. Held-out:\n{result.summary()}")
    if result.report_dir is not None:
        print(f"report: {result.report_dir}")
    return 0
