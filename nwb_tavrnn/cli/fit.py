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
from ._options import add_patience, patience_value

log = logging.getLogger(__name__)


def _attention(value: str) -> str | int | None:
    if value.lower() == "none":
        return None
    if value.lower() == "full":
        return "full"
    try:
        width = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'full', 'none' or a window width, got {value!r}") from None
    if width < 1:
        raise argparse.ArgumentTypeError("the attention window width must be at least 1")
    return width


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "fit",
        help="train TAVRNN on a file's dynamic connectivity; write embeddings to a copy of the file",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", metavar="INPUT.nwb", help="NWB file with a DynamicConnectivity")
    parser.add_argument("output", metavar="OUTPUT.nwb", help="file to create: a copy of INPUT with the results")
    parser.add_argument("--connectivity", metavar="NAME", help="which DynamicConnectivity, if the file has several")
    parser.add_argument("--model-preset", dest="preset", choices=["faithful", "improved"],
                        help="'faithful': the reference notebook's computation (its GCN normalisation, history node "
                             "in the loss, frozen recurrence weights, attention over attended states, 500 epochs, no "
                             "early stopping or clipping, sampled embeddings); 'improved' (the default settings) "
                             "fixes these; other options override")
    parser.add_argument("--preset", dest="preset", choices=["faithful", "improved"], help=argparse.SUPPRESS)  # older
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0); same seed, same result on CPU")
    parser.add_argument("--epochs", type=int, help="maximum epochs (default 500)")
    add_patience(parser, default=50)
    parser.add_argument("--lr", type=float, help="Adam learning rate (default 0.01)")
    parser.add_argument("--h-dim", type=int, help="recurrent state size (default 32)")
    parser.add_argument("--z-dim", type=int, help="latent size (default 8)")
    parser.add_argument("--features", choices=["correlation", "identity"],
                        help="node features (default correlation: each node's |r| row)")
    parser.add_argument("--attention", type=_attention, metavar="full|none|W", default=argparse.SUPPRESS,
                        help="attend over the whole history (default), the last W windows, or not at all (VGRNN)")
    parser.add_argument("--edge-weights", action="store_true", default=None, help="weight GCN messages by |r|")
    parser.add_argument("--clip-grad-norm", type=float, help="clip the gradient norm before each step")
    parser.add_argument("--decoder", choices=["auto", "dense", "sampled"],
                        help="reconstruction loss: exact dense, or edges + sampled non-edges (auto: dense up to 2048 nodes)")
    parser.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N")
    parser.add_argument("--checkpoint-dir", metavar="DIR", help="write DIR/checkpoint.pt every --checkpoint-every epochs")
    parser.add_argument("--checkpoint-every", type=int, default=25, metavar="K", help="epochs between checkpoints (25)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in --checkpoint-dir")
    parser.add_argument("--save-model", metavar="PATH", help="also save the fitted model (torch file) to PATH")
    parser.add_argument("--name-prefix", default="", help="prefix for the names of the objects written")
    parser.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    parser.set_defaults(func=run)
    return parser


def _estimator(args: argparse.Namespace):
    from ..models import TAVRNN

    overrides = {
        "epochs": args.epochs, "lr": args.lr, "h_dim": args.h_dim, "z_dim": args.z_dim, "features": args.features,
        "edge_weights": args.edge_weights, "clip_grad_norm": args.clip_grad_norm, "decoder": args.decoder,
        "device": args.device,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    overrides["seed"] = args.seed
    if args.patience is not None:
        overrides["patience"] = patience_value(args.patience)
    if hasattr(args, "attention"):  # absent unless given, since None ('none') is a valid choice
        overrides["attention"] = args.attention
    try:
        model = TAVRNN.preset(args.preset, **overrides) if args.preset else TAVRNN(**overrides)
        model.check_params()
    except ValueError as err:
        raise InputFileError(str(err)) from None
    return model


def run(args: argparse.Namespace) -> int:
    from ..models.step import fit_file
    from ._progress import EpochBar

    model = _estimator(args)
    with EpochBar("fit", model.epochs, args, log) as bar:
        result = fit_file(args.input, args.output, model, connectivity=args.connectivity, overwrite=args.overwrite,
                          checkpoint_dir=args.checkpoint_dir, checkpoint_every=args.checkpoint_every,
                          resume=args.resume, name_prefix=args.name_prefix, callback=bar.progress)
    if args.save_model:
        model.save(args.save_model)
    stop = " (stopped early: loss plateau)" if model.stopped_early_ else ""
    n_windows, n_nodes, latent = result.embeddings.mean.shape
    print(f"wrote {result.path}: {model.model_name} embeddings of {n_windows} windows x {n_nodes} nodes, z={latent};"
          f" {model.n_epochs_} epochs{stop} in {result.seconds:.1f} s, final loss {model.loss_curve_[-1]:.4f}")
    return 0
