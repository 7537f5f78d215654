"""A perceptual decision task with known intensities: stimulus → regional spiking → choice and RT.

The yardstick for models of stimulus, regional spiking and behaviour (NNPoisson). Each trial shows
a signed stimulus strength ``c`` (e.g. motion coherence; positive favours "right"). Three regions
respond: ``sensory`` and two integrator regions, ``left`` and ``right``. Rates are in Hz, ``t``
seconds after onset, with ``rise(t) = 1 − exp(−t / tau)``. Two kinds of tuning
(:attr:`DecisionConfig.tuning`):

``regional`` (the default): every neuron of a region has the same deterministic rate,

* ``sensory``: ``base + gain_sensory · |c| · rise(t)``, the evidence strength;
* ``left`` and ``right`` integrators: ``base + gain_integrator · (1 ∓ c) · rise(t)``, which ramp
  faster for the side the stimulus favours; the ``left`` region's units are the left accumulator,
  the ``right`` region's the right one.

``mixed``: real regions hold units tuned in opposite directions, which a model that pools a
region's units cannot see. Unit ``i`` has a preference ``p_i`` in {−1, +1}, alternating within each
region in unit order (−1, +1, −1, ...: a region with an even count is exactly balanced), and a gain
``g_i = exp(gain_spread · z_i − gain_spread² / 2)`` (mean 1), ``z_i ~ N(0, 1)`` from an RNG stream of
its own (so the spikes' stream is the regional mode's):

* sensory unit: ``g_i · (base + gain_sensory · (1 + p_i c) / 2 · rise(t))``;
* integrator unit (either region): ``g_i · (base + gain_integrator · (1 + p_i c) · rise(t))``; it
  follows the left accumulator when ``p_i = −1`` and the right one when ``p_i = +1``, whatever its
  region. With balanced units and ``gain_spread = 0`` a region's mean rate does not depend on the
  stimulus at all: only the units' own rates carry it.

So every unit's intensity λ_i(t | c) is known exactly (:meth:`DecisionSession.unit_intensity`, and
per region, the mean over its units, :meth:`DecisionSession.intensity`). Behaviour is read out from
the spikes: the decision is a race between the pooled spike counts since onset of the units that
follow each accumulator; the first to reach ``threshold`` spikes wins (the choice), and the time of
that spike is the reaction time. When neither reaches it within the response window ``W``, the
trial has no response (censored at ``W``). Because the race runs on counts of independent
inhomogeneous Poisson processes with known intensities (each side's count is Poisson with the sum
of its followers' cumulative intensities), the exact choice probability and RT law follow from the
intensities alone (:meth:`DecisionSession.choice_probability`, :meth:`DecisionSession.true_model`):
the "true generating model" a fitted model is measured against.

Spikes are inhomogeneous Poisson (exact, by thinning), and neurons fire at their baseline (``base``,
times ``g_i`` in mixed mode) between trials. Written to NWB: Units (an electrode group per region,
whose ``location`` is the region), a ``trials`` table (``stimulus``, ``choice``: left / right /
none, ``rt`` in s from onset, NaN when none, ``response_time`` in session time) and the
configuration in the session notes (the seed and configuration give the units' preferences and
gains again).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import require
from ..io.spike_trains import SpikeTrains
from .decision_truth import DecisionTruth, _cumulative_rise, _poisson_cdf, _poisson_pmf, _rise

REGIONS = ("sensory", "left", "right")

#: How units are tuned within a region (see the module docstring).
TUNINGS = ("regional", "mixed")

#: The two accumulators of the race, in the order of the actions (sorted names).
SIDES = ("left", "right")


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
        Pooled spikes since onset of one accumulator's units that make a decision.
    tuning
        ``regional`` (every unit of a region alike) or ``mixed`` (alternating preferences and
        random gains within each region); see the module docstring.
    gain_spread
        Standard deviation of the log gains of ``mixed`` units (0: all gains 1); unused by
        ``regional``.
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
    tuning: str = "regional"
    gain_spread: float = 0.3

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
        require(self.tuning in TUNINGS, f"tuning must be one of {', '.join(TUNINGS)}, got {self.tuning!r}")
        require(np.isfinite(self.gain_spread) and self.gain_spread >= 0,
                f"gain_spread must be a finite number >= 0, got {self.gain_spread}")
        return self


def _unit_tuning(cfg: DecisionConfig, unit_region: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's preference p_i and gain g_i (see the module docstring).

    In ``regional`` mode the preference is the region's (sensory 0: unsigned, |c|; left −1; right
    +1) and every gain is 1.

    Shapes
    ------
    unit_region : (units,) str
    returns : preference, gain, each (units,) float64
    """
    n = len(unit_region)
    if cfg.tuning == "regional":
        sign = {"sensory": 0.0, "left": -1.0, "right": 1.0}
        return np.array([sign[str(r)] for r in unit_region], dtype=np.float64), np.ones(n)
    preference = np.empty(n)
    for region in REGIONS:
        units = np.flatnonzero(unit_region == region)
        preference[units] = np.where(np.arange(len(units)) % 2 == 0, -1.0, 1.0)
    # A stream of its own: the main stream (stimuli, spikes) makes the same draws in both modes.
    z = np.random.default_rng([int(seed), 1]).standard_normal(n)
    s = float(cfg.gain_spread)
    return preference, np.exp(s * z - s**2 / 2)


def _unit_accumulator(cfg: DecisionConfig, unit_region: np.ndarray, preference: np.ndarray) -> np.ndarray:
    """The accumulator each unit's spikes count towards: "left", "right", or "" (sensory units).

    Shapes
    ------
    unit_region, preference : (units,)
    returns : (units,) str
    """
    if cfg.tuning == "regional":
        side = unit_region.astype(str)
    else:  # an integrator unit follows the accumulator of its preference, whatever its region
        side = np.where(preference < 0, "left", "right")
    return np.where(unit_region == "sensory", "", side).astype(str)


def _coefficients(cfg: DecisionConfig, unit_region: np.ndarray, preference: np.ndarray, gain: np.ndarray,
                  c: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """a_i and b_i(c) of each unit's rate λ_i(t | c) = a_i + b_i(c) · rise(t), so that
    Λ_i(t | c) = a_i · t + b_i(c) · ∫_0^t rise.

    Shapes
    ------
    unit_region, preference, gain : (units,)
    c : scalar or (C,)
    returns : a (units,); b (units,) for a scalar ``c``, else (C, units)
    """
    c = np.asarray(c, dtype=np.float64)[..., None]
    sensory = unit_region == "sensory"
    if cfg.tuning == "regional":
        # The operations, in their order, of the region rate base + gain · (1 ± c) · rise(t): the
        # regional simulation thins with the same numbers, so it draws the same spikes bit for bit.
        a = np.full(len(unit_region), float(cfg.base))
        b = np.where(sensory, cfg.gain_sensory * np.abs(c), cfg.gain_integrator * (1.0 + preference * c))
        return a, b
    a = gain * cfg.base
    b = gain * np.where(sensory, cfg.gain_sensory * (1.0 + preference * c) / 2,
                        cfg.gain_integrator * (1.0 + preference * c))
    return a, b


@dataclass
class DecisionSession:
    """A simulated decision session and its ground truth.

    Shapes
    ------
    onsets, stimulus, rt : (trials,) float64 (``rt`` NaN without a response)
    choice : (trials,) str, "left" / "right" / "none"
    unit_region : (units,) str
    unit_preference, unit_gain : (units,) float64 (see :func:`simulate_decision`; None when built
        by hand: then derived from ``config`` and ``seed``)
    """

    spikes: SpikeTrains
    unit_region: np.ndarray
    onsets: np.ndarray
    stimulus: np.ndarray
    choice: np.ndarray
    rt: np.ndarray
    config: DecisionConfig
    seed: int
    unit_preference: np.ndarray | None = None
    unit_gain: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.unit_region = np.asarray(self.unit_region).astype(str)
        if self.unit_preference is None or self.unit_gain is None:
            self.unit_preference, self.unit_gain = _unit_tuning(self.config, self.unit_region, self.seed)
        self.unit_preference = np.asarray(self.unit_preference, dtype=np.float64)
        self.unit_gain = np.asarray(self.unit_gain, dtype=np.float64)

    @property
    def n_units(self) -> int:
        return len(self.unit_region)

    @property
    def unit_accumulator(self) -> np.ndarray:
        """The accumulator each unit's spikes count towards in the race: "left", "right", or ""
        (sensory units). Shape (units,)."""
        return _unit_accumulator(self.config, self.unit_region, self.unit_preference)

    # -- the truth ------------------------------------------------------------------------------
    def unit_intensity(self, unit: int, t: np.ndarray, c: float) -> np.ndarray:
        """λ_i(t | c): the rate (Hz) of unit ``unit`` (its index in the session) at ``t`` s after
        onset (0 ≤ t < W).

        Shapes
        ------
        t : any; returns : that of ``t``
        """
        a, b = self._coefficients(c)
        return a[unit] + b[unit] * _rise(np.asarray(t, dtype=np.float64), self.config.tau)

    def unit_cumulative(self, unit: int, t: np.ndarray, c: float) -> np.ndarray:
        """Λ_i(t | c) = ∫_0^t λ_i(u | c) du of unit ``unit`` (closed form).

        Shapes
        ------
        t : any; returns : that of ``t``
        """
        a, b = self._coefficients(c)
        t = np.clip(np.asarray(t, dtype=np.float64), 0.0, None)
        return a[unit] * t + b[unit] * _cumulative_rise(t, self.config.tau)

    def intensity(self, region: str, t: np.ndarray, c: float) -> np.ndarray:
        """λ_k(t | c): the per-neuron rate (Hz) of ``region`` at ``t`` s after onset (0 ≤ t < W):
        every neuron's in ``regional`` mode, the mean over the region's units in ``mixed`` mode.

        Shapes
        ------
        t : any; returns : that of ``t``
        """
        a, b = self._region_coefficients([region], c)
        return a[0] + b[0] * _rise(np.asarray(t, dtype=np.float64), self.config.tau)

    def cumulative(self, region: str, t: np.ndarray, c: float) -> np.ndarray:
        """Λ_k(t | c) = ∫_0^t λ_k(u | c) du, per neuron (the mean over the region's units).

        Shapes
        ------
        t : any; returns : that of ``t``
        """
        a, b = self._region_coefficients([region], c)
        t = np.clip(np.asarray(t, dtype=np.float64), 0.0, None)
        return a[0] * t + b[0] * _cumulative_rise(t, self.config.tau)

    def choice_probability(self, c: float, grid: int = 4000) -> dict[str, float]:
        """Exact P(right), P(left), P(none) for stimulus ``c``: the race of two independent
        inhomogeneous Poisson counts to ``threshold``, each side's of intensity Σ λ_i over the
        units following it (numerical integration of the densities of the θ-th arrival,
        f(t) = λ(t) Λ(t)^{θ−1} e^{−Λ(t)} / (θ − 1)!, against the other side's survival
        P(N(t) < θ))."""
        t = np.linspace(0.0, self.config.window, grid + 1)
        dens, surv = self._race(t, c)
        return {"right": float(np.trapezoid(dens["right"] * surv["left"], t)),
                "left": float(np.trapezoid(dens["left"] * surv["right"], t)),
                "none": float(surv["left"][-1] * surv["right"][-1])}

    def true_model(self) -> DecisionTruth:
        """The generating model, scored like a fitted one (see :class:`DecisionTruth`)."""
        return DecisionTruth(self)

    # -- helpers --------------------------------------------------------------------------------
    def _coefficients(self, c: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Shapes: c scalar or (C,) -> a (units,), b (units,) or (C, units); see :func:`_coefficients`."""
        return _coefficients(self.config, self.unit_region, self.unit_preference, self.unit_gain, c)

    def _region_coefficients(self, regions: Sequence[str], c: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """a_k, b_k(c) of each region's per-neuron rate (the mean of its units').

        Shapes
        ------
        c : scalar or (C,)
        returns : a (regions,); b (regions,) or (C, regions)
        """
        a, b = self._coefficients(c)
        cols = []
        for region in regions:
            units = np.flatnonzero(self.unit_region == region)
            require(len(units) > 0, f"no units in region {region!r}; the session's regions are {list(REGIONS)}")
            if self.config.tuning == "regional":
                units = units[:1]  # all alike: the region's own rate, without a mean's rounding
            cols.append(units)
        return (np.array([a[u].mean() for u in cols]),
                np.stack([b[..., u].mean(axis=-1) for u in cols], axis=-1))

    def _race_coefficients(self, c: float | np.ndarray) -> dict[str, tuple[float, np.ndarray]]:
        """Each side's pooled rate Σ_{followers} λ_i = A + B(c) · rise(t): side -> (A, B)."""
        a, b = self._coefficients(c)
        follows = self.unit_accumulator
        return {side: (float(a[follows == side].sum()), b[..., follows == side].sum(axis=-1)) for side in SIDES}

    def _race(self, t: np.ndarray, c: float) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Each side's density of its ``threshold``-th pooled spike and survival P(N(t) < θ).

        Shapes
        ------
        t : (m,) s after onset; returns : dicts side -> (m,)
        """
        cfg = self.config
        t = np.clip(np.asarray(t, dtype=np.float64), 0.0, None)
        dens, surv = {}, {}
        for side, (a, b) in self._race_coefficients(c).items():
            lam = a + b * _rise(t, cfg.tau)
            big = a * t + b * _cumulative_rise(t, cfg.tau)
            dens[side] = lam * _poisson_pmf(cfg.threshold - 1, big)
            surv[side] = _poisson_cdf(cfg.threshold - 1, big)
        return dens, surv


def _poisson_times(rng: np.random.Generator, rate_fn, peak: float, start: float, stop: float) -> np.ndarray:
    """Inhomogeneous Poisson spike times in [start, stop) by thinning a rate-``peak`` process."""
    n = rng.poisson(peak * (stop - start))
    t = np.sort(rng.uniform(start, stop, n))
    return t[rng.uniform(0.0, peak, n) < rate_fn(t - start)]


def simulate_decision(config: DecisionConfig | None = None, seed: int = 0) -> DecisionSession:
    """Simulate a session (see the module docstring).

    With ``tuning="regional"`` the draws, and so the session, are those of the regional simulator
    before mixed tuning existed; ``mixed`` makes the same draws from the main stream (stimuli,
    spikes) and the units' gains from a stream of their own, ``default_rng([seed, 1])``.
    """
    cfg = (config or DecisionConfig()).validate()
    require(int(seed) >= 0, f"seed must be >= 0, got {seed}")
    rng = np.random.default_rng(seed)
    n_units = int(sum(cfg.neurons))
    unit_region = np.repeat(np.array(REGIONS), cfg.neurons)
    preference, gain = _unit_tuning(cfg, unit_region, int(seed))
    follows = _unit_accumulator(cfg, unit_region, preference)
    period = cfg.window + cfg.inter_trial
    onsets = cfg.inter_trial + period * np.arange(cfg.n_trials)
    stimuli = np.asarray(cfg.stimuli, dtype=np.float64)
    stimulus = rng.choice(stimuli, cfg.n_trials)
    times: list[list[np.ndarray]] = [[] for _ in range(n_units)]
    choice = np.full(cfg.n_trials, "none", dtype=object)
    rt = np.full(cfg.n_trials, np.nan)
    a, b_all = _coefficients(cfg, unit_region, preference, gain, stimuli)  # (units,), (stimuli, units)
    b_of = {float(s): row for s, row in zip(stimuli, b_all)}
    # the rates rise monotonically: each unit's largest value is at the end of the window
    peak = (a + b_all * _rise(np.array([cfg.window]), cfg.tau)).max(axis=0)
    previous_end = 0.0
    for j, (onset, c) in enumerate(zip(onsets, stimulus)):
        b = b_of[float(c)]
        pooled: dict[str, list[np.ndarray]] = {side: [] for side in SIDES}
        for u in range(n_units):
            times[u].append(_poisson_times(rng, lambda t, r=a[u]: np.full(t.shape, r), a[u], previous_end, onset))
            spikes = _poisson_times(rng, lambda t, a_u=a[u], b_u=b[u]: a_u + b_u * _rise(t, cfg.tau), peak[u],
                                    onset, onset + cfg.window)
            times[u].append(spikes)
            if follows[u]:
                pooled[follows[u]].append(spikes - onset)
        crossing = {}
        for side in SIDES:
            merged = np.sort(np.concatenate(pooled[side])) if pooled[side] else np.zeros(0)
            crossing[side] = merged[cfg.threshold - 1] if len(merged) >= cfg.threshold else np.inf
        first = min(crossing, key=crossing.get)
        if np.isfinite(crossing[first]):
            choice[j], rt[j] = first, crossing[first]
        previous_end = onset + cfg.window
    end = previous_end + cfg.inter_trial
    for u in range(n_units):
        times[u].append(_poisson_times(rng, lambda t, r=a[u]: np.full(t.shape, r), a[u], previous_end, end))
    spikes = SpikeTrains([np.concatenate(t) for t in times], np.arange(n_units), [str(r) for r in unit_region],
                         [str(r) for r in unit_region], 0.0, float(end))
    return DecisionSession(spikes, unit_region, onsets, stimulus, choice.astype(str), rt, cfg, int(seed),
                           unit_preference=preference, unit_gain=gain)


def decision_nwbfile(session: DecisionSession):
    """The session as an in-memory NWBFile: Units (an electrode group per region, location = region)
    and the ``trials`` table."""
    from pynwb.file import Subject

    from ._nwb import add_regional_units, simulated_nwbfile

    cfg = session.config
    # the regional description is the one files had before mixed tuning existed
    tuning = "" if cfg.tuning == "regional" else (
        f" Mixed tuning: units of each region alternate in preferring left and right, with log-normal gains "
        f"(spread {cfg.gain_spread:g}); integrator units race for the side they prefer.")
    nwbfile = simulated_nwbfile(
        "decision", f"Simulated decision task: {cfg.n_trials} trials of signed stimulus strength "
        f"{sorted(set(cfg.stimuli))}; sensory, left and right integrator regions with known intensities; choice "
        f"and RT from a race of the integrators to {cfg.threshold} spikes within {cfg.window:g} s.{tuning}",
        session.seed, cfg)
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


__all__ = ["REGIONS", "SIDES", "TUNINGS", "DecisionConfig", "DecisionSession", "DecisionTruth", "decision_nwbfile",
           "simulate_decision", "write_decision_session"]
