"""Torch helpers shared by the models: device choice, seeding, determinism, RNG state, versions."""

from __future__ import annotations

import contextlib
import logging
import platform
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

log = logging.getLogger(__name__)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if isinstance(device, torch.device):
        return device
    from ..errors import ParameterError

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ParameterError(f"device {device!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ParameterError(f"device {device!r} was asked for but CUDA is not available on this machine; "
                             "use cpu or auto", "device")
    if dev.type not in ("cpu", "cuda"):
        raise ParameterError(f"device {device!r}: only cpu and cuda are supported; use auto, cpu, cuda or cuda:N")
    return dev


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's legacy global generator and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


#: Graphs up to this many nodes train on one CPU thread: their operations are too small to gain from
#: more, and a second thread made epochs ~35 % slower (144 windows x 25 nodes, 2 cores).
SINGLE_THREAD_MAX_NODES = 256


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Torch's CPU thread count set to ``threads`` inside the block (None: unchanged), restored after."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def cpu_threads_for(n_nodes: int, device: torch.device | str = "cpu") -> contextlib.AbstractContextManager:
    """One torch thread for small graphs on CPU (see :func:`torch_threads`): faster, and the result
    no longer depends on how many cores the machine has."""
    small = torch.device(device).type == "cpu" and n_nodes <= SINGLE_THREAD_MAX_NODES
    return torch_threads(1 if small else None)


@contextlib.contextmanager
def deterministic() -> Iterator[None]:
    """Deterministic kernels and denormals flushed to zero inside the block; restored after.

    ``warn_only`` because a few CUDA kernels have no deterministic variant; on CPU every operation
    the models use is deterministic for a fixed thread count.
    """
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    # Denormal floats (from exp/softplus of large negative logits early in training) made single
    # epochs 10-20x slower on CPU; flushing them to zero changes nothing measurable in the loss.
    # set_flush_denormal returns whether the CPU supports it; there is no getter, so assume it was off.
    flushed = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
        if flushed:
            torch.set_flush_denormal(False)


def rng_state(generator: torch.Generator) -> dict[str, Any]:
    """Every random state a resumed run needs, in a form ``torch.load(weights_only=True)`` accepts."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    state = {
        "generator": generator.get_state(),
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]), int(np_state[3]),
                  float(np_state[4])],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(generator: torch.Generator, state: dict[str, Any]) -> None:
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_tensors(path, what: str = "model file") -> Any:
    """``torch.load`` of a file of tensors and plain values only (``weights_only=True``): a pickle
    that would build any other object (and so could run code) is refused, never executed.

    Raises
    ------
    InputFileError
        The file is missing, not a torch file, or holds anything but tensors and plain values;
        one line, not torch's explanation of the ``weights_only`` default.
    """
    import os
    import pickle

    from ..errors import InputFileError

    try:
        return torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such {what}") from None
    except pickle.UnpicklingError as err:
        blocked = next((line.strip() for line in str(err).splitlines() if "GLOBAL" in line), "")
        raise InputFileError(f"{path}: refused to load this {what}: it holds objects other than tensors and plain "
                             f"values, which could run code ({blocked or 'not a file nwb_tavrnn wrote'})") from None
    except (RuntimeError, EOFError, ValueError, OSError) as err:  # not a torch zip, truncated...
        text = str(err).strip().splitlines()
        raise InputFileError(f"{path}: not a readable {what} ({type(err).__name__}: "
                             f"{text[0][:200] if text else ''})") from None


def versions() -> dict[str, str]:
    """Versions of what shaped the numbers (recorded in saved models and NWB provenance)."""
    from .. import __version__

    out = {"nwb_tavrnn": str(__version__), "torch": str(torch.__version__), "numpy": str(np.__version__),
           "python": platform.python_version()}
    try:
        import torch_geometric

        out["torch_geometric"] = str(torch_geometric.__version__)
    except ImportError:  # only the GCN normalisation convention comes from it; not needed at run time
        pass
    return out
