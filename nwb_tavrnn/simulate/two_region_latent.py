"""The planted latent of the two-region session (see :mod:`.two_region` for the equations).

Within trials, ``latent_dim / 2`` Stuart–Landau oscillators integrated on the ``dt`` grid with the
exact flow of the rotation and the radial growth plus the noise; between trials, deterministic
log-polar bridges from where one trial ended to the next one's random start; and, for the
``speed`` label rule, the blocks of trials that rotate faster. :func:`.two_region.simulate_two_region`
draws the latent here, from its own stream.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .two_region import TwoRegionConfig


def _integrate_trials(rng: np.random.Generator, cfg: TwoRegionConfig, z0: np.ndarray,
                      omega: np.ndarray) -> np.ndarray:
    """The within-trial Stuart–Landau paths from the start states ``z0``, all trials at once, each
    trial rotating at its own angular frequencies ``omega``.

    Shapes
    ------
    z0, omega : (trials, oscillators) -> (trials, trial_steps + 1, oscillators) complex
    """
    n_steps = cfg.trial_steps
    # one draw of the whole noise up front: the loop then is pure arithmetic over trials
    kicks = cfg.noise * math.sqrt(cfg.dt) * (rng.standard_normal((n_steps, *z0.shape))
                                             + 1j * rng.standard_normal((n_steps, *z0.shape)))
    path = np.empty((z0.shape[0], n_steps + 1, z0.shape[1]), dtype=np.complex128)
    z = z0.copy()
    path[:, 0] = z
    for k in range(n_steps):
        # exact flow of the rotation and of the radial growth frozen at the step's start (stable for
        # any dt that resolves the oscillation), then the Euler–Maruyama noise increment
        z = z * np.exp(((cfg.mu - np.abs(z) ** 2) + 1j * omega) * cfg.dt) + kicks[k]
        path[:, k + 1] = z
    return path


def _bridge(cfg: TwoRegionConfig, start: np.ndarray, stop: np.ndarray, omega: np.ndarray) -> np.ndarray:
    """Deterministic log-polar paths from ``start`` to ``stop`` over ``inter_trial`` s.

    The phase advances by the amount congruent to ``arg(stop) − arg(start)`` closest to
    ``ω · inter_trial`` (``omega``: the angular frequencies of the trial the bridge leads to), so
    the bridge keeps rotating at about the oscillation's own speed.

    Shapes
    ------
    start, stop, omega : (bridges, oscillators) -> (bridges, inter_trial_steps + 1, oscillators)
    """
    s = (np.arange(cfg.inter_trial_steps + 1) / cfg.inter_trial_steps)[None, :, None]
    natural = omega * cfg.inter_trial
    delta = np.angle(stop) - np.angle(start)
    delta = delta + 2 * np.pi * np.round((natural - delta) / (2 * np.pi))
    # radii stay away from 0 (the SDE can wander there in principle): log-polar needs r > 0
    log_r0 = np.log(np.maximum(np.abs(start), 1e-9))
    log_r1 = np.log(np.maximum(np.abs(stop), 1e-9))
    log_r = log_r0[:, None] + (log_r1 - log_r0)[:, None] * s
    phase = np.angle(start)[:, None] + delta[:, None] * s
    path = np.exp(log_r + 1j * phase)
    path[:, -1] = stop  # exactly, not up to rounding: the trial's first grid value is its start state
    return path


def _speed_blocks(rng: np.random.Generator, cfg: TwoRegionConfig) -> np.ndarray:
    """Which trials rotate fast: alternating blocks of geometric lengths (mean ``speed_block``),
    the first block's speed at random; all False for the phase rule.

    Shapes
    ------
    -> (trials,) bool
    """
    if cfg.label_rule != "speed":
        return np.zeros(cfg.n_trials, dtype=bool)
    fast, state = [], bool(rng.integers(2))
    while len(fast) < cfg.n_trials:
        fast += [state] * int(rng.geometric(1.0 / cfg.speed_block))
        state = not state
    return np.array(fast[:cfg.n_trials], dtype=bool)


def _simulate_latent(rng: np.random.Generator, cfg: TwoRegionConfig, fast: np.ndarray) -> np.ndarray:
    """The latent on the whole session's grid: bridge, trial, bridge, trial, ..., bridge.

    Shapes
    ------
    fast : (trials,) bool
    -> (samples, latent_dim) float64, samples = inter_trial_steps + n_trials · (trial + inter_trial steps) + 1
    """
    n, n_osc = cfg.n_trials, cfg.latent_dim // 2
    lo, hi = cfg.initial_radius

    def random_states(count: int) -> np.ndarray:
        return rng.uniform(lo, hi, (count, n_osc)) * np.exp(1j * rng.uniform(0, 2 * np.pi, (count, n_osc)))

    # trial starts 0..n-1, plus the state the final bridge heads to (a trial that never comes)
    starts = random_states(n + 1)
    before = random_states(1)
    omega = cfg.angular_frequencies[None, :] * np.where(fast, cfg.speed_ratio, 1.0)[:, None]  # (trials, osc)
    trials = _integrate_trials(rng, cfg, starts[:n], omega)
    # each bridge rotates at the speed of the trial it leads to (the last one at the last trial's)
    bridges = _bridge(cfg, np.concatenate([before, trials[:, -1]]), starts, np.concatenate([omega, omega[-1:]]))
    m, b = cfg.trial_steps, cfg.inter_trial_steps
    z = np.empty((b + n * (m + b) + 1, n_osc), dtype=np.complex128)
    z[: b + 1] = bridges[0]
    for k in range(n):
        onset = b + k * (m + b)
        z[onset: onset + m + 1] = trials[k]
        z[onset + m: onset + m + b + 1] = bridges[k + 1]
    # interleave real and imaginary parts: coordinates (Re z_0, Im z_0, Re z_1, Im z_1, ...)
    return np.stack([z.real, z.imag], axis=2).reshape(len(z), cfg.latent_dim)
