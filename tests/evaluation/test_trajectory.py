"""Latent trajectory summaries against trajectories whose answer is known, and independent loops."""

from __future__ import annotations

import numpy as np
import pytest

from nwb_tavrnn.evaluation.trajectory import (
    band_power,
    chunk_means,
    dynamics_eigenvalues,
    lagged_covariances,
    trajectory_features,
)


def rotation(theta: float, bins: int = 100, radius: float = 1.0, decay: float = 1.0, phase: float = 0.3):
    """A planar trajectory turning by ``theta`` rad per bin (and shrinking by ``decay`` per bin)."""
    t = np.arange(bins)
    r = radius * decay ** t
    return np.stack([r * np.cos(theta * t + phase), r * np.sin(theta * t + phase)], axis=1)


def test_dynamics_recover_rotation_speed_and_damping_in_any_basis():
    rng = np.random.default_rng(0)
    segments = np.stack([rotation(0.2), rotation(0.5, decay=0.97)])
    angles, moduli = np.split(dynamics_eigenvalues(segments), 2, axis=1)
    np.testing.assert_allclose(angles, [[0.2, 0.2], [0.5, 0.5]], atol=1e-3)  # a conjugate pair
    np.testing.assert_allclose(moduli, [[1.0, 1.0], [0.97, 0.97]], atol=5e-3)
    # any invertible linear map of the latents (another fold's basis) gives the same eigenvalues
    mixed = segments @ rng.normal(size=(2, 2))
    # (up to the tiny ridge, which is isotropic in each basis)
    np.testing.assert_allclose(dynamics_eigenvalues(mixed), dynamics_eigenvalues(segments), atol=1e-4)


def test_lagged_covariances_equal_a_plain_loop():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(3, 40, 3)).cumsum(axis=1)
    got = lagged_covariances(z, (0, 2))
    for s in range(3):
        y = z[s] - z[s].mean(0)
        c0 = sum(np.outer(y[t], y[t]) for t in range(40)) / 40
        c2 = sum(np.outer(y[t], y[t + 2]) for t in range(38)) / 38
        expected = np.concatenate([c0[np.triu_indices(3)], c2.ravel()])
        np.testing.assert_allclose(got[s], expected, rtol=1e-12, atol=1e-12)
    # rotation is in the antisymmetric part: opposite senses of rotation differ only there
    theta = 2 * np.pi * 5 / 100  # whole cycles in the segment: the two senses differ only in direction
    a, b = lagged_covariances(np.stack([rotation(theta), rotation(-theta)]), (1,)).reshape(2, 2, 2)
    np.testing.assert_allclose(a + a.T, b + b.T, atol=0.05)
    assert a[0, 1] - a[1, 0] > 0.2 and b[0, 1] - b[1, 0] < -0.2


def test_band_power_peaks_in_the_band_of_the_rhythm():
    bins = 128
    t = np.arange(bins)
    slow = np.sin(2 * np.pi * 2 * t / bins)[:, None]  # frequency index 2
    fast = np.sin(2 * np.pi * 40 * t / bins)[:, None]  # frequency index 40
    power = band_power(np.stack([slow, fast]), bands=4)
    assert power.shape == (2, 4)
    assert power[0].argmax() < power[1].argmax()
    assert power[1].argmax() == 3


def test_chunk_means_and_the_assembled_features():
    z = np.arange(2 * 10 * 2, dtype=float).reshape(2, 10, 2)
    np.testing.assert_allclose(chunk_means(z, 5)[0], z[0].reshape(5, 2, 2).mean(1).ravel())
    both = trajectory_features(z + np.random.default_rng(2).normal(size=z.shape), ("means", "dynamics"))
    assert both.shape == (2, 5 * 2 + 2 * 2) and np.isfinite(both).all()
    with pytest.raises(ValueError, match="latent_features"):
        trajectory_features(z, ("means", "velocity"))
    # a latent that does not move at all stays finite (the dynamics fit is ridge-regularised)
    assert np.isfinite(trajectory_features(np.ones((1, 10, 2)), ("dynamics", "spectrum", "covariances"))).all()
