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
      --target location:amygdala_right --trials recognition_table --trial-window 0 1.5 --labels old_new \\
      --exclude-labels 0

(--exclude-labels 0 leaves out the trials without an answer, coded 0: the README's figures.)
"""

from __future__ import annotations

import argparse
import logging

from .step import add_step_command, build, execute

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..steps.seq2seq import Seq2seqStep

    add_step_command(subparsers, Seq2seqStep, run, __doc__, "NWB file with Units of both regions",
                     ("segments", "model", "evaluation", "output"))


def run(args: argparse.Namespace) -> int:
    from ..steps.seq2seq import Seq2seqStep

    step, model = build(args, Seq2seqStep)  # a lag that is not a whole number of bins fails here
    result = execute(args, step, model)
    data = result.data
    print(f"wrote {result.path}: Seq2seq {data.source_name} ({data.n_source} units) -> {data.target_name} "
          f"({data.n_target} units), {data.n_segments} segments; {len(result.split[0])} train / "
          f"{len(result.split[1])} test; {result.seconds:.1f} s for the fits and scores. Held-out:\n{result.summary()}")
    if result.report_dir is not None:
        print(f"report: {result.report_dir}")
    return 0
