"""The model step NWB to NWB: train on a file's DynamicConnectivity, write the results back.

The output is a copy of the input (or the input itself, atomically, when asked) with a
NodeEmbeddings (linked to the connectivity it came from and to the provenance), a TemporalAttention
(unless the model has none) and a ModelProvenance holding the weights.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputFileError, OutputFileError, TrainingError, as_input_error, require
from ..io.files import PathLike, check_writable, open_nwb
from ..params import param, patience

log = logging.getLogger(__name__)


def attention_value(value: str) -> str | int | None:
    """``--attention``: ``full``, ``none`` or a window width."""
    import argparse

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


@dataclass
class TAVRNNOptions:
    """The TAVRNN arguments the command line offers (None: the preset's or the default); a
    configuration's ``model`` section takes every argument of :class:`~nwb_tavrnn.models.TAVRNN`."""

    seed: int | None = param(None, parse=int, group="model",
                             help="random seed (default 0); same seed, same result on CPU")
    epochs: int | None = param(None, parse=int, group="model", help="maximum epochs (default 500)")
    patience: int | None = param(None, parse=patience, metavar="EPOCHS", group="model",
                                 help="epochs without improvement before stopping (50; 0 = never stop early)")
    lr: float | None = param(None, parse=float, group="model", help="Adam learning rate (default 0.01)")
    h_dim: int | None = param(None, parse=int, group="model", help="recurrent state size (default 32)")
    z_dim: int | None = param(None, parse=int, group="model", help="latent size (default 8)")
    features: str | None = param(None, choices=("correlation", "identity"), group="model",
                                 help="node features (default correlation: each node's |r| row)")
    attention: str | int | None = param(None, parse=attention_value, metavar="full|none|W", group="model",
                                        help="attend over the whole history (default), the last W windows, or not "
                                             "at all (VGRNN)")
    edge_weights: bool | None = param(None, switch=True, group="model", help="weight GCN messages by |r|")
    clip_grad_norm: float | None = param(None, parse=float, group="model",
                                         help="clip the gradient norm before each step")
    decoder: str | None = param(None, choices=("auto", "dense", "sampled"), group="model",
                                help="reconstruction loss: exact dense, or edges + sampled non-edges (auto: dense up "
                                     "to 2048 nodes)")
    device: str | None = param(None, group="model", help="auto (default), cpu, cuda, cuda:N")


@dataclass
class FitResult:
    """What a model step produced: the output path, the fitted model and its embeddings."""

    path: Path
    model: Any
    embeddings: Any
    connectivity_name: str
    seconds: float


def fit_file(
    source: PathLike, destination: PathLike | None, model: Any, *, connectivity: str | None = None,
    in_place: bool = False, overwrite: bool = False, checkpoint_dir: PathLike | None = None,
    checkpoint_every: int = 25, resume: bool = False, name_prefix: str = "",
    callback: Callable[[int, float], None] | None = None,
) -> FitResult:
    """Fit ``model`` on the DynamicConnectivity of ``source`` and write its results to NWB.

    Parameters
    ----------
    model
        An unfitted estimator, e.g. ``TAVRNN(seed=0)``.
    connectivity
        Name of the DynamicConnectivity to use when the file holds several.
    in_place
        Add the results to ``source`` itself (atomically) instead of writing ``destination``.
    checkpoint_dir, checkpoint_every, resume
        Periodic checkpoints, and resuming an interrupted run from them.
    """
    from ..io.read import read_one
    from ..io.write import append_results, module_of
    from ..schema import DynamicConnectivity

    require("/" not in name_prefix and ":" not in name_prefix,
            f"name_prefix {name_prefix!r}: a prefix of object names, without '/' or ':'", "name_prefix")
    if resume and not checkpoint_dir:
        raise InputFileError("resuming needs the checkpoint folder of the interrupted run")
    if not in_place:
        if destination is None:
            raise OutputFileError("give an output path, or ask for in-place writing")
        if Path(destination).resolve() == Path(source).resolve():
            raise OutputFileError(f"{destination}: is the input file; choose another output or write in place")
        check_writable(destination, overwrite=overwrite)  # fail before training, not after
    with open_nwb(source) as nwbfile:
        conn = read_one(nwbfile, DynamicConnectivity, connectivity)
        name, module = conn.name, module_of(conn)
        log.info("training on %s: %d windows x %d nodes", name, conn.num_windows, conn.num_nodes)
        started = time.perf_counter()
        try:
            model.fit(conn, checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, resume=resume,
                      callback=callback)
        except FloatingPointError as err:
            raise TrainingError(str(err)) from None
        except ValueError as err:  # data the model cannot use, or a checkpoint of another run
            raise as_input_error(err) from None
        seconds = time.perf_counter() - started
        embeddings = model.transform(conn)

    def build(copy):
        return model.to_nwb(read_one(copy, DynamicConnectivity, name), embeddings=embeddings, name_prefix=name_prefix)

    path = append_results(source, build, None if in_place else destination, in_place=in_place, overwrite=overwrite,
                          module_name=module)  # beside the graphs (ecephys, or ophys for ROI traces)
    return FitResult(Path(path), model, embeddings, name, seconds)
