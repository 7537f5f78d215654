"""Spiking networks with planted, time-varying connectivity and behaviour.

The demo dataset, the test fixture and the yardstick for everything downstream: the coupling that
generated the spikes is known, so connectivity, embedding and evaluation steps can be scored
against it.

The network
-----------
``N`` nodes in named groups, by default modelled on DishBrain (Kagan et al. 2022): a large
``"sensory"`` group and four motor subregions ``"right-down"``, ``"right-up"``, ``"left-down"``,
``"left-up"``. The recording is one continuous span: a *gameplay* session made of blocks that
alternate between an ``"aligned"`` and an ``"unaligned"`` regime, followed by a *rest* session in
the ``"rest"`` regime.

The generative model: network bursts on top of a linear multivariate Hawkes process
-----------------------------------------------------------------------------------
Every node's spike train is the union of two parts: *burst spikes* (a share
:attr:`SimulationConfig.burst_fraction` of its spikes, 0.8 by default) and the spikes of a
*Hawkes process* with planted coupling and shared inputs (the rest). Real DishBrain cultures are
bursting cortical cultures: network bursts make many channels fire in the same 50 ms bin, which is
what gives the paper's |r| >= 0.6 edges; the Hawkes part carries the directed, weighted coupling
that the ground truth records.

Network bursts
~~~~~~~~~~~~~~
A *burst source* emits burst events as a Poisson process of rate
:attr:`SimulationConfig.burst_rate` (Hz). In each event, each of the source's member sets is
included with its inclusion probability (independently), and each node of an included set joins
with its participation probability; a joining node fires ``1 + Poisson(e_i)`` spikes, each
delayed from the burst onset by ``Exponential(burst_jitter)`` (a few ms, so a burst lands in one
50 ms bin; spikes of one node that fall in the same sample merge, as everywhere, so
``burst_jitter`` must be well above ``1 / sampling_rate``). Burst spikes are a strongly synchronising shared input: they do not trigger offspring
through ``W`` (the coupling below describes the Hawkes part only). The sources of each regime
(parameter names of :class:`SimulationConfig`; participation in brackets):

=========== ====================================================================================
regime      burst sources
=========== ====================================================================================
aligned     one per motor subregion, its members only (``burst_aligned``): subregions burst
            coherently and independently; one sensory source: sensory nodes
            (``burst_sensory``), and each motor subregion recruited with probability
            ``burst_recruit`` (members then join with ``burst_aligned``)
unaligned   sensory (``burst_sensory``); one motor source over all motor nodes, members drawn at
            random (``burst_unaligned``, small): no subregion structure, weak synchrony
rest        sensory (``burst_sensory``); one motor pool over all motor nodes (``burst_rest``):
            subregions fuse, moderate synchrony
=========== ====================================================================================

Rates are kept: a node's *exposure* ``E_i`` (expected burst participations per second, the sum of
``burst_rate * inclusion * participation`` over its sources) is matched to its burst spike rate
``b_i = burst_fraction * nu_i``. Where ``E_i > b_i`` (e.g. low-rate nodes) its participation is
scaled down by ``b_i / E_i``; otherwise each participation carries ``e_i = b_i / E_i - 1`` extra
spikes on average. The Hawkes part is tuned to the remaining rate ``nu_i - b_i`` (below).
``burst_rate = 0`` (or ``burst_fraction = 0``) switches bursts off and gives the plain Hawkes model,
spike for spike the same as before bursts existed (bursts draw from their own random stream).

With the defaults and the paper's recipe (50 ms binary bins, 2-min windows, |r| >= 0.6), about a
third of the within-motor-subregion pairs are edges in aligned blocks, none in unaligned blocks or
at rest, about 5-10 % of sensory pairs in every regime, and no between-subregion pairs; the graphs
have a density of about 2-5 %. The small test preset (rate 5 Hz, hence a weaker background) gives
~90 % within-subregion edges in aligned blocks.

The Hawkes part
~~~~~~~~~~~~~~~
Node ``i`` (in group ``g(i)``) fires with conditional intensity

.. math::

    \\lambda_i(t) = \\mu^{(r)}_i\\, m_{g(i)}(t)
                   + \\sum_j W^{(r)}_{ij} \\sum_{t_s \\in \\mathcal{S}_j, t_s < t} \\kappa(t - t_s),
    \\qquad \\kappa(u) = e^{-u/\\tau} / \\tau,

where ``r`` is the regime at the time of the presynaptic spike ``t_s`` and

* ``W^{(r)}_{ij} >= 0`` is the planted directed coupling: the expected number of extra spikes of
  node ``i`` caused by one spike of node ``j`` (the kernel integrates to 1; ``tau`` is
  :attr:`SimulationConfig.kernel_tau`). No self-coupling.
* ``m_g(t) = exp(s * x_g(t) - s^2 / 2)`` is a shared input of unit mean: ``x_g`` mixes a global and
  a per-group Ornstein-Uhlenbeck process of unit variance and time constant
  :attr:`SimulationConfig.shared_input_tau`; ``s`` is :attr:`SimulationConfig.shared_input_std`.
  It is piecewise constant on steps of :attr:`SimulationConfig.dt`.
* ``mu^{(r)} = (I - W^{(r)}) (nu - b^{(r)})`` is the spontaneous rate that makes the stationary
  rate of the Hawkes part ``nu_i - b^{(r)}_i``, so that with the burst spikes every node fires at
  its target rate ``nu_i``. Targets are log-normal across nodes around
  :attr:`SimulationConfig.rate` (spread :attr:`SimulationConfig.rate_spread`), scaled so their
  mean is exactly ``rate``.

``W`` is built from *components*. A component couples a set of target nodes to a set of source
nodes: each (target, source) pair is connected with probability ``p``, with at least one input per
target (the draws come from one uniform matrix, so sparser components are nested in denser ones:
one anatomy, several regimes), and the weights are scaled so that a fraction ``f`` of every
target's Hawkes-part spikes is caused by that source set: ``W_ij = f * h_i * M_ij / sum_k M_ik h_k``
with ``h = nu - b^{(r)}`` the Hawkes-part rates (``(1 - burst_fraction) nu`` when every node
bursts, as with the defaults, so ``W`` is then the same as without bursts, and ``f`` is also the
fraction of ``nu`` in ``sum_j W_ij nu_j / nu_i``). The fractions of one target add up to its
*coupled fraction* (< 1), which is also the branching ratio of the group-level cascade, so the
process is stable. The components of each regime (parameter names of :class:`SimulationConfig`):

=========== ====================================================================================
regime      components
=========== ====================================================================================
aligned     sensory→sensory ``sensory_within`` (p ``p_sensory``); within each motor subregion
            ``aligned_within`` (p ``p_within``); sensory→each motor subregion
            ``aligned_sensory_to_motor`` (p ``p_between``)
unaligned   sensory→sensory ``sensory_within`` (p ``p_sensory``); all→all, no structure,
            ``unaligned_random`` (p ``p_random``)
rest        sensory→sensory ``rest_sensory_within`` (p ``p_sensory``); all motor→all motor, one
            pool without subregions, ``rest_motor_pool`` (p ``p_rest_motor``)
=========== ====================================================================================

Simulation is exact for this model and vectorised over spikes (Hawkes cluster representation):
spontaneous spikes are drawn per group and step as Poisson counts of the shared-input-modulated
rate, assigned to nodes in proportion to ``mu``; then, generation after generation, every spike
of node ``j`` begets ``Poisson(sum_i W_ij)`` children at targets drawn in proportion to ``W_ij``,
delayed by ``Exponential(tau)``. Burst spikes are drawn per epoch and member set as one
(events x members) Bernoulli matrix. Spike times are finally floored to the sampling grid
(:attr:`SimulationConfig.sampling_rate`) and duplicates within a node removed.

Behaviour
---------
Gameplay blocks are filled with back-to-back trials (rallies) of uniform random duration in
:attr:`SimulationConfig.trial_duration`, separated by :attr:`SimulationConfig.inter_trial_interval`;
each ends in a hit with probability ``hit_rate_aligned`` or ``hit_rate_unaligned`` according to
the block's regime. Trials never straddle blocks.

Ground truth in the NWB file
----------------------------
``processing/ecephys/ground_truth_coupling`` is a :class:`~nwb_tavrnn.schema.DynamicConnectivity`
with one window per epoch (``data[w, source, target]`` = ``W^{(r_w)}_{target, source}``,
``directed=True``, ``method="planted_coupling"``, ``threshold_mode="none"``); the ``epochs``
table holds the regime of each period (``state``: aligned/unaligned/rest; ``session``:
gameplay/rest) and ``trials`` the outcomes (``hit``, bool; ``state``).
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from hdmf.backends.hdf5 import H5DataIO
from pynwb import NWBFile
from pynwb.file import Subject

from ..errors import NwbTavrnnError
from ..io.spike_trains import SpikeTrains
from ..io.units import build_units_table

log = logging.getLogger(__name__)

#: Regime names, in the order of their integer codes.
REGIMES = ("aligned", "unaligned", "rest")
#: Default motor subregions (DishBrain).
MOTOR_SUBREGIONS = ("right-down", "right-up", "left-down", "left-up")
#: Name of the ground-truth coupling object in processing module "ecephys".
GROUND_TRUTH_NAME = "ground_truth_coupling"

_MAX_COUPLED_FRACTION = 0.97


class SimulationConfigError(NwbTavrnnError, ValueError):
    """A simulation parameter is out of range."""

    exit_code = 2


@dataclass(frozen=True)
class SimulationConfig:
    """Parameters of :func:`simulate_network` (see the module docstring for the model).

    Sizes and durations
        ``n_sensory`` nodes in group "sensory" and ``n_motor`` nodes in each of
        ``motor_subregions``; ``gameplay_minutes`` of blocks of ``block_minutes`` alternating
        between regimes (the first is ``first_state``), then ``rest_minutes`` of rest (0 for none).
    Rates
        ``rate`` (Hz) mean target rate; ``rate_spread`` standard deviation of log target rates.
    Coupling
        In-fractions (``sensory_within``, ``aligned_within``, ``aligned_sensory_to_motor``,
        ``unaligned_random``, ``rest_sensory_within``, ``rest_motor_pool``) and connection
        probabilities (``p_*``); ``kernel_tau`` (s) decay of the exponential coupling kernel.
    Shared input
        ``shared_input_std`` log-modulation size, ``shared_input_global`` share of its variance
        common to all groups, ``shared_input_tau`` (s) its time constant, on steps of ``dt`` (s).
    Network bursts
        ``burst_rate`` (Hz) event rate of every burst source (0: no bursts); ``burst_fraction``
        share of every node's spikes fired in bursts; ``burst_jitter`` (s) mean delay of a burst
        spike after the onset; participation probabilities ``burst_sensory`` (sensory nodes, all
        regimes), ``burst_aligned`` (a motor subregion in its own bursts, aligned),
        ``burst_unaligned`` (random motor members, unaligned), ``burst_rest`` (motor pool, rest);
        ``burst_recruit`` probability that an aligned sensory burst recruits each motor subregion.
    Behaviour
        ``hit_rate_aligned``/``hit_rate_unaligned``, ``trial_duration`` (s, min and max),
        ``inter_trial_interval`` (s).
    Metadata
        ``sampling_rate`` (Hz) spike-time resolution; ``species``, ``sex``, ``age`` of the Subject;
        ``location`` of every electrode (an Allen CCF term, as DANDI asks for mouse data; the
        subregion of a node is its electrode group).
    """

    n_sensory: int = 500
    n_motor: int = 100
    motor_subregions: tuple[str, ...] = MOTOR_SUBREGIONS
    gameplay_minutes: float = 20.0
    rest_minutes: float = 10.0
    block_minutes: float = 2.0
    first_state: str = "aligned"
    rate: float = 3.0
    rate_spread: float = 0.5
    kernel_tau: float = 0.005
    sensory_within: float = 0.3
    aligned_within: float = 0.7
    aligned_sensory_to_motor: float = 0.15
    unaligned_random: float = 0.4
    rest_sensory_within: float = 0.5
    rest_motor_pool: float = 0.6
    p_sensory: float = 0.1
    p_within: float = 0.5
    p_between: float = 0.2
    p_random: float = 0.1
    p_rest_motor: float = 0.2
    shared_input_std: float = 0.3
    shared_input_global: float = 0.5
    shared_input_tau: float = 0.2
    dt: float = 0.005
    burst_rate: float = 2.0
    burst_fraction: float = 0.8
    burst_jitter: float = 0.004
    burst_sensory: float = 0.85
    burst_aligned: float = 0.95
    burst_recruit: float = 0.2
    burst_unaligned: float = 0.35
    burst_rest: float = 0.7
    hit_rate_aligned: float = 0.75
    hit_rate_unaligned: float = 0.35
    trial_duration: tuple[float, float] = (2.0, 6.0)
    inter_trial_interval: float = 0.5
    sampling_rate: float = 20000.0
    species: str = "Mus musculus"
    sex: str = "U"
    age: str = "P14D"
    location: str = "Isocortex"

    @classmethod
    def small(cls, **overrides) -> SimulationConfig:
        """A tiny network for tests: 20 sensory + 4 x 10 motor nodes, 4 min of 1-min blocks, 1 min rest."""
        base = dict(n_sensory=20, n_motor=10, gameplay_minutes=4.0, rest_minutes=1.0, block_minutes=1.0, rate=5.0)
        base.update(overrides)
        return cls(**base)

    # --- derived -------------------------------------------------------------------------------
    @property
    def group_names(self) -> tuple[str, ...]:
        return ("sensory", *self.motor_subregions)

    @property
    def group_sizes(self) -> tuple[int, ...]:
        return (self.n_sensory, *([self.n_motor] * len(self.motor_subregions)))

    @property
    def n_nodes(self) -> int:
        return int(sum(self.group_sizes))

    @property
    def duration(self) -> float:
        """Total recorded span in seconds."""
        return 60.0 * (self.gameplay_minutes + self.rest_minutes)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["motor_subregions"] = list(self.motor_subregions)
        d["trial_duration"] = list(self.trial_duration)
        return d

    def validate(self) -> SimulationConfig:
        """Return self, or raise :class:`SimulationConfigError` naming the first bad parameter."""

        def bad(msg: str) -> SimulationConfigError:
            return SimulationConfigError(f"simulation config: {msg}")

        if self.n_sensory < 1 or self.n_motor < 1:
            raise bad(f"n_sensory and n_motor must be >= 1, got {self.n_sensory} and {self.n_motor}")
        if len(self.motor_subregions) < 1:
            raise bad("motor_subregions must name at least one subregion")
        if len(set(self.group_names)) != len(self.group_names) or any(
            not name or "/" in name for name in self.group_names
        ):
            raise bad(f"group names must be unique, non-empty and without '/': {list(self.group_names)}")
        if self.gameplay_minutes < 0 or self.rest_minutes < 0 or self.duration <= 0:
            raise bad("gameplay_minutes and rest_minutes must be >= 0 and not both 0")
        if self.block_minutes <= 0:
            raise bad(f"block_minutes must be positive, got {self.block_minutes}")
        if self.first_state not in ("aligned", "unaligned"):
            raise bad(f"first_state must be 'aligned' or 'unaligned', got {self.first_state!r}")
        for name in ("rate", "kernel_tau", "dt", "shared_input_tau", "sampling_rate", "burst_jitter"):
            if not getattr(self, name) > 0:
                raise bad(f"{name} must be positive, got {getattr(self, name)}")
        if self.dt > 0.1 or self.dt * self.sampling_rate < 1:
            raise bad(f"dt must be in [1/sampling_rate, 0.1] s, got {self.dt}")
        for name in ("rate_spread", "shared_input_std", "inter_trial_interval", "burst_rate"):
            if getattr(self, name) < 0:
                raise bad(f"{name} must be >= 0, got {getattr(self, name)}")
        fractions = ("sensory_within", "aligned_within", "aligned_sensory_to_motor", "unaligned_random",
                     "rest_sensory_within", "rest_motor_pool", "shared_input_global", "hit_rate_aligned",
                     "hit_rate_unaligned", "p_sensory", "p_within", "p_between", "p_random", "p_rest_motor", "burst_fraction",
                     "burst_sensory", "burst_aligned", "burst_recruit", "burst_unaligned", "burst_rest")
        for name in fractions:
            if not 0 <= getattr(self, name) <= 1:
                raise bad(f"{name} must be in [0, 1], got {getattr(self, name)}")
        coupled = {
            "aligned sensory": self.sensory_within,
            "aligned motor": self.aligned_within + self.aligned_sensory_to_motor,
            "unaligned sensory": self.sensory_within + self.unaligned_random,
            "unaligned motor": self.unaligned_random,
            "rest sensory": self.rest_sensory_within,
            "rest motor": self.rest_motor_pool,
        }
        for where, total in coupled.items():
            if total > _MAX_COUPLED_FRACTION:
                raise bad(
                    f"{where} nodes would get {total:.2f} of their spikes from coupling (max "
                    f"{_MAX_COUPLED_FRACTION}); the network would be (near-)unstable, lower the in-fractions"
                )
        lo, hi = self.trial_duration
        if not 0 < lo <= hi:
            raise bad(f"trial_duration must be (min, max) with 0 < min <= max, got {self.trial_duration}")
        return self


@dataclass
class SimulatedSession:
    """The output of :func:`simulate_network`.

    Attributes
    ----------
    spikes
        Spike trains of all nodes (ids 0..N-1; groups and locations set; span 0..duration).
    epochs
        ``start_time``, ``stop_time`` (float64 s), ``state`` (aligned/unaligned/rest) and
        ``session`` (gameplay/rest) of each period, in time order.
    trials
        ``start_time``, ``stop_time``, ``hit`` (bool) and ``state`` of each gameplay trial.
    coupling
        Planted coupling per regime, source-major like ``DynamicConnectivity.data``:
        ``coupling[regime][j, i]`` is the expected number of spikes of node ``i`` caused by one
        (non-burst) spike of node ``j``.
    target_rates
        Stationary rate of each node that the simulation was tuned to (Hz).
    config, seed
        What produced it.
    spontaneous_rates
        Per regime, the spontaneous (immigrant) rate ``mu`` of each node's Hawkes part (Hz).
    burst_rates
        Per regime, the expected rate of each node's burst spikes (Hz; zeros without bursts).

    Shapes
    ------
    epochs[...] : (epochs,)
    trials[...] : (trials,)
    coupling[regime] : (nodes, nodes) float64, [source, target]
    target_rates, spontaneous_rates[regime], burst_rates[regime] : (nodes,)
    """

    spikes: SpikeTrains
    epochs: dict[str, np.ndarray]
    trials: dict[str, np.ndarray]
    coupling: dict[str, np.ndarray]
    target_rates: np.ndarray
    config: SimulationConfig
    seed: int
    spontaneous_rates: dict[str, np.ndarray] = field(default_factory=dict)
    burst_rates: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return len(self.spikes)

    @property
    def duration(self) -> float:
        return self.spikes.duration

    def state_at(self, times: np.ndarray | float) -> np.ndarray:
        """Regime name at each of ``times`` (seconds).

        Shapes
        ------
        times : (k,) ; return : (k,) object
        """
        times = np.atleast_1d(np.asarray(times, dtype=np.float64))
        idx = np.clip(np.searchsorted(self.epochs["start_time"], times, side="right") - 1, 0, None)
        return np.asarray(self.epochs["state"], dtype=object)[idx]

    def coupling_per_epoch(self) -> np.ndarray:
        """The planted coupling of each epoch, as stored in the NWB file.

        Shapes
        ------
        return : (epochs, nodes, nodes) float32, [epoch, source, target]
        """
        return np.stack([self.coupling[s] for s in self.epochs["state"]]).astype(np.float32)

    def to_nwbfile(self, session_start_time: datetime | None = None, identifier: str | None = None) -> NWBFile:
        """Build a complete, validator-clean NWBFile of the simulation (see the module docstring)."""
        return _to_nwbfile(self, session_start_time=session_start_time, identifier=identifier)


# ----------------------------------------------------------------------------------------------
# Simulation
# ----------------------------------------------------------------------------------------------


def simulate_network(config: SimulationConfig | None = None, seed: int = 0) -> SimulatedSession:
    """Simulate the planted-regime spiking network.

    Parameters
    ----------
    config
        Parameters; :class:`SimulationConfig` defaults (900 nodes, 20 min gameplay, 10 min rest).
    seed
        Seed of :func:`numpy.random.default_rng`; equal seeds give identical outputs.

    Returns
    -------
    SimulatedSession

    Shapes
    ------
    return.spikes : nodes x (spikes_i,)
    return.coupling[regime] : (nodes, nodes), [source, target]
    """
    cfg = (config or SimulationConfig()).validate()
    # spawn keys are positional: the first five streams are those of the model without bursts
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(6)]
    rng_anatomy, rng_rates, rng_input, rng_spikes, rng_trials, rng_bursts = streams

    sizes = np.asarray(cfg.group_sizes)
    n = int(sizes.sum())
    group_of = np.repeat(np.arange(len(sizes)), sizes)
    names = np.asarray(cfg.group_names, dtype=object)

    rates = np.exp(cfg.rate_spread * rng_rates.standard_normal(n))
    rates *= cfg.rate / rates.mean()

    epochs = _make_epochs(cfg)
    used = [s for s in REGIMES if s in set(epochs["state"])]
    plans = {s: _burst_plan(cfg, s, rates, group_of) for s in used}
    burst_rates = {s: plan[3] for s, plan in plans.items()}
    # the Hawkes part supplies what the bursts do not: its stationary rate is rates - burst rate
    hawkes = {s: rates - burst_rates[s] for s in used}
    uniform = rng_anatomy.random((n, n))
    w_target_major = {s: _regime_coupling(cfg, s, hawkes[s], group_of, uniform) for s in used}
    del uniform
    spontaneous = {s: np.clip(h - w_target_major[s] @ h, 0.0, None) for s, h in hawkes.items()}

    t_stop = cfg.duration
    times, nodes = _spontaneous_spikes(cfg, epochs, spontaneous, group_of, rng_input, rng_spikes)
    n_spont = times.size
    times, nodes = _cascade(times, nodes, epochs, w_target_major, used, cfg.kernel_tau, t_stop, rng_spikes)
    b_times, b_nodes = _burst_spikes(cfg, epochs, plans, t_stop, rng_bursts)
    times, nodes = np.concatenate([times, b_times]), np.concatenate([nodes, b_nodes])
    log.info("simulated %d spikes (%d spontaneous, %d in bursts) of %d nodes over %.0f s", times.size, n_spont,
             b_times.size, n, t_stop)

    trains = _split_trains(times, nodes, n, cfg.sampling_rate)
    spikes = SpikeTrains(
        times=trains,
        ids=np.arange(n),
        groups=names[group_of],
        locations=np.full(n, cfg.location, dtype=object),
        t_start=0.0,
        t_stop=t_stop,
    )
    return SimulatedSession(
        spikes=spikes,
        epochs=epochs,
        trials=_make_trials(cfg, epochs, rng_trials),
        coupling={s: np.ascontiguousarray(w.T) for s, w in w_target_major.items()},
        target_rates=rates,
        config=cfg,
        seed=int(seed),
        spontaneous_rates=spontaneous,
        burst_rates=burst_rates,
    )


def _burst_sources(cfg: SimulationConfig, regime: str, group_of: np.ndarray) -> list[list[tuple]]:
    """The burst sources of one regime: per source, (member mask, inclusion probability, participation).

    Every source fires burst events at ``cfg.burst_rate``; in an event each of its member sets is
    included with its inclusion probability (independently), and each node of an included set joins
    with its participation probability.
    """
    n_groups = int(group_of.max()) + 1
    sensory, motor = group_of == 0, group_of > 0
    subs = [group_of == g for g in range(1, n_groups)]
    if regime == "aligned":
        return ([[(sensory, 1.0, cfg.burst_sensory)] + [(sub, cfg.burst_recruit, cfg.burst_aligned) for sub in subs]]
                + [[(sub, 1.0, cfg.burst_aligned)] for sub in subs])
    if regime == "unaligned":
        return [[(sensory, 1.0, cfg.burst_sensory)], [(motor, 1.0, cfg.burst_unaligned)]]
    if regime == "rest":
        return [[(sensory, 1.0, cfg.burst_sensory)], [(motor, 1.0, cfg.burst_rest)]]
    raise SimulationConfigError(f"unknown regime {regime!r}")


def _burst_plan(cfg: SimulationConfig, regime: str, rates: np.ndarray,
                group_of: np.ndarray) -> tuple[list[list[tuple]], np.ndarray, np.ndarray, np.ndarray]:
    """Sources, per-node participation scale, mean extra spikes per participation, and burst rate.

    A node's *exposure* ``E_i`` is its expected number of burst participations per second. Its burst
    spike rate is set to ``burst_fraction * rate_i`` wherever ``E_i > 0``: participation is scaled
    down by ``b_i / E_i`` where that is < 1, otherwise every participation carries
    ``Poisson(b_i / E_i - 1)`` extra spikes.

    Shapes
    ------
    rates, group_of : (nodes,) ; return[1:] : (nodes,) each
    """
    n = rates.size
    sources = _burst_sources(cfg, regime, group_of) if cfg.burst_rate > 0 and cfg.burst_fraction > 0 else []
    exposure = np.zeros(n)
    for source in sources:
        for members, include, participation in source:
            exposure[members] += cfg.burst_rate * include * participation
    burst = np.where(exposure > 0, cfg.burst_fraction * rates, 0.0)
    ratio = np.divide(burst, exposure, out=np.zeros(n), where=exposure > 0)
    return sources, np.minimum(ratio, 1.0), np.maximum(ratio - 1.0, 0.0), burst


def _burst_spikes(cfg: SimulationConfig, epochs: dict, plans: dict, t_stop: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Spikes of the network bursts (see :func:`_burst_plan`), vectorised per epoch and member set.

    Shapes
    ------
    return : (spikes,) float64 times, (spikes,) int64 nodes
    """
    all_t, all_n = [np.zeros(0)], [np.zeros(0, dtype=np.int64)]
    for start, stop, state in zip(epochs["start_time"], epochs["stop_time"], epochs["state"]):
        sources, scale, extra, _ = plans[state]
        for source in sources:
            onsets = start + rng.random(rng.poisson(cfg.burst_rate * (stop - start))) * (stop - start)
            for members, include, participation in source:
                on = onsets[rng.random(onsets.size) < include] if include < 1 else onsets
                idx = np.flatnonzero(members)
                if not on.size or participation <= 0:
                    continue
                joins = rng.random((on.size, idx.size)) < participation * scale[idx]
                ev, mem = np.nonzero(joins)
                node = idx[mem]
                count = 1 + rng.poisson(extra[node])
                t = np.repeat(on[ev], count)
                all_t.append(t + rng.exponential(cfg.burst_jitter, t.size))
                all_n.append(np.repeat(node, count).astype(np.int64))
    t, nodes = np.concatenate(all_t), np.concatenate(all_n)
    keep = t < t_stop
    return t[keep], nodes[keep]


def _make_epochs(cfg: SimulationConfig) -> dict[str, np.ndarray]:
    starts, stops, states, sessions = [], [], [], []
    gameplay = 60.0 * cfg.gameplay_minutes
    block = 60.0 * cfg.block_minutes
    other = {"aligned": "unaligned", "unaligned": "aligned"}
    state, t = cfg.first_state, 0.0
    while t < gameplay - 1e-9:
        stop = min(t + block, gameplay)
        starts.append(t)
        stops.append(stop)
        states.append(state)
        sessions.append("gameplay")
        state, t = other[state], stop
    if cfg.rest_minutes > 0:
        starts.append(gameplay)
        stops.append(cfg.duration)
        states.append("rest")
        sessions.append("rest")
    return {
        "start_time": np.asarray(starts, dtype=np.float64),
        "stop_time": np.asarray(stops, dtype=np.float64),
        "state": np.asarray(states, dtype=object),
        "session": np.asarray(sessions, dtype=object),
    }


def _components(cfg: SimulationConfig, regime: str, group_of: np.ndarray) -> list[tuple]:
    """(target mask, source mask, in-fraction, connection probability) of each coupling component."""
    n_groups = len(cfg.group_sizes)
    sensory = group_of == 0
    motor = group_of > 0
    everyone = np.ones_like(sensory)
    if regime == "aligned":
        comps = [(sensory, sensory, cfg.sensory_within, cfg.p_sensory)]
        for g in range(1, n_groups):
            sub = group_of == g
            comps.append((sub, sub, cfg.aligned_within, cfg.p_within))
            comps.append((sub, sensory, cfg.aligned_sensory_to_motor, cfg.p_between))
        return comps
    if regime == "unaligned":
        return [(sensory, sensory, cfg.sensory_within, cfg.p_sensory),
                (everyone, everyone, cfg.unaligned_random, cfg.p_random)]
    if regime == "rest":
        return [(sensory, sensory, cfg.rest_sensory_within, cfg.p_sensory),
                (motor, motor, cfg.rest_motor_pool, cfg.p_rest_motor)]
    raise SimulationConfigError(f"unknown regime {regime!r}")


def _regime_coupling(cfg: SimulationConfig, regime: str, rates: np.ndarray, group_of: np.ndarray,
                     uniform: np.ndarray) -> np.ndarray:
    """Target-major coupling ``W[i, j]`` (j -> i) of one regime.

    ``rates`` are the (Hawkes-part) rates the in-fractions refer to.

    Shapes
    ------
    rates, group_of : (nodes,) ; uniform : (nodes, nodes) ; return : (nodes, nodes)
    """
    n = rates.size
    w = np.zeros((n, n))
    for targets, sources, fraction, p in _components(cfg, regime, group_of):
        if fraction <= 0 or p <= 0:
            continue
        ti, si = np.flatnonzero(targets), np.flatnonzero(sources)
        u = uniform[np.ix_(ti, si)].copy()
        u[ti[:, None] == si[None, :]] = np.inf  # no self-coupling
        mask = u < p
        lonely = ~mask.any(axis=1) & np.isfinite(u).any(axis=1)
        mask[np.flatnonzero(lonely), np.argmin(u[lonely], axis=1)] = True  # every target gets >= 1 input
        drive = mask @ rates[si]
        scale = np.divide(fraction * rates[ti], drive, out=np.zeros(ti.size), where=drive > 0)
        w[np.ix_(ti, si)] += mask * scale[:, None]
    return w


def _shared_inputs(cfg: SimulationConfig, n_groups: int, n_steps: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-mean log-normal modulation of each group on each step.

    Shapes
    ------
    return : (groups, steps) float64
    """
    if cfg.shared_input_std == 0:
        return np.ones((n_groups, n_steps))
    from scipy.signal import lfilter

    a = np.exp(-cfg.dt / cfg.shared_input_tau)
    noise = rng.standard_normal((n_groups + 1, n_steps))
    noise[:, 0] /= np.sqrt(1 - a * a)  # start in the stationary distribution
    ou = lfilter([np.sqrt(1 - a * a)], [1.0, -a], noise, axis=1)  # unit-variance AR(1)
    g = cfg.shared_input_global
    x = np.sqrt(g) * ou[:1] + np.sqrt(1 - g) * ou[1:]
    s = cfg.shared_input_std
    return np.exp(s * x - 0.5 * s * s)


def _spontaneous_spikes(cfg: SimulationConfig, epochs: dict, spontaneous: dict, group_of: np.ndarray,
                        rng_input: np.random.Generator, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Spontaneous (immigrant) spikes: Poisson counts per group and step, spread over nodes by rate.

    Shapes
    ------
    return : (spikes,) float64 times, (spikes,) int64 nodes
    """
    n_groups = int(group_of.max()) + 1
    n_steps = int(np.ceil(cfg.duration / cfg.dt - 1e-9))
    mod = _shared_inputs(cfg, n_groups, n_steps, rng_input)
    step_starts = np.arange(n_steps) * cfg.dt
    all_t, all_n = [], []
    for start, stop, state in zip(epochs["start_time"], epochs["stop_time"], epochs["state"]):
        first, last = int(round(start / cfg.dt)), min(int(round(stop / cfg.dt)), n_steps)
        widths = np.minimum(step_starts[first:last] + cfg.dt, stop) - step_starts[first:last]
        mu = spontaneous[state]
        for g in range(n_groups):
            members = np.flatnonzero(group_of == g)
            total = mu[members].sum()
            if total <= 0:
                continue
            counts = rng.poisson(total * mod[g, first:last] * widths)
            k = int(counts.sum())
            t = np.repeat(step_starts[first:last], counts) + rng.random(k) * np.repeat(widths, counts)
            cum = np.cumsum(mu[members]) / total
            pick = np.minimum(np.searchsorted(cum, rng.random(k), side="right"), members.size - 1)
            all_t.append(t)
            all_n.append(members[pick])
    if not all_t:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    return np.concatenate(all_t), np.concatenate(all_n).astype(np.int64)


def _cascade(times: np.ndarray, nodes: np.ndarray, epochs: dict, w_target_major: dict, used: list[str],
             tau: float, t_stop: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Add the offspring of every spike, generation by generation (Hawkes cluster representation).

    Shapes
    ------
    times, nodes : (spikes,) ; return : (all spikes,) times and nodes
    """
    n = next(iter(w_target_major.values())).shape[0]
    code = {s: k for k, s in enumerate(used)}
    epoch_code = np.asarray([code[s] for s in epochs["state"]], dtype=np.int64)
    # one cumulative weight array over all (regime, source) rows of the source-major matrices
    flat = np.concatenate([w_target_major[s].T.ravel() for s in used])
    cum = np.cumsum(flat)
    row_end = cum[n - 1::n]
    row_start = np.concatenate([[0.0], row_end[:-1]])
    out_total = row_end - row_start  # expected children per spike, per (regime, source)
    nz = flat > 0
    last_nz = np.maximum.accumulate(np.where(nz, np.arange(flat.size), -1))[n - 1::n]
    del flat, nz

    out_t, out_n = [times], [nodes]
    generation = 0
    while times.size:
        epoch = np.clip(np.searchsorted(epochs["start_time"], times, side="right") - 1, 0, None)
        row = epoch_code[epoch] * n + nodes
        k = rng.poisson(out_total[row])
        row = np.repeat(row, k)
        parent_t = np.repeat(times, k)
        u = row_start[row] + rng.random(row.size) * out_total[row]
        idx = np.searchsorted(cum, u, side="right")
        wrong = idx // n != row  # float rounding at the end of a row
        idx[wrong] = last_nz[row[wrong]]
        times = parent_t + rng.exponential(tau, row.size)
        keep = times < t_stop
        times, nodes = times[keep], (idx[keep] % n).astype(np.int64)
        out_t.append(times)
        out_n.append(nodes)
        generation += 1
    log.debug("cascade finished after %d generations", generation)
    return np.concatenate(out_t), np.concatenate(out_n)


def _split_trains(times: np.ndarray, nodes: np.ndarray, n: int, sampling_rate: float) -> list[np.ndarray]:
    """Floor times to the sampling grid, drop same-sample duplicates, split by node."""
    samples = np.floor(times * sampling_rate).astype(np.int64)
    span = int(samples.max()) + 1 if samples.size else 1
    if n * span < 2**62:  # one int64 key per spike: a plain sort, much faster than lexsort
        key = np.sort(nodes.astype(np.int64) * span + samples)
        key = key[np.concatenate([[True], key[1:] != key[:-1]])]  # drop same-sample duplicates
        nodes, samples = key // span, key % span
    else:
        order = np.lexsort((samples, nodes))
        samples, nodes = samples[order], nodes[order]
        keep = np.ones(samples.size, dtype=bool)
        keep[1:] = (samples[1:] != samples[:-1]) | (nodes[1:] != nodes[:-1])
        samples, nodes = samples[keep], nodes[keep]
    bounds = np.searchsorted(nodes, np.arange(n + 1))
    t = samples / sampling_rate
    return [t[bounds[i]:bounds[i + 1]] for i in range(n)]


def _make_trials(cfg: SimulationConfig, epochs: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    starts, stops, hits, states = [], [], [], []
    lo, hi = cfg.trial_duration
    p_hit = {"aligned": cfg.hit_rate_aligned, "unaligned": cfg.hit_rate_unaligned}
    for start, stop, state, session in zip(*(epochs[k] for k in ("start_time", "stop_time", "state", "session"))):
        if session != "gameplay":
            continue
        t = start + cfg.inter_trial_interval / 2
        while True:
            dur = rng.uniform(lo, hi)
            if t + dur > stop:
                break
            starts.append(t)
            stops.append(t + dur)
            hits.append(rng.random() < p_hit[state])
            states.append(state)
            t += dur + cfg.inter_trial_interval
    return {
        "start_time": np.asarray(starts, dtype=np.float64),
        "stop_time": np.asarray(stops, dtype=np.float64),
        "hit": np.asarray(hits, dtype=bool),
        "state": np.asarray(states, dtype=object),
    }


# ----------------------------------------------------------------------------------------------
# NWB
# ----------------------------------------------------------------------------------------------

_STATE_DOC = ("Regime of the planted coupling: 'aligned' (strong within-motor-subregion and sensory-to-motor "
              "coupling), 'unaligned' (unstructured random coupling) or 'rest' (pooled motor coupling).")


def _describe_group(group: str) -> str:
    return "sensory region" if group == "sensory" else f"motor subregion {group}"


def _electrode_positions(sizes: tuple[int, ...], pitch: float = 17.5) -> np.ndarray:
    """Positions (um) of each node's electrode: a square patch per group, laid out like DishBrain.

    Shapes
    ------
    return : (nodes, 2)
    """
    out = []
    side = [int(np.ceil(np.sqrt(s))) for s in sizes]
    span = max(side) * pitch
    # sensory in the middle, motor subregions around it (right-down, right-up, left-down, left-up, ...)
    offsets = [(0.0, 0.0), (1.5, -1.5), (1.5, 1.5), (-1.5, -1.5), (-1.5, 1.5)]
    for g, s in enumerate(sizes):
        ox, oy = offsets[g] if g < len(offsets) else (3.0 * (g - 3), 3.0)
        k = np.arange(s)
        out.append(np.column_stack([ox * span + (k % side[g]) * pitch, oy * span + (k // side[g]) * pitch]))
    return np.concatenate(out)


def _session_nwbfile(sim: SimulatedSession, *, session_description: str, experiment_description: str,
                     keywords: list[str], source_script: str, source_script_file_name: str, notes: dict,
                     session_start_time: datetime | None = None, identifier: str | None = None) -> NWBFile:
    """The parts every recording of a simulated session shares: the NWBFile header, its Subject, the
    regime epochs (``state``, ``session``) and the gameplay trials (``hit``, ``state``).

    Written by :func:`_to_nwbfile` (spikes) and :func:`nwb_tavrnn.simulate.calcium.ophys_nwbfile`
    (calcium imaging of the same session), so both files describe the session identically.
    """
    cfg = sim.config
    nwbfile = NWBFile(
        session_description=session_description,
        identifier=identifier or str(uuid.uuid4()),
        session_start_time=session_start_time or datetime(2024, 1, 1, tzinfo=timezone.utc),
        session_id=f"simulation-seed-{sim.seed}",
        lab="nwb_tavrnn",
        institution="nwb_tavrnn (simulated data)",
        experiment_description=experiment_description,
        keywords=keywords,
        source_script=source_script,
        source_script_file_name=source_script_file_name,
        notes=json.dumps(notes, sort_keys=True),
    )
    nwbfile.subject = Subject(
        subject_id=f"simulated-network-seed-{sim.seed}",
        species=cfg.species,
        sex=cfg.sex,
        age=cfg.age,
        description="A simulated cortical culture (no animal); age stands for days in vitro.",
    )

    nwbfile.add_epoch_column("state", _STATE_DOC)
    nwbfile.add_epoch_column("session", "Session of the period: 'gameplay' or 'rest'.")
    ep = sim.epochs
    for start, stop, state, session in zip(ep["start_time"], ep["stop_time"], ep["state"], ep["session"]):
        nwbfile.add_epoch(start_time=float(start), stop_time=float(stop), tags=[str(state), str(session)],
                          state=str(state), session=str(session))

    tr = sim.trials
    if tr["start_time"].size:
        nwbfile.add_trial_column("hit", "Whether the rally ended in a hit (True) or a miss (False).")
        nwbfile.add_trial_column("state", _STATE_DOC)
        for start, stop, hit, state in zip(tr["start_time"], tr["stop_time"], tr["hit"], tr["state"]):
            nwbfile.add_trial(start_time=float(start), stop_time=float(stop), hit=bool(hit), state=str(state))
    return nwbfile


def _to_nwbfile(sim: SimulatedSession, session_start_time: datetime | None, identifier: str | None) -> NWBFile:
    from ..schema import DynamicConnectivity

    cfg = sim.config
    n = sim.n_nodes
    groups = sim.spikes.groups
    nwbfile = _session_nwbfile(
        sim,
        session_description=(
            f"Simulated spiking network of {n} nodes ({', '.join(cfg.group_names)}) with planted, "
            f"time-varying coupling: {cfg.gameplay_minutes:g} min gameplay in {cfg.block_minutes:g}-min blocks "
            f"alternating aligned/unaligned regimes, then {cfg.rest_minutes:g} min rest."
        ),
        experiment_description=(
            "Synthetic data modelled on DishBrain (cortical cultures playing Pong on an HD-MEA): network bursts "
            "on top of a linear multivariate Hawkes process with shared inputs (nwb_tavrnn.simulate). The planted "
            "coupling is in "
            f"processing/ecephys/{GROUND_TRUTH_NAME}; the regime of each period in the epochs table."
        ),
        keywords=["simulation", "ground truth", "dynamic connectivity", "spiking network", "Hawkes process"],
        source_script=f"nwb_tavrnn.simulate.simulate_network(seed={sim.seed})",
        source_script_file_name="nwb_tavrnn/simulate/network.py",
        notes={"seed": sim.seed, "config": cfg.to_dict()},
        session_start_time=session_start_time,
        identifier=identifier,
    )
    device = nwbfile.create_device(
        name="simulated_hdmea",
        description="A simulated high-density microelectrode array: one electrode per simulated node.",
    )
    egroups = {}
    for name in cfg.group_names:
        egroups[name] = nwbfile.create_electrode_group(
            name=name,
            description=f"Electrodes of the simulated '{name}' group ({_describe_group(name)}).",
            location=cfg.location,
            device=device,
        )
    pos = _electrode_positions(cfg.group_sizes)
    for i in range(n):
        nwbfile.add_electrode(group=egroups[groups[i]], location=cfg.location,
                              rel_x=float(pos[i, 0]), rel_y=float(pos[i, 1]))

    nwbfile.units = build_units_table(
        sim.spikes.times,
        sim.spikes.ids,
        description="Simulated spike trains, one unit per node; spike times floored to the sampling grid.",
        resolution=1.0 / cfg.sampling_rate,
        obs_intervals=[np.array([[0.0, sim.duration]])] * n,
        electrodes=[[i] for i in range(n)],
        electrode_table=nwbfile.electrodes,
        electrode_groups=[egroups[g] for g in groups],
        extra_columns={
            "node_group": ("Group (electrode group) of the node.", [str(g) for g in groups]),
            "target_rate": ("Stationary firing rate (Hz) the simulation was tuned to.",
                            np.asarray(sim.target_rates, dtype=np.float64)),
        },
    )

    ep = sim.epochs
    ecephys = nwbfile.create_processing_module("ecephys", "Ground truth of the simulated network.")
    region = nwbfile.units.create_region("node_region", list(range(n)), "The Units row of each node.")
    data = sim.coupling_per_epoch()
    params = {
        "model": ("linear multivariate Hawkes process with exponential kernel and shared log-normal inputs, "
                  "plus regime-dependent network bursts (burst spikes do not propagate through this coupling)"),
        "weight": "data[w, source, target] = expected spikes of target caused by one spike of source",
        "kernel_tau": cfg.kernel_tau,
        "seed": sim.seed,
        "states": [str(s) for s in ep["state"]],
        "config": cfg.to_dict(),
    }
    ecephys.add(DynamicConnectivity(
        name=GROUND_TRUTH_NAME,
        description=(
            "Planted coupling of the simulation, one window per epoch: data[w, j, i] is the expected number of "
            "spikes of node i caused by one spike of node j (Hawkes branching weight; kernel exp(-u/tau)/tau)."
        ),
        method="planted_coupling",
        directed=True,
        bin_size=float(cfg.dt),
        window_start_times=ep["start_time"],
        window_stop_times=ep["stop_time"],
        node_ids=sim.spikes.ids,
        node_groups=np.asarray(groups, dtype=str),
        node_locations=np.asarray(sim.spikes.locations, dtype=str),
        node_region=region,
        data=H5DataIO(data, compression="gzip", shuffle=True, chunks=(1, n, n)),
        threshold_mode="none",
        parameters=params,
    ))
    return nwbfile


def simulate_recording(sim: SimulatedSession, duration: float = 10.0, nodes: np.ndarray | None = None,
                       noise_level: float = 5.0, seed: int | None = None):
    """Raw voltage for the first ``duration`` seconds of a simulation, to exercise the sorting path.

    One electrode per node at its simulated HD-MEA position; each node's spikes are injected as a
    generated extracellular template (SpikeInterface ``generate_templates``, unit placed 5-40 um
    above its electrode) into Gaussian noise of ``noise_level`` uV. Needs the ``sorting`` extra
    (spikeinterface), imported here only. Keep it short: the recording is generated lazily, but
    templates span several neighbouring electrodes, so sorters see realistic overlap.

    Parameters
    ----------
    sim
        A :class:`SimulatedSession`.
    duration
        Seconds from the start of the simulation.
    nodes
        Positions (not ids) of the nodes to include; default all.
    noise_level
        Standard deviation of the noise, uV.
    seed
        Seed of templates and noise; default the simulation's seed.

    Returns
    -------
    recording, sorting
        A SpikeInterface ``BaseRecording`` (uV, float32) and its ground-truth ``NumpySorting``
        (unit ids = node ids).

    Shapes
    ------
    recording : (duration * sampling_rate, len(nodes)) traces
    """
    from spikeinterface.core import NumpySorting
    from spikeinterface.generation import InjectTemplatesRecording, NoiseGeneratorRecording, generate_templates

    cfg = sim.config
    fs = float(cfg.sampling_rate)
    nodes = np.arange(sim.n_nodes) if nodes is None else np.asarray(nodes, dtype=np.int64)
    if not 0 < duration <= sim.duration:
        raise SimulationConfigError(f"duration must be in (0, {sim.duration:g}] s, got {duration}")
    seed = sim.seed if seed is None else int(seed)
    rng = np.random.default_rng(seed)
    n_samples = int(duration * fs)
    ms_before, ms_after = 1.5, 3.0
    nbefore, nafter = int(ms_before * fs / 1000), int(ms_after * fs / 1000)
    units = {}
    for node in nodes:
        samples = np.floor(sim.spikes.times[node] * fs + 0.5).astype(np.int64)
        units[int(sim.spikes.ids[node])] = samples[(samples >= nbefore) & (samples < n_samples - nafter)]
    sorting = NumpySorting.from_unit_dict([units], sampling_frequency=fs)
    channels = _electrode_positions(cfg.group_sizes)[nodes]
    unit_locations = np.column_stack([channels + rng.uniform(-5, 5, channels.shape),
                                      rng.uniform(5, 40, len(nodes))])
    templates = generate_templates(channels, unit_locations, fs, ms_before, ms_after, seed=seed)
    noise = NoiseGeneratorRecording(num_channels=len(nodes), sampling_frequency=fs, durations=[n_samples / fs],
                                    noise_levels=noise_level, dtype="float32", seed=seed)
    recording = InjectTemplatesRecording(sorting, templates, nbefore=nbefore, parent_recording=noise)
    recording.set_dummy_probe_from_locations(channels)
    recording.set_property("group_name", np.asarray(sim.spikes.groups[nodes], dtype=str))
    recording.set_property("location", np.asarray(sim.spikes.locations[nodes], dtype=str))
    return recording, sorting


def write_simulation(path: str | Path, config: SimulationConfig | None = None, seed: int = 0,
                     overwrite: bool = False) -> Path:
    """Simulate and write the NWB file atomically; return its path.

    Raises
    ------
    OutputFileError
        If ``path`` exists (and not ``overwrite``) or its folder is not writable (checked first).
    SimulationConfigError
        If a parameter is out of range.
    """
    from ..errors import require
    from ..io.files import check_writable, write_nwbfile

    require(int(seed) >= 0, f"seed must be >= 0, got {seed}")
    check_writable(path, overwrite=overwrite)
    sim = simulate_network(config, seed=seed)
    return write_nwbfile(sim.to_nwbfile(), path, overwrite=overwrite)


__all__ = [
    "GROUND_TRUTH_NAME",
    "MOTOR_SUBREGIONS",
    "REGIMES",
    "SimulatedSession",
    "SimulationConfig",
    "SimulationConfigError",
    "simulate_network",
    "simulate_recording",
    "write_simulation",
]
