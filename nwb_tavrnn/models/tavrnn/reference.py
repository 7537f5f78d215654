"""The reference notebook's checkpoints: its ``T_AVRNN.state_dict()`` turned into a fitted
``faithful`` :class:`~.estimator.TAVRNN`, and a fitted TAVRNN's weights back to the notebook's names
and layouts (what :meth:`TAVRNN.from_reference_state_dict` and :meth:`TAVRNN.reference_state_dict`
do; ``docs/tavrnn_fidelity.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .._torch import resolve_device

if TYPE_CHECKING:
    from .estimator import TAVRNN

#: The notebook's names of the graph GRU's six GCNs, in our GraphGRU's order.
_REFERENCE_GRU = {"weight_xz": "x_z", "weight_xr": "x_r", "weight_xh": "x_h",
                  "weight_hz": "h_z", "weight_hr": "h_r", "weight_hh": "h_h"}
#: The notebook's names of the other layers: (ours, theirs, stored as GCNConv (in, out)?).
_REFERENCE_LAYERS = [
    ("phi_x", "phi_x.0", False), ("phi_z", "phi_z.0", False),
    ("encoder.hidden", "enc", True), ("encoder.mean", "enc_mean", True), ("encoder.std", "enc_std", True),
    ("prior.hidden", "prior.0", False), ("prior.mean", "prior_mean.0", False), ("prior.std", "prior_std.0", False),
    ("attention.query", "rnn.AttentionLayer.query", False), ("attention.key", "rnn.AttentionLayer.key", False),
    ("attention.value", "rnn.AttentionLayer.value", False),
] + [(f"rnn.{ours}", f"rnn.{theirs}.0", True) for theirs, ours in _REFERENCE_GRU.items()]


def estimator_from_reference(cls: type[TAVRNN], state_dict: dict[str, Any], overrides: dict[str, Any]) -> TAVRNN:
    """A fitted ``cls.preset("faithful")`` estimator holding the notebook's weights (see
    :meth:`TAVRNN.from_reference_state_dict`, which documents the names expected).

    Raises
    ------
    ValueError
        A missing or unexpected tensor, a shape that does not fit, or a second GRU layer.
    """
    given = {k: torch.as_tensor(np.asarray(v.detach().cpu() if isinstance(v, torch.Tensor) else v),
                                dtype=torch.float32) for k, v in state_dict.items()}
    if "phi_x.0.weight" not in given or "enc_mean.weight" not in given:
        raise ValueError("not a reference T_AVRNN state_dict: phi_x.0.weight and enc_mean.weight are required")
    missing_gru = [f"rnn.{g}.0.weight" for g in _REFERENCE_GRU if f"rnn.{g}.0.weight" not in given]
    if missing_gru:
        raise ValueError(f"the state_dict lacks the graph GRU's weights ({', '.join(missing_gru)}): the notebook "
                         "never registers them, so save them from model.rnn.weight_xz[0] etc. under these names")
    h_dim, x_dim = given["phi_x.0.weight"].shape
    z_dim = given["enc_mean.weight"].shape[1]
    encoder_bias = "enc.bias" in given
    params = {**cls.PRESETS["faithful"], "attention": "full", "h_dim": int(h_dim), "z_dim": int(z_dim),
              "features": "reference",
              "encoder_bias": encoder_bias, **overrides}
    est = cls(**params)
    est.check_params()
    kind = est.features if est.features in ("correlation", "identity") else "reference"
    meta = {"n_nodes": int(x_dim) - 1, "x_dim": int(x_dim), "feature_kind": kind, "decoder": "dense",
            "n_windows_fit": 0}
    module = est._build_module(meta)
    ours: dict[str, torch.Tensor] = {}
    used = set()
    for our_name, their_name, gcn_layout in _REFERENCE_LAYERS:
        for part in ("weight", "bias"):
            key = f"{their_name}.{part}"
            if f"{our_name}.{part}" not in module.state_dict():
                continue
            if key not in given:
                raise ValueError(f"the state_dict lacks {key}")
            value = given[key]
            ours[f"{our_name}.{part}"] = value.t() if (gcn_layout and part == "weight") else value
            used.add(key)
    extra = sorted(set(given) - used)
    if extra:
        deeper = any(k.startswith("rnn.weight_") and not k.split(".")[2] == "0" for k in extra)
        raise ValueError(f"unexpected tensors in the state_dict: {', '.join(extra)}"
                         + (" (only one GRU layer is supported)" if deeper else
                            " (encoder biases need encoder_bias=True)" if "enc.bias" in extra else ""))
    try:
        module.load_state_dict(ours)
    except RuntimeError as err:  # a shape that does not fit, in one line
        raise ValueError(f"the state_dict does not fit a TAVRNN of h={h_dim}, z={z_dim}, x_dim={x_dim}: "
                         f"{str(err).splitlines()[-1].strip()}") from None
    est.module_ = module.to(resolve_device(est.device)).eval()
    est.meta_ = meta
    est.loss_curve_, est.n_epochs_, est.stopped_early_ = [], 0, False
    return est


def reference_layout(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our module's weights by the notebook's names and layouts (GCN weights transposed to
    GCNConv's ``(in, out)``).

    Shapes
    ------
    state : our ``state_dict()`` on the CPU -> the notebook's ``state_dict()`` plus ``rnn.weight_*.0``
    """
    out = {}
    for our_name, their_name, gcn_layout in _REFERENCE_LAYERS:
        for part in ("weight", "bias"):
            if f"{our_name}.{part}" in state:
                value = state[f"{our_name}.{part}"]
                out[f"{their_name}.{part}"] = value.t().contiguous() if (gcn_layout and part == "weight") else value
    return out


__all__ = ["estimator_from_reference", "reference_layout"]
