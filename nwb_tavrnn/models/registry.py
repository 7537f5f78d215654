"""A small registry of latent graph models, so the CLI and the NWB readers can find a model by name.

Model classes register themselves with :func:`register_model`; :func:`get_model` imports the built-in
models on first use, so ``import nwb_tavrnn.models`` stays light (no torch).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T", bound=type)

_REGISTRY: dict[str, type] = {}

#: Built-in model name -> module that registers it (imported lazily by :func:`get_model`).
_BUILTIN: dict[str, str] = {
    "tavrnn": "nwb_tavrnn.models.tavrnn",
    "vgrnn": "nwb_tavrnn.models.tavrnn",
    "nnpoisson": "nwb_tavrnn.models.nnpoisson",
    "seq2seq": "nwb_tavrnn.models.seq2seq",
}


def register_model(name: str) -> Callable[[T], T]:
    """Class decorator: make an estimator available as ``get_model(name)``.

    The class must implement the :class:`~nwb_tavrnn.models.base.Estimator` interface (the
    contract ``tests/test_estimator_contract.py`` holds every registered model to).
    """
    key = name.lower()

    def decorator(cls: T) -> T:
        existing = _REGISTRY.get(key)
        if existing is not None and existing is not cls and existing.__qualname__ != cls.__qualname__:
            raise ValueError(f"a model named {name!r} is already registered ({existing.__qualname__})")
        cls.model_name = key
        _REGISTRY[key] = cls
        return cls

    return decorator


def get_model(name: str) -> type:
    """The estimator class registered under ``name`` (case-insensitive).

    Raises
    ------
    KeyError
        If no model of that name exists; the message lists the available ones.
    """
    key = name.lower()
    if key not in _REGISTRY and key in _BUILTIN:
        importlib.import_module(_BUILTIN[key])
    if key not in _REGISTRY:
        raise KeyError(f"no model named {name!r}; available: {', '.join(available_models())}")
    return _REGISTRY[key]


def available_models() -> list[str]:
    """Names of every registered or built-in model."""
    return sorted(set(_REGISTRY) | set(_BUILTIN))
