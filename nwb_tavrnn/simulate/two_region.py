"""Two regions driven by one planted low-dimensional dynamical latent: source → target translation.

The yardstick for models that translate one region's spiking (the *source*, e.g. hippocampus) into
another's (the *target*, e.g. prefrontal cortex) through low-dimensional latents that also predict
behaviour (Seq2seq). Everything a model should recover is known exactly.

**Latent.** ``x(t)`` has ``latent_dim = 2K`` dimensions: K independent Stuart–Landau oscillators
(planar limit cycles). Writing each pair as a complex number ``z_m = x_{2m} + i x_{2m+1}``, within a
trial

    dz_m = ((μ − |z_m|²) z_m + i ω_m z_m) dt + σ (dW¹ + i dW²),   ω_m = 2π · frequency · φ^m,

(``φ`` the golden ratio, so several oscillators never lock), a limit cycle of radius √μ that the
state rotates around at ``frequency`` Hz. It is integrated on the ``dt`` grid with the exact flow
of the rotation and of the radial growth over one step, ``z ← z · exp(((μ − |z|²) + iω) dt) +
σ √dt (ξ¹ + i ξ²)``; the grid values *are* the truth and the latent between grid points is their
linear interpolation (:meth:`TwoRegionSession.latent_at`). Every trial starts from its own random
state: a phase uniform on [0, 2π) and a radius uniform in ``initial_radius``, so trials differ in
phase (and, while the state relaxes onto the cycle, in amplitude), and the noise makes each
trajectory unique. Between trials (and before the first) the latent is a deterministic *bridge*
that moves it, in log-polar coordinates linearly in time, from where the previous trial ended to
the next trial's start; the phase advances by the amount closest to ``ω · inter_trial`` that lands
on the new phase, so the bridge keeps rotating at roughly the oscillation's speed. The bridge
(rather than a reset jump) keeps the latent and every rate continuous, which is what a continuous
recording looks like and keeps the thinning envelope below tight.

**Source units** (``n_source``) read the latent log-linearly:
``λ_i(t) = exp(a_i + b_i · x(t))`` with ``a_i = log r_i``, ``r_i ~ U(source_rate)`` (Hz at the
latent origin), and ``b_i`` a random direction scaled to ``source_gain`` (with the default radius
1 and gain 1 the log rate swings by about ±1).

**Target units** (``n_target``) read the latent ``lag`` seconds earlier through a fixed nonlinear
map, so the source → target translation is neither instantaneous nor linear:
``λ_j(t) = exp(c_j + d_j · g(x(t − lag)))`` with ``g(x) = tanh(W x + h)`` (``target_features``
rows of ``W``, each a random direction scaled to ``target_sharpness``, so the tanh saturates and
turns the rotation into square-wave-like features; ``h ~ U(−0.5, 0.5)``), ``c_j = log r_j``,
``r_j ~ U(target_rate)``, and ``d_j`` a random direction scaled to ``target_gain``. Before the
session start the latent is held at its first value (``latent_at`` clamps to the grid), so the
target's first ``lag`` seconds read ``x(0)``.

**Behaviour.** Each trial's label is ``labels[0]`` if the first oscillator's state at
``decision_time`` s after onset lies in the half-plane ``cos ψ · x₀ + sin ψ · x₁ > 0``
(ψ = ``decision_angle``), else ``labels[1]``; with probability ``lapse`` the label is the opposite
one (``TwoRegionSession.lapsed``). Since the start phase is uniform and the dynamics are rotation
invariant, the phase at the decision time is uniform too: the classes are balanced in expectation.

**Spikes** are exact inhomogeneous Poisson processes of the rates above (thinning of a
piecewise-constant envelope: per unit and 50 ms block, the rate's maximum on the grid points of the
block raised by a Lipschitz bound on what the rate can do between grid points, capped for the
target by the tanh's bound; every candidate's true rate is checked against its envelope).

Written to NWB: Units with a ``region`` column (an electrode group per region whose ``location``
is the region name, one electrode per unit), a ``trials`` table (``start_time``, ``stop_time``,
``choice``: the label), the true latent as the TimeSeries ``processing/ground_truth/true_latent``
(the grid, ``rate = 1 / dt`` from time 0) and the configuration and seed in the session notes (the
readout parameters follow from them: ``simulate_two_region(config, seed)`` makes the file again).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import require
from ..io.spike_trains import SpikeTrains
from .two_region_latent import _simulate_latent, _speed_blocks
from .two_region_spikes import _thin

#: Name of the processing module and TimeSeries holding the true latent in the NWB file.
GROUND_TRUTH_MODULE = "ground_truth"
TRUE_LATENT_NAME = "true_latent"

#: How a trial's label follows from the latent (see :class:`TwoRegionConfig`).
LABEL_RULES = ("phase", "speed")
#: Ratio of successive oscillator frequencies when ``latent_dim > 2`` (irrational: no locking).
_FREQUENCY_RATIO = (1.0 + math.sqrt(5.0)) / 2.0


@dataclass
class TwoRegionConfig:
    """Parameters of the two-region session (see the module docstring for the equations).

    Parameters
    ----------
    n_trials
        Trials; each lasts ``trial_duration`` s and is preceded and followed by ``inter_trial`` s.
    trial_duration, inter_trial
        Seconds; both multiples of ``dt``. ``inter_trial`` > 0 (the latent's bridge runs there).
    n_source, n_target
        Units of the source and the target region (sources come first in the Units table).
    latent_dim
        Dimension of the latent, even: ``latent_dim / 2`` Stuart–Landau oscillators.
    frequency
        Rotation frequency of the first oscillator (Hz); the m-th rotates φ^m times faster.
    mu
        Growth parameter μ: the limit cycle's radius is √μ.
    noise
        σ, the diffusion of each latent coordinate (units / √s).
    initial_radius
        (low, high): each trial starts at a radius uniform in this range (and a uniform phase).
    lag
        Seconds by which the target reads the latent later than the source.
    dt
        Grid step of the latent (s), at most 2 ms.
    source_rate, target_rate
        (low, high) Hz: each unit's rate at the latent origin is uniform in this range.
    source_gain
        Norm of each source unit's loading ``b_i`` (log-rate units per latent unit).
    target_features, target_sharpness
        Rows of the target's feature map ``W`` and the norm of each row.
    target_gain
        Norm of each target unit's loading ``d_j`` on the features.
    decision_time, decision_angle
        When (s after onset) and along which direction ψ (rad) the label reads the first oscillator.
    lapse
        Probability that a trial's label is the opposite of the rule's.
    labels
        The two label values (rule true, rule false).
    label_rule
        ``phase``: the half-plane rule above (first-order: where the latent is). ``speed``: the
        label lives in the latent's *dynamics*: trials come in blocks (geometric lengths of mean
        ``speed_block`` trials, alternating) whose oscillators rotate ``speed_ratio`` times faster
        (``labels[0]``) or at ``frequency`` (``labels[1]``); the phase carries nothing. Labels are
        then autocorrelated, as a behavioural state is.
    speed_ratio, speed_block
        The fast blocks' frequency multiplier (> 1) and the mean block length in trials (>= 1).
    source_name, target_name
        Region names (Units ``region`` column, electrode group names and locations).
    """

    n_trials: int = 200
    trial_duration: float = 2.0
    inter_trial: float = 0.5
    n_source: int = 40
    n_target: int = 30
    latent_dim: int = 2
    frequency: float = 1.5
    mu: float = 1.0
    noise: float = 0.2
    initial_radius: tuple[float, float] = (0.3, 1.5)
    lag: float = 0.1
    dt: float = 0.002
    source_rate: tuple[float, float] = (5.0, 15.0)
    target_rate: tuple[float, float] = (5.0, 15.0)
    source_gain: float = 1.0
    target_features: int = 3
    target_sharpness: float = 2.0
    target_gain: float = 1.0
    decision_time: float = 1.5
    decision_angle: float = 0.0
    lapse: float = 0.05
    labels: tuple[str, str] = ("A", "B")
    label_rule: str = "phase"
    speed_ratio: float = 2.0
    speed_block: float = 8.0
    source_name: str = "hippocampus"
    target_name: str = "prefrontal"

    def validate(self) -> TwoRegionConfig:
        require(self.n_trials >= 1, f"n_trials must be >= 1, got {self.n_trials}")
        require(self.n_source >= 1 and self.n_target >= 1,
                f"n_source and n_target must be >= 1, got {self.n_source} and {self.n_target}")
        require(self.latent_dim >= 2 and self.latent_dim % 2 == 0,
                f"latent_dim must be even and >= 2 (pairs of oscillator coordinates), got {self.latent_dim}")
        require(0 < self.dt <= 0.002, f"dt must be in (0, 0.002] s, got {self.dt}")
        require(self.trial_duration > 0 and self.inter_trial > 0,
                "trial_duration and inter_trial must be positive")
        for name in ("trial_duration", "inter_trial"):
            steps = getattr(self, name) / self.dt
            require(abs(steps - round(steps)) < 1e-6 and round(steps) >= 1,
                    f"{name} must be a multiple of dt = {self.dt}, got {getattr(self, name)}")
        require(self.frequency > 0 and self.mu > 0 and self.noise >= 0,
                "frequency and mu must be positive, noise >= 0")
        require(len(self.initial_radius) == 2 and 0 < self.initial_radius[0] <= self.initial_radius[1],
                f"initial_radius must be (low, high) with 0 < low <= high, got {self.initial_radius}")
        require(self.lag >= 0, f"lag must be >= 0 s, got {self.lag}")
        for name in ("source_rate", "target_rate"):
            lo_hi = getattr(self, name)
            require(len(lo_hi) == 2 and 0 < lo_hi[0] <= lo_hi[1],
                    f"{name} must be (low, high) Hz with 0 < low <= high, got {lo_hi}")
        require(self.source_gain >= 0 and self.target_gain >= 0 and self.target_sharpness >= 0,
                "source_gain, target_gain and target_sharpness must be >= 0")
        require(self.target_features >= 1, f"target_features must be >= 1, got {self.target_features}")
        require(0 <= self.decision_time <= self.trial_duration,
                f"decision_time must be within the trial [0, {self.trial_duration}] s, got {self.decision_time}")
        require(0 <= self.lapse <= 1, f"lapse must be a probability, got {self.lapse}")
        require(len(self.labels) == 2 and self.labels[0] != self.labels[1] and all(self.labels),
                f"labels must be two distinct non-empty strings, got {self.labels}")
        require(self.label_rule in LABEL_RULES, f"label_rule must be one of {', '.join(LABEL_RULES)}, got "
                f"{self.label_rule!r}")
        require(self.speed_ratio > 1, f"speed_ratio must be > 1, got {self.speed_ratio}")
        require(self.speed_block >= 1, f"speed_block must be >= 1 trial, got {self.speed_block}")
        require(bool(self.source_name) and bool(self.target_name) and self.source_name != self.target_name,
                f"source_name and target_name must be distinct and non-empty, got {self.source_name!r}, "
                f"{self.target_name!r}")
        return self

    @property
    def trial_steps(self) -> int:
        """Grid steps per trial."""
        return round(self.trial_duration / self.dt)

    @property
    def inter_trial_steps(self) -> int:
        """Grid steps per inter-trial interval."""
        return round(self.inter_trial / self.dt)

    @property
    def angular_frequencies(self) -> np.ndarray:
        """ω_m (rad/s) of the ``latent_dim / 2`` oscillators."""
        return 2 * np.pi * self.frequency * _FREQUENCY_RATIO ** np.arange(self.latent_dim // 2)


@dataclass
class TwoRegionSession:
    """A simulated two-region session and its ground truth.

    The readout parameters (drawn from the seed) are held as arrays, so the true rates can be
    recomputed from the equations of the module docstring.

    Shapes
    ------
    unit_region : (units,) str, ``n_source`` sources first, then ``n_target`` targets
    latent : (samples, latent_dim) float64, the latent on the grid ``latent_times``
    latent_times : (samples,) float64, ``k · dt`` from 0 to the session end
    onsets : (trials,) float64; labels : (trials,) str; lapsed : (trials,) bool
    fast : (trials,) bool, the trials that rotate ``speed_ratio`` times faster (all False for ``phase``)
    source_offset : (n_source,) a; source_loading : (n_source, latent_dim) b
    target_map : (target_features, latent_dim) W; target_bias : (target_features,) h
    target_offset : (n_target,) c; target_loading : (n_target, target_features) d
    """

    spikes: SpikeTrains
    unit_region: np.ndarray
    latent: np.ndarray
    latent_times: np.ndarray
    onsets: np.ndarray
    labels: np.ndarray
    lapsed: np.ndarray
    source_offset: np.ndarray
    source_loading: np.ndarray
    target_map: np.ndarray
    target_bias: np.ndarray
    target_offset: np.ndarray
    target_loading: np.ndarray
    config: TwoRegionConfig
    seed: int
    fast: np.ndarray | None = None

    @property
    def stops(self) -> np.ndarray:
        """Trial ends (s), ``onsets + trial_duration``; shape (trials,)."""
        return self.onsets + self.config.trial_duration

    def latent_at(self, t: np.ndarray | float) -> np.ndarray:
        """The latent at times ``t`` (s): linear interpolation of the grid, clamped at its ends.

        Shapes
        ------
        t : (times,) -> (times, latent_dim)
        """
        t = np.atleast_1d(np.asarray(t, dtype=np.float64)).ravel()
        return np.stack([np.interp(t, self.latent_times, self.latent[:, k]) for k in range(self.latent.shape[1])],
                        axis=1)

    def source_rates(self, t: np.ndarray | float) -> np.ndarray:
        """True rates (Hz) of the source units at ``t``: ``exp(a + b · x(t))``.

        Shapes
        ------
        t : (times,) -> (times, n_source)
        """
        return np.exp(self._source_log_rates(self.latent_at(t)))

    def target_rates(self, t: np.ndarray | float) -> np.ndarray:
        """True rates (Hz) of the target units at ``t``: ``exp(c + d · tanh(W x(t − lag) + h))``.

        Shapes
        ------
        t : (times,) -> (times, n_target)
        """
        t = np.atleast_1d(np.asarray(t, dtype=np.float64)).ravel()
        return np.exp(self._target_log_rates(self.latent_at(t - self.config.lag)))

    def rates(self, t: np.ndarray | float) -> np.ndarray:
        """True rates (Hz) of all units at ``t``, in Units order (sources first).

        Shapes
        ------
        t : (times,) -> (times, n_source + n_target)
        """
        return np.exp(self._log_rates(t))

    def target_features(self, x: np.ndarray) -> np.ndarray:
        """The target's nonlinear features ``g(x) = tanh(W x + h)`` of latent states ``x``.

        Shapes
        ------
        x : (times, latent_dim) -> (times, target_features)
        """
        return np.tanh(np.asarray(x, dtype=np.float64) @ self.target_map.T + self.target_bias)

    def _source_log_rates(self, x: np.ndarray) -> np.ndarray:
        """log λ of the source units at latent states ``x``; (times, latent_dim) -> (times, n_source)."""
        return self.source_offset + x @ self.source_loading.T

    def _target_log_rates(self, x_lagged: np.ndarray) -> np.ndarray:
        """log λ of the target units given the latent ``lag`` s earlier; -> (times, n_target)."""
        return self.target_offset + self.target_features(x_lagged) @ self.target_loading.T

    def _log_rates(self, t: np.ndarray | float) -> np.ndarray:
        """log λ of all units at ``t`` (sources first); (times,) -> (times, units)."""
        t = np.atleast_1d(np.asarray(t, dtype=np.float64)).ravel()
        return np.concatenate([self._source_log_rates(self.latent_at(t)),
                               self._target_log_rates(self.latent_at(t - self.config.lag))], axis=1)

    def decision_states(self) -> np.ndarray:
        """The latent at each trial's decision time, ``onset + decision_time``.

        Shapes
        ------
        -> (trials, latent_dim)
        """
        return self.latent_at(self.onsets + self.config.decision_time)


# -- the simulation (its latent: .two_region_latent, its spikes: .two_region_spikes) -------------
def _unit_vectors(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """``n`` directions uniform on the sphere in ``dim`` dimensions; shape (n, dim)."""
    v = rng.standard_normal((n, dim))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def simulate_two_region(config: TwoRegionConfig | None = None, seed: int = 0) -> TwoRegionSession:
    """Simulate a two-region session (see the module docstring).

    Parameters
    ----------
    config
        The parameters (default :class:`TwoRegionConfig`).
    seed
        Non-negative seed: the same seed and config give the same session. The readout
        parameters, the latent, the lapses and the spikes use separate streams, so e.g. more trials
        keep the same neurons.
    """
    cfg = (config or TwoRegionConfig()).validate()
    require(int(seed) >= 0, f"seed must be >= 0, got {seed}")
    # a fifth stream for the speed blocks: the first four are those of sessions made before it existed
    rng_readout, rng_latent, rng_lapse, rng_spikes, rng_blocks = (
        np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(5))

    dim, n_features = cfg.latent_dim, cfg.target_features
    source_offset = np.log(rng_readout.uniform(*cfg.source_rate, cfg.n_source))
    source_loading = cfg.source_gain * _unit_vectors(rng_readout, cfg.n_source, dim)
    target_map = cfg.target_sharpness * _unit_vectors(rng_readout, n_features, dim)
    target_bias = rng_readout.uniform(-0.5, 0.5, n_features)
    target_offset = np.log(rng_readout.uniform(*cfg.target_rate, cfg.n_target))
    target_loading = cfg.target_gain * _unit_vectors(rng_readout, cfg.n_target, n_features)

    fast = _speed_blocks(rng_blocks, cfg)
    latent = _simulate_latent(rng_latent, cfg, fast)
    latent_times = np.arange(len(latent)) * cfg.dt
    b, m = cfg.inter_trial_steps, cfg.trial_steps
    onsets = latent_times[b + np.arange(cfg.n_trials) * (m + b)]

    unit_region = np.array([cfg.source_name] * cfg.n_source + [cfg.target_name] * cfg.n_target)
    # the labels and spikes are filled in below: both read the truth through the session's own methods
    session = TwoRegionSession(
        spikes=None, unit_region=unit_region, latent=latent, latent_times=latent_times, onsets=onsets,
        labels=np.array([], dtype=str), lapsed=np.zeros(0, dtype=bool), source_offset=source_offset,
        source_loading=source_loading, target_map=target_map, target_bias=target_bias,
        target_offset=target_offset, target_loading=target_loading, config=cfg, seed=int(seed), fast=fast)

    if cfg.label_rule == "speed":
        rule_true = fast
    else:
        state = session.decision_states()
        rule_true = math.cos(cfg.decision_angle) * state[:, 0] + math.sin(cfg.decision_angle) * state[:, 1] > 0
    session.lapsed = rng_lapse.uniform(0.0, 1.0, cfg.n_trials) < cfg.lapse
    session.labels = np.where(rule_true ^ session.lapsed, cfg.labels[0], cfg.labels[1]).astype(str)

    n_units = cfg.n_source + cfg.n_target
    session.spikes = SpikeTrains(_thin(rng_spikes, session), np.arange(n_units), list(unit_region),
                                 list(unit_region), 0.0, float(latent_times[-1]))
    return session


# -- NWB -----------------------------------------------------------------------------------------
def two_region_nwbfile(session: TwoRegionSession):
    """The session as an in-memory NWBFile: Units (an electrode group per region, location =
    region), the ``trials`` table with ``choice`` and ``processing/ground_truth/true_latent``."""
    from pynwb import TimeSeries
    from pynwb.file import Subject

    from ._nwb import add_regional_units, simulated_nwbfile

    cfg = session.config
    if cfg.label_rule == "speed":
        rule = (f"the choice is the rotation speed: {cfg.labels[0]} in blocks (mean {cfg.speed_block:g} trials) "
                f"rotating {cfg.speed_ratio:g} times faster, {cfg.labels[1]} at {cfg.frequency:g} Hz")
        column = (f"The trial's label: {cfg.labels[0]} when the latent rotates {cfg.speed_ratio:g} times faster "
                  f"than {cfg.frequency:g} Hz (blocks of trials), else {cfg.labels[1]} (flipped on lapses).")
    else:
        rule = f"the choice is the half-plane of the latent {cfg.decision_time:g} s after onset"
        column = (f"The trial's label: {cfg.labels[0]} when the latent's first oscillator is in the half-plane at "
                  f"angle {cfg.decision_angle:g} rad {cfg.decision_time:g} s after onset, else {cfg.labels[1]} "
                  "(flipped on lapses).")
    nwbfile = simulated_nwbfile(
        "two_region", f"Simulated two-region session: {cfg.n_trials} trials of {cfg.trial_duration:g} s; "
        f"{cfg.n_source} {cfg.source_name} units read a {cfg.latent_dim}-dimensional Stuart-Landau latent "
        f"({cfg.frequency:g} Hz) log-linearly, {cfg.n_target} {cfg.target_name} units read it {cfg.lag:g} s "
        f"later through tanh features; {rule} (lapse rate {cfg.lapse:g}). The true latent is in "
        f"processing/{GROUND_TRUTH_MODULE}/{TRUE_LATENT_NAME}.", session.seed, cfg)
    nwbfile.subject = Subject(subject_id=f"simulated-two-region-{session.seed}", species="Rattus norvegicus", sex="U",
                              age="P90D", description="A simulated population (no animal).")
    add_regional_units(nwbfile, session.spikes, session.unit_region, (cfg.source_name, cfg.target_name))
    nwbfile.add_trial_column("choice", column)
    for onset, stop, label in zip(session.onsets, session.stops, session.labels):
        nwbfile.add_trial(start_time=float(onset), stop_time=float(stop), choice=str(label))
    module = nwbfile.create_processing_module(GROUND_TRUTH_MODULE, "Ground truth of the simulated session.")
    module.add(TimeSeries(
        name=TRUE_LATENT_NAME, data=session.latent, unit="a.u.", rate=1.0 / cfg.dt, starting_time=0.0,
        description=("The planted latent x(t) on its grid (columns Re z_0, Im z_0, Re z_1, ...: Stuart-Landau "
                     "oscillators); between samples it is linearly interpolated. Source rates exp(a + b.x(t)), "
                     f"target rates exp(c + d.tanh(W x(t - {cfg.lag:g}) + h)); a, b, W, h, c, d follow from the "
                     "seed and config in the session notes."),
    ))
    return nwbfile


def write_two_region_session(path: str | Path, config: TwoRegionConfig | None = None, seed: int = 0,
                             overwrite: bool = False) -> Path:
    """Simulate a two-region session and write it atomically as NWB; return the path."""
    from ..io.files import check_writable, write_nwbfile

    check_writable(path, overwrite=overwrite)
    return write_nwbfile(two_region_nwbfile(simulate_two_region(config, seed)), path, overwrite=overwrite)


__all__ = ["GROUND_TRUTH_MODULE", "LABEL_RULES", "TRUE_LATENT_NAME", "TwoRegionConfig", "TwoRegionSession", "simulate_two_region",
           "two_region_nwbfile", "write_two_region_session"]
