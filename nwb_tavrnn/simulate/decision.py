"""A perceptual decision task with known intensities: stimulus → regional spiking → choice and RT.

The yardstick for models of stimulus, regional spiking and behaviour (NNPoisson). Each trial shows
a signed stimulus strength ``c`` (e.g. motion coherence; positive favours "right"). Three regions
respond, every neuron of a region with the same deterministic rate (Hz), ``t`` seconds after onset:

* ``sensory``: ``base + gain_sensory · |c| · (1 − exp(−t / tau))``, the evidence strength;
* ``left`` and ``right`` integrators: ``base + gain_integrator · (1 ∓ c) · (1 − exp(−t / tau))``,
  which ramp faster for the side the stimulus favours.

So the per-neuron intensity λ_k(t | c) of every region is known exactly (:meth:`DecisionSession.
intensity`). Behaviour is read out from the spikes: the decision is a race between the pooled
spike counts of the two integrators since onset; the first to reach ``threshold`` spikes wins
(the choice), and the time of that spike is the reaction time. When neither reaches it within the
response window ``W``, the trial has no response (censored at ``W``). Because the race runs on
counts of independent inhomogeneous Poisson processes with known intensities, the exact choice
probability and RT density follow from the intensities alone (:meth:`DecisionSession.
choice_probability`): the "true generating model" a fitted model is measured against.

Spikes are inhomogeneous Poisson (exact, by thinning), and neurons fire at ``base`` between
trials. Written to NWB: Units (an electrode group per region, whose ``location`` is the region), a
``trials`` table (``stimulus``, ``choice``: left / right / none, ``rt`` in s from onset, NaN when
none, ``response_time`` in session time) and the configuration in the session notes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import require
from ..io.spike_trains import SpikeTrains

REGIONS = ("sensory", "left", "right")


@dataclass
class DecisionConfig:
    """Parameters of the decision task (see the module docstring).

    Parameters
    ----------
    n_trials
        Trials, with stimuli drawn uniformly from ``stimuli``.
    stimuli
        Signed stimulus strengths in [-1, 1] (positive favours "right").
    neurons
        Neurons per region (sensory, left, right).
    window
        Response window W after onset (s): spikes of the trial are modelled in [0, W).
    inter_trial
        Time between one trial's window end and the next onset (s).
    base, gain_sensory, gain_integrator, tau
        Rates (Hz) and the time constant (s) of the responses.
    threshold
        Pooled integrator spikes since onset that make a decision.
    """

    n_trials: int = 400
    stimuli: tuple[float, ...] = (-0.5, -0.25, -0.1, 0.1, 0.25, 0.5)
    neurons: tuple[int, int, int] = (8, 8, 8)
    window: float = 1.0
    inter_trial: float = 1.0
    base: float = 4.0
    gain_sensory: float = 40.0
    gain_integrator: float = 25.0
    tau: float = 0.15
    threshold: int = 30

    def validate(self) -> DecisionConfig:
        require(self.n_trials >= 1, f"n_trials must be >= 1, got {self.n_trials}")
        require(len(self.stimuli) >= 1 and all(-1 <= s <= 1 for s in self.stimuli),
                f"stimuli must be signed strengths in [-1, 1], got {self.stimuli}")
        require(len(self.neurons) == 3 and min(self.neurons) >= 1, f"neurons must be 3 counts >= 1, got {self.neurons}")
        require(self.window > 0 and self.inter_trial >= 0 and self.tau > 0,
                "window and tau must be positive, inter_trial >= 0")
        require(self.base > 0 and self.gain_sensory >= 0 and self.gain_integrator >= 0,
                "base must be positive, gains >= 0")
        require(self.threshold >= 1, f"threshold must be >= 1 spike, got {self.threshold}")
        return self


def _rise(t: np.ndarray, tau: float) -> np.ndarray:
    return 1.0 - np.exp(-np.clip(t, 0.0, None) / tau)


def _cumulative_rise(t: np.ndarray, tau: float) -> np.ndarray:
    """∫_0^t (1 − exp(−u/τ)) du."""
    t = np.clip(t, 0.0, None)
    return t - tau * (1.0 - np.exp(-t / tau))


@dataclass
class DecisionSession:
    """A simulated decision session and its ground truth.

    Shapes
    ------
    onsets, stimulus, rt : (trials,) float64 (``rt`` NaN without a response)
    choice : (trials,) str, "left" / "right" / "none"
    unit_region : (units,) str
    """

    spikes: SpikeTrains
    unit_region: np.ndarray
    onsets: np.ndarray
    stimulus: np.ndarray
    choice: np.ndarray
    rt: np.ndarray
    config: DecisionConfig
    seed: int

    # -- the truth ------------------------------------------------------------------------------
    def intensity(self, region: str, t: np.ndarray, c: float) -> np.ndarray:
        """λ_k(t | c): each neuron's rate (Hz) in ``region`` at ``t`` s after onset (0 ≤ t < W)."""
        return _intensity(self.config, region, np.asarray(t, dtype=np.float64), c)

    def cumulative(self, region: str, t: np.ndarray, c: float) -> np.ndarray:
        """Λ_k(t | c) = ∫_0^t λ_k(u | c) du, per neuron."""
        return _cumulative(self.config, region, np.asarray(t, dtype=np.float64), c)

    def choice_probability(self, c: float, grid: int = 4000) -> dict[str, float]:
        """Exact P(right), P(left), P(none) for stimulus ``c``: the race of two independent
        inhomogeneous Poisson counts to ``threshold`` (numerical integration of the densities of
        the θ-th arrival, f(t) = λ(t) Λ(t)^{θ−1} e^{−Λ(t)} / (θ − 1)!, against the other side's
        survival P(N(t) < θ))."""
        cfg = self.config
        t = np.linspace(0.0, cfg.window, grid + 1)
        out = {}
        dens, surv = {}, {}
        for side, k in (("left", 1), ("right", 2)):
            lam = cfg.neurons[k] * self.intensity(side, t, c)
            big = cfg.neurons[k] * self.cumulative(side, t, c)
            dens[side] = lam * _poisson_pmf(cfg.threshold - 1, big)
            surv[side] = _poisson_cdf(cfg.threshold - 1, big)
        out["right"] = float(np.trapezoid(dens["right"] * surv["left"], t))
        out["left"] = float(np.trapezoid(dens["left"] * surv["right"], t))
        out["none"] = float(surv["left"][-1] * surv["right"][-1])
        return out


def _intensity(cfg: DecisionConfig, region: str, t: np.ndarray, c: float) -> np.ndarray:
    if region == "sensory":
        return cfg.base + cfg.gain_sensory * abs(c) * _rise(t, cfg.tau)
    sign = {"left": -1.0, "right": 1.0}[region]
    return cfg.base + cfg.gain_integrator * (1.0 + sign * c) * _rise(t, cfg.tau)


def _cumulative(cfg: DecisionConfig, region: str, t: np.ndarray, c: float) -> np.ndarray:
    t = np.clip(t, 0.0, None)
    if region == "sensory":
        return cfg.base * t + cfg.gain_sensory * abs(c) * _cumulative_rise(t, cfg.tau)
    sign = {"left": -1.0, "right": 1.0}[region]
    return cfg.base * t + cfg.gain_integrator * (1.0 + sign * c) * _cumulative_rise(t, cfg.tau)


def _poisson_pmf(k: int, mu: np.ndarray) -> np.ndarray:
    return np.exp(k * np.log(np.maximum(mu, 1e-300)) - mu - math.lgamma(k + 1))


def _poisson_cdf(k: int, mu: np.ndarray) -> np.ndarray:
    return sum(_poisson_pmf(j, mu) for j in range(k + 1))


def _poisson_times(rng: np.random.Generator, rate_fn, peak: float, start: float, stop: float) -> np.ndarray:
    """Inhomogeneous Poisson spike times in [start, stop) by thinning a rate-``peak`` process."""
    n = rng.poisson(peak * (stop - start))
    t = np.sort(rng.uniform(start, stop, n))
    return t[rng.uniform(0.0, peak, n) < rate_fn(t - start)]


def simulate_decision(config: DecisionConfig | None = None, seed: int = 0) -> DecisionSession:
    """Simulate a session (see the module docstring)."""
    cfg = (config or DecisionConfig()).validate()
    require(int(seed) >= 0, f"seed must be >= 0, got {seed}")
    rng = np.random.default_rng(seed)
    n_units = int(sum(cfg.neurons))
    unit_region = np.repeat(np.array(REGIONS), cfg.neurons)
    period = cfg.window + cfg.inter_trial
    onsets = cfg.inter_trial + period * np.arange(cfg.n_trials)
    stimulus = rng.choice(np.asarray(cfg.stimuli, dtype=np.float64), cfg.n_trials)
    times: list[list[np.ndarray]] = [[] for _ in range(n_units)]
    choice = np.full(cfg.n_trials, "none", dtype=object)
    rt = np.full(cfg.n_trials, np.nan)
    # the rates rise monotonically: their largest value is at the end of the window
    peak = {r: max(float(_intensity(cfg, r, np.array([cfg.window]), c)[0]) for c in cfg.stimuli) for r in REGIONS}
    previous_end = 0.0
    for j, (onset, c) in enumerate(zip(onsets, stimulus)):
        pooled: dict[str, list[np.ndarray]] = {"left": [], "right": []}
        for u in range(n_units):
            region = unit_region[u]
            times[u].append(_poisson_times(rng, lambda t: np.full(t.shape, cfg.base), cfg.base, previous_end, onset))
            spikes = _poisson_times(rng, lambda t, r=region, c=c: _intensity(cfg, r, t, c), peak[region], onset,
                                    onset + cfg.window)
            times[u].append(spikes)
            if region in pooled:
                pooled[region].append(spikes - onset)
        crossing = {}
        for side in ("left", "right"):
            merged = np.sort(np.concatenate(pooled[side]))
            crossing[side] = merged[cfg.threshold - 1] if len(merged) >= cfg.threshold else np.inf
        first = min(crossing, key=crossing.get)
        if np.isfinite(crossing[first]):
            choice[j], rt[j] = first, crossing[first]
        previous_end = onset + cfg.window
    end = previous_end + cfg.inter_trial
    for u in range(n_units):
        times[u].append(_poisson_times(rng, lambda t: np.full(t.shape, cfg.base), cfg.base, previous_end, end))
    spikes = SpikeTrains([np.concatenate(t) for t in times], np.arange(n_units), [str(r) for r in unit_region],
                         [str(r) for r in unit_region], 0.0, float(end))
    return DecisionSession(spikes, unit_region, onsets, stimulus, choice.astype(str), rt, cfg, int(seed))


def decision_nwbfile(session: DecisionSession):
    """The session as an in-memory NWBFile: Units (an electrode group per region, location = region)
    and the ``trials`` table."""
    from pynwb.file import Subject

    from ._nwb import add_regional_units, simulated_nwbfile

    cfg = session.config
    nwbfile = simulated_nwbfile(
        "decision", f"Simulated decision task: {cfg.n_trials} trials of signed stimulus strength "
        f"{sorted(set(cfg.stimuli))}; sensory, left and right integrator regions with known intensities; choice "
        f"and RT from a race of the integrators to {cfg.threshold} spikes within {cfg.window:g} s.", session.seed, cfg)
    nwbfile.subject = Subject(subject_id=f"simulated-decision-{session.seed}", species="Macaca mulatta", sex="U",
                              age="P5Y", description="A simulated population (no animal).")
    add_regional_units(nwbfile, session.spikes, session.unit_region, REGIONS, noun="neuron")
    nwbfile.add_trial_column("stimulus", "Signed stimulus strength (positive favours right).")
    nwbfile.add_trial_column("choice", "Response: left, right, or none within the window.")
    nwbfile.add_trial_column("rt", "Reaction time from stimulus onset (s); NaN without a response.")
    nwbfile.add_trial_column("response_time", "Session time of the response (s); NaN without one.")
    for onset, c, ch, r in zip(session.onsets, session.stimulus, session.choice, session.rt):
        nwbfile.add_trial(start_time=float(onset), stop_time=float(onset + cfg.window), stimulus=float(c),
                          choice=str(ch), rt=float(r), response_time=float(onset + r))
    return nwbfile


def write_decision_session(path: str | Path, config: DecisionConfig | None = None, seed: int = 0,
                           overwrite: bool = False) -> Path:
    """Simulate a decision session and write it atomically as NWB; return the path."""
    from ..io.files import check_writable, write_nwbfile

    check_writable(path, overwrite=overwrite)
    return write_nwbfile(decision_nwbfile(simulate_decision(config, seed)), path, overwrite=overwrite)


__all__ = ["REGIONS", "DecisionConfig", "DecisionSession", "decision_nwbfile", "simulate_decision",
           "write_decision_session"]
