"""Per-segment summaries of a latent trajectory that see its dynamics, not only where it is.

A decoder that reads only the mean latent of a few stretches of a segment sees *where* the
trajectory is; a behavioural state that lives in *how* it moves (rotation speed, damping, rhythm)
is invisible to it. Each summary here is computed from one segment's own trajectory, with nothing
fitted across segments (the decoding standardises them inside each fold):

``means``
    The mean of each latent in ``chunks`` consecutive stretches of the segment (position).
``covariances``
    Lagged auto- and cross-covariances ``C(τ) = mean_t (z_t − z̄)(z_{t+τ} − z̄)ᵀ`` for τ in
    ``lags`` (0 included): the symmetric part is variance and coupling, the antisymmetric part
    ``C(τ) − C(τ)ᵀ`` measures rotation.
``dynamics``
    A least-squares linear dynamics fit ``z_{t+1} ≈ A z_t + c`` per segment; the moduli
    and the absolute angles of A's eigenvalues (rad per bin), sorted by angle then modulus. The
    eigenvalues do not change under an invertible linear map of the latents, so this is the same
    whichever basis a fold's model found.
``spectrum``
    Log power of each latent in ``bands`` log-spaced frequency bands of the segment's periodogram
    (rhythm).

Shapes
------
latents : (segments, bins, k) -> (segments, features)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

KINDS = ("means", "covariances", "dynamics", "spectrum")
#: The default summary: it decodes both the phase-labelled and the speed-labelled two-region
#: simulator (docs/seq2seq.md has the comparison).
DEFAULT_KINDS = ("means", "dynamics")


def chunk_means(values: np.ndarray, chunks: int) -> np.ndarray:
    """Per segment, the mean of ``values`` in ``chunks`` consecutive stretches of bins, flattened.

    Shapes
    ------
    values : (segments, bins, k) -> (segments, chunks · k)
    """
    parts = np.array_split(np.arange(values.shape[1]), min(chunks, values.shape[1]))
    return np.concatenate([values[:, p].mean(1) for p in parts], axis=1)


def lagged_covariances(latents: np.ndarray, lags: Sequence[int]) -> np.ndarray:
    """``C(τ)`` of every segment for every lag, flattened (k² per lag; τ = 0 keeps its upper triangle).

    Shapes
    ------
    latents : (segments, bins, k) -> (segments, features)
    """
    z = latents - latents.mean(axis=1, keepdims=True)
    s, b, k = z.shape
    out = []
    for lag in lags:
        lag = int(lag)
        if lag >= b:
            continue
        c = np.einsum("sti,stj->sij", z[:, :b - lag], z[:, lag:]) / (b - lag)
        upper = np.triu_indices(k)
        out.append(c[:, upper[0], upper[1]] if lag == 0 else c.reshape(s, k * k))
    return np.concatenate(out, axis=1) if out else np.zeros((s, 0))


def dynamics_eigenvalues(latents: np.ndarray, ridge: float = 1e-6) -> np.ndarray:
    """Moduli and absolute angles of each segment's least-squares linear dynamics matrix.

    ``A = Σ_t f_t p_tᵀ (Σ_t p_t p_tᵀ + ε I)⁻¹`` with ``p_t = z_t``, ``f_t = z_{t+1}`` each centred on
    its own mean over the segment (a fit with an intercept) and ``ε`` a ridge of ``ridge`` times the
    mean variance (a latent that barely moves stays solvable).

    Shapes
    ------
    latents : (segments, bins, k) -> (segments, 2k): k angles (rad per bin, descending), then the
    k moduli in the same order
    """
    # past and future centred on their own means: a fit with an intercept, exact for z_{t+1} = A z_t
    past = latents[:, :-1] - latents[:, :-1].mean(axis=1, keepdims=True)
    future = latents[:, 1:] - latents[:, 1:].mean(axis=1, keepdims=True)
    k = latents.shape[2]
    gram = np.einsum("sti,stj->sij", past, past)
    scale = np.trace(gram, axis1=1, axis2=2)[:, None, None] / max(k, 1)
    gram = gram + (ridge * scale + 1e-12) * np.eye(k)
    cross = np.einsum("sti,stj->sij", future, past)
    a = np.linalg.solve(gram.transpose(0, 2, 1), cross.transpose(0, 2, 1)).transpose(0, 2, 1)  # cross @ inv(gram)
    eig = np.linalg.eigvals(a)
    angle, modulus = np.abs(np.angle(eig)), np.abs(eig)
    order = np.lexsort((-modulus, -angle), axis=1)
    return np.concatenate([np.take_along_axis(angle, order, 1), np.take_along_axis(modulus, order, 1)], axis=1)


def band_power(latents: np.ndarray, bands: int = 4) -> np.ndarray:
    """Log mean periodogram power of each latent in ``bands`` log-spaced bands of the frequencies
    above zero (the segment's mean removed).

    Shapes
    ------
    latents : (segments, bins, k) -> (segments, bands · k)
    """
    z = latents - latents.mean(axis=1, keepdims=True)
    power = np.abs(np.fft.rfft(z, axis=1)[:, 1:]) ** 2  # (s, f, k) without the zero frequency
    f = power.shape[1]
    if f == 0:
        return np.zeros((len(z), 0))
    edges = np.unique(np.round(np.geomspace(1, f + 1, min(bands, f) + 1)).astype(int)) - 1
    return np.concatenate([np.log(power[:, lo:hi].mean(axis=1) + 1e-12) for lo, hi in zip(edges[:-1], edges[1:])],
                          axis=1)


def trajectory_features(latents: np.ndarray, kinds: Sequence[str] = DEFAULT_KINDS, chunks: int = 5,
                        lags: Sequence[int] = (0, 1, 2, 4, 8), bands: int = 4) -> np.ndarray:
    """The summaries ``kinds`` (see the module docstring) of every segment, side by side.

    Shapes
    ------
    latents : (segments, bins, k) -> (segments, features)

    Raises
    ------
    ValueError
        An unknown kind, or no kind.
    """
    kinds = tuple(kinds)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ValueError(f"latent_features must be one or more of {', '.join(KINDS)}, got {list(kinds)}")
    latents = np.asarray(latents, float)
    parts = {"means": lambda: chunk_means(latents, chunks), "covariances": lambda: lagged_covariances(latents, lags),
             "dynamics": lambda: dynamics_eigenvalues(latents), "spectrum": lambda: band_power(latents, bands)}
    return np.concatenate([parts[k]() for k in kinds], axis=1)


__all__ = ["DEFAULT_KINDS", "KINDS", "band_power", "chunk_means", "dynamics_eigenvalues", "lagged_covariances",
           "trajectory_features"]
