"""``nwb-tavrnn fit INPUT OUTPUT``: train TAVRNN on a file's DynamicConnectivity and write the
embeddings, attention and model provenance to a copy of the file.

OUTPUT is INPUT plus, in ``processing/ecephys``, a NodeEmbeddings (linked to the connectivity it was
computed from and to the provenance), a TemporalAttention (unless ``--attention none``) and a
ModelProvenance holding the weights, so a collaborator can re-embed new data from OUTPUT alone.

Default run: the reference model (h=32, z=8, Adam lr 0.01, |r| features, attention over the whole
history), up to 500 epochs, stopping early once the loss has not improved by 0.1% for 50 epochs.
"""

from __future__ import annotations

import argparse
import logging

from ..errors import InputFileError
from ._options import add_command

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from ..config import ModelSection
    from ..params import add_arguments
    from ..steps.model import TAVRNNOptions

    parser = add_command(subparsers, "fit",
                         "train TAVRNN on a file's dynamic connectivity; write embeddings to a copy of the file",
                         __doc__, run, first_line=False)
    parser.add_argument("input", metavar="INPUT.nwb", help="NWB file with a DynamicConnectivity")
    parser.add_argument("output", metavar="OUTPUT.nwb", help="file to create: a copy of INPUT with the results")
    parser.add_argument("--connectivity", metavar="NAME", help="which DynamicConnectivity, if the file has several")
    groups = {"model": parser.add_argument_group("model"), "output": parser.add_argument_group("output")}
    flags = add_arguments(parser, ModelSection, groups, only=("preset",))
    groups["model"].add_argument("--preset", dest="preset", choices=["faithful", "improved"],
                                 default=argparse.SUPPRESS, help=argparse.SUPPRESS)  # older spelling
    flags.update(add_arguments(parser, TAVRNNOptions, groups))
    flags.update(add_arguments(parser, ModelSection, groups, skip=("name", "preset")))
    groups["output"].add_argument("--save-model", metavar="PATH", help="also save the fitted model (torch file) to "
                                                                      "PATH")
    groups["output"].add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    parser.set_defaults(_flags=flags)
    return parser


def _estimator(args: argparse.Namespace):
    from ..config import ModelSection
    from ..models import TAVRNN
    from ..params import given
    from ..steps.model import TAVRNNOptions

    overrides = given(args, TAVRNNOptions)
    overrides.setdefault("seed", 0)
    preset = given(args, ModelSection).get("preset")
    try:
        model = TAVRNN.preset(preset, **overrides) if preset else TAVRNN(**overrides)
        model.check_params()
    except ValueError as err:
        raise InputFileError(str(err)) from None
    return model


def run(args: argparse.Namespace) -> int:
    from ..config import ModelSection
    from ..params import check, given
    from ..steps.model import fit_file
    from ._progress import EpochBar

    section = check(ModelSection(**given(args, ModelSection)))
    model = _estimator(args)
    with EpochBar("fit", model.epochs, args, log) as bar:
        result = fit_file(args.input, args.output, model, connectivity=args.connectivity, overwrite=args.overwrite,
                          checkpoint_dir=section.checkpoint_dir, checkpoint_every=section.checkpoint_every,
                          resume=section.resume, name_prefix=section.name_prefix, callback=bar.progress)
    if args.save_model:
        model.save(args.save_model)
    stop = " (stopped early: loss plateau)" if model.stopped_early_ else ""
    n_windows, n_nodes, latent = result.embeddings.mean.shape
    print(f"wrote {result.path}: {model.model_name} embeddings of {n_windows} windows x {n_nodes} nodes, z={latent};"
          f" {model.n_epochs_} epochs{stop} in {result.seconds:.1f} s, final loss {model.loss_curve_[-1]:.4f}")
    return 0
