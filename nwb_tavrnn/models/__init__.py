"""Latent models of dynamic graphs: TAVRNN (VGRNN + temporal attention) and its plain-VGRNN ablation.

Importing this package is light; torch and torch-geometric are imported when a model is first used
(``from nwb_tavrnn.models import TAVRNN`` or :func:`get_model`). ``import nwb_tavrnn`` never imports
this package.

Example
-------
>>> from nwb_tavrnn.models import TAVRNN            # doctest: +SKIP
>>> model = TAVRNN(epochs=200, seed=1).fit(connectivity)
>>> out = model.transform(connectivity)             # out.mean: (windows, nodes, z)
>>> provenance, embeddings, attention = model.to_nwb(connectivity)
"""

from __future__ import annotations

from typing import Any

from .registry import available_models, get_model, register_model

_LAZY = {
    "TAVRNN": "nwb_tavrnn.models.tavrnn",
    "VGRNN": "nwb_tavrnn.models.tavrnn",
    "Embeddings": "nwb_tavrnn.models.tavrnn",
    "LatentGraphModel": "nwb_tavrnn.models.base",
    "Estimator": "nwb_tavrnn.models.base",
    "NotFittedError": "nwb_tavrnn.models.base",
    "NNPoisson": "nwb_tavrnn.models.nnpoisson",
    "Seq2seq": "nwb_tavrnn.models.seq2seq",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["TAVRNN", "VGRNN", "Embeddings", "Estimator", "LatentGraphModel", "NNPoisson", "NotFittedError", "Seq2seq",
           "available_models", "get_model", "register_model"]
