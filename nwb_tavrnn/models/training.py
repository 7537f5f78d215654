"""The training loop shared by the graph models: Adam on the full sequence, clipping, early stopping,
checkpoints that resume a run exactly.

A checkpoint holds the model and optimiser states, the epoch, the loss curve, the early-stopping
counters and every random state (the model's generator, torch, numpy, python), so a run stopped
after any checkpoint and resumed gives the same weights as one never stopped (on the same device and
thread count). Checkpoints are written to a temporary file and renamed, so a kill mid-write leaves
the previous checkpoint intact.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import DataError
from ._torch import rng_state, set_rng_state

log = logging.getLogger(__name__)

#: Seconds between training progress lines in the log.
PROGRESS_SECONDS = 30.0

CHECKPOINT_NAME = "checkpoint.pt"

#: ``callback(epoch, loss)`` is called after every epoch (1-based); it may raise to stop the run.
EpochCallback = Callable[[int, float], None]


class CheckpointMismatch(DataError):
    """A checkpoint was written for another model configuration or other data (a ``ValueError``)."""


@dataclass
class TrainingState:
    """What the loop has done so far."""

    epoch: int = 0
    losses: list[float] = field(default_factory=list)
    best: float | list[float] = math.inf
    bad_epochs: int = 0
    stopped_early: bool = False
    validation: list[float] = field(default_factory=list)


@dataclass
class TrainingConfig:
    """Optimisation settings (see :class:`~nwb_tavrnn.models.TAVRNN` for their meaning)."""

    epochs: int
    lr: float = 1e-2
    clip_grad_norm: float | None = None
    patience: int | None = None
    min_delta: float = 1e-3
    checkpoint_dir: str | os.PathLike | None = None
    checkpoint_every: int = 25
    resume: bool = False


@dataclass
class Objective:
    """What one training run minimises (the arguments of :func:`train` an estimator supplies).

    Attributes
    ----------
    loss_fn
        ``loss_fn()``: the scalar loss of the whole sequence; with ``batches``, ``loss_fn(batch)``:
        one mini-batch's.
    batches
        The mini-batches of one epoch, drawn anew each epoch; None: one step on everything.
    validation_fn
        The held-out loss to stop early on (a list: terms watched apart); None: the training loss.
    """

    loss_fn: Callable[..., torch.Tensor]
    batches: Callable[[], list[Any]] | None = None
    validation_fn: Callable[[], float | list[float]] | None = None


def checkpoint_path(directory: str | os.PathLike) -> Path:
    return Path(directory) / CHECKPOINT_NAME


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically: a temporary beside it (named after this process,
    see :func:`~nwb_tavrnn.io.files.temporary_name`), renamed once complete."""
    from ..io.files import temporary_name

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(temporary_name(path.name))
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # after a failed save (after the rename it no longer exists)


def sweep_checkpoint_temporaries(directory: str | os.PathLike) -> None:
    """Remove half-written checkpoints that killed runs left in ``directory``; the checkpoint they
    were replacing is intact (the rename never happened)."""
    from ..io.files import sweep_temporaries

    path = checkpoint_path(directory)
    if path.parent.is_dir():
        sweep_temporaries(path, path.name)
        path.with_name(path.name + ".tmp").unlink(missing_ok=True)  # the name of older versions


def train(
    module: nn.Module,
    loss_fn: Callable[..., torch.Tensor],
    generator: torch.Generator,
    config: TrainingConfig,
    identity: dict[str, Any],
    callback: EpochCallback | None = None,
    *,
    batches: Callable[[], list[Any]] | None = None,
    validation_fn: Callable[[], float] | None = None,
) -> TrainingState:
    """Minimise ``loss_fn()`` with Adam, one step per epoch (or one per mini-batch).

    Parameters
    ----------
    loss_fn
        Runs the model over the whole sequence and returns the scalar loss; with ``batches``,
        ``loss_fn(batch)`` returns one mini-batch's loss.
    generator
        The model's random source (ε, sampled non-edges, batch order); its state is checkpointed.
    identity
        What the run is (estimator parameters, data fingerprint); a checkpoint with another
        identity is refused on resume instead of silently mixing runs.
    batches
        Called once per epoch: the epoch's mini-batches, one Adam step each; the epoch's loss is
        their mean.
    validation_fn
        Called after each epoch (in eval mode, without gradients): the held-out loss that early
        stopping watches instead of the training loss. It may return several terms (e.g. a
        likelihood's neural and behavioural parts): training goes on while any of them improves
        by ``min_delta`` relative to its own best, so a small term is not drowned by a large one;
        the weights kept are those of the best sum.

    A module with an ``after_step()`` method has it called after every optimiser step (projections
    such as non-negative weights).
    """
    optimizer = torch.optim.Adam(module.parameters(), lr=config.lr)
    state = TrainingState()
    ckpt = checkpoint_path(config.checkpoint_dir) if config.checkpoint_dir is not None else None
    resumed_best = None
    if ckpt is not None:
        sweep_checkpoint_temporaries(ckpt.parent)
    if config.resume and ckpt is not None and ckpt.exists():
        from ._torch import load_tensors

        payload = load_tensors(ckpt, "checkpoint")
        if payload["identity"] != identity:
            diff = sorted(k for k in set(payload["identity"]) | set(identity)
                          if payload["identity"].get(k) != identity.get(k))
            raise CheckpointMismatch(
                f"{ckpt} belongs to another run (differs in: {', '.join(diff)}); use another checkpoint "
                "folder or drop `resume`", "resume")
        module.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        state = TrainingState(**payload["state"])
        set_rng_state(generator, payload["rng"])
        resumed_best = payload.get("best_model")
        log.info("resumed from %s at epoch %d", ckpt, state.epoch)
    elif config.resume:
        log.info("no checkpoint to resume from%s; starting at epoch 0", f" in {ckpt.parent}" if ckpt else "")

    def write_checkpoint() -> None:
        save_checkpoint(ckpt, {
            "identity": identity,
            "model": module.state_dict(),
            "optimizer": optimizer.state_dict(),
            "state": {"epoch": state.epoch, "losses": list(state.losses), "best": state.best,
                      "bad_epochs": state.bad_epochs, "stopped_early": state.stopped_early,
                      "validation": list(state.validation)},
            "rng": rng_state(generator),
            **({"best_model": best_validation[1]} if best_validation[1] is not None else {}),
        })

    after_step = getattr(module, "after_step", None)

    def step(*batch: Any) -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(*batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"the loss became {loss.item()} at epoch {state.epoch + 1}; lower lr or set clip_grad_norm"
            )
        loss.backward()
        if config.clip_grad_norm is not None:
            # Before the step, where it has an effect (VGRNN's code clipped after it; TAVRNN's never).
            nn.utils.clip_grad_norm_(module.parameters(), config.clip_grad_norm)
        optimizer.step()
        if after_step is not None:
            after_step()
        return float(loss.detach())

    # [best held-out loss, the weights that gave it]; checkpointed so a resumed run restores the same
    best_validation: list[Any] = [math.inf, None]
    if resumed_best is not None:
        best_validation[:] = [min(state.validation), resumed_best]
    module.train()
    last_report = time.monotonic()
    while state.epoch < config.epochs and not state.stopped_early:
        if batches is None:
            value = step()
        else:
            values = [step(batch) for batch in batches()]
            value = float(sum(values) / max(len(values), 1))
        state.epoch += 1
        state.losses.append(value)
        watched: float | list[float] = value
        if validation_fn is not None:
            module.eval()
            with torch.no_grad():
                out = validation_fn()
            module.train()
            watched = [float(v) for v in out] if isinstance(out, (list, tuple)) else float(out)
            total = float(sum(watched)) if isinstance(watched, list) else watched
            state.validation.append(total)
            if total < best_validation[0]:
                best_validation[:] = [total, {k: v.detach().clone() for k, v in module.state_dict().items()}]
        if config.patience is not None:
            terms = watched if isinstance(watched, list) else [watched]
            best = state.best if isinstance(state.best, list) else [state.best] * len(terms)
            better = [b - w > config.min_delta * abs(b) or not math.isfinite(b) for b, w in zip(best, terms)]
            if any(better):
                best = [min(b, w) if math.isfinite(b) else w for b, w in zip(best, terms)]
                state.best = best if isinstance(watched, list) else best[0]
                state.bad_epochs = 0
            else:
                state.bad_epochs += 1
                if state.bad_epochs >= config.patience:
                    state.stopped_early = True
                    log.info("loss plateaued for %d epochs; stopping at epoch %d", config.patience, state.epoch)
        if ckpt is not None and (state.epoch % config.checkpoint_every == 0 or state.stopped_early
                                 or state.epoch == config.epochs):
            write_checkpoint()
        if callback is not None:
            callback(state.epoch, value)
        if time.monotonic() - last_report >= PROGRESS_SECONDS:  # a heartbeat for logs (no bar when piped)
            last_report = time.monotonic()
            log.info("epoch %d of at most %d, loss %.6g", state.epoch, config.epochs, value)
    if best_validation[1] is not None:
        # the weights of the best held-out epoch, not the last one (the usual early-stopping contract)
        module.load_state_dict(best_validation[1])
    module.eval()
    return state
