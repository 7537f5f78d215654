"""The spikes of the two-region session: exact thinning of the true rates (see :mod:`.two_region`).

Per unit and block of grid steps the envelope is the rate's largest grid value raised by a bound
on what the rate can do between grid points; every candidate's true rate is checked against it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .two_region import TwoRegionSession

# the simulator's logger: the thinning's messages keep the name they had inside .two_region
log = logging.getLogger(__package__ + ".two_region")

#: Grid steps per thinning block (with dt = 2 ms: 50 ms).
_BLOCK_STEPS = 25
#: Blocks whose grid log rates are held in memory at once.
_CHUNK_BLOCKS = 2000


def _thin(rng: np.random.Generator, session: TwoRegionSession) -> list[np.ndarray]:
    """Exact inhomogeneous Poisson spike times of every unit (sources first) over the grid's span.

    Per unit and block of ``_BLOCK_STEPS`` grid steps the envelope is the rate's maximum on the
    block's grid points (both ends included) raised by a Lipschitz bound on the change between
    grid points. Between two grid times the interpolated latent (also ``lag`` s earlier) stays
    within ``Δ`` (the longest grid step of the latent) of one of the two grid times' states. A
    source's log λ is linear in the latent, so along a grid segment it peaks at an end: no margin.
    A target's log λ exceeds the grid maximum by at most ``‖d_j‖ ‖W‖₂ Δ`` (tanh is 1-Lipschitz),
    and never exceeds ``c_j + ‖d_j‖₁`` (tanh's bound), whichever is lower.
    """
    cfg = session.config
    times, n_steps = session.latent_times, len(session.latent_times) - 1
    n_src = cfg.n_source
    n_units = n_src + cfg.n_target
    step = float(np.max(np.linalg.norm(np.diff(session.latent, axis=0), axis=1)))
    margin = np.concatenate([np.zeros(n_src),
                             np.linalg.norm(session.target_loading, axis=1) * np.linalg.norm(session.target_map, 2)
                             * step])
    cap = np.concatenate([np.full(n_src, np.inf),
                          session.target_offset + np.abs(session.target_loading).sum(axis=1)])
    n_blocks = -(-n_steps // _BLOCK_STEPS)
    block_start = np.arange(n_blocks) * _BLOCK_STEPS
    block_stop = np.minimum(block_start + _BLOCK_STEPS, n_steps)
    log_env = np.empty((n_blocks, n_units))
    for first in range(0, n_blocks, _CHUNK_BLOCKS):
        last = min(first + _CHUNK_BLOCKS, n_blocks)
        idx = np.arange(block_start[first], block_stop[last - 1] + 1)
        log_rate = session._log_rates(times[idx])
        pad = (last - first) * _BLOCK_STEPS + 1 - len(idx)  # the final block may be short: repeat its end
        log_rate = np.concatenate([log_rate, np.repeat(log_rate[-1:], pad, axis=0)])
        inner = log_rate[:-1].reshape(last - first, _BLOCK_STEPS, n_units).max(axis=1)
        log_env[first:last] = np.maximum(inner, log_rate[_BLOCK_STEPS::_BLOCK_STEPS])
    log_env = np.minimum(log_env + margin, cap)
    # a hair above the bound: exp/log rounding must never make a true rate exceed its envelope
    envelope = np.exp(log_env) * (1 + 1e-9)
    t0, span = times[block_start], times[block_stop] - times[block_start]

    counts = rng.poisson(envelope * span[:, None])
    block = np.repeat(np.repeat(np.arange(n_blocks), n_units), counts.ravel())
    unit = np.repeat(np.tile(np.arange(n_units), n_blocks), counts.ravel())
    t = t0[block] + rng.uniform(0.0, 1.0, block.size) * span[block]
    ceiling = envelope[block, unit]
    rate = np.empty(t.size)
    src = unit < n_src
    x = session.latent_at(t[src])
    rate[src] = np.exp(session.source_offset[unit[src]] + np.einsum("nd,nd->n", x, session.source_loading[unit[src]]))
    tgt = ~src
    g = session.target_features(session.latent_at(t[tgt] - cfg.lag))
    rate[tgt] = np.exp(session.target_offset[unit[tgt] - n_src]
                       + np.einsum("nf,nf->n", g, session.target_loading[unit[tgt] - n_src]))
    if np.any(rate > ceiling):  # would make the spikes inexact: a bug, never a property of the input
        raise RuntimeError("two-region simulation: a true rate exceeded its thinning envelope")
    keep = rng.uniform(0.0, 1.0, t.size) * ceiling < rate
    t, unit = t[keep], unit[keep]
    order = np.lexsort((t, unit))
    t, unit = t[order], unit[order]
    log.debug("thinning kept %d of %d candidate spikes", t.size, keep.size)
    return np.split(t, np.cumsum(np.bincount(unit, minlength=n_units))[:-1])
