"""An independent re-implementation of the NNPoisson reference's computation, written from its
equations (Keras model ``expr/model.py`` and loss ``expr/losses.py``, as read in the research notes)
in plain float64 numpy, one trial and one spike at a time, with intensities by central finite
differences instead of derivatives. The golden tests hold the package's vectorised torch code to it.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-5
STEP = 1e-5  # finite-difference step (s); float64 keeps its error far below the tests' tolerance


def _softplus(x):
    return np.logaddexp(0.0, x)


def weights_from(module) -> dict[str, np.ndarray]:
    """The torch module's parameters as float64 numpy arrays, with the non-negative ones clipped
    as Keras' ``NonNeg`` would leave them."""
    sd = {k: v.detach().cpu().double().numpy() for k, v in module.state_dict().items()}
    for name in ("time_weight", "hidden.weight", "out.weight", "beh1_weight", "beh2_weight"):
        sd[name] = np.maximum(sd[name], 0.0)
    return sd


def network(w: dict[str, np.ndarray], s: np.ndarray, u: float) -> tuple[np.ndarray, np.ndarray]:
    """The network at stimulus ``s`` and (scaled) time ``u``: (Λ̃ per region, Λ̃_a per action)."""
    x = _softplus(w["stim1.weight"] @ s + w["stim1.bias"])
    x = _softplus(w["stim2.weight"] @ x + w["stim2.bias"])
    a = w["stim3.weight"] @ x + w["stim3.bias"]
    h1 = np.tanh(a + w["time_weight"][:, 0] * u)
    h = np.tanh(w["hidden.weight"] @ h1 + w["hidden.bias"])
    if "rt.weight" in w:
        h = np.tanh(h + w["rt.weight"][:, 0] * s[-1] + w["rt.bias"])
    big = _softplus(w["out.weight"] @ h + w["out.bias"]) * w.get("region_scale", 1.0)
    heads = []
    latent = _softplus(w["out.weight"] @ h + w["out.bias"])
    for i in range(w["beh1_weight"].shape[0]):
        q = np.tanh(w["beh1_weight"][i] @ latent + w["beh1_bias"][i])
        heads.append(_softplus(w["beh2_weight"][i] @ q + w["beh2_bias"][i])[0])
    return big, np.array(heads)


def reference_outputs(w, s, t, c):
    """The reference's outputs at time ``t`` of a trial with warp ``c = W / T_end``:
    ``Λ(t) = Λ̃(c t) / c`` for regions and actions."""
    big, heads = network(w, s, c * t)
    return big / c, heads / c


def reference_rates(w, s, t, c):
    """λ = dΛ/dt of the reference outputs by central differences."""
    hi = reference_outputs(w, s, t + STEP, c)
    lo = reference_outputs(w, s, t - STEP, c)
    return (hi[0] - lo[0]) / (2 * STEP), (hi[1] - lo[1]) / (2 * STEP)


def reference_loss(w, stimulus, spikes, neurons, choice, rt, window, batch=None):
    """The reference's losses: per region ``L_k`` on the batch, and ``Σ_a L_a`` on all trials.

    Parameters
    ----------
    spikes
        ``spikes[j][k]``: spike times of region k (all its units pooled) in trial j.
    """
    n_trials = len(choice)
    batch = range(n_trials) if batch is None else batch
    n_regions = len(neurons)
    t_end = [rt[j] if choice[j] >= 0 and rt[j] < window else window for j in range(n_trials)]
    neural = np.zeros(n_regions)
    for k in range(n_regions):
        log_sum, comp = 0.0, 0.0
        for j in batch:
            c = window / t_end[j]
            for t in spikes[j][k]:
                if t < t_end[j]:
                    log_sum += np.log(EPS + reference_rates(w, stimulus[j], t, c)[0][k])
            comp += neurons[k] * reference_outputs(w, stimulus[j], t_end[j], c)[0][k]
        neural[k] = -(log_sum - comp) / (200.0 * n_regions)
    log_sum, comp = 0.0, 0.0
    for j in range(n_trials):
        c = window / t_end[j]
        if choice[j] >= 0 and rt[j] < window:
            log_sum += np.log(EPS + reference_rates(w, stimulus[j], rt[j], c)[1][choice[j]])
        comp += reference_outputs(w, stimulus[j], window, c)[1].sum()
    return neural, -(log_sum - comp) / 200.0


def corrected_nll(w, stimulus, spikes, neurons, choice, rt, window):
    """The corrected negative log-likelihood summed over trials, from its definition: per neuron an
    inhomogeneous Poisson process on [0, W) with Λ(t) = Λ̃(t / W) · scale, and a competing-risks
    response (density λ_a(τ) S(τ), survival S(W) without one), ``S(t) = exp(−Σ_a (Λ_a(t) − Λ_a(0)))``.

    Returns (neural per region, behaviour).
    """
    n_regions = len(neurons)
    neural = np.zeros(n_regions)
    behaviour = 0.0
    for j in range(len(choice)):
        def big(t, j=j):
            return reference_outputs(w, stimulus[j], t, 1.0 / window)

        def rate(t, j=j):
            return reference_rates(w, stimulus[j], t, 1.0 / window)

        # with c = 1 / W the reference outputs are W Λ̃(t / W): undo the division by c
        start, end = big(0.0), big(window)
        for k in range(n_regions):
            neural[k] -= sum(np.log(rate(t)[0][k] / window) for t in spikes[j][k])
            neural[k] += neurons[k] * (end[0][k] - start[0][k]) / window
        tau = rt[j] if choice[j] >= 0 and rt[j] < window else window
        behaviour += (big(tau)[1].sum() - start[1].sum()) / window
        if choice[j] >= 0 and rt[j] < window:
            behaviour -= np.log(rate(tau)[1][choice[j]] / window)
    return neural, behaviour
